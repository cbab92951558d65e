"""The benchmarks run (tiny inputs, one timing each): a restructure that breaks one fails here,
not months later on the machine it was meant to measure."""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace

import pytest
import torch
from cases import TEST_PARAMS, TINY_GENERATORS, family_params, moving_squares, with_multiscale, write_clips

from bench import extract as bench_extract
from bench import train as bench_train
from pyext.config import load_params
from pyext.data.dataset import ClipDataset


def _rounded_from(figure: str) -> tuple[float, float]:
    """The values that print as ``figure`` (rounded to as many decimals as it has): (low, high)."""
    half = 0.5 * 10.0 ** -len(figure.partition(".")[2])
    return float(figure) - half, float(figure) + half


def _consistent(figure: str, low: float, high: float) -> bool:
    """Whether ``figure`` can be the printing of a value between ``low`` and ``high`` (what a quotient of
    rounded figures may have been before they were rounded)."""
    lo, hi = _rounded_from(figure)
    return lo <= high and low <= hi


def test_bench_train_times_each_lever_then_a_greedy_combination(tmp_path, capsys):
    write_clips(tmp_path / "train.h5", moving_squares(8, 5, seed=0))
    p = load_params(TEST_PARAMS)
    p = replace(with_multiscale(p, scales=2, width=0.05, skip="none"), train=replace(p.train, batch_size=4))
    args = argparse.Namespace(steps=1, repeats=1, all=True, levers=["reference ops", "channels-last", "bf16 autocast"])
    kept = bench_train.run_preset("tiny", p, torch.device("cpu"), ClipDataset(tmp_path / "train.h5"), args)
    out = capsys.readouterr().out
    rows = re.findall(r"^\| tiny \| (alone|combined) \| ([^|]+?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|$", out, re.M)
    alone = {label.removesuffix(" (kept)"): ms for kind, label, ms, *_ in rows if kind == "alone"}
    assert set(alone) == {"base: eager, native ops, float32, contiguous", "reference ops", "channels-last",
                          "bf16 autocast"}
    # Every ratio is to the base row, whose own is 1.00x; the kept combination is a setting tried.
    base_low, base_high = _rounded_from(alone["base: eager, native ops, float32, contiguous"])
    for kind, label, ms, per_s, ratio in rows:
        ms_low, ms_high = _rounded_from(ms)
        assert _consistent(ratio, base_low / ms_high, base_high / ms_low)
        assert _consistent(per_s, 1e3 / ms_high, 1e3 / ms_low)
    assert not kept.reference and kept.label() in {label.removesuffix(" (kept)") for _, label, *_ in rows}
    assert sum(label.endswith("(kept)") for _, label, *_ in rows) == 1


@pytest.mark.parametrize("family", list(TINY_GENERATORS))
def test_bench_train_times_a_generator_from_noise_on_native_and_reference_ops(tmp_path, capsys, family):
    write_clips(tmp_path / "train.h5", moving_squares(8, 5, seed=0))
    p = family_params(family, TINY_GENERATORS[family])
    args = argparse.Namespace(steps=1, repeats=1, all=False, levers=["reference ops"])
    bench_train.run_preset(family, p, torch.device("cpu"), ClipDataset(tmp_path / "train.h5"), args)
    rows = re.findall(rf"^\| {family} \| alone \| ([^|]+?) \| [\d.]+ \|", capsys.readouterr().out, re.M)
    assert [label.removesuffix(" (kept)") for label in rows] == ["base: eager, native ops, float32, contiguous",
                                                                 "reference ops"]
    assert set(bench_train.PRESET_FAMILIES) >= set(TINY_GENERATORS)  # main() times each family's preset


def test_bench_extract_measures_the_demo_layout(tmp_path, capsys):
    from pyext.data.demo import generate_demo
    from pyext.data.manifest import ucf101_manifest, write_manifest
    generate_demo(tmp_path, classes=1, groups=2, test_groups=1, clips_per_group=1, frames=20, seed=0, progress=False)
    write_manifest(tmp_path / "manifest.json", ucf101_manifest(tmp_path, 1))
    bench_extract.measure(tmp_path / "manifest.json", repeats=1, peaks=False)
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (\d) \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)x \|$", out, re.M)
    assert [r[0] for r in rows] == ["1", "2"]
    for _, raw, frames, _, ratio in rows:
        (raw_low, raw_high), (frames_low, frames_high) = _rounded_from(raw), _rounded_from(frames)
        assert _consistent(ratio, frames_low / raw_high, frames_high / raw_low)
    assert json.loads((tmp_path / "manifest.json").read_text())
