"""A multirun's job configs composed once per set of group choices. Hydra composes every job from the YAML
files, and twice (the sweeper checks the batch, then the launcher runs it): 0.1-0.2 s a job, the larger part of
a short run's cost. Jobs of a sweep mostly differ in values alone (a learning rate, a seed), which Hydra applies
after composing, to the composed config. `SweepConfigLoader` stands in for Hydra's config loader in a multirun
(the `trainer` launcher puts it in place, hydra_plugins/trainer): a job's config is a copy of the composition
of its group choices, its values (and a directory of its own, `hydra.sweep.subdir`) set by Hydra's own
override rules, and its `hydra.overrides` and `hydra.job.override_dirname` what Hydra writes.
`tests/test_sweeps.py` checks it against Hydra's own. A job's config that the sweeper's check of the batch
composed is the one the launcher then runs (`launching`): one copy of the composition a job, not two. Within
`shared_compositions` (a command that starts many multiruns: trainer.compare), the multiruns share their
compositions too, each composed without the sweep's directory settings, which are set on the copy as Hydra
sets them."""

import contextlib
import pickle

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

SHARED: dict | None = None  # the compositions the multiruns inside `shared_compositions` share
DIRECTORIES = ("hydra.sweep.dir", "hydra.sweep.subdir")  # what a comparison's multiruns differ in, besides values
KEEP_SHARED = 256  # the most compositions shared, about 25 KB each


@contextlib.contextmanager
def shared_compositions():
    """Inside, every multirun's jobs take their configs from the compositions of group choices that an earlier
    multirun made, where the two differ only in the sweep's directories: a comparison composes each (problem,
    optimizer) once rather than once a phase (0.1 s each). A config file edited meanwhile is not read again;
    outside, each multirun composes its own, as Hydra does."""
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
        self.compositions: dict[tuple, bytes] = {}  # pickled: a job's copy is loaded, 4x faster than a deepcopy
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
        if "loader" not in self.__dict__:  # a pickled copy being loaded (a sweep's worker process)
            raise AttributeError(name)
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
        # a job's own directory (the comparison names each) is a value too: nothing of composing reads it
        values = [override for override in parsed if is_value(override, groups) or is_directory(override)]
        choices = [override.input_line for override in parsed if override not in values]
        cfg = self.composition(master_config, choices)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
        task = [override for override in parsed if not override.is_hydra_override()]
        naming = cfg.hydra.job.config.override_dirname
        lines = OmegaConf.to_container(master_config.hydra.overrides.hydra)
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.hydra = [*lines, *(o.input_line for o in parsed if o.is_hydra_override())]  # as
            # Hydra records them
            cfg.hydra.overrides.task = [override.input_line for override in task]
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=task,
                kv_sep=naming.kv_sep,
                item_sep=naming.item_sep,
                exclude_keys=naming.exclude_keys,
            )
        return cfg

    def composition(self, master_config: DictConfig, choices: list[str]) -> DictConfig:
        """A copy of the composition of the group `choices` for the multirun of `master_config`: its own, as
        Hydra composes it; inside `shared_compositions`, one shared by the command's multiruns, composed without
        the sweep's directory settings (`DIRECTORIES`), which are set on the copy as Hydra sets them, where no
        other line touches them."""
        if SHARED is None:
            key = (id(master_config), tuple(choices))
            if key not in self.compositions:
                self.compositions[key] = pickle.dumps(self.loader.load_sweep_config(master_config, choices))
            return pickle.loads(self.compositions[key])
        lines = OmegaConf.to_container(master_config.hydra.overrides.hydra)  # as written, unresolved
        settable = [override for override in self.parsed(lines) if is_directory(override)]
        set_elsewhere = {override.key_or_group for override in self.parsed([*lines, *choices])
                         if override not in settable}  # fmt: skip
        directories = [override for override in settable if override.key_or_group not in set_elsewhere]
        others = [line for line in lines if line not in {override.input_line for override in directories}]
        config_name = master_config.hydra.job.config_name
        key = (config_name, tuple(others), tuple(choices))
        if key not in SHARED:
            composed = self.loader.load_configuration(config_name, [*others, *choices], run_mode=RunMode.RUN)
            SHARED[key] = pickle.dumps(composed)
            if len(SHARED) > KEEP_SHARED:  # the oldest: a quasi-random search's trials each compose their own
                SHARED.pop(next(iter(SHARED)))
        cfg = pickle.loads(SHARED[key])
        ConfigLoaderImpl._apply_overrides_to_config(directories, cfg)
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


def is_directory(override: Override) -> bool:
    """Whether `override` sets the sweep's directory or its jobs' (`hydra.sweep.dir`, `hydra.sweep.subdir`), a
    value Hydra applies to the composed config, that nothing of composing reads."""
    return (
        override.key_or_group in DIRECTORIES
        and override.type == OverrideType.CHANGE
        and override.package is None
        and not override.is_sweep_override()
    )
