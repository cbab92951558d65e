"""Image quality metrics of the paper (section 4), on uint8 frames: the 0..255 scale a viewer sees.

Frames are ``(H, W, 3)`` RGB. Each metric can be restricted to a mask ``(H, W)`` (the moving
regions: :func:`motion_mask`); it then averages over the masked pixels only, and is NaN when the
mask is empty, so that such a clip can be left out of an average. That is this project's measure
(``moving_mean``); :func:`authors_scores` is the one of the authors' released test script, which
Table 2's figures come from (``authors``).

Below them, measures of an uncertain future (sharpness ratios, commitment to one future, samples'
coverage of the futures, PSNR pooled over clips), beside the paper's scores and changing none of them.
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


def mse(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The mean squared error over the RGB values (of the masked pixels), 0..255 scale; NaN for an
    empty mask."""
    _check(pred, truth, mask)
    diff = pred.astype(np.float64) - truth.astype(np.float64)
    return _masked_mean(diff * diff, mask)


def psnr_of_mse(mean: float) -> float:
    """``10 log10(255^2 / mean)`` of a mean squared error (0..255 scale), capped at :data:`PSNR_CAP`;
    NaN stays NaN. Of an MSE averaged over clips, it is their pooled PSNR (:func:`pooled_psnr`)."""
    return _decibels(mean)


def psnr(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """``10 log10(255^2 / MSE)`` over the RGB values (of the masked pixels), capped at
    :data:`PSNR_CAP` for identical frames.

    Example:
        >>> a = np.zeros((4, 4, 3), np.uint8)
        >>> psnr(a, a), round(psnr(a + 10, a), 2)
        (100.0, 28.13)
    """
    return _decibels(mse(pred, truth, mask))


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
# No-reference sharpness against the truth's, and the squared error a pooled PSNR averages (the
# paper's sharpness difference cannot tell a blurred mean of futures from a sharp one: its L1 of
# gradients is linear in the blend).
SHARPNESS_SCORES = ("gradient_ratio", "gradient_log_ratio", "laplacian_ratio", "mse")
SCORES = ("psnr", "ssim", "sharpness", "psnr_full", "ssim_full", "sharpness_full", *AUTHORS_SCORES,
          *SHARPNESS_SCORES)


def frame_scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Every metric of a predicted frame, on the moving regions ``mask`` (``psnr``, ``ssim``,
    ``sharpness``; NaN when the mask is empty), on the whole frame (``*_full``; the SSIM map is
    computed once for both), by the authors' measure (``authors_*``, :func:`authors_scores`) and,
    on the moving regions, the sharpness ratios to the truth's and the squared error
    (:func:`sharpness_scores`)."""
    _check(pred, truth, mask)
    full, inner = _ssim_map(pred, truth)
    return {"psnr": psnr(pred, truth, mask), "ssim": _masked_mean(full, inner & mask),
            "sharpness": sharpness_difference(pred, truth, mask), "psnr_full": psnr(pred, truth),
            "ssim_full": _masked_mean(full, inner), "sharpness_full": sharpness_difference(pred, truth),
            **authors_scores(pred, truth, mask), **sharpness_scores(pred, truth, mask)}


def sharpness_scores(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None) -> dict[str, float]:
    """:data:`SHARPNESS_SCORES` of a predicted frame on ``mask``: :func:`gradient_energy_ratio`, its
    :func:`log_ratio`, :func:`laplacian_variance_ratio` and :func:`mse`."""
    gradient = gradient_energy_ratio(pred, truth, mask)
    return {"gradient_ratio": gradient, "gradient_log_ratio": log_ratio(gradient),
            "laplacian_ratio": laplacian_variance_ratio(pred, truth, mask), "mse": mse(pred, truth, mask)}


def optical_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Farneback dense flow ``F`` from ``source`` to ``target`` (RGB frames): ``target(p + F(p)) ~
    source(p)``, float32 ``(H, W, 2)`` as (dx, dy)."""
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (source, target)]
    return cv2.calcOpticalFlowFarneback(gray[0], gray[1], None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)


