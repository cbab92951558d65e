"""Fréchet and kernel distances (FID, KID) of predicted against true patches, and the Inception Score
and class accuracy of a classifier, through the project's own shipped extractor
(``evaluate.features: builtin``, :mod:`pyext.evaluation.extractor`) or a file of the user's: nothing
is downloaded.

An extractor is a TorchScript file: patches ``(N, 3, P, P)``, RGB float32 in [0, 1], in; features
``(N, d)`` out. Full frames are cut into ``clip.patch``-square crops where the truth moves, and
those are compared (:func:`moving_crops`): a frame's still background, the same in every
prediction, would pull every distance towards zero, and the extractor was trained on such patches. (The
standard FID network is not shipped: a user who has torch-fidelity's Inception weights can script
that network, resizing inside, and save it as such a file.) torchmetrics computes both distances
(``FrechetInceptionDistance``, ``KernelInceptionDistance``) on the features, which this module
extracts once per patch and feeds them through an identity "extractor", so each set of patches is
run through the network once whatever it is compared with.

FID estimates two d x d covariances: with no more than 2d patches they are poorly estimated (with
d or fewer, singular) and the distance means little, so FID is refused there (one line in the
metrics and the stage's output) and KID, unbiased at any size, is the measure for small sets. Every
result records the number of patches, the dimension and the extractor file's SHA-256.

The Inception Score needs a classifier's logits: ``evaluate.classifier: builtin`` is the shipped
object-shape classifier, meaningful only on a source whose classes show in one frame (``stochastic``;
refused in one line elsewhere), or a user's file (frames as above in, class logits ``(N, C)`` out,
e.g. a scripted Inception network with its 1008-way head). A classifier is given the square
:data:`CONTEXT` times a patch's side around each moving patch, enough to hold a whole object.
torchmetrics' ``InceptionScore`` computes it; the class accuracy is the share of those squares the
classifier names their clip's class.
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

from ..config import BUILTIN, SOURCES, ParamsError
from ..data.dataset import to_model
from ..scripted import first_line, load_scripted
from .extractor import shipped


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

    def add_in_parts(self, name: str, frames: np.ndarray, part: int) -> None:
        """Adds uint8 frames ``(N, H, W, 3)`` to set ``name``, ``part`` frames a call (:meth:`add`),
        which bounds the memory of one call of the network."""
        for lo in range(0, len(frames), part):
            self.add({name: frames[lo:lo + part]})

    def forget(self, name: str) -> None:
        """Drops set ``name`` (none: nothing), so that it can be added anew (a generator's images,
        measured again at every validation of a run)."""
        self.sets.pop(name, None)

    def features(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """The outputs of set ``name`` ``(N, d)``, or of its ``rows`` alone."""
        every = np.concatenate(self.sets[name])
        return every if rows is None else every[rows]


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


def inception_scores(classifier: FrameFeatures, names: list[str], splits: int = 10,
                     rows: np.ndarray | None = None) -> dict:
    """The Inception Score of each set of ``names`` (:func:`inception_score`, ``min(splits, N)``
    parts of the N patches every set holds, or of its ``rows``: the same in every set).

    Returns:
        ``{"inception_score": {name: {"mean", "std"}}, "patches", "classes", "splits", "classifier",
        "classifier_file"}`` (``std`` None with one part).
    """
    n, classes = classifier.features(names[0], rows).shape
    parts = min(splits, n)
    out: dict = {"patches": n, "classes": classes, "splits": parts, "classifier": classifier.digest,
                 "classifier_file": classifier.path.name, "inception_score": {}}
    for name in names:
        mean, std = inception_score(classifier.features(name, rows), parts)
        out["inception_score"][name] = {"mean": round(mean, 6), "std": round(std, 6) if math.isfinite(std) else None}
    return out


def distances(features: FrameFeatures, truth: str, methods: list[str], subsets: int, subset_size: int,
              rows: np.ndarray | None = None) -> dict:
    """FID and KID of each set in ``methods`` against the set ``truth`` (of their ``rows`` alone
    where given: the sets are aligned, row i of each the same patch).

    Returns:
        ``{"fid": {method: value}, "kid": {method: {"mean", "std"}}, "patches", "dimension",
        "extractor", "kid_subset_size", ...}``; ``fid`` absent and ``fid_refused`` saying why where
        there are no more than twice as many patches as dimensions.
    """
    real = features.features(truth, rows)
    fakes = {method: features.features(method, rows) for method in methods}
    n, d = real.shape
    size = min(subset_size, n, *(len(fake) for fake in fakes.values()))  # KID's subsets: of each set
    out: dict = {"patches": n, "dimension": d, "extractor": features.digest, "extractor_file": features.path.name,
                 "kid_subsets": subsets, "kid_subset_size": size, "fid": {}, "kid": {}}
    if n <= 2 * d:
        out["fid_refused"] = (f"{n} patches <= 2 x {d} feature dimensions: the covariances are "
                              f"{'singular' if n <= d else 'poorly estimated'}; use kid")
    for method, fake in fakes.items():
        if n > 2 * d:
            out["fid"][method] = round(frechet_distance(real, fake), 6)
        mean, std = kernel_distance(real, fake, subsets, size)
        out["kid"][method] = {"mean": round(mean, 8), "std": round(std, 8)}
    if not out["fid"]:
        del out["fid"]
    return out


PR_NEIGHBOURS = 3  # k of the k-NN balls of precision and recall (Kynkaanniemi et al. 2019 use 3)
DC_NEIGHBOURS = 5  # k of density and coverage (Naeem et al. 2020 recommend 5)
_ROWS = 1024  # rows of a distance matrix computed at a time (bounds the memory of large sets)


def _nearest(points: np.ndarray, centres: np.ndarray, k: int, skip_self: bool = False) -> np.ndarray:
    """Per row of ``points`` ``(N, d)``, the Euclidean distance to its ``k``-th nearest row of
    ``centres`` ``(M, d)`` (k = 1: the nearest); with ``skip_self`` (``points`` is ``centres``), not
    counting the row itself."""
    k = k + skip_self
    out = np.empty(len(points))
    c = torch.as_tensor(centres, dtype=torch.float64)
    for lo in range(0, len(points), _ROWS):
        d = torch.cdist(torch.as_tensor(points[lo:lo + _ROWS], dtype=torch.float64), c)
        out[lo:lo + _ROWS] = d.kthvalue(k, dim=1).values.numpy()
    return out


def _balls(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Per row of ``points``, how many balls of ``centres`` with ``radii`` hold it (boundary included)."""
    count = np.zeros(len(points), np.int64)
    c, r = torch.as_tensor(centres, dtype=torch.float64), torch.as_tensor(radii, dtype=torch.float64)
    for lo in range(0, len(points), _ROWS):
        d = torch.cdist(torch.as_tensor(points[lo:lo + _ROWS], dtype=torch.float64), c)
        count[lo:lo + _ROWS] = (d <= r[None]).sum(dim=1).numpy()
    return count


