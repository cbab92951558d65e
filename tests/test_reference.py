"""The reference ops (the executable spec) against OpenCV, torch built-ins and hand-computed cases."""
import cv2
import numpy as np
import pytest
import torch

from pyext import reference

SIZES = [(1, 1), (1, 7), (6, 1), (2, 2), (3, 5), (8, 8), (13, 10), (31, 17)]


def test_reflect101_matches_opencv():
    for length in range(1, 9):
        for index in range(-6, length + 6):
            expected = cv2.borderInterpolate(index, length, cv2.BORDER_REFLECT_101)
            assert reference.reflect101(index, length) == expected, (index, length)


@pytest.mark.parametrize("h,w", SIZES)
def test_pyr_down_matches_opencv(h, w):
    image = np.random.default_rng(h * 100 + w).random((h, w))
    expected = cv2.pyrDown(image)
    actual = reference.pyr_down(torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("h,w", SIZES)
def test_pyr_up_matches_opencv_every_size(h, w):
    image = np.random.default_rng(h * 100 + w).random((h, w))
    for out_h in (2 * h - 1, 2 * h):
        for out_w in (2 * w - 1, 2 * w):
            expected = cv2.pyrUp(image, dstsize=(out_w, out_h))
            actual = reference.pyr_up(torch.from_numpy(image), (out_h, out_w)).numpy()
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-12)


def test_pyr_up_rejects_other_sizes():
    with pytest.raises(ValueError, match="size"):
        reference.pyr_up(torch.zeros(4, 4), (9, 8))


def test_gdl_hand_computed():
    # The identity image against zeros: each of the 3 row pairs and 3 column pairs has two
    # neighbours that differ by 1, so 12 terms of 1 per channel, whatever alpha.
    target = torch.eye(4).expand(1, 3, 4, 4)
    pred = torch.zeros(1, 3, 4, 4)
    for alpha in (1.0, 2.0, 3.5):
        assert reference.gdl_loss(pred, target, alpha, "sum").item() == 36.0
        assert reference.gdl_loss(pred, target, alpha, "mean").item() == pytest.approx(36 / 48)
        assert reference.gdl_loss(pred, target, alpha, "none").tolist() == [[12.0, 12.0, 12.0]]


def test_gdl_ignores_constant_offsets_and_sign_flips():
    target = torch.rand(2, 5, 6, dtype=torch.float64)
    assert reference.gdl_loss(target + 3.0, target, 1.0, "sum").item() == pytest.approx(0, abs=1e-12)
    assert reference.gdl_loss(-target, target, 2.0, "sum").item() == pytest.approx(0, abs=1e-12)


def test_gdl_alpha_two_by_hand():
    target = torch.tensor([[0.0, 2.0]])  # one horizontal pair, no vertical one
    pred = torch.tensor([[0.0, 0.5]])
    assert reference.gdl_loss(pred, target, 2.0, "sum").item() == pytest.approx(1.5**2)


def test_pairwise_sqdist_matches_cdist_in_float64():
    x = torch.randn(70, 33, dtype=torch.float64)  # more rows than one chunk
    expected = torch.cdist(x, x).pow(2) / x.shape[1]
    torch.testing.assert_close(reference.pairwise_sqdist(x, chunk=16), expected)


def test_pairwise_sqdist_keeps_precision_far_from_the_origin():
    # A large common offset: the |a|^2 + |b|^2 - 2ab expansion loses every digit here in float32.
    base = torch.randn(16, 64, dtype=torch.float64)
    expected = reference.pairwise_sqdist(base)
    actual = reference.pairwise_sqdist((base + 1000.0).float())
    torch.testing.assert_close(actual.double(), expected, rtol=1e-3, atol=1e-3)


def test_structure_loss_is_zero_for_a_scaled_copy_and_positive_otherwise():
    x = torch.rand(8, 3, 4, 4, dtype=torch.float64)
    assert reference.structure_loss(x, 3 * x).item() == pytest.approx(0, abs=1e-14)
    assert reference.structure_loss(x, torch.rand(8, 5, dtype=torch.float64)).item() > 1e-4


def test_structure_loss_hand_computed():
    # Three points on a line at 0, 1, 3 against codes at 0, 1, 2 (D = d = 1).
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    z = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
    dx = torch.tensor([[0, 1, 9], [1, 0, 4], [9, 4, 0]], dtype=torch.float64)
    dz = torch.tensor([[0, 1, 4], [1, 0, 1], [4, 1, 0]], dtype=torch.float64)
    dx, dz = dx / dx.mean(), dz / dz.mean()
    expected = ((dx.log1p() - dz.log1p()) ** 2).mean()
    assert reference.structure_loss(x, z).item() == pytest.approx(expected.item(), rel=1e-12)


def test_every_op_has_a_specification():
    import pyext.ops

    fronts = [name for name in pyext.ops.__all__ if name not in ("native_available", "native_error")]
    assert fronts and all(callable(getattr(reference, name)) for name in fronts)
    assert set(fronts) <= set(reference.__all__)