def motion_mask(before: np.ndarray, target: np.ndarray, threshold: float) -> np.ndarray:
    """The moving regions of ``target``: optical-flow magnitude from ``before`` (the true frame
    preceding it) greater than ``threshold`` pixels; none where not one pixel there changed from
    ``before``. bool ``(H, W)``.

    A region whose pixels all kept their values is the flow's noise, not motion: on real footage
    (the box clip of experiments/footage.py) the flow marks 2 unchanged pixels of a frame, where
    copying the last frame scores the 100 dB cap and outweighs every other clip's moving-region PSNR
    in a mean.

    Example:
        >>> still = np.zeros((32, 32, 3), np.uint8); still[8:16, 8:16] = 200
        >>> moved = np.roll(still, 3, axis=1)
        >>> int(motion_mask(still, moved, 1.0).sum()) > 0, int(motion_mask(still, still, 1.0).sum())
        (True, 0)
    """
    flow = optical_flow(before, target)
    mask = np.hypot(flow[..., 0], flow[..., 1]) > threshold
    if mask.any() and (before[mask] == target[mask]).all():
        mask[:] = False
    return mask


def last_frame_baseline(inputs: np.ndarray) -> np.ndarray:
    """The last input frame, as the prediction of the next: ``inputs`` ``(m, H, W, 3)`` -> ``(H, W, 3)``."""
    return inputs[-1].copy()


def optical_flow_baseline(inputs: np.ndarray) -> np.ndarray:
    """One more step of the motion between the last two inputs: with ``F`` the flow from the last
    frame to the previous one, ``pred(p) = last(p + F(p))`` (where the content at p came from one
    step back, it moves one step further). ``inputs`` ``(m, H, W, 3)`` -> ``(H, W, 3)``.
    """
    last = np.ascontiguousarray(inputs[-1])
    return warp(last, optical_flow(last, inputs[-2]))


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``frame`` sampled at ``p + flow(p)``: ``out(p) = frame(p + flow(p))``, bilinear, the border's
    pixels repeated beyond it. ``frame`` ``(H, W, C)`` (any dtype OpenCV remaps), ``flow`` ``(H, W, 2)``
    as (dx, dy) -> ``(H, W, C)`` of ``frame``'s dtype. An integer flow moves pixels exactly.

    Example:
        >>> f = np.arange(12, dtype=np.uint8).reshape(1, 4, 3)
        >>> warp(f, np.tile(np.float32([1, 0]), (1, 4, 1)))[0, :, 0].tolist()  # each pixel takes its right neighbour's
        [3, 6, 9, 9]
    """
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    where = grid + flow
    return cv2.remap(np.ascontiguousarray(frame), where[..., 0], where[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


# ------------------------------------------------------------------------------------------------
# Measures of an uncertain future. Where the future branches (a square that may go left or right),
# the MSE-optimal prediction is the blurred mean of the branches: it scores more PSNR than a sharp
# guess of one branch and is less sharp. These measure what the paper's scores cannot tell apart:
# how sharp a prediction is against its truth, whether it commits to one future or averages them,
# how many of the futures a set of samples reaches, and PSNR pooled so that an exact lucky guess
# does not bring in the 100 dB cap.


def _check_frame(frame: np.ndarray, mask: np.ndarray | None) -> None:
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"frame must be (H, W, 3), got {frame.shape}")
    if mask is not None and mask.shape != frame.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {frame.shape[:2]}, got {mask.shape}")


def _check_stack(stack: np.ndarray, frame: np.ndarray, mask: np.ndarray | None, names: str) -> None:
    """``stack`` must be frames ``(K, H, W, 3)`` (K >= 1) of ``frame``'s shape ``(H, W, 3)``."""
    if stack.ndim != 4 or len(stack) == 0 or stack.shape[1:] != frame.shape or frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"{names} must be frames (K, H, W, 3) with K >= 1 and a frame (H, W, 3) of their shape, "
                         f"got {stack.shape} and {frame.shape}")
    if mask is not None and mask.shape != frame.shape[:2]:
        raise ValueError(f"mask must be (H, W) = {frame.shape[:2]}, got {mask.shape}")


