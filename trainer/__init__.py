"""trainer: config-driven TensorFlow training with plugin optimizers.

`python -m trainer` composes `conf/` with Hydra and calls `trainer.train.train(cfg)`; in a notebook,
`trainer.minimize(fn, var_list, optimizer="adam", steps=...)` minimizes a function of variables. This
package imports nothing heavy, so `--help` and `--cfg` stay fast: TensorFlow is imported where it is used.
"""


def __getattr__(name):
    if name == "minimize":  # imported on first use: it needs TensorFlow
        from trainer.api import minimize

        return minimize
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")
