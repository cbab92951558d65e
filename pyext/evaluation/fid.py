"""Fréchet and kernel distances (FID, KID) of predicted frames against true frames, through a feature
extractor the user supplies (``evaluate.features``): nothing is downloaded.

The extractor is a TorchScript file: frames ``(N, 3, H, W)``, RGB float32 in [0, 1] at the test
frames' size, in; features ``(N, d)`` out. (The standard FID network is not shipped: a user who
has torch-fidelity's Inception weights can script that network and save it as such a file.)
torchmetrics computes both distances (``FrechetInceptionDistance``, ``KernelInceptionDistance``)
on the features, which this module extracts once per frame and feeds them through an identity
"extractor", so each set of frames is run through the network once whatever it is compared with.

FID estimates two d x d covariances: with no more frames than dimensions they are singular and the
distance means nothing, so FID is refused below that (one line in the metrics and the stage's
output) and KID, unbiased at any size, is the measure for small sets. Every result records the
number of frames, the dimension and the extractor file's SHA-256.

The Inception Score needs a classifier's logits: it is computed only through a classifier file of
the user's (``evaluate.classifier``: frames as above in, class logits ``(N, C)`` out, e.g. a scripted
Inception network with its 1008-way head, or a classifier of the data's own classes), by
torchmetrics' ``InceptionScore``, and is absent without one.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import ParamsError
from ..data.dataset import to_model
from ..scripted import first_line, load_scripted


class _Given(nn.Module):
    """The identity on precomputed features ``(N, d)``: torchmetrics' extractor slot."""

    def __init__(self, d: int):
        super().__init__()
        self.num_features = d

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


