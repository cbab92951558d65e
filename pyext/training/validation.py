"""Watching a run: validation PSNRs (and the best generator so far), pictures of predictions, and
the end-of-run verdict against copying the last frame.

A predictor is validated on two things: the validation patches (``data/val.h5``, what it trains on)
and full-frame clips of the first validation videos (``data/val_frames.h5``, cut as the test clips
are), scored as the test scores them at step 1: PSNR on the moving regions and on whole frames.
The full frames decide which generator ``train.keep: best`` keeps and what the verdict says: a model
of moving patches can paint over still backgrounds that no patch showed it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.dataset import ClipDataset, to_model, to_uint8
from ..data.store import ClipArray, check_clips, open_store
from ..data.video import centre_window
from ..evaluation.metrics import motion_mask, psnr, psnr_per_clip
from ..models import MultiScaleGenerator, Predictor
from ..pictures import patch_grid
from .data import split


Batch = tuple[torch.Tensor, torch.Tensor]  # clips (B, T, 3, P, P) and their classes (B,)


def validation_batches(path: Path, batch: int, limit: int, wanted: tuple | None = None) -> list[Batch]:
    """The first ``limit`` batches (0: all) of ``path``, in file order: the same clips every time,
    each ``(clips, labels)``; ``wanted``: the frames, patch and params keys the clips must match
    (:func:`pyext.data.store.check_clips`)."""
    dataset = ClipDataset(path, labels=True)
    if wanted is not None:
        check_clips(path, dataset.clip_shape, *wanted)
    count = len(dataset) if limit == 0 else min(len(dataset), limit * batch)
    return [torch.utils.data.default_collate([dataset[i] for i in range(s, min(s + batch, count))])
            for s in range(0, count, batch)]


@torch.no_grad()
def validation_psnr(generator: Predictor, batches: list[Batch], device: torch.device,
                    last_frame: bool = False) -> float:
    """Mean PSNR over the validation clips ``(clips, labels)`` of the full-size prediction (or,
    with ``last_frame``, of copying the last input frame), on uint8 frames as a viewer sees them."""
    m, values = generator.input_frames, []
    for clips, labels in batches:
        x, y = split(clips.to(device), m)
        pred = x[:, -1:].expand_as(y) if last_frame else generator(x, labels.to(device))
        values.append(psnr_per_clip(to_uint8(pred), to_uint8(y)))
    return float(np.concatenate(values).mean()) if values else float("nan")


# The full-frame measures, in the order the verdict names them; the first that is finite picks the best.
FRAME_MEASURES = {"moving": "moving regions", "whole": "whole frames"}


@dataclass
class FrameClips:
    """Full-frame validation clips, ready to predict: each clip's inputs, its first step's true frames,
    and their moving regions (computed once, as the evaluation computes them)."""

    inputs: list[torch.Tensor]  # (1, m, 3, H, W) in [-1, 1], H and W multiples of the predictor's size_multiple
    truths: list[np.ndarray]  # uint8 (n, H, W, 3): the frames one step predicts
    masks: list[np.ndarray]  # bool (n, H, W): where each true frame moves (optical flow > evaluate.flow_threshold)
    labels: list[int]

    def __len__(self) -> int:
        return len(self.inputs)


def frame_clips(path: Path, generator: Predictor, limit: int, threshold: float) -> FrameClips:
    """The first ``limit`` clips of the full-frame store ``path`` (none where it does not exist: a
    run outside the pipeline), each centre-cropped to ``generator.size_multiple``; ``threshold``:
    the optical-flow magnitude (pixels) above which a pixel moves (``evaluate.flow_threshold``)."""
    m, n = generator.input_frames, generator.output_frames
    found = FrameClips([], [], [], [])
    if not limit or not Path(path).is_file():
        return found
    with open_store(path) as f:
        clips, labels = ClipArray(f), f["label"][:]
        check_clips(path, clips.clip_shape, m + n, None, "clip.input_frames + clip.output_frames")
        for index in range(min(limit, len(clips))):
            clip = clips.read(index, slice(0, m + n), *centre_window(*clips.sizes[index], generator.size_multiple))
            found.inputs.append(to_model(clip[:m])[None])
            found.truths.append(clip[m:])
            found.masks.append(np.stack([motion_mask(clip[m + j - 1], clip[m + j], threshold) for j in range(n)]))
            found.labels.append(int(labels[index]))
    return found


@torch.no_grad()
def frame_psnrs(generator: Predictor, clips: FrameClips, device: torch.device, last_frame: bool = False) -> dict:
    """:data:`FRAME_MEASURES` of one step's prediction of ``clips`` (or, with ``last_frame``, of copying
    the last input frame): the mean over clips of each frame's PSNR on its moving region (a clip
    whose region is empty left out, as the evaluation leaves it) and on the whole frame; NaN where
    no clip has a value."""
    scores: dict[str, list[float]] = {name: [] for name in FRAME_MEASURES}
    for x, truth, mask, label in zip(clips.inputs, clips.truths, clips.masks, clips.labels):
        x = x.to(device)
        pred = x[:, -1:].expand(-1, len(truth), -1, -1, -1) if last_frame else \
            generator.predict(x, 1, torch.full((1,), label, device=device))
        frames = to_uint8(pred[0])
        scores["moving"].append(float(np.mean([psnr(p, t, k) for p, t, k in zip(frames, truth, mask)])))
        scores["whole"].append(float(np.mean([psnr(p, t) for p, t in zip(frames, truth)])))
    finite = {name: [v for v in values if math.isfinite(v)] for name, values in scores.items()}
    return {name: float(np.mean(values)) if values else float("nan") for name, values in finite.items()}


@torch.no_grad()
def prediction_pictures(generator: MultiScaleGenerator, clips: torch.Tensor, labels: torch.Tensor,
                        device: torch.device, zoom: int = 4, scale_rows: int = 4) -> dict[str, np.ndarray]:
    """Pictures of the generator at work on clips, from one forward pass:

    - ``predictions``: one row per clip, its input frames, then the true and the predicted frames;
    - ``scales``: the first ``scale_rows`` clips' last input, the generator's output at each scale
      from the coarsest (each enlarged to the patch size, pixels kept square) and the truth: the
      paper's coarse-to-fine refinement (its first predicted frame where it predicts several).

    Args:
        clips: ``(B, m + n, 3, P, P)``.
        labels: their classes ``(B,)``.
    Returns:
        name -> uint8 picture; ``predictions`` is ``(band + B (zoom P + 4) - 4, (m + 2n) (zoom P + 4) - 4, 3)``
        (:func:`pyext.pictures.patch_grid`; ``band``: its label row).
    """
    m = generator.input_frames
    x, y = split(clips.to(device), m)
    scales = generator.forward_scales(x, labels.to(device))  # coarsest first, the last full size
    n, p = y.shape[1], y.shape[-1]
    truth = [f"truth {j + 1}" if n > 1 else "truth" for j in range(n)]
    predicted = [f"predicted {j + 1}" if n > 1 else "predicted" for j in range(n)]
    pictures = {"predictions": patch_grid(torch.cat([x, y, scales[-1]], dim=1),
                                          [f"input {j + 1}" for j in range(m)] + truth + predicted, zoom)}
    shown = slice(0, scale_rows)
    widened = [_nearest(s[shown, :1], p) for s in scales]
    columns = [f"input {m}"] + [f"scale {k + 1}: {s.shape[-1]}x{s.shape[-1]}" for k, s in enumerate(scales)] + ["truth"]
    pictures["scales"] = patch_grid(torch.cat([x[shown, -1:], *widened, y[shown, :1]], dim=1), columns, zoom)
    return pictures


def _nearest(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``frames`` ``(B, T, 3, s, s)`` enlarged to ``(B, T, 3, size, size)``, each pixel a square."""
    b, t = frames.shape[:2]
    return nn.functional.interpolate(frames.flatten(0, 1), size=(size, size), mode="nearest").unflatten(0, (b, t))