def _covered(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Per row of ``points``, whether it lies in some ball of ``centres`` with ``radii`` (boundary included)."""
    return _balls(points, centres, radii) > 0


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, eq. 1-2) of feature sets ``real``
    ``(N, d)`` and ``fake`` ``(M, d)``: each set's manifold is the union of balls around its
    features reaching their ``k``-th nearest neighbour in the same set; precision is the share of
    ``fake`` inside the real manifold (are the samples realistic?), recall the share of ``real``
    inside the generated one (is the data's variety covered?).

    Example:
        >>> x = np.arange(10.0)[:, None]
        >>> precision_recall(x, x), precision_recall(x, x + 100)
        ((1.0, 1.0), (0.0, 0.0))

    Raises:
        ValueError: a set of no more than ``k`` features (no k-th neighbour).
    """
    for name, x in (("real", real), ("fake", fake)):
        if len(x) <= k:
            raise ValueError(f"precision and recall need more than k = {k} {name} features, got {len(x)}")
    precision = _covered(fake, real, _nearest(real, real, k, skip_self=True)).mean()
    recall = _covered(real, fake, _nearest(fake, fake, k, skip_self=True)).mean()
    return float(precision), float(recall)


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = DC_NEIGHBOURS) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, eq. 3-4) of feature sets ``real`` ``(N, d)`` and
    ``fake`` ``(M, d)``, over the balls around each real feature reaching its ``k``-th nearest real
    neighbour: density is the mean number of balls holding a fake feature, over ``k`` (about 1 where
    fake is distributed as real; a sample inside one outlier's large ball counts 1/k there, where
    precision counts it realistic), coverage the share of real balls holding some fake feature
    (diversity, robust to fake outliers where recall is not).

    Example:
        >>> x = np.arange(10.0)[:, None]
        >>> density_coverage(x, x + 100)
        (0.0, 0.0)

    Raises:
        ValueError: ``real`` of no more than ``k`` features, or ``fake`` empty.
    """
    if len(real) <= k or not len(fake):
        raise ValueError(f"density and coverage need more than k = {k} real features and some fake ones, got "
                         f"{len(real)} and {len(fake)}")
    radii = _nearest(real, real, k, skip_self=True)
    density = _balls(fake, real, radii).sum() / (k * len(fake))
    coverage = (_nearest(real, fake, 1) <= radii).mean()
    return float(density), float(coverage)


def nearest_real(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Per feature of ``fake`` ``(M, d)``, its distance to the nearest of ``real`` ``(N, d)``: ``(M,)``."""
    return _nearest(fake, real, 1)


