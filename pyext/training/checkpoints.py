"""Checkpoints: what identifies a run (its params, training data and code), and saving, loading
and setting aside a run's checkpoint (:attr:`pyext.files.RunFiles.checkpoint`).

A checkpoint of other params, data or code is never resumed from: it is moved to the run's stale
folder (kept, named in one line), and the run starts afresh.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ..config import BUILTIN, COMPARATORS, FAMILIES, OPERATIONAL, Params
from ..files import RunFiles, atomic_output, cannot_write, code_digest, file_digest, paths_digest

CHECKPOINT_FORMAT = 3  # 2: validation PSNRs and the best generator; 3: the objective's state


def _leaves(dotted: str, value) -> dict:
    """A params value as its leaves by dotted key (``{"train.seed": 0, ...}``)."""
    if not isinstance(value, dict):
        return {dotted: value}
    return {k: v for name, sub in value.items() for k, v in _leaves(f"{dotted}.{name}", sub).items()}


def params_hash(params: Params) -> str:
    """Hash of everything a run's weights depend on: the model family and the params it reads
    (:attr:`pyext.config.Family.reads`: editing a key that only another family reads keeps the run),
    less ``train``'s operational keys (:data:`pyext.config.OPERATIONAL`), and the contents of the
    feature loss's file where its comparator reads one and of the family's own files
    (:attr:`pyext.config.Family.files`, a user's; DVC does not track those files: a replaced one
    starts afresh)."""
    record = {"model.family": params.model.family}
    for dotted in FAMILIES[params.model.family].reads:
        record |= _leaves(dotted, params.value(dotted))
    for key in OPERATIONAL:
        record.pop(f"train.{key}", None)
    if params.loss.feature > 0 and COMPARATORS[params.loss.comparator.kind].file:
        record["comparator"] = file_digest(params.loss.comparator.file)
    for key in FAMILIES[params.model.family].files:
        if params.value(key) != BUILTIN:
            record[f"file {key}"] = file_digest(params.value(key))
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def code_hash(stage: str = "train") -> str:
    """Hash of the code a run's weights depend on: the files of ``stage``'s code deps in the
    project's ``dvc.yaml`` (:func:`pyext.files.code_digest`: ``pipeline/train.py``, this
    package's modules the stage runs, ``csrc/``, ``setup.py``), the project being the folder that
    holds this package. The package installed without its project (no ``dvc.yaml`` beside it)
    hashes all of its own files instead."""
    package = Path(__file__).resolve().parents[1]
    if (package.parent / "dvc.yaml").is_file():
        return code_digest(package.parent, stage, size=8)
    return paths_digest(package.parent, [package.name], size=8)


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


_IDENTITY = (("params_hash", "other params"), ("data_hash", "other training data or starting generator"),
             ("code_hash", "other code"), ("dtype", "another precision"))


def load_checkpoint(run: RunFiles, expected: dict, say, move_aside: bool = True) -> dict | None:
    """The run's checkpoint if it continues this run (the same params, data and code hashes and
    the same resolved ``train.precision`` as ``expected``), else None. One that does not
    (unreadable, of another format, params, data, code or precision; one without a code hash
    counts as other code) is neither resumed from nor overwritten:
    with ``move_aside`` (process 0 of a run) it is moved to :func:`set_aside`'s name, and ``say``
    tells where and why."""
    path = run.checkpoint
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a foreign or damaged file (or one process 0 just moved aside)
        saved, why = None, f"is not a readable checkpoint ({type(exc).__name__})"
    else:
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            why = f"is not a checkpoint of format {CHECKPOINT_FORMAT}"
        else:
            other = [what for key, what in _IDENTITY if saved.get(key) != expected[key]]
            if not other:
                return saved
            why = "was trained with " + " and ".join(other)
    if move_aside:
        say(f"train: {path} {why}; starting afresh (the old checkpoint is kept as {set_aside(path, run.stale)})")
    return None


def set_aside(path: Path, stale: Path) -> Path:
    """Moves ``path`` into the folder ``stale`` as ``<stem>-<digest of its bytes><suffix>`` (the
    same file always gets the same name) and returns where it went."""
    target = stale / f"{path.stem}-{file_digest(path, size=4)}{path.suffix}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    return target


def save(path: Path, obj: dict) -> None:
    """Writes ``obj`` with torch.save, atomically.

    Raises:
        pyext.files.WriteError: the write failed (torch reports a full disk as a RuntimeError,
            "[enforce fail at inline_container.cc] unexpected pos").
    """
    with atomic_output(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:
            raise cannot_write(path, exc) from None
