"""A run's progress on the terminal: Keras' progress bar where stdout is a terminal, a plain line per
tenth of the run where it is not (a log file, a pipe, a sweep's worker), nothing with `logging.progress=false`."""

import logging
import sys

import keras

log = logging.getLogger("trainer.train")


class Progress:
    """Told the step, the seconds spent in steps and the logged values at each log point; shows them with the
    steps per second of training since the last one (tracing, compiling and the actions' work left out)."""

    def __init__(self, total_steps: int, done: int, step_seconds: float, enabled: bool):
        self.total_steps = total_steps
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stdout.isatty():
            self.bar = keras.utils.Progbar(total_steps, stateful_metrics=["loss", "steps/s"], unit_name="step")
            self.bar.update(done)
        self.last_step, self.last_seconds = done, step_seconds

    def update(self, done: int, step_seconds: float, values: dict[str, float]) -> None:
        tenths = self.last_step * 10 // self.total_steps, done * 10 // self.total_steps
        if not self.enabled or self.bar is None and tenths[0] == tenths[1] and done != self.total_steps:
            return
        rate = (done - self.last_step) / max(step_seconds - self.last_seconds, 1e-9)
        self.last_step, self.last_seconds = done, step_seconds
        if self.bar is not None:
            self.bar.update(done, [("loss", values["train/loss"]), ("steps/s", rate)])
        else:
            shown = " ".join(f"{name.removeprefix('train/')}={value:.6g}" for name, value in values.items())
            log.info("step %d/%d %s steps/s=%.4g", done, self.total_steps, shown, rate)
