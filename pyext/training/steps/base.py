"""What one model family's training step provides, and the registry of steps by family."""
from __future__ import annotations

import numpy as np
import torch

from ...config import FAMILIES, Params
from ...models import Model, NoiseGenerator, Predictor
from ...registry import Registry


class TrainingStep:
    """One family's networks, optimisers and training step: no data loading, files or logging, so
    that the benchmark times exactly what training runs.

    Args:
        params: the validated params.
        device: where the networks live.
        distributed: wrap the networks in DistributedDataParallel (a process group is initialised).
        compile: run them through ``torch.compile``.
        rank, world: this process's place in a distributed run: its batches are rows
            ``rank * B / world ..`` of each whole batch of ``B = train.batch_size`` clips.
        classes: the number of classes of the data (``data/manifest.json``), for a class-conditioned
            model; 0 where none is read.
    """

    model: Model  # what models/generator.pt saves (the predictor; GAIA's autoencoders)
    # The model as a predictor of frames, validated on full frames too (pyext.training.validation); None: not one.
    predictor: Predictor | None = None
    adversarial: bool  # whether a discriminator trains (its loss is then logged as train/loss_d)
    # Whether the loop validates it (validate, baseline) every train.val_every steps: a generator from
    # noise has no validation PSNR, and then train.keep has no best to pick (the last is written).
    validates: bool = True
    # The model as a generator from noise, whose FID and KID the loop measures every train.val_every
    # steps instead (pyext.training.distances); None: not one.
    generator: NoiseGenerator | None = None
    # The names of the measures of "how D is doing" its steps log (shown beside the progress bar).
    d_measures: list[str]
    # The dtype the networks compute in (``train.precision`` resolved on this device): part of a
    # checkpoint's identity, as ``auto`` differs from machine to machine.
    dtype: torch.dtype = torch.float32

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1, classes: int = 0):
        raise NotImplementedError

    @property
    def batches_per_step(self) -> int:
        """Batches of training clips one step consumes."""
        raise NotImplementedError

    def step(self, step: int, batches: list[torch.Tensor],
             labels: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Update ``step`` (0-based) on ``batches`` (``batches_per_step`` clips
        ``(B, m + n, 3, P, P)`` on the device) of classes ``labels`` (one ``(B,)`` per batch; None
        for a model that takes no class). Returns the logged values as detached tensors (no host
        sync); a NaN or infinite loss sets ``self.nonfinite``."""
        raise NotImplementedError

    def validate(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        """The validation PSNR (dB; higher is better) on batches ``(clips (B, T, 3, P, P), labels (B,))``;
        NaN for a family that does not validate (``validates`` False)."""
        return float("nan")

    def baseline(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float | None:
        """The PSNR of a trivial answer on the same clips, logged beside :meth:`validate`'s (the
        predictor: copying the last input frame); None where there is none."""
        return None

    def pictures(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, np.ndarray]:
        """Pictures of the model at work on a batch ``(clips (B, T, 3, P, P), labels (B,))``: name
        (a folder of ``dvclive/plots/images``) -> uint8 ``(H, W, 3)``; ``predictions`` among them."""
        raise NotImplementedError

    def saved_beside(self) -> dict:
        """Entries ``models/generator.pt`` holds besides the model (e.g. a discriminator the
        evaluation uses); plain tensors."""
        return {}

    def state(self) -> dict:
        """Everything a resumed run needs besides the data position and the RNG (weights,
        optimiser states, ...), as a checkpoint holds it."""
        raise NotImplementedError

    def load_state(self, saved: dict) -> None:
        raise NotImplementedError


# The training steps by family (pyext.config.FAMILIES: each entry's ``step`` module registers it).
STEPS: Registry[type[TrainingStep]] = Registry("training step of model family", FAMILIES, lambda facts: facts.step)

__all__ = ["STEPS", "TrainingStep", "register_step"]


def register_step(family: str):
    """Class decorator: the training step of ``model.family: family``."""
    return STEPS.register(family)
