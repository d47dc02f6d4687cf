"""Benchmarks: the framework against what users would write by hand and against Keras `fit`.

Every figure is a ratio against a reference measured in the same process, beside it, because timings on
shared machines drift from run to run. `python -m bench` writes the tables to docs/benchmarks.md.
"""
