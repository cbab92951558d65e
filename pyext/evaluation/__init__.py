"""The evaluate stage's work for each model family (``model.family``), one module per family,
registered with :func:`register_evaluation`; every module here is imported, so a new family's
evaluation is one file.

Every evaluation writes the evaluate stage's outputs, whatever the family: ``metrics.json``,
``predictions.h5``, ``plots/steps.csv``, ``plots/clips.csv`` and ``pictures/`` under its output
folder, and returns the lines the stage prints.
"""
import importlib
import pkgutil

from ..config import MODEL_FAMILIES
from .base import EVALUATIONS, evaluate_model, register_evaluation

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
assert sorted(EVALUATIONS) == sorted(MODEL_FAMILIES), \
    f"every model family {MODEL_FAMILIES} needs an evaluation, registered: {tuple(EVALUATIONS)}"

__all__ = ["EVALUATIONS", "evaluate_model", "register_evaluation"]
