"""pyext.evaluation.metrics: PSNR, SSIM and sharpness difference against scikit-image and hand-computed
cases (identical frames, constant offsets, a known shift), on whole frames and on masks; motion
masks on synthetic motion; the optical-flow baseline on a known translation; the authors' measure
(masked frames scored whole) by hand."""
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pyext.evaluation.metrics import (
    AUTHORS_PSNR_CUT,
    PSNR_CAP,
    authors_scores,
    last_frame_baseline,
    luminance,
    motion_mask,
    optical_flow_baseline,
    psnr,
    psnr_per_clip,
    sharpness_difference,
    ssim,
)


def _texture(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (optical flow needs structure at several scales)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (h // 8 + 2, w // 8 + 2, 3))
    import cv2
    return cv2.resize(coarse, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)[8:8 + h, 8:8 + w].clip(0, 255).astype(
        np.uint8)


def _shifted(frame: np.ndarray, dy: int, dx: int) -> np.ndarray:
    return np.roll(frame, (dy, dx), axis=(0, 1))


# ---------------------------------------------------------------------------------------- PSNR


def test_psnr_identical_frames_is_the_cap():
    a = _texture()
    assert psnr(a, a) == PSNR_CAP
    assert psnr(a, a, np.ones(a.shape[:2], bool)) == PSNR_CAP


@pytest.mark.parametrize("offset", [1, 5, 40])
def test_psnr_constant_offset(offset):
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a + offset, a) == pytest.approx(10 * np.log10(255 ** 2 / offset ** 2))


def test_psnr_matches_skimage_and_masks_average_masked_pixels_only():
    a, b = _texture(seed=1), _texture(seed=2)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255))
    mask = np.zeros(a.shape[:2], bool)
    mask[10:20, 5:40] = True
    expected = peak_signal_noise_ratio(b[10:20, 5:40], a[10:20, 5:40], data_range=255)
    assert psnr(a, b, mask) == pytest.approx(expected)
    # Errors outside the mask do not count (the original script divided by all pixels).
    c = a.copy()
    c[~mask] = 0
    assert psnr(c, a, mask) == PSNR_CAP
    assert np.isnan(psnr(a, b, np.zeros_like(mask)))