def _ratio(pred_value: float, truth_value: float) -> float:
    """``pred_value / truth_value``; NaN where the truth's is 0 or NaN (nothing to compare against)."""
    if not truth_value > 0:
        return float("nan")
    return float(pred_value / truth_value)


def gradient_energy(frame: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean over the (masked) pixels of the squared gradient magnitude of the luminance,
    ``(Y[i+1,j] - Y[i,j])^2 + (Y[i,j+1] - Y[i,j])^2``: forward differences of neighbours, as the
    paper's sharpness and gradient difference loss take, which see the finest detail (a one-pixel
    checkerboard) that central differences miss. The last row and column are replicated (a
    difference of 0 across the border), so every pixel has a value and the frame's edge is no edge.
    ``frame`` ``(H, W, 3)``, ``mask`` ``(H, W)``; NaN for an empty mask.

    Example:
        >>> f = np.zeros((3, 3, 3), np.uint8); f[:, 2] = 10  # an edge: 10^2 at column 1, 0 elsewhere
        >>> m = np.zeros((3, 3), bool); m[:, 1] = True
        >>> round(gradient_energy(f), 6), round(gradient_energy(f, m), 6)  # 3 x 100 / 9, 3 x 100 / 3
        (33.333333, 100.0)
    """
    _check_frame(frame, mask)
    y = np.pad(luminance(frame), ((0, 1), (0, 1)), mode="edge")
    energy = np.diff(y, axis=0)[:, :-1] ** 2 + np.diff(y, axis=1)[:-1] ** 2
    return _masked_mean(energy, mask)


def gradient_energy_ratio(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """:func:`gradient_energy` of ``pred`` over that of ``truth`` (same mask): 1 for a prediction as
    sharp as its truth, below 1 for a blurred one (the mean of two equally likely disjoint futures:
    half of each edge's contrast on twice the edges, 0.5), above 1 for added noise (see
    :func:`log_ratio`). NaN where the truth has no gradient there or the mask is empty.
    """
    _check(pred, truth, mask)
    return _ratio(gradient_energy(pred, mask), gradient_energy(truth, mask))


def laplacian_variance(frame: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance (population, ddof 0) over the (masked) pixels of the luminance's Laplacian:
    ``cv2.Laplacian(Y, CV_64F, ksize=1)``, the 3x3 kernel ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``
    with OpenCV's default border (reflect-101: ``d c b | a b c d``). ``frame`` ``(H, W, 3)``,
    ``mask`` ``(H, W)``; NaN for an empty mask.

    Example:
        >>> f = np.zeros((5, 5, 3), np.uint8); f[2, 2] = 10  # Laplacian -40 there, 10 at its 4 neighbours
        >>> round(laplacian_variance(f), 9)  # mean 0 over 25 pixels: (40^2 + 4 x 10^2) / 25
        80.0
    """
    _check_frame(frame, mask)
    lap = cv2.Laplacian(luminance(frame), cv2.CV_64F, ksize=1)
    if mask is None:
        return float(lap.var())
    return float(lap[mask].var()) if mask.any() else float("nan")


