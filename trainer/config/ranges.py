"""What each plugin setting accepts, declared beside the plugin and checked at start by one mechanism.

A plugin declares the valid values of its arguments with `@valid(name="spec", ...)` on its class or function;
a class inherits its bases' declarations (every optimizer, Keras' shared options). Keras' own optimizers,
schedules, losses and callbacks, which the YAMLs name but this project cannot decorate, are declared in
trainer/config/keras_ranges.py. `check_plugin` (trainer/config/checks.py) tests every key of every plugin
section against its declaration and refuses the first that fails, in one line naming the key, the value and
what is valid.

A spec reads as what it accepts:
    "> 0", ">= 1", "< 1", "<= 0"         a number compared with a bound
    "(0, 1)", "[0, 1)", "[1, inf]"       a number in an interval (round brackets exclude the bound)
    "int >= 1"                           the same for integers
    "each > 0"                           a list whose every element passes the rest
    "one of strong_wolfe, null"          one of the words given (null: no value)
    "any"                                any value: a path, a name
and "... or null" lets the setting be left unset. A setting whose argument defaults to None may always be
null. Booleans need no declaration: true and false are checked by type.
"""

import functools
import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RANGES: dict[object, dict[str, str]] = {}  # a plugin (class or function) -> its declared specs, by argument
COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
INTERVAL = re.compile(r"^([(\[])\s*(\S+?)\s*,\s*(\S+?)\s*([)\]])$")


def valid(**specs: str):
    """Declare what each argument of the decorated plugin accepts: `@valid(rho="> 0", sync_period="int >= 1")`."""

    def declare(plugin):
        for spec in specs.values():
            Spec.parse(spec)  # a typo in a declaration fails at import, not at a user's run
        RANGES[plugin] = {**RANGES.get(plugin, {}), **specs}
        declared.cache_clear()  # a class's specs include its bases'
        return plugin

    return declare


@functools.cache  # every run checks its plugins; a declaration empties it
def declared(target) -> dict[str, "Spec"]:
    """The specs declared for `target`'s arguments, a class's own over its bases'. Read only: the same dict
    answers each call."""
    from trainer.config.keras_ranges import register_keras

    register_keras()
    owners = reversed(target.__mro__) if isinstance(target, type) else [target]
    merged = {}
    for owner in owners:
        merged.update(RANGES.get(owner, {}))
    return {name: Spec.parse(spec) for name, spec in merged.items()}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Spec:
    """A parsed spec: `accepts(value)`, and `words`, what it accepts in a sentence."""

    text: str

    @classmethod
    def parse(cls, text: str) -> "Spec":
        spec = cls(text.strip())
        spec.accepts(None)  # raises ValueError for a spec it cannot read
        return spec

    @property
    def nullable(self) -> bool:
        return self.text.endswith(" or null")

    @property
    def body(self) -> str:
        return self.text.removesuffix(" or null")

    @property
    def words(self) -> str:
        words = describe(self.body)
        return f"null or {words}" if self.nullable else words

    def accepts(self, value: Any) -> bool:
        if value is None and self.nullable:
            return True
        return accepts(self.body, value)


def accepts(body: str, value: Any) -> bool:
    if body == "any":
        return True
    if body.startswith("each "):
        listed = isinstance(value, Sequence) and not isinstance(value, str)
        return listed and all(accepts(body[5:], item) for item in value)
    if body.startswith("one of "):
        words = [word.strip() for word in body[7:].split(",")]
        return ("null" in words and value is None) or (isinstance(value, str) and value in words)
    integer = body.startswith("int ")
    bounds = body[4:] if integer else body
    if value is not None and not (is_int(value) if integer else is_number(value)):
        return False
    return within(bounds, value)


def within(bounds: str, value) -> bool:
    """Whether the number `value` lies within `bounds` ("> 0", "[0, 1)"); None only checks that they parse."""
    interval = INTERVAL.match(bounds)
    if interval:
        opening, low, high, closing = interval.groups()
        low, high = float(low), float(high)
        if value is None:
            return False
        above = value > low if opening == "(" else value >= low
        below = value < high if closing == ")" else value <= high
        return above and below and not math.isnan(value)
    symbol, _, bound = bounds.partition(" ")
    if symbol not in COMPARISONS:
        raise ValueError(f"cannot read the spec {bounds!r}: see trainer/config/ranges.py")
    bound = float(bound)
    return value is not None and COMPARISONS[symbol](value, bound)


def describe(body: str) -> str:
    """What a spec's body accepts, in words: "a number in [0, 1)", "an integer >= 1", "one of a, b"."""
    if body == "any":
        return "any value"
    if body.startswith("each "):
        each = describe(body[5:])
        plural = each.replace("a number", "numbers", 1).replace("an integer", "integers", 1)
        return f"a list of {plural}" if plural != each else f"a list, each {each}"
    if body.startswith("one of "):
        return body
    integer = body.startswith("int ")
    bounds = body[4:] if integer else body
    kind = "an integer" if integer else "a number"
    return f"{kind} in {bounds}" if INTERVAL.match(bounds) else f"{kind} {bounds}"
