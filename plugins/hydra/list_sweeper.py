"""`hydra/sweeper=list` (conf/hydra/sweeper/list.yaml): the jobs a YAML file lists, each a list of override
lines run beside the command's own, rather than the product of swept values that Hydra's basic sweeper runs.
What `python -m trainer.compare` runs its phases with: each optimizer at its own tuned learning rate, or at
its search's own settings, in one multirun per problem and phase under any launcher."""

from pathlib import Path

import yaml
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from trainer.errors import ConfigError
from trainer.files import load_yaml


class ListSweeper(Sweeper):
    def __init__(self, jobs: str | None = None) -> None:
        self.jobs = jobs

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list:
        batch = [[*arguments, *job] for job in self.listed()]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        self.validate_batch_is_legal(batch)
        return self.launcher.launch(batch, initial_job_idx=0)

    def listed(self) -> list[list[str]]:
        """The file's jobs: a list of lists of override lines."""
        try:
            jobs = load_yaml(Path(str(self.jobs)))
        except (OSError, TypeError) as error:
            raise ConfigError(f"hydra.sweeper.jobs: cannot read {self.jobs} ({error}); name a YAML file") from None
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            reason = " ".join(str(error).split())
            raise ConfigError(f"hydra.sweeper.jobs: {self.jobs} is not YAML ({reason})") from None
        if not isinstance(jobs, list) or not all(isinstance(job, list) for job in jobs):
            raise ConfigError(f"hydra.sweeper.jobs: {self.jobs} must hold a list of jobs, each a list of overrides")
        return [[str(line) for line in job] for job in jobs]
