"""Benchmarks of the whole de-occluder (``deocclude bench``)."""
