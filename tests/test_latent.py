"""pyext.evaluation.latent: distances against scipy's pdist, the structure correlation on known cases, PCA
against the covariance's eigenvectors, and an OLS attribute vector recovering a planted direction."""
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from pyext.evaluation.latent import PCA, attribute_vectors, interpolation_steps, pairwise_distances, structure_correlation


def test_pairwise_distances_are_scipys():
    x = np.random.default_rng(0).normal(size=(7, 2, 3))
    np.testing.assert_allclose(pairwise_distances(x), pdist(x.reshape(7, -1)), rtol=1e-12)


def test_structure_correlation_is_one_for_codes_keeping_the_order_and_near_zero_for_unrelated():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 12))
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert structure_correlation(x, 5 * x @ rotation + 3) == pytest.approx(1.0)  # distances scaled: same ranks
    unrelated = structure_correlation(x, rng.normal(size=(40, 12)))
    assert abs(unrelated) < 0.15  # 780 pairs: the rank correlation of independent distances is small
    with pytest.raises(ValueError, match="at least 3"):
        structure_correlation(x[:2], x[:2])


def test_pca_components_are_the_covariances_leading_eigenvectors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1]) + 7
    pca = PCA(x, 3)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    leading = vectors[:, ::-1][:, :3].T
    # the same directions up to sign
    np.testing.assert_allclose(np.abs((pca.components * leading).sum(axis=1)), 1.0, atol=1e-8)
    codes = pca.codes(x)
    np.testing.assert_allclose(codes.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(codes.var(axis=0, ddof=1), values[::-1][:3], rtol=1e-8)
    with pytest.raises(ValueError, match="at most 6"):
        PCA(x, 7)


def test_pca_reconstructs_samples_of_its_subspace_exactly_and_others_by_projection():
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.normal(size=(12, 2)))[0].T  # (2, 12) orthonormal rows
    x = (rng.normal(size=(50, 2)) @ basis + 4.0).reshape(50, 3, 4)  # on a 2-d affine plane, any shape
    pca = PCA(x, 2)
    np.testing.assert_allclose(pca.reconstruct(x), x, atol=1e-10)
    off = rng.normal(size=(5, 3, 4))
    residual = (off - pca.reconstruct(off)).reshape(5, -1)
    np.testing.assert_allclose(residual @ basis.T, 0, atol=1e-10)  # what is left is orthogonal to the plane


def test_attribute_vector_recovers_a_planted_direction():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 600)
    direction = rng.normal(size=16)
    codes = rng.normal(size=(600, 16)) * 0.1 + 2.0
    codes[labels == 2] += direction  # class 2 moves codes along `direction`
    vectors = attribute_vectors(codes, labels, 3)
    found = vectors[2] - vectors[0]
    assert np.dot(found, direction) / (np.linalg.norm(found) * np.linalg.norm(direction)) > 0.99
    np.testing.assert_allclose(found, direction, atol=0.05)
    np.testing.assert_allclose(vectors[1] - vectors[0], 0, atol=0.05)  # class 1 has none
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        attribute_vectors(codes, labels + 1, 3)


def test_interpolation_steps():
    assert interpolation_steps(5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        interpolation_steps(1)
