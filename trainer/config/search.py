"""An Optuna search space written in Hydra's override syntax, as `hydra.sweeper.params` (conf/hparams_search/)
and sweeps on the command line write it: `choice(a, b)` or `a,b` is categorical, `range(1, 9, 2)` stepped,
`interval(lo, hi)` uniform and `tag(log, interval(lo, hi))` log-uniform; any other override is fixed, the
same for every trial. A key on the command line replaces the same key of `params`."""

from dataclasses import dataclass

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, QuotedString, RangeSweep, Transformer

from trainer.errors import ConfigError

OPTUNA_CHOICES = (type(None), bool, int, float, str)  # what a categorical parameter of Optuna's may hold


@dataclass
class SearchSpace:
    distributions: dict  # key -> optuna.distributions.BaseDistribution
    fixed: list[str]  # the overrides every trial takes as they are
    spelled: dict  # key -> {choice: its override text}: how a drawn choice goes back on the command line

    def suggest(self, trial) -> list[str]:
        """Draw each parameter for the Optuna `trial`; return the trial's overrides: the fixed ones, then
        the drawn ones."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        drawn = []
        for key, distribution in self.distributions.items():
            if isinstance(distribution, CategoricalDistribution):
                drawn.append(f"{key}={self.spelled[key][trial.suggest_categorical(key, distribution.choices)]}")
                continue
            suggest = trial.suggest_float if isinstance(distribution, FloatDistribution) else trial.suggest_int
            value = suggest(key, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
            drawn.append(f"{key}={value!r}")
        return [*self.fixed, *drawn]

    def describe(self) -> dict:
        """The space as plain data, the same for the same search: what a study records to know its own."""
        return {"fixed": self.fixed, "params": {key: repr(value) for key, value in self.distributions.items()}}


def search_space(params: dict, arguments: list[str]) -> SearchSpace:
    """The space of `params` ({key: Hydra sweep text}) and the command line's `arguments`."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()]
    overrides = {}
    for override in OverridesParser.create().parse_overrides([*lines, *arguments]):
        overrides[override.get_key_element()] = override  # the command line's, parsed last, win
    space = SearchSpace({}, [], {})
    for key, override in overrides.items():
        if not override.is_sweep_override():
            space.fixed.append(override.input_line)
        elif override.is_hydra_override() or override.package is not None or override.is_add():
            raise ConfigError(f"hydra.sweeper.params: {key} cannot be searched; search a key of the config's")
        else:
            space.distributions[key] = distribution(override)
            if isinstance(override.value(), ChoiceSweep):  # each value as the command line spells it (quoted)
                values = override.value().list
                space.spelled[key] = dict(zip(space.distributions[key].choices, map(Transformer.str, values)))
    return space


def distribution(override: Override):
    """The Optuna distribution of one sweep override."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key, sweep = override.get_key_element(), override.value()
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution(distribution_choices(key, sweep.list))
    if isinstance(sweep, IntervalSweep):
        whole = isinstance(sweep.start, int) and isinstance(sweep.end, int)
        if not sweep.start < sweep.end:
            raise ConfigError(f"hydra.sweeper.params: {key}'s interval is empty; write interval(low, high), low < high")
        return (IntDistribution if whole else FloatDistribution)(sweep.start, sweep.end, log="log" in sweep.tags)
    if not isinstance(sweep, RangeSweep) or "log" in sweep.tags:
        raise ConfigError(
            f"hydra.sweeper.params: {key} cannot be searched as {override.input_line.partition('=')[2]}; write "
            "choice(a, b, ...), range(start, stop, step) or [tag(log, ...)] interval(low, high)"
        )
    count = int((sweep.stop - sweep.start) / sweep.step - 1e-9) + 1 if sweep.step > 0 else 0  # stop is left out
    if count < 1:
        raise ConfigError(
            f"hydra.sweeper.params: {key}'s range is empty; write range(start, stop, step), start < stop, step > 0"
        )
    last = sweep.start + (count - 1) * sweep.step
    if all(isinstance(value, int) for value in (sweep.start, sweep.step)):
        return IntDistribution(sweep.start, last, step=sweep.step)
    return FloatDistribution(sweep.start, last, step=sweep.step)


def distribution_choices(key: str, values: list) -> tuple:
    """A choice sweep's values as Optuna's categorical choices: numbers, strings (a quoted one's text),
    booleans or null."""
    values = [value.text if isinstance(value, QuotedString) else value for value in values]
    odd = [value for value in values if not isinstance(value, OPTUNA_CHOICES)]
    equal = [(a, b) for i, a in enumerate(values) for b in values[i + 1 :] if a == b]  # 1 and true, 1 and 1.0
    if equal:
        raise ConfigError(f"hydra.sweeper.params: {key} chooses {equal[0][0]!r} and {equal[0][1]!r}, which are equal")
    if odd:
        raise ConfigError(
            f"hydra.sweeper.params: {key} chooses {odd[0]!r}; a choice must be a number, a string, true, false or null"
        )
    return tuple(values)
