"""Presets: named sets of params (``configs/*.yaml``) laid over ``params.yaml``.

A preset file is a partial params file: sections holding the keys it sets (a sub-section such as
``loss.adversarial`` holding the keys it sets in turn), e.g.::

    model:
      multiscale:
        width: 1.0
    loss:
      adversarial:
        kind: hinge

Every section and key must exist in ``params.yaml`` and the result must validate
(:func:`pyext.config.parse_params`), so a preset cannot set a key that is silently ignored. A preset
is applied either as a DVC experiment (``dvc exp run $(python -m pipeline.preset configs/paper.yaml)``
passes it as ``-S key=value`` overrides) or written into ``params.yaml`` in place, its comments kept
(``python -m pipeline.preset configs/paper.yaml --write``).

Example:
    >>> overrides({"model": {"multiscale": {"width": 1.0}}, "loss": {"adversarial": {"kind": "hinge"}}, "train": {"augment": []}})
    ['model.multiscale.width=1.0', 'loss.adversarial.kind="hinge"', 'train.augment=[]']
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .config import Params, ParamsError, StrictLoader, parse_params

__all__ = ["apply_preset", "overrides", "preset_params", "read_preset", "write_preset"]


def read_preset(path: str | os.PathLike, params: str | os.PathLike = "params.yaml") -> dict[str, dict[str, Any]]:
    """The preset at ``path``, checked against the params file ``params``: every section and key it
    sets exists there, and ``params`` with the preset applied is valid.

    Raises:
        ParamsError: one line naming the preset file (or the params file) and the key at fault.
    """
    return _checked(path, params)[0]


def preset_params(path: str | os.PathLike, params: str | os.PathLike = "params.yaml") -> Params:
    """The params file ``params`` with the preset at ``path`` applied, validated (the checks of
    :func:`read_preset`), e.g. ``preset_params("configs/paper.yaml").train.optimizer == "sgd"``.

    Raises:
        ParamsError: as :func:`read_preset`.
    """
    return _checked(path, params)[1]


def _checked(path: str | os.PathLike, params: str | os.PathLike) -> tuple[dict[str, dict[str, Any]], Params]:
    """The preset at ``path`` and ``params`` with it applied, each checked (see :func:`read_preset`)."""
    source = str(path)
    try:
        preset = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=StrictLoader)
    except FileNotFoundError:
        raise ParamsError(source, None, f"no such preset file: {Path(path).resolve()}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParamsError(source, None, " ".join(f"not a readable YAML file: {exc}".split())) from None
    if not isinstance(preset, Mapping) or not all(isinstance(v, Mapping) for v in preset.values()):
        raise ParamsError(source, None, "expected sections of keys, e.g. 'model: {family: multiscale}'")
    base = _load(params)
    for path, _ in _leaves(preset):
        node = base
        for depth, name in enumerate(path):
            if not isinstance(node, Mapping) or name not in node:
                what = "section" if depth == 0 else "key"
                raise ParamsError(source, ".".join(map(str, path[:depth + 1])), f"not a {what} of {params}")
            node = node[name]
    try:
        applied = parse_params(apply_preset(base, preset), params)
    except ParamsError as exc:  # the combination is invalid: name the preset with the key
        raise ParamsError(f"{source} applied to {params}", exc.key, exc.problem) from None
    return copy.deepcopy({str(s): dict(keys) for s, keys in preset.items()}), applied


def _leaves(preset: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """The values a preset sets, each with its key path: a mapping in a preset is a (sub-)section
    to go into, anything else (lists included) a value.

    >>> _leaves({"loss": {"adv": 0.1, "adversarial": {"kind": "hinge"}}})
    [(('loss', 'adv'), 0.1), (('loss', 'adversarial', 'kind'), 'hinge')]
    """
    out = []
    for key, value in preset.items():
        if isinstance(value, Mapping):
            out += _leaves(value, (*path, key))
        else:
            out.append(((*path, key), value))
    return out


def _set(tree: Any, path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        tree = tree[name]
    tree[path[-1]] = value


def _load(params: str | os.PathLike) -> dict:
    try:
        return yaml.load(Path(params).read_text(encoding="utf-8"), Loader=StrictLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsError(str(params), None, " ".join(f"cannot read the params file: {exc}".split())) from None


def apply_preset(raw: Mapping[str, Mapping[str, Any]], preset: Mapping[str, Mapping[str, Any]]) -> dict:
    """A copy of parsed params ``raw`` with the preset's values set."""
    out = copy.deepcopy(dict(raw))
    for path, value in _leaves(preset):
        _set(out, path, copy.deepcopy(value))
    return out


def overrides(preset: Mapping[str, Mapping[str, Any]], source: str = "the preset") -> list[str]:
    """The preset as ``dvc exp run -S`` overrides, ``section.key=value`` (values as JSON, which
    DVC's override grammar reads as YAML does).

    Raises:
        ParamsError: a value holds white space: ``$(beyondmse preset ...)`` would split it into
            words (the shell's splitting sees no quotes), and DVC's grammar has no escape for it.
    """
    out = []
    for path, value in _leaves(preset):
        if any(c.isspace() for text in _strings(value) for c in text):
            raise ParamsError(source, ".".join(path), f"{value!r} holds white space, which $(beyondmse preset ...) "
                              f"splits into separate words: write the preset into params.yaml with --write instead")
        out.append(f"{'.'.join(path)}={json.dumps(value, separators=(',', ':'))}")
    return out


def _strings(value: Any) -> list[str]:
    """The strings of a preset's value: itself, or a list's items, at any depth."""
    if isinstance(value, str):
        return [value]
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


def write_preset(preset: Mapping[str, Mapping[str, Any]], params: str | os.PathLike = "params.yaml") -> None:
    """Sets the preset's values in the params file, in place, keeping its comments and layout."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    from .files import atomic_output

    rt = YAML()  # round trip: comments and key order survive
    rt.width = 4096
    data = rt.load(Path(params).read_text(encoding="utf-8"))
    for path, value in _leaves(preset):
        if isinstance(value, list):  # written [a, b] on the key's line, as params.yaml writes lists
            value = CommentedSeq(value)
            value.fa.set_flow_style()
        _set(data, path, value)
    with atomic_output(params) as tmp, open(tmp, "w", encoding="utf-8") as f:
        rt.dump(data, f)