CROP_STRIDE = 4  # the grid, in pixels, the moving crops' corners are drawn from
# The classifier sees the square CONTEXT times a patch's side centred on each moving patch: an object
# of the uncertain-futures set spans 28-48 px, so a 32-px patch shows an edge of one, not its shape.
CONTEXT = 2


def moving_crops(before: np.ndarray, truth: np.ndarray, patch: int, min_motion: float, count: int,
                 rng: np.random.Generator) -> np.ndarray:
    """At most ``count`` random ``patch``-square crops of the frames ``truth`` ``(F, H, W, 3)`` where
    the truth moves: motion score (RMS difference on the 0..255 scale) from the frames ``before``
    (each true frame's previous one, same shape) of at least ``min_motion``, as the training and
    GAIA's evaluated patches are kept. Corners on a :data:`CROP_STRIDE` grid; crops may overlap (a
    few test clips still give FID its thousand patches).

    Returns:
        int64 ``(K, 3)``: each crop's frame, top and left, in order.
    """
    f, h, w = truth.shape[:3]
    if h < patch or w < patch:
        return np.zeros((0, 3), np.int64)
    d = truth.astype(np.float64) - before
    energy = np.pad((d * d).sum(-1), ((0, 0), (1, 0), (1, 0))).cumsum(1).cumsum(2)  # (F, H + 1, W + 1) integral
    ys, xs = np.arange(0, h - patch + 1, CROP_STRIDE), np.arange(0, w - patch + 1, CROP_STRIDE)
    y0, x0 = np.ix_(ys, xs)
    window = energy[:, y0 + patch, x0 + patch] - energy[:, y0, x0 + patch] - energy[:, y0 + patch, x0] + energy[:, y0, x0]
    score = np.sqrt(np.maximum(window, 0) / (patch * patch * 3))  # (F, len(ys), len(xs))
    t, i, j = np.nonzero(score >= min_motion)
    found = np.stack([t, ys[i], xs[j]], axis=1).astype(np.int64)
    return found if len(found) <= count else found[np.sort(rng.choice(len(found), count, replace=False))]


