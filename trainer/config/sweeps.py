"""A multirun's job configs composed once per set of group choices. Hydra composes every job from the YAML
files, and twice (the sweeper checks the batch, then the launcher runs it): 0.1-0.2 s a job, the larger part of
a short run's cost. Jobs of a sweep mostly differ in values alone (a learning rate, a seed), which Hydra applies
after composing, to the composed config. `SweepConfigLoader` stands in for Hydra's config loader in a multirun
(the `trainer` launcher puts it in place, hydra_plugins/trainer): a job's config is a copy of the composition
of its group choices, its values set by Hydra's own override rules, and its `hydra.overrides.task` and
`hydra.job.override_dirname` what Hydra writes. `tests/test_sweeps.py` checks it against Hydra's own. A job's
config that the sweeper's check of the batch composed is the one the launcher then runs (`launching`): one
copy of the composition a job, not two. Within `shared_compositions` (a command that starts many multiruns:
trainer.compare), the multiruns share their compositions too, each composed without the hydra settings that are
values (the sweep's directory and its jobs' names), which are applied to the copy as Hydra applies them."""

import contextlib
import pickle

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

SHARED: dict | None = None  # the compositions the multiruns inside `shared_compositions` share


@contextlib.contextmanager
def shared_compositions():
    """Inside, every multirun's jobs take their configs from the compositions of group choices that an earlier
    multirun made: a comparison composes each (problem, optimizer) once rather than once a phase (0.1 s each).
    The config files must not change meanwhile; outside, each multirun composes its own, as Hydra does."""
    global SHARED
    outer, SHARED = SHARED, {} if SHARED is None else SHARED
    try:
        yield
    finally:
        SHARED = outer


class SweepConfigLoader:
    """Hydra's config loader `loader`, with sweep jobs' configs composed once per set of group choices; every
    other call goes to `loader`."""

    def __init__(self, loader):
        self.loader = loader
        self.compositions: dict[tuple, bytes] = {} if SHARED is None else SHARED  # pickled: a job's copy is
        # loaded, 4x faster than a deepcopy
        self.overrides: dict[str, Override] = {}  # each override line parsed once, not once a job
        self.repositories: dict[int, object] = {}  # by the master config's id
        self.checked: dict[tuple, DictConfig] = {}  # the batch's configs, as the sweeper's check composed them
        self.running = False  # whether the launcher is running a batch

    @contextlib.contextmanager
    def launching(self):
        """While the launcher runs a batch, whose configs the sweeper checked (composed) just before."""
        self.running = True
        try:
            yield
        finally:  # the configs it did not run stay: a sweeper may launch a checked batch in parts (Optuna's)
            self.running = False

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        key = (id(master_config), tuple(sweep_overrides))
        if self.running and key in self.checked:
            return self.checked.pop(key)
        cfg = self.composed(master_config, sweep_overrides)
        if not self.running:
            self.checked[key] = cfg
        return cfg

    def composed(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        parsed = self.parsed(sweep_overrides)
        groups = self.repository(master_config)
        values = [override for override in parsed if is_value(override, groups)]
        choices = [override.input_line for override in parsed if override not in values]
        hydra_lines = OmegaConf.to_container(master_config.hydra.overrides.hydra)  # as written, unresolved
        hydra_values = [override for override in self.parsed(hydra_lines) if is_hydra_value(override, groups)]
        structural = [line for line in hydra_lines if line not in {value.input_line for value in hydra_values}]
        config_name = master_config.hydra.job.config_name
        key = (config_name, tuple(structural), tuple(choices))
        if key not in self.compositions:
            composed = self.loader.load_configuration(config_name, [*structural, *choices], run_mode=RunMode.RUN)
            self.compositions[key] = pickle.dumps(composed)
        cfg = pickle.loads(self.compositions[key])
        ConfigLoaderImpl._apply_overrides_to_config([*hydra_values, *values], cfg)  # in Hydra's order
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        task = [override for override in parsed if not override.is_hydra_override()]
        naming = cfg.hydra.job.config.override_dirname
        with open_dict(cfg.hydra):
            job_hydra = [override.input_line for override in parsed if override.is_hydra_override()]
            cfg.hydra.overrides.hydra = [*hydra_lines, *job_hydra]  # as Hydra records them: the master's first
            cfg.hydra.overrides.task = [override.input_line for override in task]
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=naming.kv_sep,
                item_sep=naming.item_sep,
                exclude_keys=naming.exclude_keys,
            )
        return cfg

    def parsed(self, lines: list[str]) -> list[Override]:
        """The overrides `lines`, as Hydra's parser reads them."""
        new = [line for line in dict.fromkeys(lines) if line not in self.overrides]
        if new:
            self.overrides.update(zip(new, OverridesParser.create().parse_overrides(new)))
        return [self.overrides[line] for line in lines]

    def repository(self, master_config: DictConfig):
        """Hydra's config repository of the sweep, on its search path (a `hydra.searchpath` of the primary
        config or the command line adds groups)."""
        if id(master_config) not in self.repositories:
            hydra_overrides = OmegaConf.to_container(master_config.hydra.overrides.hydra)
            config_name = master_config.hydra.job.config_name
            _, repository = self.loader._parse_overrides_and_create_caching_repo(config_name, hydra_overrides)
            self.repositories[id(master_config)] = repository
        return self.repositories[id(master_config)]


def is_value(override: Override, repository) -> bool:
    """Whether `override` sets a value rather than choosing a config of a group: Hydra applies it to the
    composed config."""
    return (
        override.package is None
        and not override.is_hydra_override()
        and not override.is_sweep_override()
        and not repository.group_exists(override.key_or_group)
    )


def is_hydra_value(override: Override, repository) -> bool:
    """Whether `override`, a setting of Hydra's own (`hydra.sweep.dir=...`), sets a value that Hydra applies to
    the composed config: not a group's choice, a key added or deleted, nor the search path, which composing
    reads."""
    return (
        override.is_hydra_override()
        and override.package is None
        and override.type == OverrideType.CHANGE
        and not override.is_sweep_override()
        and not repository.group_exists(override.key_or_group)
        and override.key_or_group != "hydra.searchpath"
    )
