"""The pyramid ops (kernels in ``csrc/pyramid/``): the fronts of one step down and up, and the
Gaussian and Laplacian pyramids built from them; the fake kernels, autograd and autocast of
``torch.ops.beyondmse.pyr_down``, ``pyr_up`` and their adjoints."""
from __future__ import annotations

from collections.abc import Sequence

import torch

from . import reference
from ._arguments import check_tensor, prepare
from ._native import compute_in_float32_under_autocast, use_native


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """One Gaussian pyramid step down, ``cv2.pyrDown`` per image (5x5 binomial blur, reflect-101
    border, every second pixel kept).

    Args:
        x: ``(..., H, W)``, any leading dims (e.g. ``(B, T, 3, H, W)``); the native kernels take axes
            up to ``2**29``.
    Returns:
        ``(..., (H + 1) // 2, (W + 1) // 2)``.

    Example:
        >>> pyr_down(torch.ones(2, 3, 5, 8)).shape
        torch.Size([2, 3, 3, 4])
    """
    (x,), out_dtype = prepare({"x": x}, 2)
    out = torch.ops.beyondmse.pyr_down(x) if use_native() else reference.pyr_down(x)
    return out.to(out_dtype)


def _up_size(x: torch.Tensor, size: Sequence[int] | None) -> tuple[int, int]:
    h, w = x.shape[-2], x.shape[-1]
    if size is None:
        return 2 * h, 2 * w
    if (not isinstance(size, (tuple, list, torch.Size)) or len(size) != 2
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in size)):
        raise TypeError(f"size must be a pair of ints (height, width), got {size!r}")
    if size[0] not in (2 * h - 1, 2 * h) or size[1] not in (2 * w - 1, 2 * w):
        raise ValueError(f"size must be (2H or 2H-1, 2W or 2W-1) for an input of H x W = {h} x {w}, "
                         f"got {tuple(size)}")
    return int(size[0]), int(size[1])


def pyr_up(x: torch.Tensor, size: Sequence[int] | None = None) -> torch.Tensor:
    """One pyramid step up, ``cv2.pyrUp`` per image (zeros inserted between pixels, blurred with 4x
    the 5x5 binomial kernel, reflect-101 border on the doubled grid).

    Args:
        x: ``(..., H, W)``.
        size: output ``(h, w)`` with ``h`` in ``{2H - 1, 2H}`` and ``w`` in ``{2W - 1, 2W}`` (a crop
            of the ``(2H, 2W)`` result, as ``cv2.pyrUp``'s dstsize); default ``(2H, 2W)``.
    Returns:
        ``(..., h, w)``.

    Example:
        >>> pyr_up(torch.ones(2, 3, 3, 4), size=(5, 8)).shape
        torch.Size([2, 3, 5, 8])
    """
    (x,), out_dtype = prepare({"x": x}, 2)
    h, w = _up_size(x, size)
    out = torch.ops.beyondmse.pyr_up(x, h, w) if use_native() else reference.pyr_up(x, (h, w))
    return out.to(out_dtype)


def _check_levels(levels: object) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be an int >= 1, got {levels!r}")
    return levels


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Gaussian pyramid ``[G_0 = x, G_1 = pyr_down(G_0), ...]``, finest first.

    Args:
        x: ``(..., H, W)``.
        levels: number of levels, >= 1.
    Returns:
        ``levels`` tensors; level k is ``(..., H_k, W_k)`` with ``H_{k+1} = (H_k + 1) // 2``.

    Example:
        >>> [g.shape[-1] for g in gaussian_pyramid(torch.rand(1, 3, 32, 32), 4)]
        [32, 16, 8, 4]
    """
    check_tensor(x, "x", 2)
    _check_levels(levels)
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(pyr_down(pyramid[-1]))
    return pyramid


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Laplacian pyramid, finest first: ``L_k = G_k - pyr_up(G_{k+1}, size=G_k.shape[-2:])`` for
    ``k < levels - 1``; the last level is ``G_{levels-1}``.

    Args:
        x: ``(..., H, W)``.
        levels: number of levels, >= 1.
    Returns:
        ``levels`` tensors shaped as the Gaussian pyramid's; :func:`laplacian_reconstruct` inverts it.

    Example:
        >>> x = torch.rand(1, 3, 9, 16)
        >>> torch.allclose(laplacian_reconstruct(laplacian_pyramid(x, 3)), x, atol=1e-6)
        True
    """
    gauss = gaussian_pyramid(x, levels)
    bands = [g - pyr_up(g_next, g.shape[-2:]) for g, g_next in zip(gauss[:-1], gauss[1:])]
    return bands + [gauss[-1]]


