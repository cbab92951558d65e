"""The registry of evaluations by model family, and the call the evaluate stage makes."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..config import Params
from ..models import Model
from ..registry import registrar

# (params, model, model file, data folder, output folder, device, progress) -> the lines to print.
Evaluation = Callable[[Params, Model, Path, Path, Path, torch.device, bool], list[str]]
EVALUATIONS: dict[str, Evaluation] = {}


def register_evaluation(family: str):
    """Function decorator: the evaluation of ``model.family: family``."""
    return registrar(EVALUATIONS, "evaluation of model family", family)


def evaluate_model(params: Params, model: Model, source: Path, data_dir: Path, out_dir: Path,
                   device: torch.device, progress: bool = True) -> list[str]:
    """Evaluates ``model`` (loaded from ``source``) with its family's evaluation on the data in
    ``data_dir`` (``test.h5``, and ``train.h5`` where the family needs it), writing ``out_dir``;
    returns the lines the evaluate stage prints."""
    return EVALUATIONS[model.family](params, model, Path(source), Path(data_dir), Path(out_dir), device, progress)
