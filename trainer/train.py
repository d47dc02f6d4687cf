"""`train(cfg) -> metrics`: the work of `python -m trainer`, as a plain function. It claims the run
directory, builds the configured run (trainer/loop/build.py), lets the controller (trainer/loop/controller.py)
drive it, and leaves the process as it found it (trainer/loop/process.py). Everything a run writes goes to
`cfg.output_dir`, by the actions of conf/config.yaml's `actions`.
"""

import contextlib
import copy
import dataclasses
import logging
import shutil
from pathlib import Path

import tensorflow as tf
from omegaconf import DictConfig

from trainer.config.checks import check_config
from trainer.config.record import record_config
from trainer.errors import TrainerError, reported
from trainer.loop.build import build_training, make_runtime
from trainer.loop.checkpoints import checkpoint_paths
from trainer.loop.controller import drive, drive_together
from trainer.loop.population import Population
from trainer.loop.process import process_restored
from trainer.loop.run import Loop
from trainer.loop.runtime import lost_workers_reported, weights_digest
from trainer.outputs.locks import claimed
from trainer.outputs.metrics import read_metrics

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict:
    """Train as configured and return the final metrics (also written to `metrics.json`).

    A run continues from the newest checkpoint in its own directory, or in `trainer.resume`'s, under the
    same configuration; a finished run is left as it is. A directory in use by a live run is refused.
    """
    check_config(cfg)
    runtime = make_runtime(cfg)  # first: a cluster or logical devices must be set up before TensorFlow starts
    run_dir = Path(cfg.output_dir)
    if runtime.worker is not None:  # a worker other than the chief writes only into a folder of its own
        cfg = copy.deepcopy(cfg)  # deep: interpolations such as ${output_dir} then resolve to the new one
        cfg.output_dir = str(run_dir / f".{runtime.worker}")
    with reported(), claimed(Path(cfg.output_dir)), process_restored():
        log.info("run directory: %s", run_dir)
        log.info("devices: %s", ", ".join(device.name for device in tf.config.list_physical_devices()))
        run = build_training(cfg, checkpoints_to_resume(cfg, run_dir), runtime)
        loop = Loop.of(run)
        results = finished_results(run_dir, run, loop)
        if results is None:
            if run.resumed:
                log.info("resumed from %s at step %d of %d", run.resumed, loop.done, run.total_steps)
            if runtime.is_writer:
                record_config(run.config_text, run_dir / "checkpoints")
            with lost_workers_reported(runtime, loop):
                results = drive(run, loop)
            if runtime.in_cluster:
                log.info("final weights: sha256 %s (the same on every worker)", weights_digest(run.model.get_weights()))
    if runtime.worker is not None:
        shutil.rmtree(cfg.output_dir, ignore_errors=True)  # its checkpoints served the run, which has ended
    return results


def finished_results(run_dir: Path, run, loop: Loop) -> dict | None:
    """The results of a run that resumed at its last step with its metrics written: it is left as it is."""
    finished = read_metrics(run_dir)
    if run.resumed and loop.done >= run.total_steps and finished is not None and "error" not in finished:
        log.info("the run in %s finished at step %d; its results are kept as they are", run_dir, loop.done)
        return finished
    return None


def checkpoints_to_resume(cfg: DictConfig, run_dir: Path) -> Path:
    """Where a run resumes from: `trainer.resume`'s checkpoints, or the run directory's. A worker other than
    the chief resumes from its own where it has them, since they hold its own place in a streamed data set."""
    own = Path(cfg.output_dir) / "checkpoints"
    if Path(cfg.output_dir) != run_dir and checkpoint_paths(own):
        return own
    return Path(cfg.trainer.resume or run_dir) / "checkpoints"


def train_population(cfgs: list[DictConfig]) -> list:
    """Train runs of one structure together (trainer/loop/population.py), each as `train(cfg)` would: in its
    own directory, resuming from its own checkpoints, a finished one left as it is. Return each one's final
    metrics, or the error it ended with (its settings refused, its loss no longer finite, ...): a run fails
    alone. Runs that resume from different steps advance in groups, each group from its step. A signal stops
    them all, each with its checkpoint written (`Interrupted`)."""
    results: list = [None] * len(cfgs)
    with contextlib.ExitStack() as stack:
        stack.enter_context(process_restored())
        runtime = make_runtime(cfgs[0])
        starts: dict[int, list] = {}  # by the step each run starts from: (index, run, loop)
        for index, cfg in enumerate(cfgs):
            try:
                with reported():
                    check_config(cfg)
                    stack.enter_context(claimed(Path(cfg.output_dir)))
                    run = build_training(cfg, checkpoints_to_resume(cfg, Path(cfg.output_dir)), runtime, reuse=False)
            except TrainerError as error:
                results[index] = error
                continue
            loop = Loop.of(run)
            results[index] = finished_results(run.output_dir, run, loop)
            if results[index] is None:
                starts.setdefault(loop.done, []).append((index, run, loop))
        for members in starts.values():
            indexes, runs, loops = zip(*members)
            runs = [dataclasses.replace(run, graph_of=runs[0].train_loop) for run in runs]  # one trace for the graph
            log.info("training %d runs together from step %d: %s", len(runs), loops[0].done, runs[0].output_dir.parent)
            for run in runs:
                record_config(run.config_text, run.output_dir / "checkpoints")
            with reported():
                outcomes = drive_together(runs, list(loops), Population(runs), raises=False)
            for index, outcome in zip(indexes, outcomes):
                results[index] = outcome
    return results
