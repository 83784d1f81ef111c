"""Benchmarks: each prints ratios measured in one run (python -m experiments.bench.NAME)."""