def deciding(scores: dict[str, float]) -> str:
    """The measure of a validation's ``scores`` (``patches`` and the :data:`FRAME_MEASURES`) that picks
    the best generator: the first full-frame one with a value, else the patches'.

    >>> deciding({"patches": 30.0, "moving": float("nan"), "whole": 28.0}), deciding({"patches": 30.0})
    ('whole', 'patches')
    """
    return next((name for name in FRAME_MEASURES if math.isfinite(scores.get(name, math.nan))), "patches")


@dataclass
class Validations:
    """The validations of a run so far: the latest scores, and the best with that generator's weights
    (kept in the checkpoint, so a resumed run keeps its best). Scores are PSNRs in dB by measure:
    ``patches`` and, where full-frame clips are validated on, the :data:`FRAME_MEASURES`; the best is
    the highest by :func:`deciding`'s measure."""

    last_step: int = 0
    last: dict[str, float] = field(default_factory=dict)
    best_step: int = 0
    best: dict[str, float] = field(default_factory=dict)
    best_generator: dict[str, torch.Tensor] | None = None

    def add(self, step: int, scores: dict[str, float], generator: nn.Module) -> None:
        self.last_step, self.last = step, dict(scores)
        key = deciding(scores)
        held = self.best.get(key, math.nan)  # a NaN best (a diverged first validation) is beaten by any value
        if self.best_generator is None or scores[key] > (held if math.isfinite(held) else -math.inf):
            self.best_step, self.best = step, dict(scores)
            self.best_generator = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}

    def kept(self, keep: str, step: int) -> tuple[int, dict[str, float], dict[str, torch.Tensor] | None]:
        """The step, validation scores and weights (None: the generator's current ones) of the
        generator ``train.keep`` picks: the best, or the latest validated; without any validation
        (no validation clips), the run's current one, of ``step``, its scores unknown (empty)."""
        if keep == "best" and self.best_generator is not None:
            return self.best_step, self.best, self.best_generator
        if self.best_generator is None:  # nothing was validated
            return step, {}, None
        return self.last_step, self.last, None


