"""Benchmarks of the real-time path (issue #5): scripts that print numbers, not tests."""
