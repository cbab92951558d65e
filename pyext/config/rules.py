"""What the params' sections are made of: the one-line :class:`ParamsError`, the rules a key's type
declares (``_int(1)``, ``_choice(...)``, :func:`named`), the section decorator, and :class:`Rule`, a
rule that spans keys.

Each key's type says what it accepts, as pydantic v2 checks it: numbers, booleans and names are
strict (YAML's `yes` is not 1, "40" is not 40, 32.0 is not an int; an int is a number), lists may
stand for tuples, and a string for a path. The :class:`Expect` beside each type is the error
message's "expected ..." for that key, so that a wrong value reads the same whatever pydantic found
wrong.
"""
from __future__ import annotations

import reprlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict
from pydantic.dataclasses import dataclass as pydantic_dataclass

__all__ = ["Expect", "ParamsError", "Rule", "Rules", "named", "section", "show"]

MAX_STEPS = 10**9  # more training steps than any run takes (years at 0.1 s a step): a typo


class ParamsError(ValueError):
    """A params file that cannot be used, as one line ``<file>: <dotted key>: <problem>``.

    Example:
        >>> raise ParamsError("params.yaml", "extract.workers", "expected an int >= 1, got 'two'")
        Traceback (most recent call last):
        ...
        pyext.config.rules.ParamsError: params.yaml: extract.workers: expected an int >= 1, got 'two'
    """

    def __init__(self, source: str, key: str | None, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")

    def __reduce__(self):
        # Keeps the error picklable (it may cross from a worker process) despite the 3-argument init.
        return type(self), (self.source, self.key, self.problem)


class Rule(NamedTuple):
    """A rule that spans keys: the key at fault, whether it holds, what is expected there (naming
    the other keys) and what was found."""

    key: str
    holds: bool
    expected: str
    found: Any


# A domain's rules over the whole params, lazy, so that a rule only runs once the ones before it hold.
Rules = Callable[[Any], Iterator[Rule]]


def show(value: Any) -> str:
    """A value for an error message: its repr (so 'two' shows as a string), short and on one line."""
    return "nothing (an empty value)" if value is None else reprlib.repr(value)


@dataclass(frozen=True)
class Expect:
    """What a key accepts, in words: completes "expected ..." in errors. ``text`` may be a function,
    for a key whose choices come from a registry's table (read when the error is written)."""

    text: str | Callable[[], str]

    @property
    def words(self) -> str:
        return self.text() if callable(self.text) else self.text


def _list(value: Any) -> Any:
    # Lax tuples would take any sequence (a set, a generator); params hold lists (tuples from code).
    if not isinstance(value, (list, tuple)):
        raise ValueError("not a list")
    return value


def _distinct(value: tuple) -> tuple:
    if len(set(value)) != len(value):
        raise ValueError("names repeat")
    return value


def _non_empty(value: Any) -> Any:
    if not (isinstance(value, Path) or (isinstance(value, str) and value.strip())):
        raise ValueError("not a non-empty string")
    return value


def _int(low: int, high: int | None = None) -> Any:
    expected = f"an int >= {low}" if high is None else f"an int in {low}..{high}"
    return Annotated[int, Strict(), Field(ge=low, le=high), Expect(expected)]


def _float(low: float, below: float | None = None) -> Any:
    """A finite number (an int is accepted and converted) in [low, below)."""
    expected = f"a number >= {low:g}" if below is None else f"a number in [{low:g}, {below:g})"
    return Annotated[float, Strict(), Field(ge=low, lt=below, allow_inf_nan=False), Expect(expected)]


def _choice(*names: str) -> Any:
    return Annotated[Literal[names], Expect(f"one of {', '.join(names)}")]


def named(table: Mapping[str, Any]) -> Any:
    """A name of ``table``'s entries (a registry's table, :mod:`pyext.config.tables`): read at
    validation, so an entry added to the table is a valid name from then on."""

    def known(value: str) -> str:
        if value not in table:
            raise ValueError("not a registered name")
        return value

    return Annotated[str, Strict(), AfterValidator(known), Expect(lambda: f"one of {', '.join(table)}")]


def _subset(*names: str) -> Any:
    """A list of distinct names out of ``names`` (empty allowed), as a tuple."""
    return Annotated[tuple[Literal[names], ...], BeforeValidator(_list), AfterValidator(_distinct),
                     Expect(f"a list of distinct names out of {', '.join(names)} (or [])")]


def _no_zero(value: tuple) -> tuple:
    if not value or 0 in value:
        raise ValueError("empty, or a 0")
    return value


# Indices of layers, 1-based from the first or negative from the last, as Python counts from the end.
_Layers = Annotated[tuple[Annotated[int, Strict()], ...], BeforeValidator(_list), AfterValidator(_no_zero),
                    AfterValidator(_distinct),
                    Expect("a non-empty list of distinct non-zero ints (1: the first layer, -1: the last)")]
# A path that may be empty ('' for none); a relative one is resolved against the params file's folder.
_OptionalPath = Annotated[str, Strict(), Expect("a path, or '' for none")]
# A network file of the evaluation's: BUILTIN (the project's own, shipped), a path, or '' for none.
BUILTIN = "builtin"
# train.init's keyword for the shipped pretrained predictor (pyext.files.PRETRAINED).
PRETRAINED_INIT = "pretrained"
_InitPath = Annotated[str, Strict(), Expect(f"a path, {PRETRAINED_INIT} (the shipped predictor), or '' for none")]
_Network = Annotated[str, Strict(), Expect(f"{BUILTIN} (the project's own), a path, or '' for none")]


def _expand_user(path: Path) -> Path:
    # pathlib raises RuntimeError for a ~user it cannot find (~0): a bad value, as any other.
    try:
        return path.expanduser()
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None


# Relative paths are resolved later, against the params file's folder (see parse_params).
_Path = Annotated[Path, BeforeValidator(_non_empty), AfterValidator(_expand_user),
                  Expect("a path (a non-empty string)")]
_Bool = Annotated[bool, Strict(), Expect("true or false")]
_Count = _int(1)
_Cap = _int(0)  # 0 means no cap
_Seed = _int(0)
# Pairs: errors quote the outer Expect (the items' own are not read).
_IntPair = Annotated[tuple[_Count, _Count], BeforeValidator(_list),
                     Expect("a list of two ints [height, width], each >= 1")]
_Betas = Annotated[tuple[_float(0, 1), _float(0, 1)], BeforeValidator(_list),
                   Expect("a list of two numbers [beta1, beta2], each in [0, 1)")]
# Thresholds of the truncation trick: distinct numbers > 0, in the order given (empty allowed).
_Thresholds = Annotated[tuple[Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)], ...],
                        BeforeValidator(_list), AfterValidator(_distinct),
                        Expect("a list of distinct numbers > 0 (or [])")]
# A section: frozen, every key required (none has a default), unknown keys refused.
section = pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
