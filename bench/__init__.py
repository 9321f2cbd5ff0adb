"""Benchmarks: scripts that measure the console under load and print the figures side by side."""
