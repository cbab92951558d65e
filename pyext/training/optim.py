"""The optimisers and the learning-rate schedule."""
from __future__ import annotations

import torch

from ..config import ImageGANOptimiser, TrainParams


def make_optimizer(tp: TrainParams | ImageGANOptimiser, parameters, lr: float,
                   betas: tuple[float, float] | None = None) -> torch.optim.Optimizer:
    """The ``optimizer`` of a section that names one (``train``; a family's own, ``model.dcgan``)
    over ``parameters``: plain SGD (the paper), Adam with the section's ``betas`` (or ``betas``: a
    network's own, IcGAN's encoders'), or RMSProp at PyTorch's defaults (the WGAN paper's optimiser)."""
    if tp.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if tp.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    return torch.optim.Adam(parameters, lr=lr, betas=tp.betas if betas is None else betas)


def linear_lr(start: float, final: float, step: int, steps: int) -> float:
    """Linear from ``start`` at step 0 to ``final`` at the last step (``steps - 1``)."""
    return start + (final - start) * step / max(1, steps - 1)
