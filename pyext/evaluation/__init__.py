"""The evaluate stage's work for each model family (``model.family``), one module per family,
registered with :func:`register_evaluation`; the family's entry of :data:`pyext.config.FAMILIES`
names the module, imported when the family is first used.

Every evaluation writes the evaluate stage's outputs, whatever the family: ``metrics.json``,
``predictions.h5``, ``plots/steps.csv``, ``plots/clips.csv`` and ``pictures/`` under its output
folder, and returns the lines the stage prints.
"""
from .base import EVALUATIONS, evaluate_model, register_evaluation

__all__ = ["EVALUATIONS", "evaluate_model", "register_evaluation"]
