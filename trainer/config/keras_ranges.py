"""The valid values of the Keras and TensorFlow plugins that conf/ names (trainer/config/ranges.py says how to
read a spec). Each follows what Keras' docstrings and constructors state; where they are silent, the range
inside which the update is the one the paper describes (a decay rate in [0, 1), a step size > 0)."""

import functools

UNIT = "[0, 1)"  # a decay rate: 1 would never forget, and past 1 the average diverges
OPTIMIZER = {  # keras.optimizers.Optimizer: the step size and the shared options of every optimizer
    "learning_rate": "> 0",
    "weight_decay": ">= 0 or null",
    "clipnorm": "> 0 or null",
    "clipvalue": "> 0 or null",
    "global_clipnorm": "> 0 or null",
    "ema_momentum": "[0, 1]",
    "ema_overwrite_frequency": "int >= 1 or null",
    "loss_scale_factor": "> 0 or null",
    "gradient_accumulation_steps": "int >= 2 or null",  # Keras refuses 1
    "name": "any",
}
ADAM_LIKE = {"beta_1": UNIT, "beta_2": UNIT, "epsilon": "> 0"}

KERAS_RANGES = {
    "keras.optimizers.Optimizer": OPTIMIZER,
    "keras.optimizers.SGD": {"momentum": "[0, 1]"},
    "keras.optimizers.Adam": ADAM_LIKE,
    "keras.optimizers.AdamW": ADAM_LIKE,
    "keras.optimizers.Adamax": ADAM_LIKE,
    "keras.optimizers.Nadam": ADAM_LIKE,
    "keras.optimizers.Lamb": ADAM_LIKE,
    "keras.optimizers.Lion": {"beta_1": "[0, 1]", "beta_2": "[0, 1]"},
    "keras.optimizers.RMSprop": {"rho": UNIT, "momentum": "[0, 1]", "epsilon": "> 0"},
    "keras.optimizers.Adagrad": {"initial_accumulator_value": ">= 0", "epsilon": "> 0"},
    "keras.optimizers.Adadelta": {"rho": UNIT, "epsilon": "> 0"},
    "keras.optimizers.Adafactor": {
        "beta_2_decay": "<= 0",
        "epsilon_1": "> 0",
        "epsilon_2": "> 0",
        "clip_threshold": "> 0",
    },
    "keras.optimizers.Ftrl": {
        "learning_rate_power": "<= 0",
        "initial_accumulator_value": ">= 0",
        "l1_regularization_strength": ">= 0",
        "l2_regularization_strength": ">= 0",
        "l2_shrinkage_regularization_strength": ">= 0",
        "beta": ">= 0",
    },
    "keras.optimizers.Muon": {
        "adam_beta_1": UNIT,
        "adam_beta_2": UNIT,
        "adam_weight_decay": ">= 0",
        "adam_lr_ratio": "> 0",
        "epsilon": "> 0",
        "exclude_layers": "any",
        "muon_a": "any",  # the Newton-Schulz polynomial's coefficients: any that converge, as the paper tunes them
        "muon_b": "any",
        "muon_c": "any",
        "momentum": UNIT,
        "ns_steps": "int >= 1",
        "rms_rate": "> 0 or null",
    },
    "keras.optimizers.ScheduleFreeAdamW": {**ADAM_LIKE, "warmup_steps": "int >= 0"},
    "keras.optimizers.schedules.ExponentialDecay": {
        "initial_learning_rate": "> 0",
        "decay_steps": "int >= 1",
        "decay_rate": "> 0",
    },
    "keras.optimizers.schedules.CosineDecay": {
        "initial_learning_rate": ">= 0",
        "decay_steps": "int >= 1",
        "alpha": "[0, 1]",
        "warmup_target": "> 0 or null",
        "warmup_steps": "int >= 0",
    },
    "keras.optimizers.schedules.PiecewiseConstantDecay": {"boundaries": "each int >= 1", "values": "each > 0"},
    "keras.callbacks.ReduceLROnPlateau": {
        "monitor": "one of loss",  # the only value the trainer feeds it (trainer/actions/plateau.py)
        "factor": "(0, 1)",
        "patience": "int >= 0",
        "min_delta": ">= 0",
        "cooldown": "int >= 0",
        "min_lr": ">= 0",
        "mode": "one of auto, min, max",
    },
    "keras.callbacks.CSVLogger": {"filename": "any", "separator": "any"},
    "keras.losses.SparseCategoricalCrossentropy": {"ignore_class": "int >= 0 or null", "axis": "int >= -1 or null"},
    "tensorflow.distribute.OneDeviceStrategy": {"device": "any"},
}


@functools.cache
def register_keras() -> None:
    """Add KERAS_RANGES to the declarations of trainer/config/ranges.py, once: the classes are resolved
    here, when a check first needs them, since resolving imports Keras."""
    from hydra.utils import get_object

    from trainer.config.ranges import valid

    for path, specs in KERAS_RANGES.items():
        valid(**specs)(get_object(path))