def laplacian_reconstruct(pyramid: Sequence[torch.Tensor]) -> torch.Tensor:
    """Inverts :func:`laplacian_pyramid` exactly (to rounding): ``G_k = L_k + pyr_up(G_{k+1})``.

    Args:
        pyramid: the levels, finest first; level k+1 must be ``(..., (H_k + 1) // 2, (W_k + 1) // 2)``.
    Returns:
        ``(..., H_0, W_0)``.
    """
    if not isinstance(pyramid, (list, tuple)) or len(pyramid) == 0:
        raise ValueError("pyramid must be a non-empty list of tensors, finest level first")
    for k, level in enumerate(pyramid):
        check_tensor(level, f"pyramid[{k}]", 2)
    for k in range(len(pyramid) - 1):
        fine, coarse = pyramid[k].shape, pyramid[k + 1].shape
        expected = (*fine[:-2], (fine[-2] + 1) // 2, (fine[-1] + 1) // 2)
        if tuple(coarse) != expected:
            raise ValueError(f"pyramid[{k + 1}] must have shape {expected} under pyramid[{k}] of shape "
                             f"{tuple(fine)}, got {tuple(coarse)}")
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = band + pyr_up(image, band.shape[-2:])
    return image


# ---------------------------------------------------------------- registration of the native ops


def _fake_resampled(x, height, width):  # pyr_up and both adjoints: the size is an argument
    return x.new_empty((*x.shape[:-2], height, width))


def _fake_pyr_down(x):
    return _fake_resampled(x, (x.shape[-2] + 1) // 2, (x.shape[-1] + 1) // 2)


# The pyramid ops are linear, so each one's gradient is its adjoint and the adjoint's gradient is
# the op again: double backward works (gradient penalties differentiate through them).
def _save_input_size(ctx, inputs, output):
    ctx.size = inputs[0].shape[-2:]


def _pyr_down_backward(ctx, grad):
    return torch.ops.beyondmse.pyr_down_backward(grad, ctx.size[0], ctx.size[1])


def _pyr_down_backward_backward(ctx, grad):
    return torch.ops.beyondmse.pyr_down(grad), None, None


def _pyr_up_backward(ctx, grad):
    return torch.ops.beyondmse.pyr_up_backward(grad, ctx.size[0], ctx.size[1]), None, None


def _pyr_up_backward_backward(ctx, grad):
    return torch.ops.beyondmse.pyr_up(grad, ctx.size[0], ctx.size[1]), None, None


def register() -> None:
    """Makes ``torch.ops.beyondmse.pyr_down``, ``pyr_up`` and their adjoints work under autograd
    (twice differentiable), ``torch.compile`` and autocast; called once ``pyext._C`` has defined
    them."""
    torch.library.register_fake("beyondmse::pyr_down", _fake_pyr_down)
    for name in ("pyr_down_backward", "pyr_up", "pyr_up_backward"):
        torch.library.register_fake(f"beyondmse::{name}", _fake_resampled)
    torch.library.register_autograd("beyondmse::pyr_down", _pyr_down_backward, setup_context=_save_input_size)
    torch.library.register_autograd("beyondmse::pyr_down_backward", _pyr_down_backward_backward)
    torch.library.register_autograd("beyondmse::pyr_up", _pyr_up_backward, setup_context=_save_input_size)
    torch.library.register_autograd("beyondmse::pyr_up_backward", _pyr_up_backward_backward,
                                    setup_context=_save_input_size)
    compute_in_float32_under_autocast("pyr_down", "pyr_up")
