"""FID and KID (pyext.evaluation.fid) through a local TorchScript extractor: the Fréchet distance against a
hand computation on known Gaussians, KID against the unbiased MMD by hand, FID refused where the
frames do not outnumber the dimensions, the evaluate stage's metrics with and without an extractor,
no network access, and bad extractor files in one line."""
from __future__ import annotations

import hashlib
import json
import socket
import warnings
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg
import torch
from cases import REPO, TEST_PARAMS
from test_evaluate import _generator, _test_store, _translating
from torch import nn

from pyext.files import EvaluationFiles
from pyext.config import ParamsError, load_params
from pyext.evaluation.predictor import METHODS, evaluate
from pyext.evaluation.fid import FrameFeatures, distances, frechet_distance, inception_score, kernel_distance

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Pooled(nn.Module):
    """A small random extractor: 4x4 average pooling, then a fixed random projection to ``d``."""

    def __init__(self, d: int):
        super().__init__()
        self.project = nn.Linear(3 * 16, d)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.project(nn.functional.adaptive_avg_pool2d(frames, 4).flatten(1))


def _extractor(path, d: int):
    torch.manual_seed(0)
    with warnings.catch_warnings():  # torch 2.14 deprecates TorchScript, the format the option reads
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Pooled(d)).save(str(path))
    return path


def test_frechet_distance_of_known_gaussians_by_hand():
    rng = np.random.default_rng(0)
    real = rng.normal([0.0, 1.0, 2.0], [1.0, 2.0, 0.5], size=(4000, 3))
    a = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.2, 0.0, 1.5]])
    fake = rng.normal(size=(3000, 3)) @ a.T + [0.5, 0.0, -1.0]
    m1, m2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-6)
    # and close to the distance of the Gaussians they were drawn from
    true = (np.sum(([0.0, 1.0, 2.0] - np.array([0.5, 0.0, -1.0])) ** 2)
            + np.trace(np.diag([1.0, 4.0, 0.25]) + a @ a.T
                       - 2 * scipy.linalg.sqrtm(np.diag([1.0, 4.0, 0.25]) @ a @ a.T).real))
    assert frechet_distance(real, fake) == pytest.approx(true, rel=0.05)
    assert frechet_distance(real, real) == pytest.approx(0, abs=1e-6)


def test_kernel_distance_is_the_unbiased_polynomial_mmd_by_hand():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(30, 4)), rng.normal(0.5, 1.0, size=(30, 4))

    def k(x, y):
        return (x @ y.T / 4 + 1) ** 3

    kxx, kyy, kxy = k(real, real), k(fake, fake), k(real, fake)
    n = len(real)
    mmd = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
           - 2 * kxy.mean())
    mean, std = kernel_distance(real, fake, subsets=1, subset_size=n)  # the one subset is everything
    assert mean == pytest.approx(mmd, rel=1e-4) and std == 0
    again = kernel_distance(real, fake, subsets=10, subset_size=20)
    assert again == kernel_distance(real, fake, subsets=10, subset_size=20)  # seeded subsets


def test_fid_is_refused_without_more_patches_than_twice_the_dimensions_and_kid_stays(tmp_path):
    features = FrameFeatures(_extractor(tmp_path / "f.pt", 8), torch.device("cpu"))
    rng = np.random.default_rng(2)
    for name in ("truth", "model"):
        features.add({name: rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)})
    small = distances(features, "truth", ["model"], subsets=5, subset_size=100)
    assert "fid" not in small and small["fid_refused"].startswith("6 patches <= 2 x 8 feature dimensions: "
                                                                  "the covariances are singular")
    assert small["kid_subset_size"] == 6 and set(small["kid"]["model"]) == {"mean", "std"}
    for name in ("truth", "model"):
        features.add({name: rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)})
    middle = distances(features, "truth", ["model"], subsets=5, subset_size=100)
    assert "fid" not in middle and "poorly estimated" in middle["fid_refused"]  # 16 = 2d
    for name in ("truth", "model"):
        features.add({name: rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)})
    large = distances(features, "truth", ["model"], subsets=5, subset_size=100)
    assert large["patches"] == 17 and large["dimension"] == 8 and large["fid"]["model"] > 0
    # The same rows of each set alone: the distance of those rows' features, by hand.
    rows = np.arange(0, 17, 2)
    chosen = distances(features, "truth", ["model"], subsets=5, subset_size=100, rows=rows)
    assert chosen["patches"] == 9 and chosen["kid"]["model"]["mean"] == pytest.approx(
        kernel_distance(features.features("truth")[rows], features.features("model")[rows], 5, 9)[0], abs=1e-8)
    assert large["extractor"] == "sha256:" + hashlib.sha256((tmp_path / "f.pt").read_bytes()).hexdigest()


