"""Benchmarks of orgo-async against the alternatives, side by side (``make bench``)."""