def verdict(summary: dict, stage: str = "train") -> str:
    """One line (``stage``'s) comparing the written generator's validation PSNRs with copying the
    last input frame, saying plainly when the model is worse: on the full-frame clips (moving regions
    and whole frames, ``val_frames``) where there are some, which decide, and on the patches.

    Example:
        >>> verdict({"val_psnr": 21.0, "val_psnr_last_frame": 23.5, "val_step": 800, "kept": "last"})
        'train: the model is WORSE than copying the last frame: validation PSNR 21.00 dB against 23.50 dB (-2.50 dB, generator of step 800, train.keep: last)'
        >>> verdict({"val_psnr": 28.0, "val_psnr_last_frame": 27.0, "val_step": 800, "kept": "best", "val_clips": 4,
        ...          "val_frames": {"moving": 24.0, "whole": 31.0}, "val_frames_last_frame": {"moving": 24.5, "whole": 30.0}})
        'train: the model is WORSE than copying the last frame on full frames of held-out videos (moving regions): validation on 4 full-frame clips, moving regions 24.00 dB against 24.50 dB (-0.50 dB), whole frames 31.00 dB against 30.00 dB (+1.00 dB); patches 28.00 dB against 27.00 dB (+1.00 dB) (generator of step 800, train.keep: best)'
    """
    psnr, baseline = summary.get("val_psnr"), summary.get("val_psnr_last_frame")
    frames, copied = summary.get("val_frames") or {}, summary.get("val_frames_last_frame") or {}
    if psnr is None or not math.isfinite(psnr):
        return f"{stage}: no validation clips (its validation set is empty): nothing compared the model with copying the last frame"
    which = f"generator of step {summary['val_step']}, train.keep: {summary['kept']}"
    if baseline is None or not math.isfinite(baseline):  # a model without a trivial baseline (GAIA)
        return f"{stage}: validation PSNR {psnr:.2f} dB ({which})"
    gap = psnr - baseline
    measured = [(label, frames[name], copied[name]) for name, label in FRAME_MEASURES.items()
                if math.isfinite(frames.get(name, math.nan)) and math.isfinite(copied.get(name, math.nan))]
    if measured:
        parts = [f"{label} {value:.2f} dB against {base:.2f} dB ({value - base:+.2f} dB)" for label, value, base in measured]
        clips = summary["val_clips"]
        said = (f"validation on {clips} full-frame clip{'s' * (clips != 1)}, {', '.join(parts)}; patches {psnr:.2f} dB "
                f"against {baseline:.2f} dB ({gap:+.2f} dB) ({which})")
        worse = [label for label, value, base in measured if value < base]
        if worse:
            return (f"{stage}: the model is WORSE than copying the last frame on full frames of held-out videos "
                    f"({', '.join(worse)}): {said}")
        return f"{stage}: the model beats copying the last frame on full frames of held-out videos: {said}"
    where = f"{gap:+.2f} dB, {which}"
    if gap < 0:
        return (f"{stage}: the model is WORSE than copying the last frame: validation PSNR {psnr:.2f} dB against "
                f"{baseline:.2f} dB ({where})")
    return f"{stage}: validation PSNR {psnr:.2f} dB against {baseline:.2f} dB for copying the last frame ({where})"
