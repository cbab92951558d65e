"""Plain-PyTorch implementations of every BeyondMSE op: the executable specification.

The native kernels in ``csrc/`` are tested against these functions. They follow the definitions
literally and favour clarity over speed; autograd differentiates them.

Example:
    >>> import torch
    >>> from pyext import reference
    >>> x = torch.rand(2, 3, 8, 8)
    >>> [g.shape[-1] for g in reference.gaussian_pyramid(x, 3)]
    [8, 4, 2]
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _OPS

__all__ = [*_OPS, "reflect101"]

# Binomial 5-tap kernel of cv2.pyrDown / cv2.pyrUp.
_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def reduce_per_image(per_image: torch.Tensor, numel: int, reduction: str) -> torch.Tensor:
    """Applies a loss reduction to per-image sums: ``"none"``, ``"sum"``, or ``"mean"`` (sum / numel)."""
    if reduction == "none":
        return per_image
    if reduction == "sum":
        return per_image.sum()
    if reduction == "mean":
        return per_image.sum() / numel
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def gdl_loss(
    pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, reduction: str = "mean"
) -> torch.Tensor:
    """Gradient difference loss, Mathieu et al. 2016, eq. 5.

    Args:
        pred, target: tensors of the same shape ``(..., H, W)``.
        alpha: exponent >= 1.
        reduction: ``"mean"`` (sum / ``pred.numel()``), ``"sum"`` or ``"none"`` (per-image sums,
            shape ``pred.shape[:-2]``).
    """
    dy_t = (target[..., 1:, :] - target[..., :-1, :]).abs()
    dy_p = (pred[..., 1:, :] - pred[..., :-1, :]).abs()
    dx_t = (target[..., :, 1:] - target[..., :, :-1]).abs()
    dx_p = (pred[..., :, 1:] - pred[..., :, :-1]).abs()
    vertical = (dy_t - dy_p).abs().pow(alpha).sum(dim=(-2, -1))
    horizontal = (dx_t - dx_p).abs().pow(alpha).sum(dim=(-2, -1))
    return reduce_per_image(vertical + horizontal, pred.numel(), reduction)


def reflect101(index: int, length: int) -> int:
    """OpenCV's BORDER_REFLECT_101 (``cv2.borderInterpolate``): ``dcb|abcd|cba``; 0 on a length-1 axis."""
    if length == 1:
        return 0
    while not 0 <= index < length:
        index = -index if index < 0 else 2 * (length - 1) - index
    return index


def _padded_index(length: int, grid: int, pad: int, device: torch.device) -> torch.Tensor:
    """Indices into an axis of ``length`` for a reflect-101 padded axis of ``grid + 2 * pad``."""
    return torch.tensor(
        [reflect101(i, grid) for i in range(-pad, grid + pad)], dtype=torch.long, device=device
    )


def _blur5(padded: torch.Tensor, scale: float, stride: int) -> torch.Tensor:
    """Valid 5x5 binomial filtering (times ``scale``) of every image of ``(..., Hp, Wp)``."""
    w = torch.tensor(_BINOMIAL, dtype=padded.dtype, device=padded.device) / 16.0
    kernel = (scale * torch.outer(w, w)).view(1, 1, 5, 5)
    lead = padded.shape[:-2]
    flat = padded.reshape(-1, 1, *padded.shape[-2:])
    out = F.conv2d(flat, kernel, stride=stride)
    return out.reshape(*lead, *out.shape[-2:])


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur with the 5x5 binomial kernel (reflect-101 border) and keep every second pixel.

    ``cv2.pyrDown`` semantics per image: ``(..., H, W) -> (..., (H + 1) // 2, (W + 1) // 2)``.
    """
    h, w = x.shape[-2:]
    rows = _padded_index(h, h, 2, x.device)
    cols = _padded_index(w, w, 2, x.device)
    padded = x.index_select(-2, rows).index_select(-1, cols)
    return _blur5(padded, 1.0, 2)[..., : (h + 1) // 2, : (w + 1) // 2]


def pyr_up(x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Insert zeros between pixels, blur with 4x the binomial kernel (reflect-101 on the doubled grid).

    ``cv2.pyrUp`` semantics per image: ``(..., H, W) -> (..., 2H, 2W)``, or ``size=(h, w)`` with
    ``h`` in ``{2H - 1, 2H}`` and ``w`` in ``{2W - 1, 2W}``, a crop of the same result.
    """
    h, w = x.shape[-2:]
    out_h, out_w = (2 * h, 2 * w) if size is None else (int(size[0]), int(size[1]))
    if out_h not in (2 * h - 1, 2 * h) or out_w not in (2 * w - 1, 2 * w):
        raise ValueError(f"size must be (2H or 2H-1, 2W or 2W-1) = ({2 * h}|{2 * h - 1}, "
                         f"{2 * w}|{2 * w - 1}) for an input of {h}x{w}, got {tuple(size)}")
    zeros = x.new_zeros(*x.shape[:-2], 2 * h, 2 * w)
    zeros[..., ::2, ::2] = x
    rows = _padded_index(2 * h, 2 * h, 2, x.device)
    cols = _padded_index(2 * w, 2 * w, 2, x.device)
    padded = zeros.index_select(-2, rows).index_select(-1, cols)
    return _blur5(padded, 4.0, 1)[..., :out_h, :out_w]


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[G_0 = x, G_1 = pyr_down(G_0), ...]``, ``levels`` tensors, finest first."""
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(pyr_down(pyramid[-1]))
    return pyramid


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``L_k = G_k - pyr_up(G_{k+1})`` for ``k < levels - 1``; the last level is ``G_{levels-1}``."""
    gauss = gaussian_pyramid(x, levels)
    bands = [g - pyr_up(g_next, g.shape[-2:]) for g, g_next in zip(gauss[:-1], gauss[1:])]
    return bands + [gauss[-1]]


def laplacian_reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Invert :func:`laplacian_pyramid`: ``G_k = L_k + pyr_up(G_{k+1})`` from the coarsest level."""
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = band + pyr_up(image, band.shape[-2:])
    return image


def pairwise_sqdist(x: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """``d[i, j] = mean_f (x[i, f] - x[j, f])^2`` of ``x`` shaped ``(N, D)``, by differences.

    Rows are processed ``chunk`` at a time so that no ``N x N x D`` tensor exists at once.
    """
    rows = [
        (x[start : start + chunk, None, :] - x[None, :, :]).pow(2).mean(dim=-1)
        for start in range(0, x.shape[0], chunk)
    ]
    return torch.cat(rows, dim=0)


def structure_loss_from_distances(
    dx: torch.Tensor, dz: torch.Tensor, eps: float
) -> torch.Tensor:
    """GAIA's loss on two ``(N, N)`` distance matrices: each normalised by its mean, log1p, MSE."""
    dx = dx / dx.mean().clamp_min(eps)
    dz = dz / dz.mean().clamp_min(eps)
    return (torch.log1p(dx) - torch.log1p(dz)).pow(2).mean()


def structure_loss(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """GAIA pairwise-distance structure loss (Sainburg et al. 2018).

    Args:
        x: ``(N, ...)`` samples, flattened to ``(N, D)``.
        z: ``(N, ...)`` their codes, flattened to ``(N, d)``.
        eps: lower bound of the mean distance used for normalising.
    Returns:
        A scalar: ``mean_{i,j} (log1p(sdx[i,j]) - log1p(sdz[i,j]))^2``.
    """
    return structure_loss_from_distances(
        pairwise_sqdist(x.reshape(x.shape[0], -1)), pairwise_sqdist(z.reshape(z.shape[0], -1)), eps
    )