def laplacian_variance_ratio(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """:func:`laplacian_variance` of ``pred`` over that of ``truth`` (same mask): 1 as sharp, below 1
    blurred, above 1 noisy; NaN where the truth's is 0 or the mask is empty."""
    _check(pred, truth, mask)
    return _ratio(laplacian_variance(pred, mask), laplacian_variance(truth, mask))


def log_ratio(r: float) -> float:
    """``|log r|``: how far a sharpness ratio is from 1 either way. Noise raises a ratio above 1,
    which is not sharpness, so a ratio of 1.2 is no better than one of 1 / 1.2; report this beside
    the ratio. NaN stays NaN, 0 gives infinity.

    Example:
        >>> log_ratio(1.0), round(log_ratio(0.5), 4), round(log_ratio(2.0), 4)
        (0.0, 0.6931, 0.6931)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.abs(np.log(np.float64(r))))


def union_motion_mask(before: np.ndarray, futures: np.ndarray, threshold: float) -> np.ndarray:
    """The union over the K futures ``(K, H, W, 3)`` of :func:`motion_mask` ``(before_k, future_k,
    threshold)``: bool ``(H, W)``; ``before`` is the frame every future follows ``(H, W, 3)``, or
    each future's own frame before ``(K, H, W, 3)`` (a later step of diverging futures). Scoring a
    prediction on one future's moving region alone would leave out a blurred mean's ghost on the
    other branch, and miss what it costs."""
    _check_stack(futures, before if before.ndim == 3 else before[0], None, "futures and before")
    if before.ndim != 3 and before.shape != futures.shape:
        raise ValueError(f"futures and before: before must be a frame (H, W, 3) or one a future {futures.shape}, "
                         f"got {before.shape}")
    befores = np.broadcast_to(before, futures.shape)
    return np.logical_or.reduce([motion_mask(b, future, threshold) for b, future in zip(befores, futures)])


def _distances(pred: np.ndarray, futures: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """L2 distances (float64, over the RGB values of the masked pixels) from ``pred`` to each of
    ``futures`` ``(K, H, W, 3)``: ``(K,)``."""
    _check_stack(futures, pred, mask, "futures and pred")
    diff = futures.astype(np.float64) - pred.astype(np.float64)
    if mask is not None:
        diff = diff[:, mask]
    return np.sqrt((diff * diff).reshape(len(diff), -1).sum(axis=1))


def nearest_future(pred: np.ndarray, futures: np.ndarray, mask: np.ndarray | None = None) -> int:
    """Index of the future ``(K, H, W, 3)`` nearest ``pred`` ``(H, W, 3)`` in L2 over the masked
    pixels; a tie goes to the lowest index (the mean of two futures: 0).

    Example:
        >>> futures = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 10, np.uint8)])
        >>> nearest_future(futures[1] - 3, futures), nearest_future(futures[0] + 5, futures)
        (1, 0)
    """
    return int(np.argmin(_distances(pred, futures, mask)))


def commits(pred: np.ndarray, futures: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """Whether ``pred`` ``(H, W, 3)`` commits to a future: strictly closer in L2 (float64, over the
    masked pixels) to its nearest future of ``futures`` ``(K, H, W, 3)`` than to the futures' mean
    (their per-pixel float64 mean, not rounded). The mean itself does not; a copy of one future
    does (unless the futures are all alike)."""
    mean = futures.astype(np.float64).mean(axis=0)
    return bool(_distances(pred, futures, mask).min() < _distances(pred, mean[None], mask)[0])


def coverage(samples: np.ndarray, futures: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The share of the K futures ``(K, H, W, 3)`` that are some sample's :func:`nearest_future`,
    of samples ``(N, H, W, 3)``: 1 when every future is reached, 1 / K when all samples fall to one.

    Example:
        >>> futures = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 10, np.uint8)])
        >>> coverage(futures, futures), coverage(futures[:1].repeat(3, axis=0), futures)
        (1.0, 0.5)
    """
    _check_stack(samples, futures[0], mask, "samples and futures")
    reached = {nearest_future(sample, futures, mask) for sample in samples}
    return len(reached) / len(futures)


