"""pyext.evaluation.metrics, the measures of an uncertain future, on constructed cases: a 32x32 grey
frame whose bright 6x6 square moves 8 pixels left or right with equal chance (two futures), worked
by hand; blur and noise against sharpness ratios; the Laplacian's variance against scipy; sample
sets against hand-computed best, mean, diversity and coverage; pooled PSNR by hand."""
import cv2
import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio

from pyext.evaluation.metrics import (
    PSNR_CAP,
    best_of_n,
    commits,
    coverage,
    diversity,
    gradient_energy,
    gradient_energy_ratio,
    laplacian_variance,
    laplacian_variance_ratio,
    log_ratio,
    luminance,
    mean_of_n,
    motion_mask,
    nearest_future,
    pooled_psnr,
    psnr,
    ssim,
    union_motion_mask,
)

GREY, BRIGHT, SIZE, SHIFT = 64.0, 192.0, 6, 8  # the square starts at x = y = 13: futures at x = 5 and 21


def _render(x0: float, y0: float = 13.0, h: int = 32, w: int = 32) -> np.ndarray:
    """A grey float frame (H, W, 3) with the bright square at (x0, y0); a pixel the square's edge
    cuts takes the share of it the square covers."""
    def cover(start, n):
        i = np.arange(n)
        return np.clip(np.minimum(i + 1, start + SIZE) - np.maximum(i, start), 0, 1)
    share = np.outer(cover(y0, h), cover(x0, w))
    return np.repeat((GREY + (BRIGHT - GREY) * share)[..., None], 3, axis=-1)


def _u8(frame: np.ndarray) -> np.ndarray:
    return np.round(frame).clip(0, 255).astype(np.uint8)


def _two_futures():
    """The frame before and the two futures (2, 32, 32, 3): the square 8 pixels left, 8 right."""
    return _u8(_render(13)), np.stack([_u8(_render(13 - SHIFT)), _u8(_render(13 + SHIFT))])


def _mean(futures: np.ndarray) -> np.ndarray:
    """The futures' mean as a uint8 prediction: exact here, (64 + 192) / 2 = 128 where one square was."""
    return _u8(futures.astype(np.float64).mean(axis=0))


# ------------------------------------------------------------------------- the hand-worked case


def test_gradient_energy_of_the_square_by_hand():
    _, (left, _) = _two_futures()
    # Forward differences of a 6x6 square of contrast 128: 6 rows with a left and a right edge,
    # 6 columns with a top and a bottom one, 128^2 each, over 32 x 32 pixels.
    assert gradient_energy(left) == pytest.approx(24 * 128 ** 2 / 1024, rel=1e-12)  # 384


def test_mean_of_two_futures_is_half_as_sharp_and_does_not_commit():
    _, futures = _two_futures()
    mean = _mean(futures)
    # By hand: the mean holds both squares at contrast 64, twice the edges at half the contrast:
    # 2 x 24 x 64^2 against 24 x 128^2, a ratio of exactly 1/2 (the squares are 10 pixels apart).
    for future in futures:
        assert gradient_energy_ratio(mean, future) == pytest.approx(0.5, abs=1e-12)
        assert laplacian_variance_ratio(mean, future) == pytest.approx(0.5, abs=1e-12)
    assert not commits(mean, futures)
    assert nearest_future(mean, futures) == 0  # equally near both: the tie goes to the lowest index


def test_a_sharp_copy_of_one_future_commits():
    _, futures = _two_futures()
    for k, future in enumerate(futures):
        copy = future.copy()
        assert gradient_energy_ratio(copy, future) == 1.0
        assert gradient_energy_ratio(copy, futures[1 - k]) == 1.0  # as sharp as the other branch too
        assert laplacian_variance_ratio(copy, future) == 1.0
        assert commits(copy, futures)
        assert nearest_future(copy, futures) == k


