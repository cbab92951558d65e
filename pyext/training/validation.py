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
from ..metrics import psnr_per_clip
from ..models import Predictor
from ..pictures import frame_grid
from .data import split


Batch = tuple[torch.Tensor, torch.Tensor]  # clips (B, T, 3, P, P) and their classes (B,)


def validation_batches(path: Path, batch: int, limit: int) -> list[Batch]:
    """The first ``limit`` batches (0: all) of ``path``, in file order: the same clips every time,
    each ``(clips, labels)``."""
    dataset = ClipDataset(path, labels=True)
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
def prediction_grid(generator: Predictor, clips: torch.Tensor, labels: torch.Tensor, device: torch.device,
                    zoom: int = 4) -> np.ndarray:
    """A picture: one row per clip, its input frames, then the true and the predicted frames.

    Args:
        clips: ``(B, m + n, 3, P, P)``.
        labels: their classes ``(B,)``.
    Returns:
        uint8 ``(B * (zoom P + 2), (m + 2n) * (zoom P + 2), 3)``, white lines between frames.
    """
    x, y = split(clips.to(device), generator.input_frames)
    return frame_grid(torch.cat([x, y, generator(x, labels.to(device))], dim=1), zoom)


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

    def kept(self, keep: str) -> tuple[int, float, dict[str, torch.Tensor] | None]:
        """The step, validation PSNR and weights (None: the generator's current ones) of the
        generator ``train.keep`` picks."""
        if keep == "best" and self.best_generator is not None:
            return self.best_step, self.best_psnr, self.best_generator
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
        return f"{stage}: no validation clips (its val.h5 is empty): nothing compared the model with copying the last frame"
    which = f"generator of step {summary['val_step']}, train.keep: {summary['kept']}"
    if baseline is None or not math.isfinite(baseline):  # a model without a trivial baseline (GAIA)
        return f"{stage}: validation PSNR {psnr:.2f} dB ({which})"
    gap = psnr - baseline
    where = f"{gap:+.2f} dB, {which}"
    if gap < 0:
        return (f"{stage}: the model is WORSE than copying the last frame: validation PSNR {psnr:.2f} dB against "
                f"{baseline:.2f} dB ({where})")
    return f"{stage}: validation PSNR {psnr:.2f} dB against {baseline:.2f} dB for copying the last frame ({where})"
