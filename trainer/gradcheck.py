"""`python -m trainer.gradcheck model=... loss=...`: the finite-difference check of the classic tutorials.

The configured model and loss are built in float64; on a small batch, the tape's gradient of each
variable is compared at a few elements with central differences (f(v + h) - f(v - h)) / 2h. It prints the
largest relative error per variable and fails, naming the variable, where one exceeds the tolerance.
"""

import sys

import hydra

import trainer.config.settings  # noqa: F401 (registers the schemas conf/ names)
from trainer.cli import run_command
from trainer.outputs.events import variable_name
from trainer.startup import import_tensorflow_quietly


def gradient_check(cfg) -> dict[str, float]:
    """The largest relative error between tape and finite-difference gradients, per variable name."""
    import keras
    import numpy as np
    import tensorflow as tf
    from hydra.utils import instantiate

    floatx, policy = keras.config.floatx(), keras.mixed_precision.global_policy()
    keras.config.set_floatx("float64")
    keras.mixed_precision.set_global_policy("float64")
    try:
        keras.utils.set_random_seed(cfg.trainer.seed)
        data, model, loss_fn = instantiate(cfg.data), instantiate(cfg.model), instantiate(cfg.loss)
    finally:
        keras.config.set_floatx(floatx)
        keras.mixed_precision.set_global_policy(policy)
    x, y = (
        (None, None)
        if data.train is None
        else (
            tf.constant(data.train[0][: cfg.gradcheck.batch_size], tf.float64),
            data.train[1][: cfg.gradcheck.batch_size],
        )
    )

    @tf.function(autograph=False)  # traced once: an eager pass per difference took 25 s for the char RNN
    def compiled_loss():
        return loss_fn(y, model(x, training=False))

    def loss():
        return float(compiled_loss())

    with tf.GradientTape() as tape:
        value = loss_fn(y, model(x, training=False))
    gradients = tape.gradient(value, model.trainable_variables)
    h = cfg.gradcheck.epsilon
    errors = {}
    for variable, gradient in zip(model.trainable_variables, gradients):
        flat = variable.numpy().reshape(-1)
        # an embedding's gradient comes as IndexedSlices: made dense, as finite differences see it
        analytic = np.zeros_like(flat) if gradient is None else np.asarray(tf.convert_to_tensor(gradient)).reshape(-1)
        worst = 0.0
        for index in np.unique(np.linspace(0, flat.size - 1, cfg.gradcheck.elements).astype(int)):
            differences = []
            for sign in (1, -1):
                moved = flat.copy()
                moved[index] += sign * h
                variable.assign(moved.reshape(variable.shape))
                differences.append(loss())
            variable.assign(flat.reshape(variable.shape))
            numeric = (differences[0] - differences[1]) / (2 * h)
            worst = max(worst, abs(numeric - analytic[index]) / max(abs(numeric), abs(analytic[index]), 1e-8))
        errors[variable_name(variable)] = worst
    return errors


@hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="gradcheck")
def app(cfg) -> None:
    import_tensorflow_quietly()
    errors = gradient_check(cfg)
    width = max(map(len, errors))
    for name, error in errors.items():
        verdict = "ok" if error <= cfg.gradcheck.tolerance else "FAILED"
        print(f"{name:<{width}}  largest relative error {error:.2e}  {verdict}")
    failed = [name for name, error in errors.items() if error > cfg.gradcheck.tolerance]
    if failed:
        sys.exit(
            f"trainer.gradcheck: the tape gradient of {', '.join(failed)} differs from finite differences "
            f"by more than gradcheck.tolerance={cfg.gradcheck.tolerance:g}"
        )


def main() -> None:
    run_command("trainer.gradcheck", app)


if __name__ == "__main__":
    main()
