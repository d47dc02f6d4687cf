"""Runs that differ only in values share one built and compiled program. In one process (a sweep's jobs
under the basic launcher, the comparison's, Optuna's trials, a notebook's loop), a run whose structure (the
problem, model, optimizer class and its other hyperparameters, data, shapes and step settings) matches an
earlier one takes that run's parts and compiled train loop, with its own state put in place: the model's
variables as a fresh build from its seed and values makes them, the optimizer's slots, counters and
learning rate as a fresh optimizer's (its slots as kept from a build for the same start:
`fresh_optimizer_values`), the running metrics, step and data order restarted. Its numbers are those of the
same run built afresh (bit for bit under `trainer.deterministic=true`).

The values that may differ (`VALUES`) are what the compiled program reads from variables or does not read at
all: the seed, the step budget and the actions' cadences, where it writes, the learning rate (when no schedule
holds it) and the settings that set only a scalar problem's variables, which its class names (`START_SETTINGS`
of trainer/scalar.py: its initial point, the seed and spread that draw it around that point, and a stochastic
problem's seed, which its program reads from a variable). The log
points' cadence and the call's length are part of the program (trainer/loop/points.py).
"""

import hashlib
import weakref
from collections import OrderedDict

import numpy as np
from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from trainer.config.record import dotted

VALUES = (
    "output_dir",
    "trainer.seed",
    "trainer.steps",
    "trainer.epochs",
    "trainer.resume",
    "trainer.checkpoint_every",
    "trainer.keep_checkpoints",
    "trainer.compilation_cache",
    "trainer.eval_every",
    "trainer.monitor",
    "trainer.monitor_mode",
    "trainer.patience",
    "trainer.min_delta",
    "trainer.restore_best",
    "logging.",
    "sweep.",
    "callbacks.",
    "actions.",
)
LEARNING_RATES = ("optimizer.learning_rate", "optimizer.optimizer.learning_rate")  # read from a variable
KEEP = 64  # the most recent structures whose programs are kept: a comparison's every (problem, optimizer)
KEEP_BYTES = 1 << 30  # what they may hold together (variables, examples in memory); the latest is always kept
KEEP_SLOT_BYTES = 1 << 24  # what one kept optimizer's slots hold for its starts; the latest is always kept


class Reusable:
    """The runs built in this process, by structure: the most recent KEEP of them, within KEEP_BYTES."""

    def __init__(self):
        self.runs: OrderedDict[str, tuple] = OrderedDict()  # (the run, its held_bytes)

    def get(self, key: str | None):
        if key is None or key not in self.runs:
            return None
        self.runs.move_to_end(key)
        return self.runs[key][0]

    def keep(self, key: str | None, run) -> None:
        if key is None:
            return
        self.runs[key] = run, held_bytes(run)
        self.runs.move_to_end(key)
        while len(self.runs) > KEEP or len(self.runs) > 1 and sum(size for _, size in self.runs.values()) > KEEP_BYTES:
            self.runs.popitem(last=False)

    def clear(self) -> None:
        self.runs.clear()


def held_bytes(run) -> int:
    """About what a kept run holds: its model's and optimizer's variables, and its examples in memory (an array
    that does not tell its bytes counts none)."""
    variables = [*run.model.variables, *run.optimizer.variables]
    splits = (run.data.train, run.data.test, run.held_out)
    arrays = {id(array): array for split in splits if isinstance(split, tuple) for array in split}  # (x, x) once
    return sum(map(variable_bytes, variables)) + sum(getattr(array, "nbytes", 0) for array in arrays.values())


def variable_bytes(variable) -> int:
    """A variable's bytes (a Keras variable names its dtype, a tf.Variable's is a tf.DType). Here, not beside
    `Run`: a job's population key imports this module before TensorFlow may be imported (its XLA cache flag)."""
    dtype = getattr(variable.dtype, "as_numpy_dtype", variable.dtype)
    return int(np.prod(variable.shape)) * np.dtype(dtype).itemsize


REUSABLE = Reusable()
BUILT = weakref.WeakKeyDictionary()  # a kept run's optimizer -> its BuiltSlots (`fresh_optimizer_values`)


def structure(resolved: dict) -> str:
    """What a run's compiled program depends on: its config, `resolved` (`resolved_config`), without the VALUES,
    nor the model's START_SETTINGS (nor its learning rate, where no schedule holds it)."""
    values = (*VALUES, *start_settings(resolved), *(() if resolved.get("schedule") else LEARNING_RATES))
    flat = dotted(resolved)
    return repr(sorted((key, repr(value)) for key, value in flat.items() if not matches(key, values)))


