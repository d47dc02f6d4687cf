"""`train(cfg) -> metrics`: build the configured parts, run the compiled train loop, log to TensorBoard.

Everything a run writes goes to `cfg.output_dir`: TensorBoard event files (train scalars every
`trainer.log_every` steps; at the start the resolved config as text, the HParams session and the loop's
graph; histograms every `logging.histogram_every` steps; at the end test and final scalars and pictures),
the pictures as PNG files, checkpoints, and `metrics.json`.
"""
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import tensorflow as tf
from omegaconf import DictConfig, OmegaConf

from trainer.checkpoints import StopSignals, check_same_config, claimed, make_checkpoint, record_config, restore_latest
from trainer.checks import build, check_config
from trainer.data import Splits, make_batches
from trainer.errors import ConfigError, Diverged, Interrupted
from trainer.events import read_path
from trainer.hparams import FINAL, log_session
from trainer.metrics import flat_metrics, read_metrics, summarize, write_metrics
from trainer.optimizers import ClosureOptimizer
from trainer.pictures import confusion_png, landscape_png, misclassified_png
from trainer.progress import Progress
from trainer.scalar import ScalarProblem
from trainer.step import make_evaluate, make_gradients, make_train_loop, make_train_step
from trainer.validation import Monitor, split_validation

log = logging.getLogger(__name__)


@dataclass
class Training:
    """The parts of a run, built once: what `train` drives, and what benchmarks time."""

    model: object
    loss_fn: object
    optimizer: keras.optimizers.Optimizer
    metrics: dict
    data: Splits
    step: tf.Variable
    loss_mean: keras.metrics.Mean
    train_loop: object  # train_loop(num_steps) -> (last gradient norm, last loss)
    total_steps: int
    steps_per_epoch: int
    plateau: keras.callbacks.Callback | None  # a schedule fed the train loss at each log point
    validation: tuple | None  # (x, y) held out from the training examples
    monitor: Monitor
    checkpoint: tf.train.Checkpoint
    resumed: str | None  # the checkpoint restored, if any
    evaluate: object  # evaluate(examples, batch_size) -> {"loss": ..., metric: ...}


def build_training(cfg: DictConfig, resume_from: Path | None = None) -> Training:
    """Seed, instantiate the configured plugins, restore the newest checkpoint in `resume_from` if there
    is one, and compile the train loop; no step is run."""
    check_config(cfg)
    settings = cfg.trainer
    keras.utils.set_random_seed(settings.seed)
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.random.set_global_generator(tf.random.Generator.from_seed(settings.seed))  # checkpointed with the run
    keras.mixed_precision.set_global_policy(settings.precision)

    data = build(cfg.data, "data")
    train_examples, validation = data.train, None
    if settings.validation_split is not None:
        train_examples, validation = split_validation(data.train, settings.validation_split)
    model = build(cfg.model, "model")
    loss_fn = build(cfg.loss, "loss")
    schedule = build(cfg.schedule, "schedule") if cfg.schedule else None
    optimizer = build_optimizer(cfg, schedule)
    metrics = build_metrics(cfg)
    batches = make_batches(train_examples, settings.batch_size, settings.seed)

    # Every variable exists before the first compiled call: the optimizer's slots, the step counter.
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    loss_mean = keras.metrics.Mean(name="loss")
    monitor = Monitor(settings.monitor_mode, settings.min_delta, settings.patience)
    checkpoint = make_checkpoint(model, optimizer, step, [loss_mean, *metrics.values()], monitor)
    # Restored before the batches are set up: a tf.data pipeline starts from the restored step.
    resumed = None
    if resume_from is not None:
        check_same_config(cfg, resume_from)
        resumed = restore_latest(checkpoint, resume_from)
    train_loop = make_train_loop(
        make_train_step(model, loss_fn, optimizer, metrics),
        batches.source(settings.pipeline, step),
        step,
        loss_mean,
        jit_compile=not settings.deterministic if settings.jit_compile is None else settings.jit_compile,
        gathers_data=data.train is not None,
    )
    total_steps = settings.steps or settings.epochs * batches.steps_per_epoch
    plateau = schedule if isinstance(schedule, keras.callbacks.Callback) else None
    if plateau is not None:
        plateau.set_model(SimpleNamespace(optimizer=optimizer))  # all a learning-rate callback reads
        plateau.on_train_begin()
    return Training(model, loss_fn, optimizer, metrics, data, step, loss_mean, train_loop, total_steps,
                    batches.steps_per_epoch, plateau, validation, monitor, checkpoint, resumed,
                    make_evaluate(model, loss_fn, build_metrics(cfg)))


