"""A stage killed with SIGKILL (an out-of-memory kill, a scheduler's hard limit: nothing of the
stage's own cleanup runs) at a point where it is writing, then rerun as ``dvc repro`` would (its
outputs removed first, the persistent ones kept), gives the same outputs as an uninterrupted run,
and leaves no temporary behind. Every stage of the pipeline, on a tiny demo set."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from cases import run_in, tiny_pipeline
from pyext.files import KILL_AT

# Where each stage is killed (pyext.files.kill_point): mid-write, with a temporary on disk.
KILLS = {
    "prepare": "rename:*.avi@3",  # the demo set half written
    "extract": "append:patches.h5@2",  # the candidate patches half written
    "filter": "append:train.h5",  # the training set written, not yet renamed; no val.h5
    "train": "rename:checkpoint.pt@2",  # the second checkpoint written, not yet renamed
    "evaluate": "rename:clip*.png",  # mid-evaluation, predictions.h5 half written
}
# Figures that are times, not results.
TIMINGS = {"seconds"}


def _outputs(workdir: Path, stage: str) -> dict[str, bool]:
    """A stage's outputs in dvc.yaml (outs, metrics, plots): path -> persistent."""
    spec = yaml.safe_load((workdir / "dvc.yaml").read_text())["stages"][stage]
    found = {}
    for kind in ("outs", "metrics", "plots"):
        for entry in spec.get(kind, []):
            path, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            found[path] = bool((options or {}).get("persist"))
    return found


def _remove(workdir: Path, paths) -> None:
    for path in paths:
        target = workdir / path
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _files(root: Path) -> list[Path]:
    """The files of an output, relative to it (a file output: itself, as ``Path()``)."""
    if root.is_dir():
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    return [Path()] if root.exists() else []


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    elif src.exists():
        shutil.copy(src, dst)


def _temporaries(workdir: Path) -> list[str]:
    return sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*.part"))


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _h5_contents(path: Path) -> dict:
    """Every dataset's values and every attribute (JSON ones without timings) of an HDF5 file."""
    contents = {}
    with h5py.File(path, "r") as f:
        def visit(name, node):
            attrs = {k: _without_timings(json.loads(v)) if isinstance(v, str) and v[:1] in "{[" else np.asarray(v).tolist()
                     for k, v in node.attrs.items()}
            contents[name] = (node[()].tolist() if isinstance(node, h5py.Dataset) else None, attrs)
        visit("/", f)
        f.visititems(visit)
    return contents


def _assert_same_file(a: Path, b: Path) -> None:
    if a.suffix == ".h5":
        assert _h5_contents(a) == _h5_contents(b), b
    elif a.suffix == ".json":
        assert _without_timings(json.loads(a.read_text())) == _without_timings(json.loads(b.read_text())), b
    elif a.suffix == ".pt":
        left, right = (torch.load(p, map_location="cpu", weights_only=True) for p in (a, b))
        _assert_same_object(_without_timings(left), _without_timings(right), str(b))
    elif a.suffix == ".tsv":
        if a.stem not in TIMINGS:
            rows = [[line.split("\t") for line in p.read_text().splitlines()] for p in (a, b)]
            keep = [i for i, name in enumerate(rows[0][0]) if name != "timestamp"]
            assert [[r[i] for i in keep] for r in rows[0]] == [[r[i] for i in keep] for r in rows[1]], b
    else:
        assert a.read_bytes() == b.read_bytes(), b


