"""The training step of each model family (``model.family``), one module per family, registered
with :func:`register_step`; the family's entry of :data:`pyext.config.FAMILIES` names the module,
imported when the family is first used."""
import torch

from ...config import Params
from .base import STEPS, TrainingStep, register_step


def make_step(params: Params, device: torch.device, **kwargs) -> TrainingStep:
    """The training step of ``model.family`` (keyword arguments: :class:`TrainingStep`'s)."""
    return STEPS[params.model.family](params, device, **kwargs)


__all__ = ["STEPS", "TrainingStep", "make_step", "register_step"]
