"""Fake (meta) kernels, autograd formulas and autocast rules of the ``torch.ops.beyondmse`` ops,
so that they work under autograd, ``torch.compile(fullgraph=True)`` and ``torch.autocast``.
Imported by :mod:`pyext.ops` once the native library is loaded.
"""
from __future__ import annotations

import torch

ops = torch.ops.beyondmse


def _opmath(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _resized(x: torch.Tensor, height, width) -> torch.Tensor:
    return x.new_empty((*x.shape[:-2], height, width))


# Fake kernels: output metadata only.
@torch.library.register_fake("beyondmse::gdl_loss")
def _(pred, target, alpha):
    return pred.new_empty(pred.shape[:-2], dtype=_opmath(pred.dtype))


@torch.library.register_fake("beyondmse::gdl_loss_backward")
def _(grad, pred, target, alpha, output_mask):
    return tuple(torch.empty_like(pred, memory_format=torch.contiguous_format) if wanted else None
                 for wanted in output_mask)


@torch.library.register_fake("beyondmse::pyr_down")
def _(x):
    return _resized(x, (x.shape[-2] + 1) // 2, (x.shape[-1] + 1) // 2)


@torch.library.register_fake("beyondmse::pyr_down_backward")
def _(grad, height, width):
    return _resized(grad, height, width)


@torch.library.register_fake("beyondmse::pyr_up")
def _(x, height, width):
    return _resized(x, height, width)


@torch.library.register_fake("beyondmse::pyr_up_backward")
def _(grad, height, width):
    return _resized(grad, height, width)


@torch.library.register_fake("beyondmse::pairwise_sqdist")
def _(x):
    return x.new_empty((x.shape[0], x.shape[0]), dtype=_opmath(x.dtype))


@torch.library.register_fake("beyondmse::pairwise_sqdist_backward")
def _(grad, x):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


# Autograd. The pyramid ops are linear, so each one's gradient is its adjoint and the adjoint's
# gradient is the op again: double backward works (gradient penalties differentiate through them).
def _save_inputs(ctx, inputs, output):
    ctx.save_for_backward(*[t for t in inputs if isinstance(t, torch.Tensor)])
    ctx.args = [a for a in inputs if not isinstance(a, torch.Tensor)]


def _save_input_size(ctx, inputs, output):
    ctx.size = inputs[0].shape[-2:]


def _gdl_backward(ctx, grad):
    pred, target = ctx.saved_tensors
    # Only the gradients autograd asks for are computed (usually pred's alone: targets are data).
    grad_pred, grad_target = ops.gdl_loss_backward(grad, pred, target, ctx.args[0], list(ctx.needs_input_grad[:2]))
    return grad_pred, grad_target, None


def _sqdist_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return ops.pairwise_sqdist_backward(grad, x)


def _pyr_down_backward(ctx, grad):
    return ops.pyr_down_backward(grad, ctx.size[0], ctx.size[1])


def _pyr_down_backward_backward(ctx, grad):
    return ops.pyr_down(grad), None, None


def _pyr_up_backward(ctx, grad):
    return ops.pyr_up_backward(grad, ctx.size[0], ctx.size[1]), None, None


def _pyr_up_backward_backward(ctx, grad):
    return ops.pyr_up(grad, ctx.size[0], ctx.size[1]), None, None


torch.library.register_autograd("beyondmse::gdl_loss", _gdl_backward, setup_context=_save_inputs)
torch.library.register_autograd("beyondmse::pairwise_sqdist", _sqdist_backward, setup_context=_save_inputs)
torch.library.register_autograd("beyondmse::pyr_down", _pyr_down_backward, setup_context=_save_input_size)
torch.library.register_autograd("beyondmse::pyr_down_backward", _pyr_down_backward_backward)
torch.library.register_autograd("beyondmse::pyr_up", _pyr_up_backward, setup_context=_save_input_size)
torch.library.register_autograd("beyondmse::pyr_up_backward", _pyr_up_backward_backward,
                                setup_context=_save_input_size)

# Training runs under bf16 autocast; these ops accumulate in float32 and are cheap next to the
# convolutions, so they compute in float32 there (as torch's own losses do).
for _op in ("gdl_loss", "pyr_down", "pyr_up", "pairwise_sqdist"):
    for _device in ("cpu", "cuda"):
        torch.library.register_autocast(f"beyondmse::{_op}", _device, torch.float32)
