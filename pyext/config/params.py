"""All of ``params.yaml`` (:class:`Params`), read and validated: pydantic checks each key's own
rule (:func:`_first_problem` words its first error), then each domain's rules that span keys run
in turn (:data:`_DOMAIN_RULES`)."""
from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

import yaml
from pydantic import TypeAdapter, ValidationError

from ..files import PRETRAINED, StrictLoader
from . import data, evaluation, extraction, loss, model, training
from .data import GENERATED_SOURCES, ClipParams, DataParams, DemoParams, PhotosParams, StochasticParams
from .evaluation import EvaluateParams
from .extraction import ExtractParams, FilterParams
from .loss import COMPARATORS, LossParams
from .model import FAMILIES, ModelParams
from .rules import BUILTIN, PRETRAINED_INIT, Expect, ParamsError, Rule, section, show
from .training import FinetuneParams, TrainParams

__all__ = ["Params", "StrictLoader", "finetune_params", "load_params", "parse_params"]


@section
class Params:
    """All of ``params.yaml``, one field per section. Build it with :func:`load_params` or
    :func:`parse_params`: the constructor checks each key's own rule, but not the rules that span
    keys, nor resolves ``data.root``."""

    clip: ClipParams
    data: DataParams
    demo: DemoParams
    photos: PhotosParams
    stochastic: StochasticParams
    extract: ExtractParams
    filter: FilterParams
    model: ModelParams
    loss: LossParams
    train: TrainParams
    finetune: FinetuneParams
    evaluate: EvaluateParams

    def section(self, name: str) -> dict[str, Any]:
        """The validated values of one section as plain YAML/JSON types (tuples as lists, paths as
        absolute strings, floats as floats), to record the params used in an output file."""
        if name not in _SECTIONS:
            raise ValueError(f"unknown params section {name!r} (known: {', '.join(_SECTIONS)})")
        values = getattr(self, name)
        return {f.name: _plain(getattr(values, f.name)) for f in fields(values)}

    def value(self, dotted: str) -> Any:
        """The value of a section or a key by its dotted name (``"model.gaia"``, ``"train.seed"``)
        as plain YAML/JSON types, as :meth:`section` gives them."""
        return _plain(functools.reduce(getattr, dotted.split("."), self))


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# Section name -> its dataclass, in file order. get_type_hints, since annotations are strings here.
_SECTIONS: dict[str, type] = get_type_hints(Params)
_VALIDATOR = TypeAdapter(Params)
# The rules that span keys, domain by domain; each domain's run once the ones before hold.
_DOMAIN_RULES = (data.rules, extraction.rules, evaluation.rules, model.rules, training.rules, loss.rules)


def _owner(names: list[str]) -> type:
    """The section dataclass at a dotted path of section names ([] is :class:`Params`)."""
    cls = Params
    for name in names:
        cls = get_type_hints(cls)[name]
    return cls


def _first_problem(exc: ValidationError, raw: Mapping, source: str) -> ParamsError:
    """pydantic's first error (an unknown key before all else: a misspelt key is also a missing
    one, and the unknown key's message lists the known ones) as one line naming the dotted key."""
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "unexpected_keyword_argument"), errors[0])
    # The key: the names of the path; a number in it indexes a list value, reported as the whole key.
    names = list(itertools.takewhile(lambda part: isinstance(part, str), error["loc"]))
    key, whole = ".".join(names), len(names) == len(error["loc"])
    if error["type"] == "unexpected_keyword_argument":
        known = list(get_type_hints(_owner(names[:-1])))
        if len(names) == 1:
            return ParamsError(source, key, f"unknown section (known: {', '.join(known)})")
        return ParamsError(source, key, f"unknown key (known: {', '.join(sorted(known))})")
    if error["type"] == "missing" and whole:
        return ParamsError(source, key, "missing section" if len(names) == 1 else "missing key")
    value = functools.reduce(lambda mapping, name: mapping[name], names, raw)
    if error["type"] in ("dataclass_type", "dataclass_args_type"):
        return ParamsError(source, key, f"expected a mapping of keys, got {show(value)}")
    hint = get_type_hints(_owner(names[:-1]), include_extras=True)[names[-1]]
    expected = next(m.words for m in hint.__metadata__ if isinstance(m, Expect))
    return ParamsError(source, key, f"expected {expected}, got {show(value)}")


def _cross_checks(p: Params) -> Iterator[Rule]:
    """Every domain's rules that span keys, in turn (lazy: a rule runs once the ones before hold)."""
    for rules in _DOMAIN_RULES:
        yield from rules(p)


