"""Benchmarks: speed (``python -m benchmarks``, docs/performance.md) and alert burden
(``python -m benchmarks.population``, docs/alert-burden.md)."""