def test_mean_against_a_sharp_guess_in_psnr():
    _, (left, right) = _two_futures()
    mean = _mean(np.stack([left, right]))
    # Truth `right`: the mean is 64 off on both squares (72 pixels), the sharp wrong guess `left`
    # 128 off on both: MSEs 72 x 64^2 / 1024 = 288 and 1152, a factor of 4: 6.02 dB apart.
    assert psnr(mean, right) == pytest.approx(10 * np.log10(255 ** 2 / 288), abs=1e-9)  # 23.54 dB
    assert psnr(left, right) == pytest.approx(10 * np.log10(255 ** 2 / 1152), abs=1e-9)  # 17.52 dB
    assert psnr(mean, right) - psnr(left, right) == pytest.approx(10 * np.log10(4), abs=1e-9)  # 6.02 dB
    # The 3.01 dB is the gap in expectation over the coin: a sharp guess is right (MSE 0)
    # or wrong (1152) with equal chance, an expected MSE of 576 against the mean's 288, a factor of 2.
    truths = np.stack([left, right])  # the two equally likely truths
    sharp, blurred = pooled_psnr(np.stack([left, left]), truths), pooled_psnr(np.stack([mean, mean]), truths)
    assert blurred - sharp == pytest.approx(10 * np.log10(2), abs=1e-9)  # 3.0103 dB
    # Averaged per clip instead, the right guess's 100 dB cap makes the sharp guess look far better.
    per_clip_sharp = np.mean([psnr(left, left), psnr(left, right)])
    assert per_clip_sharp == pytest.approx((PSNR_CAP + 10 * np.log10(255 ** 2 / 1152)) / 2)  # 58.76 dB
    assert per_clip_sharp > psnr(mean, right) + 30


def test_masks_of_both_branches_see_the_ghost():
    before, futures = _two_futures()
    mean = _mean(futures)
    left_square, right_square = np.s_[13:19, 5:11], np.s_[13:19, 21:27]
    one = motion_mask(before, futures[0], threshold=3.0)
    union = union_motion_mask(before, futures, threshold=3.0)
    assert one[left_square].all() and not one[right_square].any()  # one future's mask: its branch only
    assert union[left_square].all() and union[right_square].all()
    np.testing.assert_array_equal(union, one | motion_mask(before, futures[1], threshold=3.0))
    # Each future from a frame of its own: future 0 from itself moves nowhere, future 1 from before.
    own = union_motion_mask(np.stack([futures[0], before]), futures, threshold=3.0)
    np.testing.assert_array_equal(own, motion_mask(before, futures[1], threshold=3.0))
    # On the union the ratio is the whole frame's 1/2; on one branch's mask the ghost is left out
    # and only that square's halved contrast counts: 64^2 / 128^2 = 1/4.
    assert gradient_energy_ratio(mean, futures[0], union) == pytest.approx(0.5, abs=1e-12)
    assert gradient_energy_ratio(mean, futures[0], one) == pytest.approx(0.25, abs=1e-12)


def test_mean_of_unequally_sharp_futures():
    # Edges at different sub-pixel phases: the left square sits on the pixel grid up to 0.05, the
    # right one straddles half pixels, so its rendered edges are softer. With disjoint edges the
    # mean's energy is (E_left + E_right) / 4: the ratio against the left is below 1/2, against the
    # right above; rounding the mean to uint8 moves it by less than 1e-3.
    left, right = _u8(_render(7.05)), _u8(_render(19.55))
    mean = _u8((_render(7.05) + _render(19.55)) / 2)
    e_left, e_right = gradient_energy(left), gradient_energy(right)
    assert e_right < e_left
    assert gradient_energy_ratio(mean, left) == pytest.approx((e_left + e_right) / (4 * e_left), abs=1e-3)
    assert gradient_energy_ratio(mean, right) == pytest.approx((e_left + e_right) / (4 * e_right), abs=1e-3)
    assert 0.4 < gradient_energy_ratio(mean, left) < 0.5 < gradient_energy_ratio(mean, right) < 0.6


# --------------------------------------------------------------------------- blur, noise, borders


def test_blur_lowers_both_ratios_more_with_sigma():
    future = _render(5)
    ratios = [(gradient_energy_ratio(_u8(cv2.GaussianBlur(future, (0, 0), s)), _u8(future)),
               laplacian_variance_ratio(_u8(cv2.GaussianBlur(future, (0, 0), s)), _u8(future)))
              for s in (0.5, 1.0, 2.0, 3.0)]
    gradient, laplacian = np.array(ratios).T
    assert (gradient < 1).all() and (np.diff(gradient) < 0).all()
    assert (laplacian < 1).all() and (np.diff(laplacian) < 0).all()
    assert log_ratio(gradient[0]) > 0


def test_noise_raises_both_ratios_above_one():
    future = _render(5)
    noisy = _u8(future + np.random.default_rng(0).normal(0, 8, future.shape))
    for ratio in (gradient_energy_ratio(noisy, _u8(future)), laplacian_variance_ratio(noisy, _u8(future))):
        assert ratio > 1.1
        assert log_ratio(ratio) == pytest.approx(np.log(ratio)) and log_ratio(ratio) > 0


def test_log_ratio_is_symmetric():
    assert log_ratio(1.0) == 0.0
    assert log_ratio(2.0) == pytest.approx(np.log(2)) and log_ratio(0.5) == pytest.approx(np.log(2))
    assert np.isnan(log_ratio(float("nan")))
    assert log_ratio(0.0) == np.inf


