"""The training step of each model family (``model.family``), one module per family, registered
with :func:`register_step`; every module here is imported, so a new family's step is one file."""
import importlib
import pkgutil

import torch

from ...config import MODEL_FAMILIES, Params
from .base import STEPS, TrainingStep, register_step

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
assert sorted(STEPS) == sorted(MODEL_FAMILIES), \
    f"every model family {MODEL_FAMILIES} needs a training step, registered: {tuple(STEPS)}"


def make_step(params: Params, device: torch.device, **kwargs) -> TrainingStep:
    """The training step of ``model.family`` (keyword arguments: :class:`TrainingStep`'s)."""
    return STEPS[params.model.family](params, device, **kwargs)


__all__ = ["STEPS", "TrainingStep", "make_step", "register_step"]
