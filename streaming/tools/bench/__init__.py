"""Benchmarks of the embedded pipeline: sustained load, catch-up, and this machine's limit."""
