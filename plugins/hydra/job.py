"""A sweep job of the trainer launcher, set up as Hydra's `run_job` (hydra.core.utils) sets one up, at half
its cost: its directory, its three records (.hydra/config.yaml, hydra.yaml, overrides.yaml), logging, the
`env_set` and working directory it asks for, the callbacks, and the task function called on its config without
the `hydra` node. Hydra's copies the whole config once by deepcopy and the hydra node three times more (its
`HydraConfig` set twice, then a copy of that), and writes the records with PyYAML's Python emitter: 32 ms a
job on 2 cores, where a scalar run's compiled steps take 4. Here the job's config is pickled once and loaded
twice, for the task function and for `HydraConfig`, whose copy is kept as the job's `hydra_cfg` (HydraConfig is
restored after the job), and the records are written with libyaml (trainer/files.py: they read back the same).
tests/test_sweeps.py checks a job's records, what the callbacks see of it and its results against Hydra's basic
launcher's."""

import os
import pickle
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.version import base_at_least
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from trainer.files import yaml_text


def run_job(hydra_context, task_function, config: DictConfig) -> JobReturn:
    """Set up and run the sweep job of `config` (its `hydra.job.num` set), as Hydra's `run_job` with
    `hydra.sweep.dir` and `hydra.sweep.subdir` does."""
    callbacks, previous, old_cwd = hydra_context.callbacks, HydraConfig.instance().cfg, os.getcwd()
    OmegaConf.set_readonly(config.hydra, True)  # as HydraConfig.set_config leaves it
    task_cfg, hydra_cfg = copies(config)
    hydra_cfg.hydra._set_parent(config)  # as HydraConfig.set_config sets it: the directories' interpolations
    HydraConfig.instance().cfg = hydra_cfg  # may read hydra: and now:
    output_dir = os.path.join(str(config.hydra.sweep.dir), str(config.hydra.sweep.subdir))
    for node in (config.hydra.runtime, hydra_cfg.hydra.runtime):  # the job's config, and the copy HydraConfig holds
        with read_write(node), open_dict(node):
            node.output_dir = os.path.abspath(output_dir)
    chdir = config.hydra.job.chdir if config.hydra.job.chdir is not None else not base_at_least("1.2")
    try:
        job = JobReturn(cfg=task_cfg, hydra_cfg=hydra_cfg)
        job.overrides = OmegaConf.to_container(config.hydra.overrides.task)
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        if chdir:
            os.chdir(output_dir)
        job.working_dir = output_dir if chdir else os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            records = Path(config.hydra.runtime.output_dir) / str(config.hydra.output_subdir)
            save_records(records, job, config.hydra.overrides.task)
        with env_override(hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                job.return_value, job.status = task_function(job.cfg), JobStatus.COMPLETED
            except Exception as error:
                job.return_value, job.status = error, JobStatus.FAILED
        job.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=job)
        return job
    finally:
        HydraConfig.instance().cfg = previous
        hydra_cfg.hydra._set_parent(hydra_cfg)  # as a deep copy's, its own: the job's config is not held on
        if chdir:
            os.chdir(old_cwd)


def copies(config: DictConfig) -> tuple[DictConfig, DictConfig]:
    """Two copies of the job's config from one pickle: the task function's, without the `hydra` node, and
    HydraConfig's, of that node alone (what `HydraConfig.set_config` copies by a deepcopy, 2.7 ms a job)."""
    pickled = pickle.dumps(config)
    task, hydra = pickle.loads(pickled), pickle.loads(pickled)
    for copy, dropped in ((task, ["hydra"]), (hydra, [key for key in config if key != "hydra"])):
        with read_write(copy), open_dict(copy):
            for key in dropped:
                del copy[key]
    return task, hydra


def save_records(directory: Path, job: JobReturn, overrides) -> None:
    """The job's config, Hydra's config and the job's overrides, as Hydra records them."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, record in (("config.yaml", job.cfg), ("hydra.yaml", job.hydra_cfg), ("overrides.yaml", overrides)):
        (directory / name).write_text(yaml_text(record), encoding="utf-8")
