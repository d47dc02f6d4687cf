"""MNIST MLP (784-128-10, Adam, batch 128): training throughput and time to 97% test accuracy,
framework vs. Keras `model.fit` with the same model, optimizer, loss, batch size and data."""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from hydra.utils import instantiate

from bench.common import Section, config, median_seconds
from trainer.loop.build import build_training

TARGET_ACCURACY = 0.97
LIMIT = (
    "batch-128 matmuls too small to fill two cores, and the per-op cost around them (see the share of the "
    "matmul peak); drift on shared cores moves the ratio by about a tenth between runs"
)


def mnist_config(data_path: str, *overrides: str):
    return config("experiment=mnist", f"data.path={data_path}", *overrides)


def framework_epoch(data_path: str, *overrides: str):
    """A function that trains the framework's compiled loop for one epoch, and the examples it trains on."""
    cfg = mnist_config(data_path, "trainer.epochs=1", *overrides)
    run = build_training(cfg)
    steps = tf.constant(run.total_steps, tf.int64)
    return (lambda: run.train_loop(steps)[0].numpy()), run.total_steps * cfg.trainer.batch_size


def keras_model(cfg, steps_per_execution: int = 1) -> keras.Model:
    """The configured model, optimizer, loss and metrics, compiled for `fit`."""
    keras.utils.set_random_seed(cfg.trainer.seed)
    model = instantiate(cfg.model)
    metrics = [instantiate(metric, name=name) for name, metric in cfg.metrics.items()]
    model.compile(
        optimizer=instantiate(cfg.optimizer),
        loss=instantiate(cfg.loss),
        metrics=metrics,
        steps_per_execution=steps_per_execution,
    )
    return model


def as_floats(examples) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with the images as the float32 array they read as (trainer.data.Pixels): what a Keras script holds."""
    x, y = examples
    return np.asarray(x), y


def fit_epoch(data_path: str, steps_per_execution: int):
    """A function that runs `model.fit` for one epoch, and the examples it trains on."""
    cfg = mnist_config(data_path)
    x, y = as_floats(instantiate(cfg.data).train)
    model = keras_model(cfg, steps_per_execution)
    return (lambda: model.fit(x, y, batch_size=cfg.trainer.batch_size, epochs=1, verbose=0)), len(x)


def interleaved_rates(contenders: dict, repeats: int) -> dict[str, float]:
    """Examples per second of each contender: after a warm-up epoch each, `repeats` rounds that time one
    epoch of every contender in turn, so that the machine's drift touches all alike; the median per contender."""
    for epoch, _ in contenders.values():
        epoch()
    seconds = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (epoch, _) in contenders.items():
            seconds[name].append(median_seconds(epoch, 1))
    return {name: examples / statistics.median(seconds[name]) for name, (_, examples) in contenders.items()}


def matmul_peak(repeats: int) -> float:
    """FLOP/s of large float32 `tf.matmul`s: what the machine can do at best."""
    best = 0.0
    for n in (1024, 2048):
        a = tf.random.normal([n, n])
        product = tf.function(lambda: tf.matmul(a, a))
        product().numpy()
        best = max(best, 2 * n**3 / median_seconds(lambda: product().numpy(), repeats * 5))
    return best


def training_flops_per_example(model: keras.Model) -> float:
    """FLOPs of one example's forward and backward pass through the model's dense layers."""
    dense = [
        2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense)
    ]
    # Backward: the weight gradients cost a forward pass, the input gradients too, except the first layer's.
    return 3 * sum(dense) - dense[0]


def throughput_section(data_path: str, data_name: str, repeats: int) -> Section:
    contenders = {
        "framework (defaults: XLA step, batches gathered in the graph)": framework_epoch(data_path),
        "framework, jit_compile=false": framework_epoch(data_path, "trainer.jit_compile=false"),
        "framework, pipeline=tf.data": framework_epoch(data_path, "trainer.pipeline=tf.data"),
        "model.fit, defaults": fit_epoch(data_path, 1),
        "model.fit, steps_per_execution=50": fit_epoch(data_path, 50),
    }
    rates = interleaved_rates(contenders, repeats)
    peak = matmul_peak(repeats)
    flops = training_flops_per_example(instantiate(mnist_config(data_path).model))
    fit_default, fit_50 = rates["model.fit, defaults"], rates["model.fit, steps_per_execution=50"]
    framework = rates["framework (defaults: XLA step, batches gathered in the graph)"]
    section = Section(
        "MNIST MLP: training examples per second",
        f"784-128-10, Adam, batch 128, {data_name}; after a warm-up epoch each, {repeats} rounds timing one "
        f"epoch of every loop in turn; the median per loop. "
        f"Matmul peak (float32 tf.matmul, 1024² and 2048²): {peak / 1e9:.0f} GFLOP/s; "
        f"training costs {flops / 1e3:.0f} kFLOP per example.",
        ["loop", "examples/s", "× model.fit defaults", "% of matmul peak"],
        [
            [name, f"{rate:,.0f}", f"{rate / fit_default:.2f}", f"{100 * rate * flops / peak:.0f}%"]
            for name, rate in rates.items()
        ],
    )
    section.targets = [
        ("≥ 1.5× model.fit(steps_per_execution=50)", f"{framework / fit_50:.2f}×", framework >= 1.5 * fit_50, LIMIT),
        ("≥ 3× model.fit with defaults", f"{framework / fit_default:.2f}×", framework >= 3 * fit_default, LIMIT),
    ]
    return section


