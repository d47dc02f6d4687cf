"""`python -m trainer.compare optimizers=[sgd,adam] problems=[rosenbrock,beale] budget=8 seeds=3`: optimizers
compared on problems as a benchmark does, in the comparison directory (`hydra.run.dir`, conf/compare.yaml).

1. tune: each (problem, optimizer) gets `budget` runs, at learning rates log-spaced over `learning_rates`
   (a grid, as DeepOBS: every optimizer sees the same rates, which the sensitivity curves need), or with
   `centre=lr_find` over the same ratio centred on the pair's learning-rate range test (centres.py), or with
   `search=quasi_random` at points of the optimizer's search space (search.py); `studies` times over;
2. seeds: the best of them by the problem's `sweep.metric` (the median study's) runs again with seeds
   1..`seeds`;
3. defaults (with `at_defaults`): each optimizer at its own learning rate, with the same seeds;
4. report: report.md, PNGs and TensorBoard events (trainer/compare/report.py).
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from trainer.cli import run_command
from trainer.compare.centres import find_centres
from trainer.compare.launch import run_missing
from trainer.compare.plan import check_settings, default_jobs, seed_jobs, tuning_jobs
from trainer.compare.report import write_report
from trainer.compare.select import tuned_settings
from trainer.config.sweeps import shared_compositions
from trainer.workers import started, worker_count


def compare(cfg: DictConfig, directory: Path) -> Path:
    """Tune, rerun the best with seeds, run the defaults, report; return report.md's path."""
    check_settings(cfg)
    # a launcher other than those running jobs in this process runs them side by side itself (processes, a cluster)
    by_launcher = cfg.processes is None and cfg.launcher not in ("trainer", "basic")
    count = 1 if by_launcher else worker_count(cfg.processes, len(cfg.problems) * len(cfg.optimizers))
    # each (problem, optimizer) composed once for the phases
    with shared_compositions(), started(count, "the comparison", "processes") as workers:
        find_centres(cfg, directory)  # in this process, with the GPU setting the workers have
        run_missing(cfg, directory, tuning_jobs(cfg, directory), workers)
        tuned = tuned_settings(directory, cfg)
        run_missing(cfg, directory, seed_jobs(cfg, tuned), workers)
        run_missing(cfg, directory, default_jobs(cfg), workers)
        return workers.call(write_report, directory, cfg, tuned)  # in a worker, where TensorFlow is imported


@hydra.main(version_base="1.3", config_path="pkg://trainer.conf", config_name="compare")
def app(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    report = compare(cfg, Path(HydraConfig.get().runtime.output_dir))
    print(f"trainer.compare: report in {report}")


def main() -> None:
    run_command("trainer.compare", app)


if __name__ == "__main__":
    main()