def test_gradient_energy_sees_a_checkerboard_and_replicates_the_border():
    board = _u8(255 * (np.indices((8, 8)).sum(axis=0) % 2)[..., None].repeat(3, axis=-1))
    inner = np.zeros((8, 8), bool)
    inner[:-1, :-1] = True  # pixels with a right and a lower neighbour: both differences 255 (in Y)
    y = luminance(board)
    assert gradient_energy(board, inner) == pytest.approx(2 * (y.max() - y.min()) ** 2)
    # The last column has no right neighbour: only its vertical difference counts there.
    column = np.zeros((8, 8), bool)
    column[:-1, -1] = True
    assert gradient_energy(board, column) == pytest.approx((y.max() - y.min()) ** 2)
    corner = np.zeros((8, 8), bool)
    corner[-1, -1] = True
    assert gradient_energy(board, corner) == 0.0
    assert np.isnan(gradient_energy(board, np.zeros((8, 8), bool)))


def test_laplacian_variance_against_scipy():
    rng = np.random.default_rng(1)
    frame = _u8(cv2.GaussianBlur(rng.uniform(0, 255, (24, 20, 3)), (0, 0), 1.0))
    y = luminance(frame)
    # scipy's 'mirror' is OpenCV's reflect-101: the whole frame agrees.
    assert laplacian_variance(frame) == pytest.approx(np.var(ndimage.laplace(y, mode="mirror")), rel=1e-9)
    # scipy's default border ('reflect') differs at the border only: agree on the interior.
    inner = np.zeros(y.shape, bool)
    inner[1:-1, 1:-1] = True
    expected = np.var(ndimage.laplace(y)[1:-1, 1:-1])
    assert laplacian_variance(frame, inner) == pytest.approx(expected, rel=1e-9)
    assert laplacian_variance(frame, inner) != pytest.approx(laplacian_variance(frame), rel=1e-3)
    assert np.isnan(laplacian_variance(frame, np.zeros_like(inner)))


def test_ratios_are_nan_without_a_truth_gradient_or_pixels():
    flat = np.full((8, 8, 3), 50, np.uint8)
    square = _u8(_render(1, 1, 8, 8))
    assert np.isnan(gradient_energy_ratio(square, flat)) and np.isnan(laplacian_variance_ratio(square, flat))
    empty = np.zeros((8, 8), bool)
    assert np.isnan(gradient_energy_ratio(square, square, empty))
    assert np.isnan(laplacian_variance_ratio(square, square, empty))


# --------------------------------------------------------------------------------- sample sets


def test_best_and_mean_of_n_against_skimage():
    _, (left, right) = _two_futures()
    samples = np.stack([left, _u8(cv2.GaussianBlur(_render(21), (0, 0), 1.0)), _mean(np.stack([left, right]))])
    by_skimage = [peak_signal_noise_ratio(right, s, data_range=255) for s in samples]
    assert best_of_n(samples, right) == pytest.approx(max(by_skimage))
    assert mean_of_n(samples, right) == pytest.approx(sum(by_skimage) / 3)
    with_truth = np.concatenate([samples, right[None]])
    assert best_of_n(with_truth, right) == psnr(right, right) == PSNR_CAP  # the right future is a sample
    assert mean_of_n(with_truth, right) == pytest.approx((sum(by_skimage) + PSNR_CAP) / 4)
    assert best_of_n(samples, right, measure=ssim) == pytest.approx(max(ssim(s, right) for s in samples))
    mask = np.zeros((32, 32), bool)
    mask[13:19, 21:27] = True  # the right square: the mean is 64 off everywhere there
    assert mean_of_n(samples[2:], right, mask) == pytest.approx(10 * np.log10(255 ** 2 / 64 ** 2))
    assert np.isnan(best_of_n(samples, right, np.zeros_like(mask)))


def test_diversity_by_hand():
    base = _u8(_render(5))
    assert diversity(np.stack([base, base, base])) == 0.0
    assert diversity(np.stack([base, base + 6])) == pytest.approx(6.0)  # RMS of a constant 6
    assert diversity(np.stack([base, base + 6, base + 6])) == pytest.approx((6 + 6 + 0) / 3)
    red = base.copy()
    red[..., 0] += 6  # one channel of three: RMS sqrt(36 / 3)
    assert diversity(np.stack([base, red])) == pytest.approx(np.sqrt(12))
    part = base.copy()
    part[:, :16] += 6
    half = np.zeros((32, 32), bool)
    half[:, 8:24] = True  # half the masked pixels differ: RMS sqrt(36 / 2)
    assert diversity(np.stack([base, part]), half) == pytest.approx(np.sqrt(18))
    assert np.isnan(diversity(base[None])) and np.isnan(diversity(np.stack([base, part]), np.zeros_like(half)))