def parse_params(raw: Any, source: str | os.PathLike = "params.yaml") -> Params:
    """Validates parsed YAML (a dict of sections) and builds :class:`Params`.

    Args:
        raw: the parsed file, ``{section: {key: value}}``; every section and key is required.
        source: the file it came from: named in errors, and relative ``data.root`` paths are resolved
            against its folder (``params.yaml``: the working directory).
    Raises:
        ParamsError: the first problem found: an unknown or missing section or key, a wrong type, a
            value out of range, an inconsistent combination of keys, or a missing ``data.root``.
    """
    source = str(source)
    if not isinstance(raw, Mapping):
        raise ParamsError(source, None, f"expected a mapping of sections, got {show(raw)}")
    try:
        params = _VALIDATOR.validate_python(raw)
    except ValidationError as exc:
        raise _first_problem(exc, raw, source) from None

    # Relative to the params file, not the working directory: a stage run from elsewhere reads the
    # same videos. An absolute root stays as it is (Path's / keeps the right side).
    root = (Path(source).parent / params.data.root).resolve()
    test, domain_b = params.data.test, params.data.translate
    if test.root:
        test = replace(test, root=_resolved(source, test.root))
    if domain_b.root:
        domain_b = replace(domain_b, root=_resolved(source, domain_b.root))
    params = replace(params, data=replace(params.data, root=root, test=test, translate=domain_b))

    # The optional paths, relative to the params file like data.root.
    comparator, evaluate = params.loss.comparator, params.evaluate
    if comparator.file:
        params = replace(params, loss=replace(params.loss, comparator=replace(
            comparator, file=_resolved(source, comparator.file))))
    for key in ("features", "classifier"):
        if getattr(evaluate, key) not in ("", BUILTIN):
            evaluate = replace(evaluate, **{key: _resolved(source, getattr(evaluate, key))})
    params = replace(params, evaluate=evaluate)
    for key in {key for family in FAMILIES.values() for key in family.files}:
        if (named := params.value(key)) != BUILTIN:
            params = _replaced(params, key, _resolved(source, named))
    if params.train.init:  # the keyword names the shipped file, wherever the package lies
        init = str(PRETRAINED) if params.train.init == PRETRAINED_INIT else _resolved(source, params.train.init)
        params = replace(params, train=replace(params.train, init=init))

    for key, holds, expected, found in _cross_checks(params):
        if not holds:
            raise ParamsError(source, key, f"expected {expected}, got {show(found)}")
    if COMPARATORS[params.loss.comparator.kind].file and not Path(params.loss.comparator.file).is_file():
        raise ParamsError(source, "loss.comparator.file", f"no such file: {params.loss.comparator.file}")
    for key in ("features", "classifier"):
        path = getattr(params.evaluate, key)
        if path not in ("", BUILTIN) and not Path(path).is_file():
            raise ParamsError(source, f"evaluate.{key}", f"no such file: {path}")
    for key in FAMILIES[params.model.family].files:
        if (named := params.value(key)) != BUILTIN and not Path(named).is_file():
            raise ParamsError(source, key, f"no such file: {named}")
    if params.train.init and not Path(params.train.init).is_file():
        raise ParamsError(source, "train.init", f"no such file: {params.train.init}")
    if params.data.source not in GENERATED_SOURCES and not root.is_dir():
        problem = "not a directory" if root.exists() else "path does not exist"
        raise ParamsError(source, "data.root",
                          f"{problem}: {root} (data.source: {params.data.source} reads its videos there)")
    for key, other, what in (("data.test.root", test, "its test videos"), ("data.translate.root", domain_b,
                                                                            "domain B's videos")):
        if other.root and not Path(other.root).is_dir():
            problem = "not a directory" if Path(other.root).exists() else "path does not exist"
            raise ParamsError(source, key, f"{problem}: {other.root} ({key.removesuffix('.root')}.source: "
                                           f"{other.source} reads {what} there)")
    return params


def finetune_params(params: Params) -> Params:
    """The params the fine-tuning stage trains with (``finetune.patch`` > 0) and its generator is
    evaluated with: ``clip.patch`` is ``finetune.patch``, ``train.steps`` is ``finetune.steps``,
    and the rates stay at the train stage's final ones throughout.

    >>> p = load_params("tests/params.yaml")
    >>> q = finetune_params(replace(p, finetune=replace(p.finetune, patch=64, steps=50)))
    >>> q.clip.patch, q.train.steps, q.train.lr_g == p.train.lr_g_final == q.train.lr_g_final
    (64, 50, True)
    """
    tune, train = params.finetune, params.train
    return replace(params, clip=replace(params.clip, patch=tune.patch),
                   train=replace(train, steps=tune.steps, lr_g=train.lr_g_final, lr_d=train.lr_d_final))


def _replaced(value: Any, dotted: str, new: Any) -> Any:
    """``value`` (params or a section of them) with the key ``dotted`` set to ``new``."""
    name, _, rest = dotted.partition(".")
    return replace(value, **{name: _replaced(getattr(value, name), rest, new) if rest else new})


def _resolved(source: str, path: str) -> str:
    return str((Path(source).parent / Path(path).expanduser()).resolve())


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Reads and validates a params file (:func:`parse_params`); relative paths in it are relative
    to its folder.

    Args:
        path: the YAML file; the default is relative to the working directory (the repository root
            when run by ``dvc repro``).
    Raises:
        ParamsError: the file is missing, unreadable or not YAML, or its contents are invalid.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(source, None, f"no such file: {Path(path).resolve()}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(source, None, f"cannot read the file: {exc}") from None
    try:
        raw = yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(source, None, " ".join(f"not valid YAML: {problem}{where}".split())) from None
    return parse_params(raw, source)
