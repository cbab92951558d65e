"""The reconstruction terms of the generator's loss (Mathieu et al. 2016, section 3): ``L_p`` here,
``L_gdl`` as the fused op :func:`pyext.gdl_loss`."""
from __future__ import annotations

import torch


def lp_loss(pred: torch.Tensor, target: torch.Tensor, p: int, per_clip: bool = False) -> torch.Tensor:
    """Mean ``|pred - target|^p`` (paper eq. 2), p 1 or 2, over tensors of any (equal) shape; with
    ``per_clip``, over all but the first dimension: ``(B,)``."""
    diff = pred - target
    error = diff.abs() if p == 1 else diff.square()
    return error.flatten(1).mean(1) if per_clip else error.mean()
