"""Checkpoints: what identifies a run (its params, training data and code), and saving, loading
and setting aside ``models/checkpoint.pt``.

A checkpoint of other params, data or code is never resumed from: it is moved to ``stale/`` beside
it (kept, named in one line), and the run starts afresh.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from ..config import Params
from ..data.files import atomic_output, code_digest, file_digest, paths_digest

CHECKPOINT, GENERATOR = "checkpoint.pt", "generator.pt"
STALE = "stale"  # the folder beside the checkpoint where one that is not resumed from is kept
CHECKPOINT_FORMAT = 3  # 2: validation PSNRs and the best generator; 3: the objective's state
# train params that change how a run is watched or where it runs, not what it computes: a
# checkpoint stays valid when they change.
_NOT_HASHED = ("device", "compile", "workers", "checkpoint_every", "log_every", "val_every", "val_batches",
               "image_every", "keep")


def params_hash(params: Params) -> str:
    """Hash of everything a run's weights depend on: the ``clip``, ``model``, ``loss`` and ``train``
    params (less the operational keys in ``_NOT_HASHED``), and the contents of the feature loss's
    TorchScript file where it has one (DVC does not track that file: a replaced one starts afresh)."""
    train = {k: v for k, v in params.section("train").items() if k not in _NOT_HASHED}
    record = {"clip": params.section("clip"), "model": params.section("model"), "loss": params.section("loss"),
              "train": train}
    if params.loss.feature > 0 and params.loss.comparator.kind == "file":
        record["comparator"] = file_digest(params.loss.comparator.file)
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def code_hash(stage: str = "train") -> str:
    """Hash of the code a run's weights depend on: the files of ``stage``'s code deps in the
    project's ``dvc.yaml`` (:func:`pyext.data.files.code_digest`: ``pipeline/train.py``, this
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


_IDENTITY = (("params_hash", "other params"), ("data_hash", "other training data"), ("code_hash", "other code"))


def load_checkpoint(path: Path, expected: dict, say, move_aside: bool = True) -> dict | None:
    """The checkpoint at ``path`` if it continues this run (the same params, data and code hashes as
    ``expected``), else None. One that does not (unreadable, of another format, params, data or
    code; one without a code hash counts as other code) is neither resumed from nor overwritten:
    with ``move_aside`` (process 0 of a run) it is moved to :func:`set_aside`'s name, and ``say``
    tells where and why."""
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
        say(f"train: {path} {why}; starting afresh (the old checkpoint is kept as {set_aside(path)})")
    return None


def set_aside(path: Path) -> Path:
    """Moves ``path`` to ``stale/<stem>-<digest of its bytes><suffix>`` beside it (the same file
    always gets the same name) and returns where it went."""
    target = path.parent / STALE / f"{path.stem}-{file_digest(path, size=4)}{path.suffix}"
    target.parent.mkdir(exist_ok=True)
    os.replace(path, target)
    return target


def save(path: Path, obj: dict) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)