_CLIPS = 5


def _evaluate(tmp_path, features: str, classifier: str = "", source: str = "demo", fid_patches: int = 2000):
    g, _ = _generator(tmp_path)
    clips = [np.ascontiguousarray(_translating(6, seed=s, h=64, w=80)) for s in range(_CLIPS)]
    _test_store(tmp_path / "test.h5", clips)
    p = load_params(TEST_PARAMS)
    p = replace(p, evaluate=replace(p.evaluate, pictures=0, features=features, classifier=classifier, kid_subsets=4,
                                    kid_subset_size=3, fid_patches=fid_patches),
                data=replace(p.data, source=source))
    return evaluate(p, g, tmp_path / "test.h5", EvaluationFiles(tmp_path / "eval"), torch.device("cpu"), progress=False)


def _moving_by_hand(step: int, patch: int = 32, min_motion: float = 8.0, share: int = 400) -> int:
    """The moving crops FID compares at step ``step`` over the test clips of :func:`_evaluate`, counted
    with numpy alone: every corner on a 4-pixel grid whose crop's RMS difference from the frame before
    reaches ``min_motion``, at most ``share`` a clip (evaluate.fid_patches 2000 over 5 clips)."""
    count = 0
    for s in range(_CLIPS):
        clip = _translating(6, seed=s, h=64, w=80).astype(np.float64)  # 64x80: multiples of 4 already
        t = 4 + step - 1  # the test params' 4 inputs, 1 output a step
        found = 0
        for y in range(0, 64 - patch + 1, 4):
            for x in range(0, 80 - patch + 1, 4):
                d = clip[t, y:y + patch, x:x + patch] - clip[t - 1, y:y + patch, x:x + patch]
                found += np.sqrt((d * d).mean()) >= min_motion
        count += min(found, share)
    return count


def test_evaluate_writes_fid_and_kid_with_an_extractor_and_never_touches_the_network(tmp_path, monkeypatch):
    extractor = _extractor(tmp_path / "extractor.pt", 4)

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    metrics = _evaluate(tmp_path, str(extractor))
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == metrics
    assert set(saved["fid"]) == set(saved["kid"]) == {"step1", "step2"}
    assert set(saved["fid"]["step1"]) == set(METHODS) and all(v >= 0 for v in saved["fid"]["step1"].values())
    about = saved["feature_extractor"]
    assert (about["patches"], about["dimension"], about["kid_subset_size"]) == (_moving_by_hand(2), 4, 3)
    assert about["extractor"] == "sha256:" + hashlib.sha256(extractor.read_bytes()).hexdigest()
    # At most evaluate.fid_patches of them, the same draw each run.
    fewer = _evaluate(tmp_path, str(extractor), fid_patches=9)
    assert fewer["feature_extractor"]["patches"] == 9 and set(fewer["fid"]["step1"]) == set(METHODS)
    assert fewer == _evaluate(tmp_path, str(extractor), fid_patches=9)


def test_the_shipped_extractor_is_the_default_and_never_touches_the_network(tmp_path, monkeypatch):
    from pyext.evaluation.extractor import EXTRACTOR_DIR

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    shipped = load_params(REPO / "params.yaml")  # the tests' own params leave FID off, for speed
    assert (shipped.evaluate.features, shipped.evaluate.classifier) == ("builtin", "")
    metrics = _evaluate(tmp_path, shipped.evaluate.features, "builtin")
    card = json.loads((EXTRACTOR_DIR / "card.json").read_text())
    about = metrics["feature_extractor"]
    assert about["extractor"] == card["files"]["features.pt"] and about["dimension"] == 128
    assert about["patches"] == _moving_by_hand(2) > 256 and set(metrics["fid"]["step1"]) == set(METHODS)
    assert set(metrics["kid"]["step1"]) == set(METHODS)
    # The demo's classes are motions: the shipped shape classifier is refused, in one line.
    assert metrics["classifier_refused"].startswith("evaluate.classifier: builtin names object shapes; data.source "
                                                    "demo's classes do not show in one frame")
    assert "inception_score" not in metrics and "class_accuracy" not in metrics
    shapes = _evaluate(tmp_path, "", "builtin", source="stochastic")
    assert set(shapes["class_accuracy"]["step1"]) == {*METHODS, "truth"}
    assert shapes["classifier"]["classifier"] == card["files"]["classifier.pt"] and shapes["classifier"]["classes"] == 4


