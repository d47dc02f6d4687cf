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
    import tensorflow as tf

    x, y, model, loss_fn = float64_parts(cfg)

    @tf.function(autograph=False)  # traced once: an eager pass per difference took 25 s for the char RNN
    def loss():
        return loss_fn(y, model(x, training=False))

    with tf.GradientTape() as tape:
        value = loss()
    gradients = tape.gradient(value, model.trainable_variables)
    return {
        variable_name(variable): largest_error(variable, gradient, lambda: float(loss()), cfg.gradcheck)
        for variable, gradient in zip(model.trainable_variables, gradients)
    }


def float64_parts(cfg) -> tuple:
    """(x, y, model, loss) of the config, built in float64, on the first gradcheck.batch_size training
    examples, as its task gives them to training (an autoencoder's targets are its inputs); (None, None, ...)
    for a scalar problem."""
    import keras
    import tensorflow as tf

    from trainer.config.build import build
    from trainer.config.checks import check_plugins
    from trainer.loop.build import build_parts

    check_plugins(cfg, ("data", "model", "loss", "task"))  # a refused setting gets the line a run gives it

    floatx, policy = keras.config.floatx(), keras.mixed_precision.global_policy()
    keras.config.set_floatx("float64")
    keras.mixed_precision.set_global_policy("float64")
    try:
        keras.utils.set_random_seed(cfg.trainer.seed)
        parts = build_parts(cfg)
    finally:
        keras.config.set_floatx(floatx)
        keras.mixed_precision.set_global_policy(policy)
    parts = build(cfg.task, "task").check(parts)
    if parts.data.train is None:
        return None, None, parts.model, parts.loss_fn
    x, y = (examples[: cfg.gradcheck.batch_size] for examples in parts.data.train)
    return tf.constant(x, tf.float64), y, parts.model, parts.loss_fn


def largest_error(variable, gradient, loss, settings) -> float:
    """The largest relative error of `gradient` against central differences of `loss()` at
    `settings.elements` elements spread over `variable`, each moved by `settings.epsilon` and put back."""
    import numpy as np
    import tensorflow as tf

    flat, h = variable.numpy().reshape(-1), settings.epsilon
    # an embedding's gradient comes as IndexedSlices: made dense, as finite differences see it
    analytic = np.zeros_like(flat) if gradient is None else np.asarray(tf.convert_to_tensor(gradient)).reshape(-1)
    worst = 0.0
    for index in np.unique(np.linspace(0, flat.size - 1, settings.elements).astype(int)):
        differences = []
        for sign in (1, -1):
            moved = flat.copy()
            moved[index] += sign * h
            variable.assign(moved.reshape(variable.shape))
            differences.append(loss())
        variable.assign(flat.reshape(variable.shape))
        numeric = (differences[0] - differences[1]) / (2 * h)
        worst = max(worst, abs(numeric - analytic[index]) / max(abs(numeric), abs(analytic[index]), 1e-8))
    return worst


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
