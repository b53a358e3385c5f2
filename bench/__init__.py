"""Benchmarks: each prints one JSON object and compares with a baseline run alongside."""
