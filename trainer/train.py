"""`train(cfg) -> metrics`: build the configured parts, run the compiled train loop, log to TensorBoard.

Everything a run writes goes to `cfg.output_dir`: TensorBoard event files (train scalars every
`trainer.log_every` steps, test scalars at the end, the resolved config as text) and `metrics.json`.
"""
import json
import logging
from pathlib import Path

import keras
import tensorflow as tf
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from trainer.data import make_batches
from trainer.scalar import ScalarProblem
from trainer.step import evaluate, make_train_loop, make_train_step

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Train as configured and return the final metrics (also written to `metrics.json`)."""
    settings = cfg.trainer
    keras.utils.set_random_seed(settings.seed)
    output_dir = Path(cfg.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    log.info("run directory: %s", output_dir)

    data = instantiate(cfg.data)
    model = instantiate(cfg.model)
    loss_fn = instantiate(cfg.loss)
    optimizer = instantiate(cfg.optimizer)
    train_metrics = build_metrics(cfg)
    batches = make_batches(data.train, settings.batch_size, settings.seed)
    total_steps = settings.steps or settings.epochs * batches.steps_per_epoch

    # Every variable exists before the first compiled call: the optimizer's slots, the step counter.
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    loss_mean = keras.metrics.Mean(name="loss")
    train_loop = make_train_loop(
        make_train_step(model, loss_fn, optimizer, train_metrics), batches, step, loss_mean
    )

    with tf.summary.create_file_writer(str(output_dir)).as_default():
        tf.summary.text("config", as_markdown_code(OmegaConf.to_yaml(cfg, resolve=True)), step=0)
        done = 0
        while done < total_steps:
            count = min(settings.steps_per_call, settings.log_every - done % settings.log_every, total_steps - done)
            gradient_norm = train_loop(tf.constant(count, tf.int64))
            done += count
            if done % settings.log_every == 0 or done == total_steps:
                logged = log_train(done, loss_mean, gradient_norm, optimizer, train_metrics, model)
                if (done - count) * 10 // total_steps != done * 10 // total_steps:  # each tenth of the run
                    log.info("step %d/%d %s", done, total_steps, summarize(logged))

        metrics = {"loss": logged["train/loss"], "steps": total_steps}
        metrics.update({name: logged[f"train/{name}"] for name in train_metrics})
        if isinstance(model, ScalarProblem):
            metrics.update(
                objective=float(model()),
                variables=model.values(),
                distance_to_minimum=model.distance_to_minimum(),
            )
        if data.test is not None:
            test = evaluate(model, loss_fn, build_metrics(cfg), data.test, settings.eval_batch_size)
            for name, value in test.items():
                tf.summary.scalar(f"test/{name}", value, step=total_steps)
                metrics[f"test_{name}"] = value

    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def build_metrics(cfg: DictConfig) -> dict:
    """Fresh Keras metrics by name, from `cfg.metrics`."""
    return {name: instantiate(metric) for name, metric in cfg.metrics.items()}


def log_train(step, loss_mean, gradient_norm, optimizer, metrics, model) -> dict[str, float]:
    """Write the train scalars of the steps since the last call, then start a new window."""
    values = {
        "train/loss": float(loss_mean.result()),
        "train/learning_rate": float(optimizer.learning_rate),
        "train/gradient_norm": float(gradient_norm),
    }
    values.update({f"train/{name}": float(metric.result()) for name, metric in metrics.items()})
    if isinstance(model, ScalarProblem):
        values.update({f"variables/{name}": value for name, value in model.values().items()})
    for tag, value in values.items():
        tf.summary.scalar(tag, value, step=step)
    for metric in (loss_mean, *metrics.values()):
        metric.reset_state()
    return values


def as_markdown_code(text: str) -> str:
    """Text shown verbatim by TensorBoard's markdown renderer."""
    return "\n".join("    " + line for line in text.splitlines())


def summarize(metrics: dict) -> str:
    """One line of the final metrics, variables spelled out: `loss=2.875 x=-0.25 ...`."""
    flat = {**metrics.get("variables", {}), **{k: v for k, v in metrics.items() if k != "variables"}}
    return " ".join(f"{name}={value:.6g}" for name, value in flat.items())
