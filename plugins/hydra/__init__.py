"""The project's Hydra plugins, installed as `hydra_plugins.trainer`, where Hydra looks for plugins; the
commands also register them by hand (trainer/__main__.py), which an editable install needs.

`TrainerLauncher` (conf/hydra/launcher/trainer.yaml, the default of conf/config.yaml) runs a multirun's jobs one after
another in this process, as Hydra's basic launcher does, each job's config composed once per set of group
choices (trainer/config/sweeps.py) for the sweeper's check of the batch and for the job alike.

`OptunaSweeper` (conf/hydra/sweeper/optuna.yaml, chosen by conf/hparams_search/) searches with Optuna, its
study in a database (optuna_sweeper.py)."""

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra_plugins.trainer.optuna_sweeper import OptunaSweeper

from trainer.config.sweeps import SweepConfigLoader

__all__ = ["OptunaSweeper", "TrainerLauncher"]


class TrainerLauncher(BasicLauncher):
    def setup(self, *, hydra_context, task_function, config) -> None:
        # the sweeper holds the same context: its check of each batch composes through it too
        if not isinstance(hydra_context.config_loader, SweepConfigLoader):
            hydra_context.config_loader = SweepConfigLoader(hydra_context.config_loader)
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
