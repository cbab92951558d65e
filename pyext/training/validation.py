"""Watching a run: validation PSNRs (and the best generator so far), pictures of predictions, and
the end-of-run verdict against copying the last frame."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.dataset import ClipDataset, to_uint8
from ..data.store import check_clips
from ..evaluation.metrics import psnr_per_clip
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


@dataclass
class Validations:
    """The validation PSNRs of a run so far: the latest, and the best with that generator's weights
    (kept in the checkpoint, so a resumed run keeps its best)."""

    last_step: int = 0
    last_psnr: float = float("nan")
    best_step: int = 0
    best_psnr: float = float("-inf")
    best_generator: dict[str, torch.Tensor] | None = None

    def add(self, step: int, psnr: float, generator: nn.Module) -> None:
        self.last_step, self.last_psnr = step, psnr
        if psnr > self.best_psnr:
            self.best_step, self.best_psnr = step, psnr
            self.best_generator = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}

    def kept(self, keep: str, step: int) -> tuple[int, float, dict[str, torch.Tensor] | None]:
        """The step, validation PSNR and weights (None: the generator's current ones) of the
        generator ``train.keep`` picks: the best, or the latest validated; without any validation
        (no validation clips), the run's current one, of ``step``, its PSNR unknown (NaN)."""
        if keep == "best" and self.best_generator is not None:
            return self.best_step, self.best_psnr, self.best_generator
        if self.best_generator is None:  # nothing was validated
            return step, float("nan"), None
        return self.last_step, self.last_psnr, None


def verdict(summary: dict, stage: str = "train") -> str:
    """One line (``stage``'s) comparing the written generator's validation PSNR with copying the
    last input frame, saying plainly when the model is worse.

    Example:
        >>> verdict({"val_psnr": 21.0, "val_psnr_last_frame": 23.5, "val_step": 800, "kept": "last"})
        'train: the model is WORSE than copying the last frame: validation PSNR 21.00 dB against 23.50 dB (-2.50 dB, generator of step 800, train.keep: last)'
    """
    psnr, baseline = summary.get("val_psnr"), summary.get("val_psnr_last_frame")
    if psnr is None or not math.isfinite(psnr):
        return f"{stage}: no validation clips (its validation set is empty): nothing compared the model with copying the last frame"
    which = f"generator of step {summary['val_step']}, train.keep: {summary['kept']}"
    if baseline is None or not math.isfinite(baseline):  # a model without a trivial baseline (GAIA)
        return f"{stage}: validation PSNR {psnr:.2f} dB ({which})"
    gap = psnr - baseline
    where = f"{gap:+.2f} dB, {which}"
    if gap < 0:
        return (f"{stage}: the model is WORSE than copying the last frame: validation PSNR {psnr:.2f} dB against "
                f"{baseline:.2f} dB ({where})")
    return f"{stage}: validation PSNR {psnr:.2f} dB against {baseline:.2f} dB for copying the last frame ({where})"