class FrameFeatures:
    """The extractor of ``evaluate.features`` and the features of sets of frames, by set name.

    Args:
        path: the TorchScript file.
        device: where it runs.
        key: the params key that names it (``evaluate.features``; the classifier's,
            ``evaluate.classifier``, whose outputs are class logits ``(N, C)``).
        what: what its outputs are, for the error messages.
    Raises:
        ParamsError: the file is not a TorchScript module, or does not map frames to ``(N, d)``.
    """

    def __init__(self, path: Path, device: torch.device, key: str = "evaluate.features", what: str = "features"):
        self.path, self.device, self.key, self.what = Path(path), device, key, what
        self.module = load_scripted(self.path, key, device)
        # SHA-256, as `sha256sum` prints it, so a user can match the recorded file by hand.
        self.digest = "sha256:" + hashlib.sha256(self.path.read_bytes()).hexdigest()
        self.sets: dict[str, list[np.ndarray]] = {}
        self.dimension: int | None = None

    @torch.no_grad()
    def add(self, sets: Mapping[str, np.ndarray]) -> None:
        """Adds uint8 frames ``(N_s, H, W, 3)`` of one size to each set ``s`` of ``sets``, through
        one call of the extractor."""
        names, counts = list(sets), [len(frames) for frames in sets.values()]
        x = to_model(np.concatenate(list(sets.values()))).to(self.device).add(1).div(2)  # (N, 3, H, W) in [0, 1]
        try:
            out = self.module(x)
        except Exception as exc:
            raise ParamsError("params.yaml", self.key,
                              f"{self.path} fails on frames {tuple(x.shape)} in [0, 1]: {first_line(exc)}") from None
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(x):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ParamsError("params.yaml", self.key,
                              f"{self.path} must return {self.what} ({len(x)}, d) for {len(x)} frames, got {shape}")
        if not out.is_floating_point() or not torch.isfinite(out).all():  # NaN would be "measured"
            problem = f"{out.dtype} values" if not out.is_floating_point() else "values that are not finite (NaN or inf)"
            raise ParamsError("params.yaml", self.key, f"{self.path} returned {self.what} with {problem} for frames "
                              f"{tuple(x.shape)} in [0, 1]: they must be finite floating-point numbers")
        self.dimension = out.shape[1]
        for name, part in zip(names, np.split(out.double().cpu().numpy(), np.cumsum(counts)[:-1])):
            self.sets.setdefault(name, []).append(part)

    def features(self, name: str) -> np.ndarray:
        return np.concatenate(self.sets[name])


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """torchmetrics' FID of two feature sets ``(N, d)``, ``(M, d)``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]))  # its sums are float64
    metric.update(torch.as_tensor(real), real=True)
    metric.update(torch.as_tensor(fake), real=False)
    return float(metric.compute())


def _keeping(metric_class, **kwargs):
    """A torchmetrics metric that keeps every feature it is given, built without its warning that
    it does (so does :class:`FrameFeatures`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features", category=UserWarning)
        return metric_class(**kwargs)


def _seeded_mean_std(metric, seed: int) -> tuple[float, float]:
    """A metric's ``(mean, std)``, computed with torch's global generator (which draws its random
    subsets or order) seeded, so that it is the same every run; the generator's state is kept."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def kernel_distance(real: np.ndarray, fake: np.ndarray, subsets: int, subset_size: int,
                    seed: int = 0) -> tuple[float, float]:
    """torchmetrics' KID (polynomial kernel of degree 3) of two feature sets: the mean and standard
    deviation over ``subsets`` random subsets of ``subset_size`` (seeded: the same every run)."""
    from torchmetrics.image.kid import KernelInceptionDistance

    metric = _keeping(KernelInceptionDistance, feature=_Given(real.shape[1]), subsets=subsets, subset_size=subset_size)
    metric.update(torch.as_tensor(real).float(), real=True)
    metric.update(torch.as_tensor(fake).float(), real=False)
    return _seeded_mean_std(metric, seed)


def inception_score(logits: np.ndarray, splits: int, seed: int = 0) -> tuple[float, float]:
    """torchmetrics' Inception Score of class logits ``(N, C)``: ``exp E_x KL(p(y|x) || p(y))``
    in each of ``splits`` parts of a random order (seeded: the same every run), their mean and
    standard deviation (NaN with one part)."""
    from torchmetrics.image.inception import InceptionScore

    metric = _keeping(InceptionScore, feature=_Given(logits.shape[1]), splits=splits)
    metric.update(torch.as_tensor(logits))
    with warnings.catch_warnings():  # one part has no spread: its std is NaN, and torch says why
        warnings.filterwarnings("ignore", message=".*degrees of freedom", category=UserWarning)
        return _seeded_mean_std(metric, seed)


def inception_scores(classifier: FrameFeatures, names: list[str], splits: int = 10) -> dict:
    """The Inception Score of each set of ``names`` (:func:`inception_score`, ``min(splits, N)``
    parts of the N frames every set holds: each has the frames of every evaluated clip).

    Returns:
        ``{"inception_score": {name: {"mean", "std"}}, "frames", "classes", "splits", "classifier",
        "classifier_file"}`` (``std`` None with one part).
    """
    n, classes = classifier.features(names[0]).shape
    parts = min(splits, n)
    out: dict = {"frames": n, "classes": classes, "splits": parts, "classifier": classifier.digest,
                 "classifier_file": classifier.path.name, "inception_score": {}}
    for name in names:
        mean, std = inception_score(classifier.features(name), parts)
        out["inception_score"][name] = {"mean": round(mean, 6), "std": round(std, 6) if math.isfinite(std) else None}
    return out


def distances(features: FrameFeatures, truth: str, methods: list[str], subsets: int, subset_size: int) -> dict:
    """FID and KID of each set in ``methods`` against the set ``truth``.

    Returns:
        ``{"fid": {method: value}, "kid": {method: {"mean", "std"}}, "frames", "dimension",
        "extractor", "kid_subset_size", ...}``; ``fid`` absent and ``fid_refused`` saying why where
        there are no more frames than dimensions.
    """
    real = features.features(truth)
    n, d = real.shape
    size = min(subset_size, n)
    out: dict = {"frames": n, "dimension": d, "extractor": features.digest, "extractor_file": features.path.name,
                 "kid_subsets": subsets, "kid_subset_size": size, "fid": {}, "kid": {}}
    if n <= d:
        out["fid_refused"] = f"{n} frames <= {d} feature dimensions: the covariances are singular; use kid"
    for method in methods:
        fake = features.features(method)
        if n > d:
            out["fid"][method] = round(frechet_distance(real, fake), 6)
        mean, std = kernel_distance(real, fake, subsets, size)
        out["kid"][method] = {"mean": round(mean, 8), "std": round(std, 8)}
    if not out["fid"]:
        del out["fid"]
    return out


__all__ = ["FrameFeatures", "distances", "frechet_distance", "inception_score", "inception_scores", "kernel_distance"]
