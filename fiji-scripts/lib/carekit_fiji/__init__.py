"""Jython 2.7 helpers behind the CARE Restore plugin (Fiji and plain ImageJ 1.x), also parseable by CPython 3.

`contract` (option names, TZCYX layout, worker task) is not in this folder: its one source is
python/carekit/fiji/contract.py, which `carekit fiji install` copies in here next to these helpers.
"""
