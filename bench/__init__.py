"""Benchmarks that print figures and a ratio to a baseline measured in the same run; never part of the tests."""