def resolved_config(cfg: DictConfig) -> dict:
    """`cfg` resolved, as plain data: what a run's structure key and its recorded config are made of."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def start_settings(resolved: dict) -> tuple[str, ...]:
    """The model's settings that set only its variables' values (a scalar problem's `START_SETTINGS`): a reused
    run takes its variables from a fresh build of its own config (trainer/loop/build.py)."""
    target = (resolved.get("model") or {}).get("_target_")
    return tuple(f"model.{name}" for name in getattr(get_object(target), "START_SETTINGS", ())) if target else ()


def matches(key: str, names: tuple) -> bool:
    """Whether `key` is one of `names`, or inside one (a name ending with '.' is a section; `trainer.steps` is
    not `trainer.steps_per_call`)."""
    return any(key == name or key.startswith(name if name.endswith(".") else f"{name}.") for name in names)


def fresh_optimizer_values(kept, make_optimizer, start: tuple, rate_varies: bool) -> list:
    """The values of the optimizer of `kept` (a run) in a fresh build of `make_optimizer()`: those its constructor
    makes (the step count, the learning rate) from a new one, unbuilt; those its `build` makes (the slots) as a
    build for the same `start` (the seed and starting weights, which some slots copy: Lookahead's) made them,
    where its config's other values cannot change them. A learning rate may (Rprop's first steps), where it is a
    value of its own (`rate_varies`: no schedule holds it): a second build with another one tells, at the first
    build. `build` cost a run of Adam 5 ms of its 60 (tests/test_reuse.py checks every optimizer)."""
    optimizer = make_optimizer()
    constructed = list(optimizer.variables)
    built = BUILT.setdefault(kept.optimizer, BuiltSlots())
    values = built.values.get(built.key(start, optimizer))
    if values is not None:
        if len(constructed) != sum(value is None for value in values):
            raise RuntimeError("a reused run's optimizer differs from a fresh build's: its structure misses a setting")
        unbuilt = iter(constructed)
        return [next(unbuilt) if value is None else value for value in values]
    optimizer.build(kept.model.trainable_variables)
    made = {id(variable) for variable in constructed}
    values = [None if id(variable) in made else variable.numpy() for variable in optimizer.variables]
    if built.rate_sets_slots is None:
        built.rate_sets_slots = rate_varies and rate_sets_slots(make_optimizer, kept, values)
    built.keep(built.key(start, optimizer), values)
    return optimizer.variables


class BuiltSlots:
    """A kept run's optimizer's slots as built, by start (and learning rate, where one sets them): the most
    recent within KEEP_SLOT_BYTES, so that a grid of seeds and rates builds once a seed."""

    def __init__(self):
        self.values: OrderedDict[tuple, list] = OrderedDict()
        self.rate_sets_slots: bool | None = None  # known at the first build

    def key(self, start: tuple, optimizer) -> tuple:
        """The key of `optimizer`'s slots: its start, and its learning rate where one sets them."""
        return start, float(np.asarray(optimizer.learning_rate)) if self.rate_sets_slots else None

    def keep(self, key: tuple, values: list) -> None:
        self.values[key] = values
        while len(self.values) > 1 and sum(map(slot_bytes, self.values.values())) > KEEP_SLOT_BYTES:
            self.values.popitem(last=False)


def slot_bytes(values: list) -> int:
    return sum(value.nbytes for value in values if value is not None)


def rate_sets_slots(make_optimizer, kept, built: list) -> bool:
    """Whether a build of `make_optimizer()` with another learning rate makes other slots than `built`."""
    other = make_optimizer()
    other.learning_rate = 2 * float(np.asarray(other.learning_rate)) + 1
    other.build(kept.model.trainable_variables)
    pairs = zip(built, other.variables)
    return any(value is not None and not np.array_equal(value, variable.numpy()) for value, variable in pairs)


def digest(variables: list) -> bytes:
    """A digest of the variables' values: a key of the weights that a run starts from."""
    hashed = hashlib.blake2b()
    for variable in variables:
        hashed.update(variable.numpy().tobytes())
    return hashed.digest()


def assign_all(targets: list, sources: list) -> None:
    """Each variable of `targets` takes the value of its counterpart in `sources`, a build of the same parts."""
    if [tuple(t.shape) for t in targets] != [tuple(s.shape) for s in sources]:
        raise RuntimeError("a reused run's parts differ from a fresh build's: its structure key misses a setting")
    for target, source in zip(targets, sources):
        target.assign(source)
