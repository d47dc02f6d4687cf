"""`python -m trainer.lr_find experiment=mnist optimizer=adam`: the learning-rate range test of L. N. Smith,
"Cyclical Learning Rates for Training Neural Networks" (WACV 2017), as fastai's `lr_find` runs it.

The configured run takes one step per batch while its learning rate rises exponentially from `lr_find.start`
to `lr_find.stop`; the loss of each step is smoothed by a debiased moving average, and the test stops once the
smoothed loss diverges. The suggested rate is read off that curve (`lr_find.rule`). The run directory gets
lr_find.png, lr_find.csv and TensorBoard events; nothing of a training run (no checkpoint, metrics.json or
model) is written, and the process is left as it was found (trainer/loop/process.py).
"""

import copy
import csv
import io
import logging
import math
import os
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, open_dict

from trainer.cli import FULL_ERROR, exit_with, run_command
from trainer.config.settings import LR_FIND_RULES, check_settings  # its import registers the schemas
from trainer.errors import ConfigError, find_trainer_error, reported
from trainer.startup import start_tensorflow

log = logging.getLogger(__name__)
SKIP_START = 10  # the points of the curve the steepest rule passes over


def find_learning_rate(cfg: DictConfig) -> dict:
    """The range test of the run `cfg` (conf/lr_find.yaml) configures: {suggestion, rule, learning_rates,
    losses, smoothed}, one entry per step taken in the lists."""
    from trainer.loop.build import build_training
    from trainer.loop.process import process_restored
    from trainer.outputs.locks import claimed

    check_settings(cfg)
    settings = cfg.lr_find
    if settings.stop <= settings.start:
        raise ConfigError(f"lr_find.stop must be a number > lr_find.start={settings.start:g}; got {settings.stop!r}")
    if cfg.schedule:
        raise ConfigError(
            "schedule must be constant: the range test sets the learning rate at each step itself; "
            f"got {cfg.schedule.get('_target_')}"
        )
    training = copy.deepcopy(cfg)  # the run `python -m trainer` would build: it shares its program (loop/reuse.py)
    with open_dict(training):
        del training["lr_find"]
        training.actions = {}  # none acts: the range test takes the steps itself, and keeps nothing of a run
    output_dir = Path(cfg.output_dir)
    with reported(), claimed(output_dir), process_restored():
        rates, losses, smoothed = range_test(build_training(training), settings)
        suggestion = suggest(rates, smoothed, settings.rule)
        write_curve(output_dir, rates, losses, smoothed, suggestion, settings.rule)
    return {"suggestion": suggestion, "rule": settings.rule, "learning_rates": rates, "losses": losses,
            "smoothed": smoothed}  # fmt: skip


def range_test(run, settings: DictConfig) -> tuple[list[float], list[float], list[float]]:
    """The learning rates stepped at, each step's loss, and the smoothed losses, up to the step where the
    smoothed loss diverged (that step included: the curve shows where it turned)."""
    from trainer.loop.controller import alone, timed_call

    beta = settings.smoothing
    rates = np.geomspace(settings.start, settings.stop, settings.steps).tolist()
    losses, smoothed, average, least = [], [], 0.0, math.inf
    for step, rate in enumerate(rates, 1):
        run.optimizer.learning_rate = rate  # assigns the optimizer's variable, which the compiled step reads
        loss = timed_call(alone(run), 1, compiles=step == 1)[1][0][1]  # the first hides XLA's native notices
        losses.append(float(loss))
        average = beta * average + (1 - beta) * losses[-1]
        smoothed.append(average / (1 - beta**step))  # the average starts at 0: debiased as Adam's moments are
        # measured from the least value, so that an objective below 0 (styblinski_tang's) diverges as one above
        if not math.isfinite(smoothed[-1]) or smoothed[-1] - least > (settings.diverge - 1) * abs(least):
            log.info("the smoothed loss diverged at step %d of %d (learning rate %.3g)", step, len(rates), rate)
            break
        least = min(least, smoothed[-1])
    return rates[: len(losses)], losses, smoothed


