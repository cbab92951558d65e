"""Presets: named sets of params (``configs/*.yaml``) laid over ``params.yaml``.

A preset file is a partial params file: sections holding the keys it sets, e.g.::

    model:
      width: 1.0
    train:
      optimizer: sgd

Every section and key must exist in ``params.yaml`` and the result must validate
(:func:`pyext.config.parse_params`), so a preset cannot set a key that is silently ignored. A preset
is applied either as a DVC experiment (``dvc exp run $(python -m pipeline.preset configs/paper.yaml)``
passes it as ``-S key=value`` overrides) or written into ``params.yaml`` in place, its comments kept
(``python -m pipeline.preset configs/paper.yaml --write``).

Example:
    >>> overrides({"model": {"width": 1.0}, "train": {"augment": []}})
    ['model.width=1.0', 'train.augment=[]']
"""
from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .config import ParamsError, _StrictLoader, parse_params

__all__ = ["apply_preset", "overrides", "read_preset", "write_preset"]


def read_preset(path: str | os.PathLike, params: str | os.PathLike = "params.yaml") -> dict[str, dict[str, Any]]:
    """The preset at ``path``, checked against the params file ``params``: every section and key it
    sets exists there, and ``params`` with the preset applied is valid.

    Raises:
        ParamsError: one line naming the preset file (or the params file) and the key at fault.
    """
    source = str(path)
    try:
        preset = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_StrictLoader)
    except FileNotFoundError:
        raise ParamsError(source, None, f"no such preset file: {Path(path).resolve()}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParamsError(source, None, " ".join(f"not a readable YAML file: {exc}".split())) from None
    if not isinstance(preset, Mapping) or not all(isinstance(v, Mapping) for v in preset.values()):
        raise ParamsError(source, None, "expected sections of keys, e.g. 'model: {width: 1.0}'")
    base = _load(params)
    for section, keys in preset.items():
        if section not in base:
            raise ParamsError(source, str(section), f"not a section of {params}")
        for key in keys:
            if key not in base[section]:
                raise ParamsError(source, f"{section}.{key}", f"not a key of {params}")
    try:
        parse_params(apply_preset(base, preset), params)
    except ParamsError as exc:  # the combination is invalid: name the preset with the key
        raise ParamsError(f"{source} applied to {params}", exc.key, exc.problem) from None
    return {str(s): dict(keys) for s, keys in preset.items()}


def _load(params: str | os.PathLike) -> dict:
    try:
        return yaml.load(Path(params).read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsError(str(params), None, " ".join(f"cannot read the params file: {exc}".split())) from None


def apply_preset(raw: Mapping[str, Mapping[str, Any]], preset: Mapping[str, Mapping[str, Any]]) -> dict:
    """A copy of parsed params ``raw`` with the preset's values set."""
    out = copy.deepcopy(dict(raw))
    for section, keys in preset.items():
        out[section] = {**out[section], **keys}
    return out


def overrides(preset: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The preset as ``dvc exp run -S`` overrides, ``section.key=value`` (values as JSON, which
    DVC's override grammar reads as YAML does)."""
    return [f"{section}.{key}={json.dumps(value, separators=(',', ':'))}"
            for section, keys in preset.items() for key, value in keys.items()]


def write_preset(preset: Mapping[str, Mapping[str, Any]], params: str | os.PathLike = "params.yaml") -> None:
    """Sets the preset's values in the params file, in place, keeping its comments and layout."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    from .data.files import atomic_output

    rt = YAML()  # round trip: comments and key order survive
    rt.width = 4096
    data = rt.load(Path(params).read_text(encoding="utf-8"))
    for section, keys in preset.items():
        for key, value in keys.items():
            if isinstance(value, list):  # written [a, b] on the key's line, as params.yaml writes lists
                value = CommentedSeq(value)
                value.fa.set_flow_style()
            data[section][key] = value
    with atomic_output(params) as tmp, open(tmp, "w", encoding="utf-8") as f:
        rt.dump(data, f)
