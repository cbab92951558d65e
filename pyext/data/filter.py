"""Motion filtering: the candidate patches that move enough become the training set; those of a
held-out fraction of whole training videos become the validation set."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import FilterParams
from .store import ROW_FIELDS, ClipWriter, open_store, read_rows, store_videos

_COPY_BLOCK = 4096  # clips copied per read, to bound memory


def select(rows: dict[str, np.ndarray], params: FilterParams) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of the training and validation patches.

    Keeps patches with ``motion >= params.min_motion``, at most ``params.max_per_video`` per video
    (a seeded random subset; 0: no cap), and sends every kept patch of a seeded
    ``params.val_fraction`` of the videos to validation.
    """
    rng = np.random.default_rng(params.seed)
    kept = np.flatnonzero(rows["motion"] >= params.min_motion)
    if params.max_per_video > 0:
        capped = []
        for video in np.unique(rows["video"][kept]):
            mine = kept[rows["video"][kept] == video]
            capped.append(np.sort(rng.choice(mine, params.max_per_video, replace=False))
                          if len(mine) > params.max_per_video else mine)
        kept = np.sort(np.concatenate(capped)) if capped else kept
    videos = np.unique(rows["video"])  # all training videos, kept patches or not
    n_val = int(round(params.val_fraction * len(videos)))
    val_videos = rng.choice(videos, n_val, replace=False) if n_val else np.array([], dtype=videos.dtype)
    is_val = np.isin(rows["video"][kept], val_videos)
    return kept[~is_val], kept[is_val]


def copy_rows(src: Path, dst: Path, indices: np.ndarray, attrs: dict) -> None:
    """Writes the clips ``indices`` (sorted) of store ``src`` into a new store ``dst``."""
    with open_store(src) as f:
        videos = store_videos(f)
        with ClipWriter(dst, f["clips"].shape[1:], videos, attrs) as out:
            for block in range(0, len(indices), _COPY_BLOCK):
                idx = indices[block:block + _COPY_BLOCK]
                out.append(f["clips"][idx], **{name: f[name][idx] for name in ROW_FIELDS})


def filter_patches(src: Path, train: Path, val: Path, params: FilterParams, record: dict) -> dict:
    """Writes ``train`` and ``val`` from the candidate patches of ``src``; returns a report with
    counts and the bytes a patch takes on disk."""
    rows = read_rows(src)
    train_idx, val_idx = select(rows, params)
    attrs = {"params": record}
    copy_rows(src, train, train_idx, attrs)
    copy_rows(src, val, val_idx, attrs)
    size = train.stat().st_size + val.stat().st_size
    motion = rows["motion"]
    return {
        "candidates": len(motion), "train": len(train_idx), "val": len(val_idx),
        "train_videos": len(np.unique(rows["video"][train_idx])), "val_videos": len(np.unique(rows["video"][val_idx])),
        "bytes_per_patch": round(size / max(1, len(train_idx) + len(val_idx)), 1),
        "motion_percentiles": {str(q): round(float(np.percentile(motion, q)), 2) for q in (10, 25, 50, 75, 90)}
        if len(motion) else {},
    }
