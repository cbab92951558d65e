"""A probe discriminator: can the frozen generator's predictions be told from real futures at all?

The discriminator a run trains sits near 0.5 at equilibrium whether or not the predictions are
distinguishable, so its own accuracy proves nothing. The probe is a fresh copy of Table 1's
discriminator (the paper's, without the run's normalisation or class input: the same judge for
every run) trained for ``evaluate.probe_steps`` updates to tell the frozen generator's predictions
of training patches (``data/train.h5``) from their true futures, then scored on patches of videos
it never saw (``data/val.h5``): well above 0.5 there, the predictions are distinguishable from real
clips; at 0.5, nothing in them gives them away to a discriminator of this size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.dataset import ClipDataset
from ..models import MultiScaleDiscriminator, Predictor, draw_latents

_BATCH = 16
_LR, _BETAS = 2e-4, (0.5, 0.999)  # DCGAN's Adam
_HELD_OUT = 1024  # at most this many held-out clips scored


def _batch(data: ClipDataset, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    items = [data[int(i)] for i in rows]
    if data.labels is None:
        return torch.stack(items).to(device), None
    return torch.stack([c for c, _ in items]).to(device), torch.stack([label for _, label in items]).to(device)


def _judged(generator: Predictor, D: MultiScaleDiscriminator, clips: torch.Tensor, labels: torch.Tensor | None,
            seed: tuple[int, ...]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """D's logits per scale of the real futures of ``clips`` and of the generator's predictions."""
    m = generator.input_frames
    x, y = clips[:, :m], clips[:, m:]
    z = draw_latents(seed, generator.noise, len(x), device=x.device) if generator.noise else None
    with torch.no_grad():
        fake = generator.forward_scales(x, labels, z)
    return D(y, x), D(fake, x)  # D makes the real frames' pyramid itself


def probe_accuracy(generator: Predictor, patch: int, leak: float, train: Path, held_out: Path, steps: int,
                   device: torch.device, seed: int = 0) -> dict:
    """Trains a fresh :class:`~pyext.models.MultiScaleDiscriminator` (binary cross-entropy, summed
    over scales; Adam at DCGAN's settings, batches of 16 clips drawn from ``train``) against the
    frozen ``generator`` for ``steps`` updates, then scores it on up to 1024 clips of ``held_out``:
    a clip counts as told apart when the logits summed over scales are > 0 for its real future and
    < 0 for its prediction.

    Args:
        generator: a multi-scale generator (its ``forward_scales``), frozen.
        patch, leak: the discriminator's patch side (``clip.patch``) and activation slope.
        train, held_out: stores of clips ``(m + n)`` frames of ``patch`` squared.
        seed: the probe's weights, batches and the generator's latents.
    Returns:
        ``{"steps", "clips", "accuracy", "real_accuracy", "generated_accuracy",
        "accuracy_per_scale"}``; ``accuracy`` the mean of the real and generated accuracies.
    """
    torch.manual_seed(seed)
    D = MultiScaleDiscriminator(generator.input_frames, generator.output_frames, generator.scales,
                                generator.width, patch, leak).to(device)
    optimizer = torch.optim.Adam(D.parameters(), lr=_LR, betas=_BETAS)
    classes = generator.classes > 0
    data, rng = ClipDataset(train, labels=classes), np.random.default_rng(seed)
    was_training = generator.training
    generator.eval()
    try:
        for step in range(steps):
            clips, labels = _batch(data, rng.integers(0, len(data), _BATCH), device)
            real, fake = _judged(generator, D, clips, labels, (seed, step))
            loss = sum(F.binary_cross_entropy_with_logits(r, torch.ones_like(r)) +
                       F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)) for r, f in zip(real, fake))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        D.eval()
        scored = ClipDataset(held_out, labels=classes)
        if not len(scored):
            raise ValueError(f"{held_out}: no clips to score the probe discriminator on")
        rows = np.arange(min(len(scored), _HELD_OUT))
        real_right, fake_right, per_scale = [], [], []
        with torch.no_grad():
            for lo in range(0, len(rows), _BATCH):
                clips, labels = _batch(scored, rows[lo:lo + _BATCH], device)
                real, fake = _judged(generator, D, clips, labels, (seed, steps, lo))
                real_right.append((torch.stack(real).sum(0)[:, 0] > 0).cpu())
                fake_right.append((torch.stack(fake).sum(0)[:, 0] < 0).cpu())
                per_scale.append(torch.stack([(r[:, 0] > 0).float() + (f[:, 0] < 0).float()
                                              for r, f in zip(real, fake)]).cpu() / 2)
    finally:
        generator.train(was_training)
    real_acc = float(torch.cat(real_right).float().mean())
    fake_acc = float(torch.cat(fake_right).float().mean())
    return {"steps": steps, "clips": len(rows), "accuracy": round((real_acc + fake_acc) / 2, 4),
            "real_accuracy": round(real_acc, 4), "generated_accuracy": round(fake_acc, 4),
            "accuracy_per_scale": [round(float(a), 4) for a in torch.cat(per_scale, dim=1).mean(1)]}