def test_coverage_and_nearest_future():
    _, futures = _two_futures()
    assert coverage(futures, futures) == 1.0
    assert coverage(np.stack([futures[0], futures[0]]), futures) == 0.5
    noisy_right = _u8(futures[1] + np.random.default_rng(2).normal(0, 10, futures[1].shape))
    assert nearest_future(noisy_right, futures) == 1
    assert coverage(np.stack([futures[0], noisy_right]), futures) == 1.0
    three = np.concatenate([futures, _u8(_render(13, 5))[None]])  # a third future: the square goes up
    assert coverage(futures, three) == pytest.approx(2 / 3)
    # On a mask holding the left square only, the right future is grey there: a copy of it is 0 from
    # the right future, 128 off the left on every masked value and 64 off the mean, so it commits.
    left_only = np.zeros((32, 32), bool)
    left_only[13:19, 5:11] = True
    assert nearest_future(futures[1], futures, left_only) == 1
    assert commits(futures[1], futures, left_only)


# ---------------------------------------------------------------------------------- pooled PSNR


def test_pooled_psnr_weights_clips_equally_and_skips_empty_masks():
    truths = np.zeros((2, 8, 8, 3), np.uint8)
    preds = truths.copy()
    preds[1] = 10  # clip 0 exact (MSE 0), clip 1 off by 10 (MSE 100)
    assert pooled_psnr(preds, truths) == pytest.approx(10 * np.log10(255 ** 2 / (100 / 2)))  # 31.14 dB
    per_clip = np.mean([psnr(p, t) for p, t in zip(preds, truths)])
    assert per_clip == pytest.approx((PSNR_CAP + 10 * np.log10(255 ** 2 / 100)) / 2)  # 64.07 dB: the cap
    # Masks of different sizes: still the mean of the two clips' MSEs, not of their pixels.
    masks = np.zeros((2, 8, 8), bool)
    masks[0] = True  # 64 exact pixels
    masks[1, :2, :2] = True  # 4 pixels off by 10
    assert pooled_psnr(preds, truths, masks) == pytest.approx(10 * np.log10(255 ** 2 / 50))
    # A third clip with an empty mask is left out, however wrong it is.
    preds3, truths3 = np.concatenate([preds, np.full((1, 8, 8, 3), 255, np.uint8)]), np.zeros((3, 8, 8, 3), np.uint8)
    masks3 = np.concatenate([masks, np.zeros((1, 8, 8), bool)])
    assert pooled_psnr(preds3, truths3, masks3) == pytest.approx(10 * np.log10(255 ** 2 / 50))
    assert np.isnan(pooled_psnr(preds, truths, np.zeros_like(masks)))
    assert pooled_psnr(truths, truths) == PSNR_CAP
    # Clips of T frames: a clip's MSE is over all its frames.
    clips, clip_truths = np.zeros((2, 2, 4, 4, 3), np.uint8), np.zeros((2, 2, 4, 4, 3), np.uint8)
    clips[1, 0] = 20  # one of two frames off by 20: MSE 200 for clip 1
    assert pooled_psnr(clips, clip_truths) == pytest.approx(10 * np.log10(255 ** 2 / 100))


# --------------------------------------------------------------------------------------- errors


def test_shape_errors_name_the_arguments():
    _, futures = _two_futures()
    frame, small = futures[0], np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="pred and truth"):
        gradient_energy_ratio(frame, small)
    with pytest.raises(ValueError, match="pred and truth"):
        laplacian_variance_ratio(frame, small)
    with pytest.raises(ValueError, match="mask must be"):
        gradient_energy(frame, np.ones((16, 16), bool))
    with pytest.raises(ValueError, match="frame must be"):
        laplacian_variance(frame[..., 0])
    with pytest.raises(ValueError, match="futures and pred"):
        commits(small, futures)
    with pytest.raises(ValueError, match="futures and pred"):
        nearest_future(frame, futures[0])  # one frame where a stack is due
    with pytest.raises(ValueError, match="samples and futures"):
        coverage(small[None], futures)
    with pytest.raises(ValueError, match="samples and truth"):
        best_of_n(futures, small)
    with pytest.raises(ValueError, match="samples"):
        diversity(frame)
    with pytest.raises(ValueError, match="futures and before"):
        union_motion_mask(small, futures, 1.0)
    with pytest.raises(ValueError, match="preds and truths"):
        pooled_psnr(futures, futures[:1])
    with pytest.raises(ValueError, match="masks must be"):
        pooled_psnr(futures, futures, np.ones((2, 16, 16), bool))