def framework_time_to_accuracy(data_path: str, max_epochs: int) -> tuple[list[float], float]:
    """Each epoch's training seconds (evaluation excluded) until the test accuracy reaches the target."""
    cfg = mnist_config(data_path, f"trainer.epochs={max_epochs}")
    run = build_training(cfg)
    epoch_steps = tf.constant(run.total_steps // max_epochs, tf.int64)
    epochs, accuracy = [], 0.0
    while len(epochs) < max_epochs and accuracy < TARGET_ACCURACY:
        start = time.perf_counter()
        run.train_loop(epoch_steps)[0].numpy()
        epochs.append(time.perf_counter() - start)
        accuracy = run.evaluate(run.data.test, cfg.trainer.eval_batch_size)["accuracy"]
    return epochs, accuracy


class StopAtAccuracy(keras.callbacks.Callback):
    """Times `fit`'s epochs (evaluation excluded) and stops once the test accuracy reaches the target."""

    def __init__(self, test, batch_size: int):
        super().__init__()
        self.test, self.batch_size = test, batch_size
        self.epochs, self.accuracy = [], 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(time.perf_counter() - self.start)
        x, y = self.test
        self.accuracy = self.model.evaluate(x, y, batch_size=self.batch_size, verbose=0, return_dict=True)["accuracy"]
        self.model.stop_training = self.accuracy >= TARGET_ACCURACY


def fit_time_to_accuracy(data_path: str, max_epochs: int) -> tuple[list[float], float]:
    cfg = mnist_config(data_path)
    data = instantiate(cfg.data)
    clock = StopAtAccuracy(as_floats(data.test), cfg.trainer.eval_batch_size)
    x, y = as_floats(data.train)
    keras_model(cfg).fit(x, y, batch_size=cfg.trainer.batch_size, epochs=max_epochs, verbose=0, callbacks=[clock])
    return clock.epochs, clock.accuracy


def time_to_accuracy_section(data_path: str, data_name: str, max_epochs: int, repeats: int) -> Section:
    loops = {"framework (defaults)": framework_time_to_accuracy, "model.fit, defaults": fit_time_to_accuracy}
    runs = {name: [] for name in loops}
    for _ in range(repeats):  # cold starts, the two loops in turn
        for name, time_to_accuracy in loops.items():
            runs[name].append(time_to_accuracy(data_path, max_epochs))
    median_run = {
        name: sorted(results, key=lambda run: sum(run[0]))[len(results) // 2] for name, results in runs.items()
    }
    total = {name: sum(epochs) for name, (epochs, _) in median_run.items()}
    fit = total["model.fit, defaults"]
    section = Section(
        f"Time to {TARGET_ACCURACY:.0%} test accuracy on {data_name}",
        "Same model, Adam at the preset's 0.003, batch 128, seed 0; each run a cold start, the test set evaluated "
        f"after each epoch (not timed), at most {max_epochs} epochs; the median of {repeats} runs, the two loops "
        "in turn. The first epoch's extra time over the later ones is tracing and compilation.",
        ["loop", "training seconds", "epochs", "first epoch's extra seconds", "test accuracy", "× model.fit's time"],
        [
            [
                name,
                f"{total[name]:.2f}",
                str(len(epochs)),
                f"{epochs[0] - statistics.median(epochs[1:] or epochs):.2f}",
                f"{accuracy:.4f}",
                f"{total[name] / fit:.2f}",
            ]
            for name, (epochs, accuracy) in median_run.items()
        ],
    )
    reached = all(accuracy >= TARGET_ACCURACY for _, accuracy in median_run.values())
    ratio = total["framework (defaults)"] / fit
    section.targets = [
        (
            "at most half of model.fit's time",
            f"{ratio:.2f}×",
            reached and ratio <= 0.5,
            "the first call's tracing and XLA compilation (the first epoch's extra seconds) weigh against only "
            "3 epochs of training",
        )
    ]
    return section
