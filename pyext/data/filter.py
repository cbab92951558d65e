"""Motion filtering: the candidate patches that move enough become the training set; those of a
held-out fraction of whole training videos become the validation set.

``filter.min_motion`` is the threshold; on a small set it may keep too few patches to learn from
(a dozen videos of mostly still footage keep a few hundred), so ``filter.min_kept`` lowers it, when
needed, to the score of the ``min_kept``-th most moving patch: the most moving ones are always kept,
and a large set is filtered by ``min_motion`` alone."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import DOMAIN_KEYS, FilterParams, ParamsError
from .store import ROW_FIELDS, ClipArray, ClipWriter, StoreError, open_store, read_rows, store_videos

_COPY_BLOCK = 4096  # clips copied per read, to bound memory


def threshold(motion: np.ndarray, params: FilterParams) -> float:
    """The motion threshold used: ``params.min_motion``, or lower where that keeps fewer than
    ``params.min_kept`` patches: the score of the ``min_kept``-th most moving patch (ties kept).

    Example:
        >>> from pyext.config import FilterParams
        >>> motion = np.array([0.0, 1.0, 2.0, 9.0, 12.0])
        >>> threshold(motion, FilterParams(min_motion=8.0, min_kept=2, val_fraction=0, max_per_video=0, seed=0))
        8.0
        >>> threshold(motion, FilterParams(min_motion=8.0, min_kept=3, val_fraction=0, max_per_video=0, seed=0))
        2.0
    """
    if np.count_nonzero(motion >= params.min_motion) >= params.min_kept or len(motion) == 0:
        return params.min_motion
    return float(np.sort(motion)[::-1][min(params.min_kept, len(motion)) - 1])


def select(rows: dict[str, np.ndarray], params: FilterParams) -> tuple[np.ndarray, np.ndarray]:
    """Indices (sorted) of the training and validation patches.

    Keeps patches with ``motion >=`` :func:`threshold`, at most ``params.max_per_video`` per video
    (a seeded random subset; 0: no cap), and sends every kept patch of a seeded
    ``params.val_fraction`` of the videos to validation: at least one video and at most all but
    one, where there are two or more and the fraction is above 0.
    """
    rng = np.random.default_rng(params.seed)
    kept = np.flatnonzero(rows["motion"] >= threshold(rows["motion"], params))
    if params.max_per_video > 0:
        capped = []
        for video in np.unique(rows["video"][kept]):
            mine = kept[rows["video"][kept] == video]
            capped.append(np.sort(rng.choice(mine, params.max_per_video, replace=False))
                          if len(mine) > params.max_per_video else mine)
        kept = np.sort(np.concatenate(capped)) if capped else kept
    videos = np.unique(rows["video"])  # all training videos, kept patches or not
    n_val = int(round(params.val_fraction * len(videos)))
    if params.val_fraction > 0 and len(videos) >= 2:
        # A small set still gets a validation video, and keeps one for training.
        n_val = min(max(n_val, 1), len(videos) - 1)
    val_videos = rng.choice(videos, n_val, replace=False) if n_val else np.array([], dtype=videos.dtype)
    is_val = np.isin(rows["video"][kept], val_videos)
    return kept[~is_val], kept[is_val]


def copy_rows(src: Path, dst: Path, indices: np.ndarray, attrs: dict) -> None:
    """Writes the clips ``indices`` (sorted) of store ``src`` into a new store ``dst``."""
    with open_store(src) as f:
        videos, clips = store_videos(f), ClipArray(f)
        with ClipWriter(dst, clips.clip_shape, videos, attrs) as out:
            for block in range(0, len(indices), _COPY_BLOCK):
                idx = indices[block:block + _COPY_BLOCK]
                out.append(np.stack([clips[i] for i in idx]), **{name: f[name][idx] for name in ROW_FIELDS})


def select_by_domain(rows: dict[str, np.ndarray], params: FilterParams, domains: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """:func:`select` within each domain (``domains``: each video's, 0 or 1, indexed by ``rows["video"]``):
    each keeps ``filter.min_kept`` patches and validation videos of its own, so that a still domain is
    not filtered away by a moving one. Returns the sorted training and validation indices and each
    domain's counts.

    Raises:
        ParamsError: a domain keeps no training patch, naming its source's key.
    """
    row_domain = domains[rows["video"]]
    train_parts, val_parts, counts = [], [], []
    for domain, key in enumerate(DOMAIN_KEYS):
        mine = np.flatnonzero(row_domain == domain)
        train_idx, val_idx = select({name: rows[name][mine] for name in ("motion", "video")}, params)
        if not len(train_idx):
            raise ParamsError("params.yaml", key, f"its videos give no training patch ({len(mine)} candidates of "
                                                  f"domain {'AB'[domain]} in the extracted patches): another source, "
                                                  "or more or longer videos")
        train_parts.append(mine[train_idx])
        val_parts.append(mine[val_idx])
        counts.append({"candidates": len(mine), "train": len(train_idx), "val": len(val_idx),
                       "threshold": round(threshold(rows["motion"][mine], params), 4)})
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(val_parts)), counts


def filter_patches(src: Path, train: Path, val: Path, params: FilterParams, record: dict,
                   domains: np.ndarray | None = None) -> dict:
    """Writes ``train`` and ``val`` from the candidate patches of ``src``; returns a report with
    counts and the bytes a patch takes on disk. ``domains``: each video's domain (a translation
    run's manifest, :meth:`~pyext.data.manifest.Manifest.domains`), filtered apart
    (:func:`select_by_domain`); None: one set."""
    rows = read_rows(src)
    by_domain = None
    if domains is not None and len(domains) != len(rows["videos"]):
        raise StoreError(f"{src}: holds patches of {len(rows['videos'])} videos, the manifest lists {len(domains)}: "
                         "rerun the pipeline from prepare")
    if domains is not None and domains.any():
        train_idx, val_idx, by_domain = select_by_domain(rows, params, domains)
    else:
        train_idx, val_idx = select(rows, params)
    motion = rows["motion"]
    if not len(train_idx):  # before any output: nothing that looks like a set is written
        spread = (", ".join(f"{q}% {np.percentile(motion, q):.2f}" for q in (10, 50, 90)) + f", max {motion.max():.2f}"
                  if len(motion) else "none")
        raise ParamsError("params.yaml", "filter.min_motion",
                          f"{params.min_motion:g} keeps no training patch of the {len(motion)} candidates in {src} "
                          f"(their motion scores: {spread}); lower it, or set filter.min_kept")
    attrs = {"params": record}
    copy_rows(src, train, train_idx, attrs)
    copy_rows(src, val, val_idx, attrs)
    size = train.stat().st_size + val.stat().st_size
    used = threshold(motion, params)
    passing = int(np.count_nonzero(motion >= params.min_motion))
    if used == params.min_motion:
        why = f"filter.min_motion {params.min_motion:g} kept {passing} of {len(motion)} candidate patches"
    else:
        lowered = (f"the score of the {params.min_kept}th most moving patch" if params.min_kept < len(motion)
                   else "the least moving patch's: every candidate is kept")
        why = (f"filter.min_motion {params.min_motion:g} kept only {passing} of {len(motion)} candidate patches, "
               f"fewer than filter.min_kept ({params.min_kept}): the threshold was lowered to {used:.3g}, {lowered}")
    if by_domain is not None:
        why = "; ".join(f"domain {'AB'[d]}: filter.min_motion {params.min_motion:g}, threshold {c['threshold']:g}, "
                        f"{c['train']} training and {c['val']} validation of {c['candidates']} candidate patches"
                        for d, c in enumerate(by_domain))
    return {
        "candidates": len(motion), "threshold": round(used, 4), "why": why,
        "train": len(train_idx), "val": len(val_idx),
        "train_videos": len(np.unique(rows["video"][train_idx])), "val_videos": len(np.unique(rows["video"][val_idx])),
        "bytes_per_patch": round(size / max(1, len(train_idx) + len(val_idx)), 1),
        "motion_percentiles": {str(q): round(float(np.percentile(motion, q)), 2) for q in (10, 25, 50, 75, 90)}
        if len(motion) else {},
    } | ({"domains": {"AB"[d]: c for d, c in enumerate(by_domain)}} if by_domain is not None else {})