def test_moving_crops_by_hand():
    from pyext.evaluation.fid import moving_crops, tiles

    rng = np.random.default_rng(0)
    before = rng.integers(0, 256, (2, 50, 70, 3)).astype(np.uint8)
    truth = before.copy()
    truth[0, 20:30, 30:40] = 255 - truth[0, 20:30, 30:40]  # a changed block in frame 0
    truth[1, 40:50, 60:70] = 255 - truth[1, 40:50, 60:70]  # and at frame 1's corner
    expected = []
    for t in range(2):
        for y in range(0, 50 - 32 + 1, 4):
            for x in range(0, 70 - 32 + 1, 4):
                d = truth[t, y:y + 32, x:x + 32].astype(float) - before[t, y:y + 32, x:x + 32]
                if np.sqrt((d * d).mean()) >= 20.0:
                    expected.append([t, y, x])
    found = moving_crops(before, truth, 32, 20.0, 1000, np.random.default_rng(1))
    assert 0 < len(expected) and found.tolist() == expected
    some = moving_crops(before, truth, 32, 20.0, 5, np.random.default_rng(1))  # a seeded draw of 5 of them
    assert len(some) == 5 and {tuple(r) for r in some.tolist()} <= {tuple(r) for r in expected}
    assert some.tolist() == moving_crops(before, truth, 32, 20.0, 5, np.random.default_rng(1)).tolist()
    cut = tiles(truth, some, 32)
    assert cut.shape == (5, 32, 32, 3) and np.array_equal(cut[0], truth[some[0, 0], some[0, 1]:some[0, 1] + 32,
                                                                         some[0, 2]:some[0, 2] + 32])
    assert moving_crops(before[:, :20], truth[:, :20], 32, 8.0, 10, rng).shape == (0, 3)  # smaller than a crop
    # The classifier's squares: twice the side, centred on each crop, moved inside the frame and cut to its
    # 50 rows; a crop at the corner, one inside.
    around = tiles(truth, np.array([[0, 0, 0], [1, 8, 20]]), 32, 64)
    assert around.shape == (2, 50, 64, 3)
    assert np.array_equal(around[0], truth[0, 0:50, 0:64]) and np.array_equal(around[1], truth[1, 0:50, 4:68])
    assert tiles(truth, np.zeros((0, 3), np.int64), 32, 64).shape == (0, 50, 64, 3)


