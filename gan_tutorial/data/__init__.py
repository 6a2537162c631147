"""Data of the course: one module per domain (toy, ehr, images, ...), offline by default."""
