"""The gradient difference loss (kernels in ``csrc/gdl/``): its front, and the fake kernels, autograd
and autocast of ``torch.ops.beyondmse.gdl_loss``."""
from __future__ import annotations

import torch

from . import reference
from ._arguments import prepare
from ._native import compute_in_float32_under_autocast, opmath, save_inputs, use_native


def gdl_loss(
    pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Gradient difference loss (Mathieu et al. 2016, eq. 5).

    ``sum | |t[i,j] - t[i-1,j]| - |p[i,j] - p[i-1,j]| |^alpha`` over vertical neighbours, plus the same
    over horizontal neighbours, per image.

    Args:
        pred: prediction ``(..., H, W)``, at least 2-D, e.g. ``(B, T, 3, H, W)``.
        target: ground truth of the same shape.
        alpha: exponent, a float >= 1 (the paper uses 1).
        reduction: ``"mean"`` (sum of all terms / ``pred.numel()``), ``"sum"``, or ``"none"``
            (per-image sums shaped ``pred.shape[:-2]``).
    Returns:
        A scalar, or ``pred.shape[:-2]`` for ``"none"``. Differentiable in both inputs.

    Example:
        >>> p, t = torch.zeros(1, 3, 4, 4), torch.eye(4).expand(1, 3, 4, 4)
        >>> gdl_loss(p, t, reduction="sum")
        tensor(36.)
    """
    (pred, target), out_dtype = prepare({"pred": pred, "target": target}, 2)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 1:
        raise ValueError(f"alpha must be a number >= 1, got {alpha!r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if use_native():
        per_image = torch.ops.beyondmse.gdl_loss(pred, target, float(alpha))
    else:
        per_image = reference.gdl_loss(pred, target, float(alpha), "none")
    return reference.reduce_per_image(per_image, pred.numel(), reduction).to(out_dtype)


# ---------------------------------------------------------------- registration of the native op


def _fake_gdl_loss(pred, target, alpha):
    return pred.new_empty(pred.shape[:-2], dtype=opmath(pred.dtype))


def _fake_gdl_loss_backward(grad, pred, target, alpha, output_mask):
    return tuple(torch.empty_like(pred, memory_format=torch.contiguous_format) if wanted else None
                 for wanted in output_mask)


def _gdl_loss_backward(ctx, grad):
    pred, target = ctx.saved_tensors
    # Only the gradients autograd asks for are computed (usually pred's alone: targets are data).
    grad_pred, grad_target = torch.ops.beyondmse.gdl_loss_backward(grad, pred, target, ctx.args[0],
                                                                   list(ctx.needs_input_grad[:2]))
    return grad_pred, grad_target, None


def register() -> None:
    """Makes ``torch.ops.beyondmse.gdl_loss`` work under autograd, ``torch.compile`` and autocast;
    called once ``pyext._C`` has defined it."""
    torch.library.register_fake("beyondmse::gdl_loss", _fake_gdl_loss)
    torch.library.register_fake("beyondmse::gdl_loss_backward", _fake_gdl_loss_backward)
    torch.library.register_autograd("beyondmse::gdl_loss", _gdl_loss_backward, setup_context=save_inputs)
    compute_in_float32_under_autocast("gdl_loss")
