"""The user's TorchScript modules (a feature comparator, a FID extractor): loaded frozen, and any
problem with the file reported in one line naming the params key."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .config import ParamsError


def first_line(exc: BaseException) -> str:
    """An exception's message, its first line (or its type where it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_scripted(path: str | Path, key: str, device: torch.device) -> torch.jit.ScriptModule:
    """The TorchScript module at ``path`` in eval mode, its weights frozen.

    Raises:
        ParamsError: ``key`` names a file that is not a TorchScript module.
    """
    try:
        with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript; it still loads
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location=device)
    except Exception as exc:  # torch.jit raises RuntimeError, ValueError, ... for a file it cannot read
        raise ParamsError("params.yaml", key, f"not a TorchScript module: {path} ({first_line(exc)})") from None
    module.eval()
    for weight in module.parameters():  # frozen (a ScriptModule has no requires_grad_)
        weight.requires_grad_(False)
    return module