def build_optimizer(cfg: DictConfig, schedule) -> keras.optimizers.Optimizer:
    """The configured optimizer: on the schedule where it is a Keras one, loss-scaled under mixed_float16."""
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        optimizer = build(cfg.optimizer, "optimizer", learning_rate=schedule)
    else:
        optimizer = build(cfg.optimizer, "optimizer")
    if cfg.trainer.precision != "mixed_float16":
        return optimizer
    if isinstance(optimizer, ClosureOptimizer):
        raise ConfigError(
            f"trainer.precision=mixed_float16 needs loss scaling, which {cfg.optimizer._target_} "
            "does not do; use float32 or mixed_bfloat16"
        )
    return keras.optimizers.LossScaleOptimizer(optimizer)


def train(cfg: DictConfig) -> dict:
    """Train as configured and return the final metrics (also written to `metrics.json`).

    A run continues from the newest checkpoint in its own directory, or in `trainer.resume`'s, under the
    same configuration; a finished run is left as it is. A directory in use by a live run is refused.
    """
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with claimed(output_dir):
        return train_in(cfg, output_dir)


def train_in(cfg: DictConfig, output_dir: Path) -> dict:
    settings = cfg.trainer
    log.info("run directory: %s", output_dir)
    log.info("devices: %s", ", ".join(device.name for device in tf.config.list_physical_devices()))
    run = build_training(cfg, Path(settings.resume or output_dir) / "checkpoints")
    total_steps = run.total_steps
    checkpoints = tf.train.CheckpointManager(run.checkpoint, str(output_dir / "checkpoints"), settings.keep_checkpoints)
    done = int(run.step.numpy())
    finished = read_metrics(output_dir)
    if run.resumed and done >= total_steps and finished is not None and "error" not in finished:
        log.info("the run in %s finished at step %d of %d; its results are kept as they are", output_dir, done, total_steps)
        return finished
    if run.resumed:
        log.info("resumed from %s at step %d of %d", run.resumed, done, total_steps)
    record_config(cfg, output_dir / "checkpoints")
    every = {"log": settings.log_every, "checkpoint": settings.checkpoint_every or total_steps}
    if run.validation is not None:
        every["eval"] = settings.eval_every or run.steps_per_epoch
    best = tf.train.CheckpointManager(run.checkpoint, str(output_dir / "best"), max_to_keep=1)
    validation = {}

    if cfg.logging.histogram_every:
        every["histogram"] = cfg.logging.histogram_every
        gradients = make_gradients(run.model, run.loss_fn)
        probe = (None, None) if run.data.train is None else tuple(a[: settings.batch_size] for a in run.data.train)

    with tf.summary.create_file_writer(str(output_dir)).as_default(), StopSignals() as signals:
        log_start(cfg, run, done, output_dir.name)
        progress = Progress(total_steps, done, cfg.logging.progress)
        logged = None
        while done < total_steps and not signals.received and not run.monitor.exhausted():
            count = min(settings.steps_per_call, total_steps - done, *(n - done % n for n in every.values()))
            gradient_norm, loss = run.train_loop(tf.constant(count, tf.int64))
            done = int(run.step.numpy())
            if not math.isfinite(float(loss)):
                message = diverged_message(run, float(loss), done, checkpoints.latest_checkpoint)
                write_metrics(output_dir, {"loss": None, "steps": done, "error": message})
                raise Diverged(message)
            if done % every["log"] == 0 or done == total_steps or logged is None and signals.received:
                logged = log_train(done, run, gradient_norm)
                if run.plateau is not None:  # each log window is one of its "epochs"
                    run.plateau.on_epoch_end(done // settings.log_every, {"loss": logged["train/loss"]})
                progress.update(done, logged)
            if "histogram" in every and done % every["histogram"] == 0:
                log_histograms(done, run, gradients(*probe))
            if run.validation is not None and (done % every["eval"] == 0 or done == total_steps):
                validation = validate(done, run, cfg)
                if run.monitor.update(validation[settings.monitor], done):
                    best.save(checkpoint_number=done)
            if done % every["checkpoint"] == 0 or done == total_steps or signals.received or run.monitor.exhausted():
                checkpoints.save(checkpoint_number=done)
        if signals.received:
            saved = (f"checkpoint {checkpoints.latest_checkpoint} written: run the same command to resume"
                     if checkpoints.latest_checkpoint else "no step was taken, so there is nothing to resume")
            raise Interrupted(signals.received, f"stopped by {signals.received.name} at step {done} of {total_steps}; {saved}")
        if logged is None:  # a finished run, run again: its last window comes from the checkpoint
            logged = log_train(done, run, tf.constant(0.0))

        # What fit does at its end: EMA weights, Schedule-Free's averaged weights, ... replace the training ones.
        run.optimizer.finalize_variable_values(run.model.trainable_variables)
        metrics = {"loss": logged["train/loss"], "steps": done}
        metrics.update({name: logged[f"train/{name}"] for name in run.metrics})
        metrics.update({f"val_{name}": value for name, value in validation.items()})
        if run.validation is not None:
            metrics[f"best_val_{settings.monitor}"] = run.monitor.best_value()
            metrics["best_step"] = int(run.monitor.best_step.numpy())
        if run.monitor.exhausted():
            metrics["stopped_early_at"] = done
            log.info("stopped early at step %d: %d validation passes without improvement", done, settings.patience)
        if isinstance(run.model, ScalarProblem):
            metrics.update(
                objective=float(run.model()),
                variables=run.model.values(),
                distance_to_minimum=run.model.distance_to_minimum(),
            )
        if run.data.test is not None:
            test = run.evaluate(run.data.test, settings.eval_batch_size)
            for name, value in test.items():
                tf.summary.scalar(f"test/{name}", value, step=total_steps)
                metrics[f"test_{name}"] = value
        for name, value in flat_metrics(metrics).items():  # the HParams dashboard's metric columns
            tf.summary.scalar(FINAL + name, value, step=total_steps)
        if cfg.logging.pictures:
            log_pictures(run, cfg, output_dir, total_steps)

    if isinstance(run.model, keras.Model):
        run.model.save(output_dir / "model.keras")
    write_metrics(output_dir, metrics)
    return metrics


def log_start(cfg: DictConfig, run: Training, done: int, trial_id: str) -> None:
    """What a run logs once before its first step: the config as text, its HParams session, the train
    loop's graph, and a scalar problem's starting point (the first point of its path)."""
    tf.summary.text("config", as_markdown_code(OmegaConf.to_yaml(cfg, resolve=True)), step=done)
    log_session(cfg, trial_id)
    if cfg.logging.graph:  # traces the loop that the first call then runs
        tf.summary.graph(run.train_loop.get_concrete_function(tf.TensorSpec([], tf.int64)).graph)
    if isinstance(run.model, ScalarProblem) and done == 0:
        for name, value in run.model.values().items():
            tf.summary.scalar(f"variables/{name}", value, step=0)


def log_histograms(step: int, run: Training, gradients) -> None:
    """Histograms of every trainable variable and of its gradient on the probe batch."""
    for variable, gradient in zip(run.model.trainable_variables, gradients):
        name = getattr(variable, "path", None) or variable.name.split(":")[0]  # Keras' path, tf.Variable's name
        tf.summary.histogram(f"weights/{name}", variable, step=step)
        tf.summary.histogram(f"gradients/{name}", gradient, step=step)


def log_pictures(run: Training, cfg: DictConfig, output_dir: Path, step: int) -> None:
    """A 1-D or 2-D scalar problem's landscape with the run's path; a classifier's misclassified test
    examples and confusion matrix. Each is logged as an image and saved as <run dir>/<name>.png."""
    pictures = {}
    if isinstance(run.model, ScalarProblem) and len(run.model.named_variables) <= 2:
        tf.summary.flush()  # the path is read back from this run's event files, resumed parts included
        path = read_path(output_dir, list(run.model.named_variables))
        label = f"{cfg.optimizer._target_.rsplit('.', 1)[-1]}, learning rate {float(run.optimizer.learning_rate):g}"
        pictures["landscape"] = landscape_png(run.model, {label: path}, type(run.model).__name__)
    elif run.data.test is not None and run.data.test[1].ndim == 1 and run.data.test[1].dtype.kind in "iu":
        x, y = run.data.test
        logits = run.model.predict(x, batch_size=cfg.trainer.eval_batch_size, verbose=0)
        predicted = np.argmax(logits, axis=-1)
        if x.ndim in (3, 4):  # images: grey (N, H, W) or (N, H, W, channels)
            pictures["misclassified"] = misclassified_png(x, y, predicted)
        pictures["confusion_matrix"] = confusion_png(tf.math.confusion_matrix(y, predicted, logits.shape[-1]).numpy())
    for name, data in pictures.items():
        (output_dir / f"{name}.png").write_bytes(data)
        tf.summary.image(name, tf.image.decode_png(data)[None], step=step)


def validate(step: int, run: Training, cfg: DictConfig) -> dict[str, float]:
    """Evaluate the held-out examples and log them as val/<name>."""
    values = run.evaluate(run.validation, cfg.trainer.eval_batch_size)
    for name, value in values.items():
        tf.summary.scalar(f"val/{name}", value, step=step)
    log.info("step %d validation %s", step, summarize(values))
    return values


def diverged_message(run: Training, loss: float, step: int, last_checkpoint: str | None) -> str:
    kept = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint was written before it"
    return (
        f"the loss became {loss} at step {step}: the learning rate ({float(run.optimizer.learning_rate):g}) is "
        f"likely too large for this problem, or the loss overflows; {kept}"
    )


def build_metrics(cfg: DictConfig) -> dict:
    """Fresh Keras metrics by name, from `cfg.metrics`."""
    return {name: build(metric, f"metrics.{name}") for name, metric in cfg.metrics.items()}


def log_train(step: int, run: Training, gradient_norm) -> dict[str, float]:
    """Write the train scalars of the steps since the last call, then start a new window."""
    values = {
        "train/loss": float(run.loss_mean.result()),
        "train/learning_rate": float(run.optimizer.learning_rate),
        "train/gradient_norm": float(gradient_norm),
    }
    values.update({f"train/{name}": float(metric.result()) for name, metric in run.metrics.items()})
    if isinstance(run.model, ScalarProblem):
        values.update({f"variables/{name}": value for name, value in run.model.values().items()})
    for tag, value in values.items():
        tf.summary.scalar(tag, value, step=step)
    for metric in (run.loss_mean, *run.metrics.values()):
        metric.reset_state()
    return values


def as_markdown_code(text: str) -> str:
    """Text shown verbatim by TensorBoard's markdown renderer."""
    return "\n".join("    " + line for line in text.splitlines())
