"""Benchmark programs (not tests): each writes JSON and a markdown table under benchmarks/results/."""