def test_psnr_per_clip():
    a = np.zeros((2, 3, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1, 0] = 30  # one frame of three off by 30: MSE 300
    np.testing.assert_allclose(psnr_per_clip(a, b), [PSNR_CAP, 10 * np.log10(255 ** 2 / 300)])


# ---------------------------------------------------------------------------------------- SSIM


def test_luminance_weights():
    frame = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(luminance(frame), [[0.299 * 255, 0.587 * 255, 0.114 * 255]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_equals_skimage_on_luminance(seed):
    rng = np.random.default_rng(seed)
    truth = _texture(seed=seed)
    pred = np.clip(truth.astype(int) + rng.integers(-30, 31, truth.shape), 0, 255).astype(np.uint8)
    expected = structural_similarity(luminance(pred), luminance(truth), gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
    assert ssim(pred, truth) == pytest.approx(expected, abs=1e-3)
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert ssim(pred, truth) < 0.99


def test_ssim_on_a_mask_averages_the_map_there():
    truth = _texture(seed=3)
    pred = truth.copy()
    pred[30:50, 40:70] = 255 - pred[30:50, 40:70]  # damage one region only
    inside, outside = np.zeros(truth.shape[:2], bool), np.zeros(truth.shape[:2], bool)
    inside[35:45, 45:65] = True
    outside[:10, :20] = True
    assert ssim(pred, truth, outside) == pytest.approx(1.0)
    assert ssim(pred, truth, inside) < 0.5
    assert np.isnan(ssim(pred, truth, np.zeros_like(inside)))


# ----------------------------------------------------------------------------------- sharpness


def test_sharpness_difference_by_hand():
    truth = np.zeros((3, 4, 3), np.uint8)
    truth[:, 2:] = 40  # a vertical edge: horizontal gradient 40 at column 2 of rows 1, 2
    pred = np.zeros_like(truth)
    # interior pixels (i, j >= 1): 2 x 3; gradient sums of truth 40 at (1, 2), (2, 2); pred 0
    mean = 40 * 2 / 6
    assert sharpness_difference(pred, truth) == pytest.approx(10 * np.log10(255 ** 2 / mean))
    assert sharpness_difference(truth, truth) == PSNR_CAP
    # A constant offset keeps every gradient: no sharpness difference.
    assert sharpness_difference(truth + 7, truth) == PSNR_CAP
    mask = np.zeros(truth.shape[:2], bool)
    mask[1:, 2] = True  # only the edge pixels: mean 40
    assert sharpness_difference(pred, truth, mask) == pytest.approx(10 * np.log10(255 ** 2 / 40))


def test_blurring_lowers_sharpness_more_than_a_sharp_shift():
    import cv2
    truth = _texture(seed=4)
    truth[20:40, 20:40] = 255  # a sharp square
    blurred = cv2.GaussianBlur(truth, (9, 9), 3)
    assert sharpness_difference(blurred, truth) < sharpness_difference(truth, truth) - 10


# ------------------------------------------------------------------------------ masks, baselines


def test_motion_mask_covers_what_moves():
    background = np.full((64, 80, 3), 90, np.uint8)
    square = _texture(16, 16, seed=5)
    before, after = background.copy(), background.copy()
    before[20:36, 20:36] = square
    after[20:36, 23:39] = square  # 3 pixels to the right
    mask = motion_mask(before, after, threshold=1.0)
    assert mask[24:32, 26:35].mean() > 0.9  # the inside of the moved square
    assert not mask[:8].any() and not mask[:, 60:].any()  # the still background far from it
    assert not motion_mask(before, before, threshold=1.0).any()


def test_a_moving_region_whose_pixels_all_kept_their_values_is_none(monkeypatch):
    # Real footage: the flow marked 2 pixels of a frame that kept their values, where copying the last
    # frame scored the 100 dB cap and decided a clip mean. Such a region is no motion; one changed pixel makes it one.
    import pyext.evaluation.metrics as metrics
    flow = np.zeros((16, 16, 2), np.float32)
    flow[5, 6:8] = 3.0  # two pixels "move" 3 pixels
    monkeypatch.setattr(metrics, "optical_flow", lambda source, target: flow)
    before = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    after = before.copy()
    after[10:12] = 255 - after[10:12]  # elsewhere the frame changes
    assert not metrics.motion_mask(before, after, 1.0).any()
    after[5, 7, 1] ^= 1
    assert np.flatnonzero(metrics.motion_mask(before, after, 1.0)).tolist() == [5 * 16 + 6, 5 * 16 + 7]


@pytest.mark.parametrize("dy,dx", [(0, 2), (2, 0), (1, -2)])
def test_flow_baseline_extrapolates_a_known_translation(dy, dx):
    frame = _texture(seed=6)
    inputs = np.stack([_shifted(frame, k * dy, k * dx) for k in range(4)])  # moving by (dy, dx) a frame
    truth = _shifted(frame, 4 * dy, 4 * dx)
    pred = optical_flow_baseline(inputs)
    inner = (slice(12, -12), slice(12, -12))  # away from the wrapped border
    assert psnr(pred[inner], truth[inner]) > psnr(inputs[-1][inner], truth[inner]) + 10
    # Warping with the flow the other way round would reproduce the previous frame instead.
    assert psnr(pred[inner], inputs[-2][inner]) < psnr(pred[inner], truth[inner]) - 10


def test_last_frame_baseline():
    inputs = np.stack([np.full((4, 4, 3), k, np.uint8) for k in range(4)])
    np.testing.assert_array_equal(last_frame_baseline(inputs), inputs[-1])


def test_shape_errors_name_the_arguments():
    a = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="pred and truth"):
        psnr(a, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="mask must be"):
        ssim(a, a, np.ones((3, 4), bool))


# ------------------------------------------------------------------------------ authors' measure


def test_authors_measure_by_hand_on_a_known_mask():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    pred = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    mask = np.zeros((12, 16), bool)
    mask[2:5, 3:9] = True  # 18 moving pixels of 192
    got = authors_scores(pred, truth, mask)
    # By hand, the script's way: [-1, 1] values, the still pixels at -1 in both, MSE over every
    # value of the frame, scaled by 128^2.
    p, t = pred / 127.5 - 1, truth / 127.5 - 1
    p[~mask], t[~mask] = -1, -1
    squared = sum(((p[y, x, c] - t[y, x, c]) ** 2 for y in range(12) for x in range(16) for c in range(3)))
    mse = 128 * 128 * squared / (12 * 16 * 3)
    assert got["authors_psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-9)
    # The masked frames scored whole by this project's SSIM and the paper's sharpness formula.
    masked_p, masked_t = np.where(mask[..., None], pred, 0), np.where(mask[..., None], truth, 0)
    assert got["authors_ssim"] == pytest.approx(ssim(masked_p, masked_t))
    assert got["authors_sharpness"] == pytest.approx(sharpness_difference(masked_p, masked_t))
    # Against the moving-region mean: 10 log10(N / N_moving) apart, less the 128 / 127.5 scale.
    expected_gap = 10 * np.log10(192 / 18) - 20 * np.log10(128 / 127.5)
    assert got["authors_psnr"] - psnr(pred, truth, mask) == pytest.approx(expected_gap, abs=1e-9)


def test_authors_measure_floors_identical_frames_above_the_cut():
    frame = np.full((16, 16, 3), 40, np.uint8)
    still = authors_scores(frame, frame, np.zeros((16, 16), bool))
    assert still["authors_psnr"] == pytest.approx(10 * np.log10(255 ** 2 / 1e-4))  # 88.13 dB: the floor
    assert still["authors_psnr"] >= AUTHORS_PSNR_CUT  # so such a clip leaves the authors' averages
