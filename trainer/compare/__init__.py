"""Optimizers compared on problems as a benchmark does: `python -m trainer.compare` (__main__.py)."""
