"""Benchmarks: alert burden (population.py)."""
