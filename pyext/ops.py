"""Python fronts of the BeyondMSE ops: validate arguments, run the native kernels
(``torch.ops.beyondmse.*``), or fall back to :mod:`pyext.reference` when they are not built.

Dtypes: inputs of two float dtypes are promoted to the wider one. The CUDA kernels take float16 and
bfloat16 and accumulate in float32; so do the GDL and pyramid CPU kernels for bfloat16. Other
float16/bfloat16 CPU inputs (any float16, the structure loss's, the reference's) are computed
in float32 and cast back. Under ``torch.autocast`` the ops compute in float32 and return float32, as
torch's own losses do.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Iterator, Sequence

import torch

from . import reference

__all__ = [
    "gdl_loss",
    "pyr_down",
    "pyr_up",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "laplacian_reconstruct",
    "structure_loss",
    "native_available",
    "native_error",
]

REQUIRE_NATIVE_ENV = "BEYONDMSE_REQUIRE_NATIVE"
_REBUILD_HINT = "build it with `make build` (or `python setup.py build_ext --inplace`)"


def _load_native() -> str | None:
    """Imports pyext._C (which registers torch.ops.beyondmse); returns why it failed, or None."""
    try:
        native = importlib.import_module("pyext._C")
    except ModuleNotFoundError as exc:
        if exc.name != "pyext._C":
            return f"the native extension failed to load: {exc}"
        return f"the native extension is not built: {_REBUILD_HINT}"
    except (ImportError, OSError) as exc:
        hint = " (it was probably built for another torch)" if "undefined symbol" in str(exc) else ""
        return f"the native extension failed to load{hint}: {exc}; re{_REBUILD_HINT}"
    built_for = getattr(native, "torch_version", None)
    if built_for != torch.__version__:
        return (f"the native extension was built for torch {built_for} but torch {torch.__version__} is "
                f"running; re{_REBUILD_HINT}")
    from . import _registration  # noqa: F401  (fake kernels, autograd and autocast of the ops)

    return None


_NATIVE_ERROR = _load_native()
if _NATIVE_ERROR is not None and os.environ.get(REQUIRE_NATIVE_ENV, "0") not in ("", "0"):
    raise ImportError(f"{REQUIRE_NATIVE_ENV} is set but {_NATIVE_ERROR}")
_warned = False
_reference_only = False


@contextlib.contextmanager
def reference_only() -> Iterator[None]:
    """Within the block every op runs :mod:`pyext.reference`, native kernels or not (to measure
    what the kernels bring; not thread-safe). Graphs compiled inside keep that choice."""
    global _reference_only
    before, _reference_only = _reference_only, True
    try:
        yield
    finally:
        _reference_only = before


def native_available() -> bool:
    """True when the compiled ops are loaded (``torch.ops.beyondmse``); else the reference runs."""
    return _NATIVE_ERROR is None


def native_error() -> str | None:
    """Why the compiled ops are not in use (not built, failed to load, built for another torch)."""
    return _NATIVE_ERROR


def _use_native() -> bool:
    global _warned
    if _reference_only:
        return False
    if _NATIVE_ERROR is None:
        return True
    if not _warned:
        _warned = True
        warnings.warn(f"BeyondMSE runs its plain-PyTorch reference ops: {_NATIVE_ERROR}", RuntimeWarning,
                      stacklevel=3)
    return False


def _check_tensor(value: object, name: str, min_dim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dims, got shape {tuple(value.shape)}")
    return value


def _prepare(named: dict[str, object], min_dim: int, cpu_kernel_takes_bfloat16: bool = True
             ) -> tuple[list[torch.Tensor], torch.dtype]:
    """Checks the tensors, puts them in one compute dtype, and returns them with the output dtype.

    float16/bfloat16 inputs stay so where a native kernel takes them (every CUDA kernel; a CPU
    kernel, for bfloat16, unless ``cpu_kernel_takes_bfloat16`` is false); otherwise, and under
    autocast, they are computed in float32.
    """
    tensors = [_check_tensor(v, k, min_dim) for k, v in named.items()]
    names = list(named)
    for name, t in zip(names[1:], tensors[1:]):
        if t.device != tensors[0].device:
            raise ValueError(f"{names[0]} and {name} must be on the same device, got {tensors[0].device} "
                             f"and {t.device}")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = tensors[0].device
    low_precision = dtype in (torch.float16, torch.bfloat16)
    autocast = low_precision and torch.is_autocast_enabled(device.type)
    out_dtype = torch.float32 if autocast else dtype
    # Autocast asks for float32 compute; the reference would sum in the low dtype on the CPU.
    native_low = device.type == "cuda" or (dtype == torch.bfloat16 and cpu_kernel_takes_bfloat16 and _use_native())
    compute = torch.float32 if low_precision and (autocast or not native_low) else dtype
    return [t.to(compute) for t in tensors], out_dtype


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
    (pred, target), out_dtype = _prepare({"pred": pred, "target": target}, 2)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 1:
        raise ValueError(f"alpha must be a number >= 1, got {alpha!r}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if _use_native():
        per_image = torch.ops.beyondmse.gdl_loss(pred, target, float(alpha))
    else:
        per_image = reference.gdl_loss(pred, target, float(alpha), "none")
    return reference.reduce_per_image(per_image, pred.numel(), reduction).to(out_dtype)


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
    (x,), out_dtype = _prepare({"x": x}, 2)
    out = torch.ops.beyondmse.pyr_down(x) if _use_native() else reference.pyr_down(x)
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
    (x,), out_dtype = _prepare({"x": x}, 2)
    h, w = _up_size(x, size)
    out = torch.ops.beyondmse.pyr_up(x, h, w) if _use_native() else reference.pyr_up(x, (h, w))
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
    _check_tensor(x, "x", 2)
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
        _check_tensor(level, f"pyramid[{k}]", 2)
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
    (x, z), out_dtype = _prepare({"x": x, "z": z}, 1, cpu_kernel_takes_bfloat16=False)
    if x.shape[0] != z.shape[0]:
        raise ValueError(f"x and z must have the same batch size N, got {x.shape[0]} and {z.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError("x and z must hold at least one sample, got N = 0")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    x, z = x.reshape(x.shape[0], -1), z.reshape(z.shape[0], -1)
    if _use_native():
        dx, dz = torch.ops.beyondmse.pairwise_sqdist(x), torch.ops.beyondmse.pairwise_sqdist(z)
    else:
        dx, dz = reference.pairwise_sqdist(x), reference.pairwise_sqdist(z)
    return reference.structure_loss_from_distances(dx, dz, float(eps)).to(out_dtype)
