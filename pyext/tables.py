"""The tables the stages write for ``dvc plots``.

A *series table* is long-format CSV: one row per point, with the x column, ``series`` (which line
it belongs to) and ``value``. The project's DVC template ``series`` (``.dvc/plots/series.json``)
draws one coloured line per series (and one dash pattern per revision when experiments are
compared), so a stage chooses its series by name and one plot definition in dvc.yaml serves every
model family: the predictor's evaluation writes ``model``, ``last_frame`` and ``optical_flow``,
GAIA's its own.

Example:
    >>> series_rows("step", [1, 2], {"model": [22.1, 19.0], "last_frame": [20.9, 17.3]})[:3]
    [{'step': 1, 'series': 'model', 'value': 22.1}, {'step': 2, 'series': 'model', 'value': 19.0}, {'step': 1, 'series': 'last_frame', 'value': 20.9}]
"""
from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from .files import atomic_output

SERIES_FIELDS = ("series", "value")  # the columns after x that the ``series`` template reads


def series_rows(x_name: str, xs: Sequence, series: Mapping[str, Sequence[float]],
                extra: Mapping[str, Sequence] | None = None) -> list[dict]:
    """Long-format rows of several series over the same x values.

    Args:
        x_name: the x column's name (``step``, ``sample``, ...).
        xs: the x values, ``(N,)``.
        series: per series name, its ``N`` values.
        extra: further columns, ``N`` values each (e.g. a sample's video), repeated in every series.
    """
    extra = extra or {}
    for name, values in (*series.items(), *extra.items()):
        if len(values) != len(xs):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(xs)} x values")
    return [{x_name: x, "series": name, "value": values[i], **{k: v[i] for k, v in extra.items()}}
            for name, values in series.items() for i, x in enumerate(xs)]


def write_csv(path: Path, rows: list[dict], fields: Sequence[str]) -> None:
    """Writes ``rows`` (dicts with keys ``fields``) as CSV, atomically (no partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)


def write_series(path: Path, x_name: str, xs: Sequence, series: Mapping[str, Sequence[float]],
                 extra: Mapping[str, Sequence] | None = None) -> None:
    """Writes a series table (:func:`series_rows`) as CSV."""
    write_csv(path, series_rows(x_name, xs, series, extra), [x_name, *SERIES_FIELDS, *(extra or {})])
