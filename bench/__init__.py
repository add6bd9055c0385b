"""Benchmarks and fault injection for agentls; `python bench/run.py` is the entry point."""
