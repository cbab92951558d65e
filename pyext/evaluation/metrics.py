"""Image quality metrics of the paper (section 4), on uint8 frames: the 0..255 scale a viewer sees.

Frames are ``(H, W, 3)`` RGB. Each metric can be restricted to a mask ``(H, W)`` (the moving
regions: :func:`motion_mask`); it then averages over the masked pixels only, and is NaN when the
mask is empty, so that such a clip can be left out of an average. That is this project's measure
(``moving_mean``); :func:`authors_scores` is the one of the authors' released test script, which
Table 2's figures come from (``authors``).
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0  # dB for identical frames (MSE 0), instead of infinity
_SSIM_SIGMA, _SSIM_TRUNCATE = 1.5, 3.5  # scikit-image's Gaussian window: 11 x 11


def _masked_mean(values: np.ndarray, mask: np.ndarray | None) -> float:
    """Mean of ``values`` ``(H, W)`` or ``(H, W, C)`` over the pixels of ``mask`` (all if None)."""
    if mask is None:
        return float(values.mean())
    if not mask.any():
        return float("nan")
    return float(values[mask].mean())


def _check(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None) -> None:
    if pred.shape != truth.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and truth must be frames (H, W, 3) of one shape, got {pred.shape} and {truth.shape}")
    if mask is not None and mask.shape != pred.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {pred.shape[:2]}, got {mask.shape}")


def _decibels(mean: np.ndarray | float) -> np.ndarray | float:
    """``10 log10(255^2 / mean)`` capped at :data:`PSNR_CAP` (a mean of 0 gives the cap); NaN stays NaN."""
    with np.errstate(divide="ignore"):
        value = np.minimum(10 * np.log10(255.0 ** 2 / np.asarray(mean, np.float64)), PSNR_CAP)
    return float(value) if np.ndim(value) == 0 else value


def psnr(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``10 log10(255^2 / MSE)`` over the RGB values (of the masked pixels), capped at
    :data:`PSNR_CAP` for identical frames.

    Example:
        >>> a = np.zeros((4, 4, 3), np.uint8)
        >>> psnr(a, a), round(psnr(a + 10, a), 2)
        (100.0, 28.13)
    """
    _check(pred, truth, mask)
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    return _decibels(_masked_mean(diff * diff, mask))