def _assert_same_object(left, right, where: str) -> None:
    if isinstance(left, torch.Tensor):
        assert torch.equal(left, right), where
    elif isinstance(left, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            _assert_same_object(left[key], right[key], f"{where}[{key!r}]")
    elif isinstance(left, (list, tuple)):
        assert len(left) == len(right), where
        for i, (x, y) in enumerate(zip(left, right)):
            _assert_same_object(x, y, f"{where}[{i}]")
    else:
        assert left == right, where


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tiny_pipeline(tmp_path_factory.mktemp("interrupt"))


@pytest.mark.parametrize("stage", list(KILLS))  # in pipeline order: each stage reads the one before
def test_a_stage_killed_while_writing_reruns_to_the_same_outputs(workdir, tmp_path, stage):
    command = [sys.executable, "-m", f"pipeline.{stage}"]
    outputs = _outputs(workdir, stage)
    run_in(command, workdir)  # uninterrupted
    reference = tmp_path / "reference"
    for path in outputs:
        _copy(workdir / path, reference / path)

    _remove(workdir, outputs)
    killed = run_in(command, workdir, check=False, env={KILL_AT: KILLS[stage]})
    assert killed.returncode == -9, f"{stage} was not killed at {KILLS[stage]}:\n{killed.stderr}"
    assert _temporaries(workdir), "the kill came when nothing was being written"

    _remove(workdir, [path for path, persistent in outputs.items() if not persistent])  # as dvc repro does
    run_in(command, workdir)
    assert _temporaries(workdir) == []
    for path in outputs:
        assert _files(workdir / path) == _files(reference / path), path
        for name in _files(reference / path):
            _assert_same_file(reference / path / name, workdir / path / name)


def test_ctrl_c_ends_a_training_run_with_one_line(data_dir, tmp_path):
    # Ctrl-C printed a 66-line KeyboardInterrupt traceback.
    import re
    import signal
    import subprocess
    import time

    from cases import REPO, TEST_PARAMS

    # Python keeps SIGINT ignored where the shell started it so (a background job, as CI may be):
    # the run gets Ctrl-C as a terminal's foreground job does.
    script = f"""
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)
from dataclasses import replace
from pathlib import Path
from pyext.commands import run
from pyext.config import load_params
from pyext.files import DataFiles, RunFiles
from pyext.training import train
p = load_params({str(TEST_PARAMS)!r})
p = replace(p, model=replace(p.model, multiscale=replace(p.model.multiscale, scales=2, width=0.05)),
            train=replace(p.train, steps=5000, batch_size=4, device="cpu", workers=0, checkpoint_every=2,
                          val_every=1000, image_every=1000))
run("train", lambda: train(p, DataFiles(Path({str(data_dir)!r})), RunFiles(Path({str(tmp_path)!r})), progress=False))
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    checkpoint = tmp_path / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:  # a run that ignored the signal must not outlive the test (it would train for hours)
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(rf"train: interrupted at step \d+; {re.escape(str(checkpoint))} keeps "
                                            r"step \d+; rerun to go on", lines[0]), err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


# A write that fails, as on a full disk (mid-write: the first finished temporary cannot become its
# output) and on a read-only folder (the first write of all: each stage checks its folders first).
FAULTS = {"ENOSPC": "rename:*", "EROFS": "write:*"}
STAGES = ("prepare", "extract", "filter", "finetune_data", "train", "finetune", "evaluate")


def _contents(workdir: Path, outputs) -> dict[str, bytes]:
    return {str(f.relative_to(workdir)): f.read_bytes() for path in outputs for f in
            ([workdir / path] if (workdir / path).is_file() else sorted((workdir / path).rglob("*")))
            if f.is_file()}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_stage_reports_a_failed_write_in_one_line_and_keeps_its_outputs(workdir, fault):
    # A full disk gave torch.save's RuntimeError, h5py's 58-line chain or (filter) a traceback; a
    # read-only folder let train and evaluate work for their whole run first, and the removal of
    # the temporary masked the first error.
    import errno
    import os
    import re

    from pyext.files import FAIL_AT

    for stage in STAGES:
        command = [sys.executable, "-m", f"pipeline.{stage}"]
        outputs = _outputs(workdir, stage)
        if not all((workdir / path).exists() for path in outputs):
            run_in(command, workdir)  # the earlier outputs a failed rerun must keep
        before = _contents(workdir, outputs)
        failed = run_in(command, workdir, check=False, env={FAIL_AT: f"{FAULTS[fault]}={fault}"})
        lines = [line for line in failed.stderr.strip().splitlines() if not re.search(r"\d+%\|", line)]  # progress bars
        assert failed.returncode == 2 and len(lines) == 1, f"{stage}:\n{failed.stderr}"
        assert lines[0].startswith(f"{stage}: ") and os.strerror(getattr(errno, fault)) in lines[0], lines[0]
        assert _contents(workdir, outputs) == before, stage
        assert _temporaries(workdir) == [], stage
