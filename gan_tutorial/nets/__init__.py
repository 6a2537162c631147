"""Networks of the course: one small file per family, read like the papers."""
