"""GAIA's structure loss (kernels of its pairwise distances in ``csrc/structure/``): its front, and
the fake kernels, autograd and autocast of ``torch.ops.beyondmse.pairwise_sqdist``."""
from __future__ import annotations

import torch

from . import reference
from ._arguments import prepare
from ._native import compute_in_float32_under_autocast, opmath, save_inputs, use_native


def structure_loss(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """GAIA's pairwise-distance structure loss (Sainburg et al. 2018).

    ``sdx[i, j] = mean_f (x[i, f] - x[j, f])^2`` over all N^2 pairs, divided by ``max(mean(sdx), eps)``;
    the same for ``z``; the loss is ``mean_{i,j} (log1p(sdx[i,j]) - log1p(sdz[i,j]))^2``.
    The native kernels take the distances from the Gram matrix of the centred samples where an
    error check meets the bound stated in ``csrc/structure/structure_gemm.h``, and by differences
    otherwise; intermediates are at most ``N x N`` (plus a centred copy of the samples).

    Args:
        x: ``(N, ...)`` samples (flattened per sample to ``(N, D)``).
        z: ``(N, ...)`` their latent codes (flattened to ``(N, d)``).
        eps: positive floor of the mean distance.
    Returns:
        A scalar, differentiable with respect to ``x`` and ``z``.

    Example:
        >>> x = torch.rand(8, 3, 4, 4)
        >>> float(structure_loss(x, 2 * x.flatten(1)))  # scaling keeps the structure
        0.0
    """
    (x, z), out_dtype = prepare({"x": x, "z": z}, 1, cpu_kernel_takes_bfloat16=False)
    if x.shape[0] != z.shape[0]:
        raise ValueError(f"x and z must have the same batch size N, got {x.shape[0]} and {z.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("x and z must hold at least one sample, got N = 0")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    x, z = x.reshape(x.shape[0], -1), z.reshape(z.shape[0], -1)
    if use_native():
        dx, dz = torch.ops.beyondmse.pairwise_sqdist(x), torch.ops.beyondmse.pairwise_sqdist(z)
    else:
        dx, dz = reference.pairwise_sqdist(x), reference.pairwise_sqdist(z)
    return reference.structure_loss_from_distances(dx, dz, float(eps)).to(out_dtype)


# ---------------------------------------------------------------- registration of the native op


def _fake_pairwise_sqdist(x):
    return x.new_empty((x.shape[0], x.shape[0]), dtype=opmath(x.dtype))


def _fake_pairwise_sqdist_backward(grad, x):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _pairwise_sqdist_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return torch.ops.beyondmse.pairwise_sqdist_backward(grad, x)


def register() -> None:
    """Makes ``torch.ops.beyondmse.pairwise_sqdist`` work under autograd, ``torch.compile`` and
    autocast; called once ``pyext._C`` has defined it."""
    torch.library.register_fake("beyondmse::pairwise_sqdist", _fake_pairwise_sqdist)
    torch.library.register_fake("beyondmse::pairwise_sqdist_backward", _fake_pairwise_sqdist_backward)
    torch.library.register_autograd("beyondmse::pairwise_sqdist", _pairwise_sqdist_backward,
                                    setup_context=save_inputs)
    compute_in_float32_under_autocast("pairwise_sqdist")
