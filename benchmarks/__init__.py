"""Benchmarks: scripts that print and record figures; never part of the test suite."""