def test_inception_score_by_hand():
    logits = np.random.default_rng(0).normal(size=(12, 5)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    marginal = p.mean(0)
    expected = np.exp(np.mean((p * (np.log(p) - np.log(marginal))).sum(1)))  # one part: the order is moot
    mean, std = inception_score(logits, splits=1)
    assert mean == pytest.approx(expected, rel=1e-6)
    confident = np.eye(5)[np.arange(10) % 5] * 50  # sure of each frame, every class equally often
    assert inception_score(confident, splits=1)[0] == pytest.approx(5, rel=1e-6)  # the score's maximum: C


def test_evaluate_writes_the_inception_score_with_a_classifier(tmp_path):
    classifier = _extractor(tmp_path / "classifier.pt", 7)  # its outputs read as 7 class logits
    metrics = _evaluate(tmp_path, "", str(classifier))
    assert set(metrics["inception_score"]) == {"step1", "step2"}
    assert set(metrics["inception_score"]["step1"]) == {*METHODS, "truth"}
    assert all(1 <= v["mean"] <= 7 for v in metrics["inception_score"]["step2"].values())
    about = metrics["classifier"]
    n = _moving_by_hand(2)
    assert (about["patches"], about["classes"], about["splits"]) == (n, 7, min(10, n))
    # Each patch's class is its clip's (all 0 here): the accuracy is the share with the largest logit at 0.
    assert 0 <= metrics["class_accuracy"]["step1"]["truth"] <= 1
    assert about["classifier"] == "sha256:" + hashlib.sha256(classifier.read_bytes()).hexdigest()
    assert "fid" not in metrics and "kid" not in metrics


class _Width(nn.Module):
    """Logits ``(N, 2)`` naming class 1 for frames 64 pixels wide, class 0 for frames 32 wide."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        width = torch.full((frames.shape[0], 1), float(frames.shape[-1]))
        return torch.cat([-(width - 32).abs(), -(width - 64).abs()], 1)


def test_the_classifier_sees_the_square_twice_the_patch_around_each_moving_patch(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Width()).save(str(tmp_path / "width.pt"))
    metrics = _evaluate(tmp_path, "", str(tmp_path / "width.pt"))
    # Every clip is of class 0: each square is named 1, being 64 wide (the test frames are 64x80).
    assert all(v == 0 for v in metrics["class_accuracy"]["step1"].values())
    assert metrics["classifier"]["patches"] == _moving_by_hand(1)


def test_the_builtin_classifier_is_refused_without_the_patches_surroundings():
    from pyext.evaluation.fid import networks

    p = load_params(TEST_PARAMS)
    p = replace(p, evaluate=replace(p.evaluate, features="", classifier="builtin"),
                data=replace(p.data, source="stochastic"))
    assert networks(p, torch.device("cpu"))[1:] != (None, None)
    _, classifier, refused = networks(p, torch.device("cpu"), surroundings=False)
    assert classifier is None and refused == (
        "evaluate.classifier: builtin names an object's shape from the 64-pixel square around a moving patch; "
        "these samples are 32-pixel patches alone, which show part of an object, so the Inception Score and "
        "class accuracy are not computed")


def test_bad_extractor_files_stop_with_one_line(tmp_path):
    pickle = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, pickle)
    with pytest.raises(ParamsError, match=r"^params.yaml: evaluate.features: not a TorchScript module: "):
        FrameFeatures(pickle, torch.device("cpu"))

    class Maps(nn.Module):
        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            return frames  # feature maps, not (N, d)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Maps()).save(str(tmp_path / "maps.pt"))
    features = FrameFeatures(tmp_path / "maps.pt", torch.device("cpu"))
    with pytest.raises(ParamsError, match=r"must return features \(2, d\) for 2 frames, got \(2, 3, 8, 8\)"):
        features.add({"truth": np.zeros((2, 8, 8, 3), np.uint8)})
    raw_missing = tmp_path / "params.yaml"
    raw_missing.write_text(TEST_PARAMS.read_text().replace('features: ""', 'features: "nowhere.pt"'))
    with pytest.raises(ParamsError, match=r"evaluate.features: no such file: .*nowhere.pt"):
        load_params(raw_missing)


class _Broken(nn.Module):
    """The pooled frames, as integers or with a NaN where a frame is dark, as a broken network's."""

    def __init__(self, fault: str):
        super().__init__()
        self.fault = fault

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(frames, 2).flatten(1)
        if self.fault == "integers":
            return (pooled * 100).long()
        return torch.where(pooled < 0.5, torch.full_like(pooled, float("nan")), pooled)


@pytest.mark.parametrize("fault,problem", [("nan", "values that are not finite"), ("integers", "torch.int64 values")])
@pytest.mark.parametrize("key", ["features", "classifier"])
def test_features_that_are_not_finite_numbers_stop_evaluate_with_one_line(tmp_path, key, fault, problem):
    # A NaN from the user's network was "measured": the stage succeeded and wrote NaN into
    # eval/metrics.json (not JSON to a strict parser).
    path = tmp_path / "broken.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(_Broken(fault)).save(str(path))
    with pytest.raises(ParamsError) as error:
        _evaluate(tmp_path, str(path) if key == "features" else "", str(path) if key == "classifier" else "")
    assert str(error.value).startswith(f"params.yaml: evaluate.{key}: {path} returned ") and problem in str(error.value)
    assert not (tmp_path / "eval" / "metrics.json").exists()


def test_no_nan_reaches_a_json_file(tmp_path):
    from pyext.files import write_json

    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        write_json(tmp_path / "metrics.json", {"fid": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_sets_added_in_one_call_are_split_back_as_added_apart(tmp_path):
    path = _extractor(tmp_path / "f.pt", 5)
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8), rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    together, apart = FrameFeatures(path, torch.device("cpu")), FrameFeatures(path, torch.device("cpu"))
    together.add({"a": a, "b": b})
    apart.add({"a": a})
    apart.add({"b": b})
    for name in ("a", "b"):
        np.testing.assert_allclose(together.features(name), apart.features(name), rtol=1e-6, atol=1e-9)
    assert together.features("a").shape == (3, 5) and together.features("b").shape == (2, 5)