def psnr_per_clip(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """:func:`psnr` of whole clips ``(N, ...)`` (every frame and pixel of a clip together): float64 ``(N,)``."""
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth must have the same shape, got {pred.shape} and {truth.shape}")
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    return _decibels((diff * diff).reshape(len(diff), -1).mean(axis=1))


def luminance(frame: np.ndarray) -> np.ndarray:
    """``Y = 0.299 R + 0.587 G + 0.114 B`` as float64 ``(H, W)``."""
    return frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """SSIM (Wang et al. 2004) of the luminance: Gaussian window sigma 1.5, K1 0.01, K2 0.03, data
    range 255 — scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255)``, whose mean leaves out a 5-pixel border where the
    window does not fit; with a mask, the mean of its SSIM map over the masked pixels of that interior.
    """
    _check(pred, truth, mask)
    full, inner = _ssim_map(pred, truth)
    return _masked_mean(full, inner if mask is None else inner & mask)


def _ssim_map(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The SSIM map ``(H, W)`` of the luminances and the interior where scikit-image averages it."""
    _, full = structural_similarity(luminance(pred), luminance(truth), gaussian_weights=True, sigma=_SSIM_SIGMA,
                                    use_sample_covariance=False, data_range=255, full=True)
    pad = int(_SSIM_TRUNCATE * _SSIM_SIGMA + 0.5)
    inner = np.zeros(full.shape, bool)
    inner[pad:-pad, pad:-pad] = True
    return full, inner


def _gradient_sum(frame: np.ndarray) -> np.ndarray:
    """``|F[i,j] - F[i-1,j]| + |F[i,j] - F[i,j-1]|`` for i, j >= 1: float64 ``(H-1, W-1, 3)``."""
    f = frame.astype(np.float64)
    return np.abs(f[1:, 1:] - f[:-1, 1:]) + np.abs(f[1:, 1:] - f[1:, :-1])


def sharpness_difference(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The paper's sharpness difference, ``10 log10(255^2 / mean |(grad_i T + grad_j T) - (grad_i P +
    grad_j P)|)`` over the RGB values of the interior pixels (i, j >= 1; of the mask), capped at
    :data:`PSNR_CAP` when the gradients agree exactly.

    Example:
        >>> t = np.zeros((3, 3, 3), np.uint8); t[1:, 1:] = 10; p = np.zeros_like(t)
        >>> round(sharpness_difference(p, t), 2)  # gradients 10 + 10, 10 + 0, 0 + 10, 0: mean 10
        38.13
    """
    _check(pred, truth, mask)
    diff = np.abs(_gradient_sum(truth) - _gradient_sum(pred))
    return _decibels(_masked_mean(diff, None if mask is None else mask[1:, 1:]))


# The authors' test script (coupriec/VideoPredictionICLR2016, test-frame-prediction-on-ucf-rec_gdl.lua
# with image_error_measures.lua): frames in [-1, 1], the MSE scaled by 128^2 and floored at 1e-4,
# and a frame left out of the averages when its PSNR reaches 50 dB.
AUTHORS_SCALE, AUTHORS_FLOOR, AUTHORS_PSNR_CUT = 128.0, 1e-4, 50.0


def authors_scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The measure of the authors' released test script: the pixels outside the moving region set
    to the same value in the prediction and the truth (their -1, black), then PSNR, SSIM and
    sharpness over the WHOLE frame, so that every still pixel counts as a perfect one. Their PSNR
    is ``10 log10(255^2 / max(128^2 MSE, 1e-4))`` with the MSE of [-1, 1] values (x / 127.5 - 1);
    frames scoring >= :data:`AUTHORS_PSNR_CUT` are left out of their averages (the caller's
    part: a clip whose moving region is empty always is, at 88 dB).

    Only their aggregation is reproduced: the mask is this project's (:func:`motion_mask`; they
    thresholded precomputed colour-coded flow images), the SSIM is :func:`ssim`'s over the whole
    masked frame (theirs convolves with zero padding and averages the larger 'full' map), and the
    sharpness is the paper's formula (:func:`sharpness_difference`) on the masked frames (their
    code sums per-direction differences and scales by 128^2). Moving a tenth of the pixels, it
    reads about 10 dB above the moving-region mean (10 log10(N / N_moving)).

    Returns:
        ``{"authors_psnr", "authors_ssim", "authors_sharpness"}``.

    Example:
        >>> t = np.zeros((16, 16, 3), np.uint8); p = t.copy(); p[0, 0] = 10; m = np.zeros((16, 16), bool)
        >>> m[0, 0] = True  # one moving pixel of 256: MSE (10 / 127.5)^2 / 256, scaled by 128^2
        >>> round(authors_scores(p, t, m)["authors_psnr"], 2)
        52.18
    """
    _check(pred, truth, mask)
    p, t = np.where(mask[..., None], pred, 0), np.where(mask[..., None], truth, 0)
    mse = float(np.mean(((p.astype(np.float64) - t) / 127.5) ** 2))
    return {"authors_psnr": float(10 * np.log10(255.0 ** 2 / max(AUTHORS_SCALE ** 2 * mse, AUTHORS_FLOOR))),
            "authors_ssim": ssim(p, t), "authors_sharpness": sharpness_difference(p, t)}


AUTHORS_SCORES = ("authors_psnr", "authors_ssim", "authors_sharpness")
SCORES = ("psnr", "ssim", "sharpness", "psnr_full", "ssim_full", "sharpness_full", *AUTHORS_SCORES)


def frame_scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Every metric of a predicted frame, on the moving regions ``mask`` (``psnr``, ``ssim``,
    ``sharpness``; NaN when the mask is empty), on the whole frame (``*_full``; the SSIM map is
    computed once for both) and by the authors' measure (``authors_*``, :func:`authors_scores`)."""
    _check(pred, truth, mask)
    full, inner = _ssim_map(pred, truth)
    return {"psnr": psnr(pred, truth, mask), "ssim": _masked_mean(full, inner & mask),
            "sharpness": sharpness_difference(pred, truth, mask), "psnr_full": psnr(pred, truth),
            "ssim_full": _masked_mean(full, inner), "sharpness_full": sharpness_difference(pred, truth),
            **authors_scores(pred, truth, mask)}


def optical_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Farneback dense flow ``F`` from ``source`` to ``target`` (RGB frames): ``target(p + F(p)) ~
    source(p)``, float32 ``(H, W, 2)`` as (dx, dy)."""
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (source, target)]
    return cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)


def motion_mask(before: np.ndarray, target: np.ndarray, threshold: float) -> np.ndarray:
    """The moving regions of ``target``: optical-flow magnitude from ``before`` (the true frame
    preceding it) greater than ``threshold`` pixels. bool ``(H, W)``."""
    flow = optical_flow(before, target)
    return np.hypot(flow[..., 0], flow[..., 1]) > threshold


def last_frame_baseline(inputs: np.ndarray) -> np.ndarray:
    """The last input frame, as the prediction of the next: ``inputs`` ``(m, H, W, 3)`` -> ``(H, W, 3)``."""
    return inputs[-1].copy()


def optical_flow_baseline(inputs: np.ndarray) -> np.ndarray:
    """One more step of the motion between the last two inputs: with ``F`` the flow from the last
    frame to the previous one, ``pred(p) = last(p + F(p))`` (where the content at p came from one
    step back, it moves one step further). ``inputs`` ``(m, H, W, 3)`` -> ``(H, W, 3)``.
    """
    last = np.ascontiguousarray(inputs[-1])
    flow = optical_flow(last, inputs[-2])
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    where = grid + flow
    return cv2.remap(last, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
