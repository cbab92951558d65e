"""A pipeline run outside the user's workspace, for the commands that run the stages many times
(:mod:`experiments.footage_study`, :mod:`experiments.pretrain`): a folder holding a copy of
``pyext/`` (with its built extension), ``pipeline/`` and a ``params.yaml`` of the project's with
settings applied, whose stages run one after another as ``dvc repro`` would run them, each logged to
``<stage>.log`` there, with ``BEYONDMSE_REQUIRE_NATIVE=1`` (a run that would fall back to the
reference ops fails instead).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from pyext.presets import apply_preset

# Every stage, in dvc.yaml's order (the fine-tuning stages do nothing with finetune.patch 0).
STAGES = ("prepare", "extract", "filter", "val_frames", "finetune_data", "train", "finetune", "evaluate")
# The evaluation's methods: the model and its two baselines.
METHODS = ("model", "last_frame", "optical_flow")


def settings_preset(settings: dict[str, object]) -> dict:
    """Dotted settings as a preset: ``{"train.seed": 1}`` -> ``{"train": {"seed": 1}}``."""
    preset: dict = {}
    for dotted, value in settings.items():
        *sections, key = dotted.split(".")
        functools.reduce(lambda tree, name: tree.setdefault(name, {}), sections, preset)[key] = value
    return preset


def parse_settings(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` strings (a command's ``--set``), each value read as YAML."""
    out: dict[str, object] = {}
    for setting in pairs:
        key, _, value = setting.partition("=")
        out[key] = yaml.safe_load(value)
    return out


def workspace(folder: Path, *presets: dict) -> Path:
    """A fresh workspace in ``folder``: the pipeline's code with its built extension and
    ``params.yaml`` with ``presets`` applied in turn."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ("pyext", "pipeline"):
        shutil.copytree(name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load(Path("params.yaml").read_text())
    for preset in presets:
        params = apply_preset(params, preset)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return folder


def evaluated(folder: Path, measures: tuple[tuple[str, str], ...]) -> tuple[dict, dict]:
    """The evaluation in ``folder`` (its ``eval/metrics.json``), and of it each method's figures at
    steps 1 and 2: ``{method: {"step1": {name: metrics[method]["step1"][key], ...}, ...}}`` for each
    ``(key, name)`` of ``measures``."""
    metrics = json.loads((folder / "eval" / "metrics.json").read_text())
    return metrics, {method: {f"step{s}": {name: metrics[method][f"step{s}"][key] for key, name in measures}
                              for s in (1, 2)} for method in METHODS}


def run_stages(folder: Path, stages: tuple[str, ...], caller: str) -> dict[str, float]:
    """Run ``stages`` in ``folder`` one after another; the seconds each took. A failing stage ends the
    process with one line naming it and its log."""
    env = {**os.environ, "BEYONDMSE_REQUIRE_NATIVE": "1", "PYTHONPATH": str(folder.resolve())}
    seconds = {}
    for stage in stages:
        began = time.perf_counter()
        with open(folder / f"{stage}.log", "w") as log:
            done = subprocess.run([sys.executable, "-m", f"pipeline.{stage}"], cwd=folder, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        if done.returncode:
            sys.exit(f"{caller}: {folder.name}: the {stage} stage failed (see {folder / f'{stage}.log'})")
        seconds[stage] = round(time.perf_counter() - began, 1)
    return seconds
