"""Jython 2.7 helpers behind the CARE Restore plugin (Fiji and plain ImageJ 1.x)."""
