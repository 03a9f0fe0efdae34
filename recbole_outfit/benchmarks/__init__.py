"""Benchmarks: model comparison tables (``compare``) and inference / training efficiency (``efficiency``)."""