def suggest(rates: list[float], smoothed: list[float], rule: str) -> float:
    """The learning rate `rule` reads off the smoothed curve's finite points. The steepest descent is sought
    from the 10th point (fastai's skip_start: the first points' average rests on a few noisy losses) to the
    least value (past it the curve turns up)."""
    finite = np.isfinite(smoothed)
    rates, smoothed = np.asarray(rates)[finite], np.asarray(smoothed)[finite]
    least = int(np.argmin(smoothed)) if len(smoothed) else 0
    if least == 0:
        raise ConfigError("the smoothed loss never fell below its first value: lower lr_find.start")
    if rule == "minimum":
        return float(rates[least] / 10)
    start = min(SKIP_START, least - 1)
    slopes = np.gradient(smoothed[: least + 1], np.log(rates[: least + 1]))
    return float(rates[start + int(np.argmin(slopes[start:]))])


def write_curve(directory: Path, rates, losses, smoothed, suggestion: float, rule: str) -> None:
    """lr_find.csv, lr_find.png and the TensorBoard events of the curve, in `directory`."""
    import tensorflow as tf

    from trainer.files import write_atomically
    from trainer.outputs.events import write_points
    from trainer.outputs.pictures import log_png

    table = io.StringIO()
    rows = csv.writer(table, lineterminator="\n")
    rows.writerow(["step", "learning_rate", "loss", "smoothed_loss"])
    rows.writerows(zip(range(1, len(rates) + 1), rates, losses, smoothed))
    write_atomically(directory / "lr_find.csv", table.getvalue())
    picture = curve_png(rates, losses, smoothed, suggestion, rule)
    write_atomically(directory / "lr_find.png", picture)
    writer = tf.summary.create_file_writer(str(directory))
    try:
        with writer.as_default():
            tags = ("lr_find/learning_rate", "lr_find/loss", "lr_find/smoothed_loss")
            write_points(
                [(step, dict(zip(tags, values))) for step, values in enumerate(zip(rates, losses, smoothed), 1)]
            )
            log_png("lr_find", picture, len(rates))
    finally:
        writer.close()


def curve_png(rates, losses, smoothed, suggestion: float, rule: str) -> bytes:
    """The raw and smoothed loss against the learning rate on a log axis, the suggestion marked."""
    from matplotlib.figure import Figure

    from trainer.outputs.pictures import png

    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    axes.plot(rates, losses, color="0.6", linewidth=1, label="loss")
    axes.plot(rates, smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    axes.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggestion {suggestion:.3g} ({rule})")
    # up to the point before the last, where the smoothed loss diverged: its height would flatten the rest
    shown = np.asarray(smoothed[:-1] or smoothed)
    low = min(shown.min(), np.min(losses[:-1] or losses))
    high = shown.max()
    margin = 0.1 * (high - low) or 0.1 * abs(high) or 0.1
    axes.set_ylim(low - margin, high + margin)
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("loss")
    axes.set_title("learning-rate range test")
    axes.legend(fontsize="small")
    return png(figure)


@hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="lr_find")
def app(cfg: DictConfig) -> float:
    start_tensorflow(cfg)
    try:
        found = find_learning_rate(cfg)
    except Exception as error:  # one line, without Hydra's own about the job
        problem = find_trainer_error(error)
        if problem is None or os.environ.get(FULL_ERROR) == "1":
            raise
        exit_with("trainer.lr_find", problem)
    print(
        f"suggested learning rate {found['suggestion']:.2e} ({found['rule']}: {LR_FIND_RULES[found['rule']]}); "
        f"curve in {Path(cfg.output_dir) / 'lr_find.png'}"
    )
    return found["suggestion"]  # what a sweeper would optimize


def main() -> None:
    run_command("trainer.lr_find", app)


if __name__ == "__main__":
    main()
