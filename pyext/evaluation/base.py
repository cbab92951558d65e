"""The registry of evaluations by model family, and the call the evaluate stage makes."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..config import FAMILIES, Params
from ..files import DataFiles, EvaluationFiles
from ..models import Model
from ..registry import Registry

# (params, model, model file, data files, output files, device, progress) -> the lines to print.
Evaluation = Callable[[Params, Model, Path, DataFiles, EvaluationFiles, torch.device, bool], list[str]]
# The evaluations by family (pyext.config.FAMILIES: each entry's ``evaluation`` module registers it).
EVALUATIONS: Registry[Evaluation] = Registry("evaluation of model family", FAMILIES, lambda facts: facts.evaluation)


def register_evaluation(family: str):
    """Function decorator: the evaluation of ``model.family: family``."""
    return EVALUATIONS.register(family)


def evaluate_model(params: Params, model: Model, source: Path, data: DataFiles, out: EvaluationFiles,
                   device: torch.device, progress: bool = True) -> list[str]:
    """Evaluates ``model`` (loaded from ``source``) with its family's evaluation on ``data``
    (``data.test``; ``data.train`` and ``data.manifest`` where the family needs them), writing
    ``out``; returns the lines the evaluate stage prints."""
    return EVALUATIONS[model.family](params, model, Path(source), data, out, device, progress)
