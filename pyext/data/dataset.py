"""The torch Dataset over clip stores, and the one conversion between stored frames and model
tensors."""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch

from .store import ClipArray, StoreError, open_store, store_videos


def to_model(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Stored uint8 frames ``(..., H, W, 3)`` -> float32 ``(..., 3, H, W)`` in [-1, 1] (x / 127.5 - 1).

    Example:
        >>> to_model(np.full((2, 4, 4, 3), 255, np.uint8)).shape, float(to_model(np.zeros((1, 1, 3), np.uint8)).min())
        (torch.Size([2, 3, 4, 4]), -1.0)
    """
    x = torch.as_tensor(frames)
    return x.movedim(-1, -3).float().div(127.5).sub(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Model tensors ``(..., 3, H, W)`` in [-1, 1] -> uint8 frames ``(..., H, W, 3)``, clamped and
    rounded as a viewer sees them; the inverse of :func:`to_model` on stored frames."""
    return x.detach().float().add(1.0).mul(127.5).clamp(0, 255).round().to(torch.uint8).movedim(-3, -1).cpu().numpy()


def check_classes(labels: np.ndarray, classes: int, store: str | os.PathLike, source: str | os.PathLike) -> None:
    """Stops with one line when the class labels of ``store`` hold a class outside
    ``0..classes-1``, the classes of ``source`` (the manifest; a generator trained on another set).

    Raises:
        StoreError: naming both files.
    """
    if len(labels) and not 0 <= int(np.min(labels)) <= int(np.max(labels)) < classes:
        raise StoreError(f"{store}: clips of classes {int(np.min(labels))}..{int(np.max(labels))}, but {source} "
                         f"has {classes} classes (0..{classes - 1}): rerun the pipeline from prepare")


def store_domains(store: str | os.PathLike, manifest: str | os.PathLike) -> np.ndarray:
    """Each clip's domain in ``store`` (0: A, ``data.source``'s videos; 1: B, ``data.translate.source``'s),
    int8 ``(N,)``: its video's in ``manifest``, whose videos the store's ``video`` indices index.

    Raises:
        StoreError: the store's videos are not the manifest's (written from another manifest).
    """
    from .manifest import read_manifest  # the manifest's module reads the params' tables; a Dataset does not

    listed = read_manifest(manifest)
    with open_store(store) as f:
        videos, index = store_videos(f), f["video"][:]
    if videos != [v.path for v in listed.videos]:
        raise StoreError(f"{store}: its videos are not those of {manifest}: rerun the pipeline from prepare")
    return listed.domains()[index]


class ClipDataset(torch.utils.data.Dataset):
    """Clips of a store (``train.h5``, ``val.h5``, ``test.h5``) as float tensors ``(T, 3, H, W)`` in
    [-1, 1]; with ``labels``, pairs ``(clip, label)``, the label a 0-d int64 tensor (the clip's
    class; a batch of them collates to ``(clips, labels)``). The file is opened lazily in each
    process, so the dataset can be handed to a DataLoader with several workers (an h5py handle must
    not cross a fork).
    """

    def __init__(self, path: str | os.PathLike, labels: bool = False):
        self.path = Path(path)
        with open_store(self.path) as f:
            clips = ClipArray(f)
            self._len, self.clip_shape = len(clips), clips.clip_shape
            # The labels are small (2 bytes a clip): read once, not per item.
            self.labels = torch.from_numpy(f["label"][:].astype(np.int64)) if labels else None
        self._file: h5py.File | None = None
        self._clips: ClipArray | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._pid != os.getpid():
            self._file, self._pid = open_store(self.path), os.getpid()
            self._clips = ClipArray(self._file)
        clip = to_model(self._clips[index])  # a damaged chunk: a StoreError naming the file
        return clip if self.labels is None else (clip, self.labels[index])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None, "_clips": None, "_pid": None}
