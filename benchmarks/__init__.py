"""Reproducible performance benchmarks (issue 13): ``python -m benchmarks``; results in docs/performance.md."""
