"""Analyses of an autoencoder's codes (GAIA's: Sainburg et al. 2018): how well they keep the data's
pairwise structure, against PCA as a reference point; attribute vectors of the classes (the
paper's section 2.4); interpolation coefficients for pictures. Plain numpy/scipy on arrays, so any
family's codes can be analysed.

Example:
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 20))
    >>> round(structure_correlation(x, 3 * x[:, :10] + 1), 2) > 0.5    # a scaled part of x
    True
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr


def pairwise_distances(x: np.ndarray) -> np.ndarray:
    """The ``N (N - 1) / 2`` Euclidean distances between the rows of ``x`` ``(N, ...)`` (flattened
    per row), upper triangle in row-major order; float64, by differences (no cancellation)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    i, j = np.triu_indices(len(x), k=1)
    return np.sqrt(((x[i] - x[j]) ** 2).sum(axis=1))


def structure_correlation(x: np.ndarray, z: np.ndarray) -> float:
    """Spearman's rank correlation between the pairwise distances of samples ``x`` ``(N, ...)`` and
    of their codes ``z`` ``(N, d)``: 1 when the codes order every pair of samples as the pixels do.

    Raises:
        ValueError: fewer than 3 samples (one distance has no rank correlation), or ``x`` and ``z``
            of different lengths.
    """
    if len(x) != len(z):
        raise ValueError(f"x and z must hold the same samples, got {len(x)} and {len(z)}")
    if len(x) < 3:
        raise ValueError(f"the structure correlation needs at least 3 samples, got {len(x)}")
    return float(spearmanr(pairwise_distances(x), pairwise_distances(z)).statistic)


class PCA:
    """Principal components of training samples ``(N, ...)`` (flattened), the reference point for
    learned codes of the same size: ``PCA(train, d).codes(x)`` is ``(M, d)``.

    Raises:
        ValueError: ``d`` not in ``1..min(N, D)``.
    """

    def __init__(self, samples: np.ndarray, d: int):
        x = np.asarray(samples, np.float64).reshape(len(samples), -1)
        if not 1 <= d <= min(x.shape):
            raise ValueError(f"PCA of {x.shape[0]} samples of {x.shape[1]} values has at most {min(x.shape)} "
                             f"components, asked for {d}")
        self.mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        self.components = vt[:d]  # (d, D), orthonormal rows

    def codes(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, np.float64).reshape(len(samples), -1)
        return (x - self.mean) @ self.components.T

    def reconstruct(self, samples: np.ndarray) -> np.ndarray:
        """The samples ``(M, ...)`` projected on the components and back, in their shape: the best
        reconstruction any linear code of ``d`` values gives (of the training samples)."""
        x = np.asarray(samples, np.float64)
        return (self.codes(x) @ self.components + self.mean).reshape(x.shape)


def attribute_vectors(codes: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """The attribute vector of each class: ordinary least squares of the codes on one-hot class
    indicators with a bias column, ``codes ~ b + onehot(labels) A`` (numpy's lstsq, minimum-norm
    where classes are collinear with the bias). Adding ``A[c] - A[label]`` to a code moves it from
    its class towards class ``c``.

    Args:
        codes: ``(N, d)``.
        labels: ``(N,)`` ints in ``0..classes - 1``.
    Returns:
        ``A``: ``(classes, d)``.
    """
    codes, labels = np.asarray(codes, np.float64), np.asarray(labels)
    if codes.ndim != 2 or labels.shape != (len(codes),):
        raise ValueError(f"codes must be (N, d) and labels (N,), got {codes.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"labels must be in 0..{classes - 1}, got {labels.min()}..{labels.max()}")
    design = np.concatenate([np.ones((len(codes), 1)), np.eye(classes)[labels]], axis=1)
    solution, *_ = np.linalg.lstsq(design, codes, rcond=None)
    return solution[1:]


def interpolation_steps(steps: int) -> np.ndarray:
    """``steps`` coefficients from 0 to 1 inclusive (the first code, the last): the columns of an
    interpolation grid."""
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    return np.linspace(0.0, 1.0, steps)