def tiles(frames: np.ndarray, origins: np.ndarray, patch: int, side: int | None = None) -> np.ndarray:
    """The crops at ``origins`` (:func:`moving_crops`) of ``frames`` ``(F, H, W, 3)``: ``(K, P, P, 3)``;
    with ``side``, the ``side``-square centred on each ``patch``-square crop instead, moved inside the
    frame where it would cross a border (and cut to the frame where it is larger): ``(K, S, S, 3)``."""
    h, w = frames.shape[1:3]
    sh, sw = (patch, patch) if side is None else (min(side, h), min(side, w))
    if not len(origins):
        return np.zeros((0, sh, sw, 3), frames.dtype)
    ys = np.clip(origins[:, 1] + (patch - sh) // 2, 0, h - sh)
    xs = np.clip(origins[:, 2] + (patch - sw) // 2, 0, w - sw)
    return np.stack([frames[t, y:y + sh, x:x + sw] for t, y, x in zip(origins[:, 0], ys, xs)])


def seeded_rows(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """At most ``limit`` of ``n`` rows, a seeded draw in order (all of them where ``n <= limit``)."""
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def class_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """The share of rows of ``logits`` ``(N, C)`` whose largest logit is at ``labels`` ``(N,)``."""
    return float((logits.argmax(1) == labels).mean()) if len(labels) else math.nan


def feature_extractor(params, device: torch.device) -> FrameFeatures | None:
    """The extractor of ``evaluate.features`` on ``device`` (``builtin``: the shipped file); None where
    it is ''."""
    ev = params.evaluate
    return FrameFeatures(shipped("features") if ev.features == BUILTIN else Path(ev.features), device) \
        if ev.features else None


def networks(params, device: torch.device, surroundings: bool = True) \
        -> tuple[FrameFeatures | None, FrameFeatures | None, str | None]:
    """The evaluation's extractor and classifier (``evaluate.features`` / ``evaluate.classifier``;
    ``builtin``: the shipped files of :mod:`pyext.evaluation.extractor`), each None where not asked
    for, and why the builtin classifier is refused (None where it is not): on a source whose
    classes do not show in one frame, and where the evaluation has no ``surroundings`` to give it
    (the :data:`CONTEXT`-times larger square around each patch: GAIA's samples are patches alone)."""
    ev = params.evaluate
    features = feature_extractor(params, device)
    classifier, refused = None, None
    # The classifier names the test videos' classes: data.test.source's where it has its own.
    key = "data.source" if params.data.test_source == params.data.source else "data.test.source"
    if ev.classifier == BUILTIN and not SOURCES[params.data.test_source].classes_in_one_frame:
        refused = (f"evaluate.classifier: builtin names object shapes; {key} {params.data.test_source}'s classes "
                   f"do not show in one frame, so the Inception Score and class accuracy are not computed")
    elif ev.classifier == BUILTIN and not surroundings:
        side = CONTEXT * params.clip.patch
        refused = (f"evaluate.classifier: builtin names an object's shape from the {side}-pixel square around a "
                   f"moving patch; these samples are {params.clip.patch}-pixel patches alone, which show part of "
                   f"an object, so the Inception Score and class accuracy are not computed")
    elif ev.classifier:
        path = shipped("classifier") if ev.classifier == BUILTIN else Path(ev.classifier)
        classifier = FrameFeatures(path, device, "evaluate.classifier", "class logits")
    return features, classifier, refused


__all__ = ["CONTEXT", "DC_NEIGHBOURS", "PR_NEIGHBOURS", "FrameFeatures", "class_accuracy", "density_coverage",
           "distances", "feature_extractor", "frechet_distance", "inception_score", "inception_scores",
           "kernel_distance", "moving_crops", "nearest_real", "networks", "precision_recall", "seeded_rows", "tiles"]