def best_of_n(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None, measure=psnr) -> float:
    """The best score of N samples ``(N, H, W, 3)`` against ``truth`` ``(H, W, 3)``: the max over
    samples of ``measure(sample, truth, mask)`` (a higher-is-better measure: :func:`psnr`,
    :func:`ssim`, :func:`sharpness_difference`). NaN if any score is (an empty mask)."""
    _check_stack(samples, truth, mask, "samples and truth")
    return float(np.max([measure(sample, truth, mask) for sample in samples]))


def mean_of_n(samples: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None, measure=psnr) -> float:
    """The mean over samples ``(N, H, W, 3)`` of ``measure(sample, truth, mask)`` (an exact sample's
    :func:`psnr` counts as :data:`PSNR_CAP`); NaN if any score is."""
    _check_stack(samples, truth, mask, "samples and truth")
    return float(np.mean([measure(sample, truth, mask) for sample in samples]))


def diversity(samples: np.ndarray, mask: np.ndarray | None = None) -> float:
    """The mean over the N (N - 1) / 2 pairs of samples ``(N, H, W, 3)`` of their RMS difference
    over the RGB values of the masked pixels, on the 0..255 scale: 0 for identical samples, NaN for
    fewer than 2 samples or an empty mask.

    Example:
        >>> s = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 6, np.uint8)])
        >>> diversity(s), diversity(np.concatenate([s, s[:1]]))  # pairs 6, 0, 6: mean 4
        (6.0, 4.0)
    """
    if samples.ndim != 4 or samples.shape[-1] != 3:
        raise ValueError(f"samples must be frames (N, H, W, 3), got {samples.shape}")
    if mask is not None and mask.shape != samples.shape[1:3]:
        raise ValueError(f"mask must be (H, W) = {samples.shape[1:3]}, got {mask.shape}")
    if len(samples) < 2 or (mask is not None and not mask.any()):
        return float("nan")
    pairs = [(i, j) for i in range(len(samples)) for j in range(i + 1, len(samples))]
    return float(np.mean([np.sqrt(_masked_mean((samples[i].astype(np.float64) - samples[j]) ** 2, mask))
                          for i, j in pairs]))


def pooled_psnr(preds: np.ndarray, truths: np.ndarray, masks: np.ndarray | None = None) -> float:
    """PSNR of the MSE pooled over clips: each clip's MSE over the RGB values of its masked pixels,
    averaged over the clips with equal weight (however many pixels each mask holds), converted to dB
    once (capped at :data:`PSNR_CAP` only if every clip is exact). Clips whose mask is empty are
    left out; NaN if none is left. ``preds``, ``truths`` ``(N, H, W, 3)`` (one frame a clip) or
    ``(N, T, H, W, 3)``; ``masks`` their shape without the last axis.

    The mean of per-clip PSNRs instead rewards an exact lucky guess with the 100 dB cap: a sharp
    guess of one of two equally likely futures averages (100 + x) / 2 dB, while its pooled PSNR is
    that of its expected MSE.

    Example:
        >>> t = np.zeros((2, 4, 4, 3), np.uint8); p = t.copy(); p[1] = 10  # MSEs 0 and 100: mean 50
        >>> round(pooled_psnr(p, t), 2), round(float(np.mean([psnr(a, b) for a, b in zip(p, t)])), 2)
        (31.14, 64.07)
    """
    if preds.shape != truths.shape or preds.ndim not in (4, 5) or preds.shape[-1] != 3:
        raise ValueError(f"preds and truths must be clips (N, H, W, 3) or (N, T, H, W, 3) of one shape, "
                         f"got {preds.shape} and {truths.shape}")
    if masks is not None and masks.shape != preds.shape[:-1]:
        raise ValueError(f"masks must be {preds.shape[:-1]}, got {masks.shape}")
    diff = preds.astype(np.float64) - truths.astype(np.float64)
    mses = np.array([_masked_mean(d * d, m) for d, m in zip(diff, [None] * len(diff) if masks is None else masks)])
    mses = mses[~np.isnan(mses)]
    return psnr_of_mse(mses.mean()) if len(mses) else float("nan")
