"""Benchmarks: run with `make bench` (python -m bench), never inside the test suite."""
