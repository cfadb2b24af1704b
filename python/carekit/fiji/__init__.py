"""Running models inside Fiji/ImageJ (JVM start, image conversion, the CARE Restore plugin)."""
