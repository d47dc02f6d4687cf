"""trainer: config-driven TensorFlow training with plugin optimizers.

`python -m trainer` composes `conf/` with Hydra and calls `trainer.train.train(cfg)`. This package
imports nothing heavy, so `--help` and `--cfg` stay fast; TensorFlow is imported where it is used.
"""
