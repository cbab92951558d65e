"""Moving patches cut from the full-frame test clips, for the evaluations that judge training-sized
samples (GAIA's; the class head of a conditioned discriminator)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import Params
from ..data.extract import motion_score
from ..data.store import ClipArray, check_clips, open_store

ROUNDS = 64  # crops tried per test clip at most (by default)


def moving_patches(test_path: Path, params: Params, frames: int, count: int | None = None,
                   clips_of: np.ndarray | None = None, rounds: int = ROUNDS) -> dict[str, np.ndarray]:
    """Random ``clip.patch``-square crops of the test clips of ``test_path`` (seeded by
    ``extract.seed``, in rounds over the clips, at most ``rounds``), kept when their motion score
    over a training clip's frames reaches ``filter.min_motion`` (as the training patches were
    filtered), until ``count`` (None: ``evaluate.patches``) are kept (fewer where the clips have no
    more); ``clips_of``: the test clips (rows) to cut from (None: every one).

    Returns:
        ``samples`` uint8 ``(N, frames, P, P, 3)`` (each crop's first ``frames`` frames), each one's
        test clip ``clip`` (N,), crop origin ``yx`` (N, 2), ``video`` (N,) and class ``label``
        (N,) int64. Crops are read one at a time (a UCF101-sized test set does not fit in memory whole).
    """
    p, motion_frames = params.clip.patch, params.clip.train_frames
    count = params.evaluate.patches if count is None else count
    rng = np.random.default_rng(params.extract.seed)
    kept: list[tuple[int, int, int]] = []
    samples: list[np.ndarray] = []
    with open_store(test_path) as f:
        clips, video, labels = ClipArray(f), f["video"][:], f["label"][:]
        check_clips(test_path, clips.clip_shape, max(motion_frames, frames), None,
                    "clip.input_frames + clip.output_frames")
        allowed = range(len(clips)) if clips_of is None else {int(i) for i in clips_of}
        usable = [i for i, (h, w) in enumerate(clips.sizes) if min(h, w) >= p and i in allowed]
        for _ in range(rounds if usable else 0):
            for i in usable:
                h, w = clips.sizes[i]
                y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
                crop = clips.read(i, slice(0, motion_frames), slice(y, y + p), slice(x, x + p))
                if motion_score(crop[None])[0] >= params.filter.min_motion:
                    kept.append((i, y, x))
                    samples.append(crop[:frames])
                    if len(kept) == count:
                        break
            if len(kept) == count:
                break
    index = np.array([i for i, _, _ in kept], np.int64)
    shape = (0, frames, p, p, 3)
    return {"samples": np.stack(samples) if samples else np.zeros(shape, np.uint8), "clip": index,
            "yx": np.array([(y, x) for _, y, x in kept], np.int64).reshape(-1, 2), "video": video[index],
            "label": labels[index].astype(np.int64)}
