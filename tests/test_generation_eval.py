"""The evaluation of a generator from noise (pyext.evaluation.generation) and its measures
(pyext.evaluation.fid): precision and recall and FID on constructed feature sets against hand-computed
and scipy values, the untrained generator it compares with, and each family of generators from noise
(dcgan, lapgan, vaegan, biggan, gran) trained and evaluated end to end through the stage scripts with every output
the stages declare; a class-conditioned DCGAN on the stochastic set evaluated end to end (its images of
the real images' classes, their class accuracy through a classifier, the picture of a row per class)."""
from __future__ import annotations

import json
import sys
import warnings
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg
import scipy.spatial.distance
import torch
from cases import TEST_PARAMS, TINY_GENERATORS

from pyext.config import load_params
from pyext.evaluation.fid import density_coverage, frechet_distance, nearest_real, precision_recall
from pyext.evaluation.generation import untrained
from pyext.training import make_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _brute_precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Kynkaanniemi et al.'s definitions written out with scipy's distances, point by point."""
    def radii(x):
        return np.sort(scipy.spatial.distance.cdist(x, x), axis=1)[:, k]  # column 0: the point itself

    def share(points, centres):
        d, r = scipy.spatial.distance.cdist(points, centres), radii(centres)
        return np.mean([any(d[i, j] <= r[j] for j in range(len(centres))) for i in range(len(points))])

    return share(fake, real), share(real, fake)


def test_precision_and_recall_of_identical_disjoint_and_subset_sets():
    line = np.arange(20.0)[:, None]  # 20 features on a line, 1 apart
    assert precision_recall(line, line) == (1.0, 1.0)
    assert precision_recall(line, line + 1000) == (0.0, 0.0)
    # The first 10 as the samples: all realistic (precision 1). Their own 3-NN radii are 2 inside and 3
    # at the ends (point 9's third neighbour is 6), so they cover the reals 0..12: recall 13/20.
    assert precision_recall(line, line[:10]) == (1.0, 0.65)
    # ... and the other way round: all reals are among the samples (recall 1); samples 10..19 lie beyond
    # the balls of reals 0..9, which reach 12 (point 9's radius 3): precision 13/20.
    assert precision_recall(line[:10], line) == (0.65, 1.0)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 4)), rng.normal(0.5, 1.2, size=(50, 4))
    for k in (1, 3, 5):
        assert precision_recall(real, fake, k) == pytest.approx(_brute_precision_recall(real, fake, k), abs=1e-12)
    with pytest.raises(ValueError, match="more than k = 3 fake features, got 3"):
        precision_recall(real, fake[:3])
    assert nearest_real(np.array([[0.0], [4.4], [30.0]]), line).tolist() == pytest.approx([0.0, 0.4, 11.0])


def _brute_density_coverage(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Naeem et al.'s eq. 3-4 written out with scipy's distances, ball by ball."""
    radii = np.sort(scipy.spatial.distance.cdist(real, real), axis=1)[:, k]  # column 0: the point itself
    d = scipy.spatial.distance.cdist(real, fake)  # (real, fake)
    inside = [[d[i, j] <= radii[i] for j in range(len(fake))] for i in range(len(real))]
    return (sum(map(sum, inside)) / (k * len(fake)), np.mean([any(row) for row in inside]))


def test_density_and_coverage_of_identical_disjoint_subset_and_one_ball_sets():
    line = np.arange(10.0)[:, None]
    # k = 5: the radii are 5 4 3 3 3 3 3 3 4 5 (ends, then 3 inside); the balls hold 6 6 6 7 7 7 7 6 6 6
    # of the points: density 64 / (5 * 10).
    assert density_coverage(line, line) == (1.28, 1.0)
    assert density_coverage(line, line + 100) == (0.0, 0.0)
    # Samples 0, 1, 2 lie in 4, 5 and 6 balls (15 / (5 * 3)); the balls of reals 0..5 hold one: 6 / 10.
    assert density_coverage(line, line[:3]) == (1.0, 0.6)
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(60, 4)), rng.normal(0.5, 1.2, size=(50, 4))
    for k in (1, 3, 5):
        assert density_coverage(real, fake, k) == pytest.approx(_brute_density_coverage(real, fake, k), abs=1e-12)
    # Every sample in the ball of one real outlier alone: precision counts them all realistic, density
    # counts one ball of k (the demo set's untrained generator: module docstring of generation.py).
    cluster = np.concatenate([rng.normal(size=(40, 2)), [[30.0, 0.0]]])  # an outlier, its 5-NN ball large
    collapsed = np.full((20, 2), [25.0, 0.0])
    assert precision_recall(cluster, collapsed)[0] == 1.0
    assert density_coverage(cluster, collapsed) == (pytest.approx(1 / 5), 1 / 41)
    with pytest.raises(ValueError, match="more than k = 5 real features"):
        density_coverage(real[:5], fake)


def test_fid_of_identical_disjoint_and_subset_sets():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 3)) @ np.diag([1.0, 2.0, 0.5])
    assert frechet_distance(real, real) == pytest.approx(0, abs=1e-6)
    shift = np.array([30.0, -40.0, 0.0])  # disjoint: the same spread 50 apart, ||shift||^2 = 2500
    assert frechet_distance(real, real + shift) == pytest.approx(2500, rel=1e-9)
    subset = real[:150]  # torchmetrics' FID is the formula on unbiased covariances
    m1, m2, s1, s2 = real.mean(0), subset.mean(0), np.cov(real.T), np.cov(subset.T)
    expected = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert expected > 1e-3 and frechet_distance(real, subset) == pytest.approx(expected, rel=1e-6)


def _tiny(p, family: str):
    """``p`` training ``family`` at its tiny size."""
    section = replace(getattr(p.model, family), **TINY_GENERATORS[family])
    return replace(p, model=replace(p.model, family=family, **{family: section}))


@pytest.mark.parametrize("family,condition", [*((family, "none") for family in TINY_GENERATORS), ("dcgan", "acgan")])
def test_the_untrained_generator_is_the_training_steps_step_zero(family, condition):
    p = load_params(TEST_PARAMS)
    params = replace(_tiny(p, family), train=replace(p.train, seed=5, batch_size=4, device="cpu"))
    params = replace(params, model=replace(params.model, condition=condition))
    classes = 0 if condition == "none" else 3
    step = make_step(params, torch.device("cpu"), classes=classes)
    start = {k: v.clone() for k, v in step.model.state_dict().items()}
    labels = None if condition == "none" else [torch.tensor([0, 2, 1, 1])]
    step.step(0, [torch.rand(4, 5, 3, 32, 32) * 2 - 1], labels)  # trained a step: the model moved on
    state = torch.random.get_rng_state()
    fresh = untrained(step.model, 5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global random state is kept
    assert not fresh.training and fresh.config() == step.model.config() and fresh.classes == classes
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, start[k]), k
    assert not all(torch.equal(v, step.model.state_dict()[k]) for k, v in fresh.state_dict().items())
    other = untrained(step.model, 6).state_dict()
    assert not all(torch.equal(v, other[k]) for k, v in fresh.state_dict().items())


@pytest.mark.parametrize("family", list(TINY_GENERATORS))
def test_the_pipeline_trains_and_evaluates_a_generator_with_every_output(tmp_path, family):
    import h5py
    import yaml
    from cases import run_in, set_params, tiny_pipeline

    import hashlib

    from pyext.evaluation.extractor import shipped

    work = tiny_pipeline(tmp_path)
    knobs = {f"model__{family}__{k}": v for k, v in TINY_GENERATORS[family].items()}
    set_params(work, model__family=family, **knobs, train__init="", train__batch_size=4, evaluate__patches=40,
               filter__min_motion=1.0, evaluate__features="builtin",
               evaluate__classifier="builtin")
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
        if stage == "train":  # its FID and KID on frames of validation patches: too few for FID
            assert "feature dimensions: the generator's FID is not measured during training, its KID alone" in done.stdout
            assert "train: at step 4, KID " in done.stdout
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    n = metrics["samples"]
    assert metrics["family"] == family and 2 <= n <= 40 and metrics["size"] == 32 and metrics["step"] == 4
    names = {"generator", "untrained", "blurred", "noisy", "truncation 1"}  # the tests' evaluate.truncation: [1.0]
    assert set(metrics["kid"]) == names and set(metrics["precision"]) == set(metrics["recall"]) == names
    assert metrics["truncation"]["thresholds"] == [1.0] and metrics["truncation"]["sets"] == ["truncation 1"]
    extractor = metrics["feature_extractor"]
    digest = "sha256:" + hashlib.sha256(shipped("features").read_bytes()).hexdigest()
    assert extractor["patches"] == n and extractor["extractor"] == digest
    assert extractor["fid_refused"].startswith(f"{n} patches <= 2 x 128") and "fid" not in metrics
    assert extractor["pr_neighbours"] == 3 and all(0 <= v <= 1 for v in metrics["precision"].values())
    # The real frames blurred lie nearer the real ones than an untrained generator's noise does.
    assert metrics["kid"]["blurred"]["mean"] < metrics["kid"]["untrained"]["mean"]
    assert metrics["classifier_refused"].startswith("evaluate.classifier: builtin names object shapes")
    assert done.stdout.startswith(f"evaluate: {family}, {n} generated images against {n} frames of moving test patches "
                                  "through features.pt: KID generator ")
    with h5py.File(work / "eval" / "predictions.h5") as f:
        assert f["predictions"].shape == (n, 1, 32, 32, 3) and f.attrs["family"] == family
    steps = (work / "eval" / "plots" / "steps.csv").read_text().splitlines()
    assert steps[0] == "step,series,value"
    assert [row.split(",")[:2] for row in steps[1:3]] == [["0", "kid"], ["4", "kid"]]
    assert len((work / "eval" / "plots" / "clips.csv").read_text().splitlines()) == 1 + 2 * n
    kid = (work / "dvclive" / "plots" / "metrics" / "val" / "kid.tsv").read_text().splitlines()
    assert kid[0] == "step\tkid" and [row.split("\t")[0] for row in kid[1:]] == ["0", "2", "4"]  # untrained, every 2
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    for stage in ("train", "evaluate"):
        for group in ("outs", "metrics", "plots"):
            for out in stages[stage][group]:
                assert (work / (out if isinstance(out, str) else next(iter(out)))).exists(), (stage, out)
    # VAE-GAN's real images over its reconstructions; GRAN's canvas after each step
    own = {"vaegan": ["reconstructions.png"], "gran": ["canvases.png"]}.get(family, [])
    assert sorted(p.name for p in (work / "eval" / "pictures").iterdir()) == sorted(
        ["real.png", *own, "samples.png", "truncation.png", "untrained.png"])
    assert sorted(p.name for p in (work / "dvclive" / "plots" / "images").iterdir()) == ["samples"]


def test_a_conditioned_generator_is_evaluated_with_the_real_classes_their_accuracy_and_a_row_per_class(tmp_path):
    import h5py
    from cases import run_in, set_params, tiny_pipeline
    from PIL import Image
    from torch import nn

    from pyext.evaluation.generation import GRID, real_images

    class Colour(nn.Module):
        """A classifier of patches (N, 3, S, S) in [0, 1]: class 0 where red outweighs green, else 1."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            means = x.mean((2, 3))
            return 10.0 * torch.stack([means[:, 0] - means[:, 1], means[:, 1] - means[:, 0]], dim=1)

    classifier = tmp_path / "colour.pt"
    with warnings.catch_warnings():  # torch deprecates TorchScript, the format evaluate.classifier reads
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.script(Colour()).save(str(classifier))
    work = tiny_pipeline(tmp_path)
    knobs = {f"model__dcgan__{k}": v for k, v in TINY_GENERATORS["dcgan"].items()}
    set_params(work, data__source="stochastic", stochastic__classes=2, stochastic__groups=3, stochastic__test_groups=1,
               stochastic__clips_per_group=1, stochastic__frames=12, model__family="dcgan", model__condition="acgan",
               **knobs, train__init="", train__batch_size=4, evaluate__patches=40, filter__min_motion=1.0,
               evaluate__features="builtin", evaluate__classifier=str(classifier), evaluate__truncation=[])
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    n, sets = metrics["samples"], {"real", "generator", "untrained", "blurred", "noisy"}  # no truncation curve: []
    assert "truncation" not in metrics and not (work / "eval" / "pictures" / "truncation.png").exists()
    assert metrics["classes"] == 2 and set(metrics["class_accuracy"]) == set(metrics["inception_score"]) == sets
    # Image i was asked for real image i's class: the real images' class proportions, exactly.
    params = load_params(work / "params.yaml")
    _, real_labels = real_images(work / "data" / "test.h5", params)
    with h5py.File(work / "eval" / "predictions.h5") as f:
        images, labels = f["predictions"][:, 0], f["label"][:]
    assert np.array_equal(labels, real_labels) and set(labels.tolist()) == {0, 1} and len(labels) == n
    # The class accuracy is the share of generated images the classifier assigns to the class asked for.
    logits = Colour()(torch.from_numpy(images).permute(0, 3, 1, 2).double() / 255).numpy()
    assert metrics["class_accuracy"]["generator"] == pytest.approx((logits.argmax(1) == labels).mean(), abs=1e-4)
    assert any(line.startswith("evaluate: class accuracy ") for line in done.stdout.splitlines())
    # A row per class, GRID images of the same latents in each.
    picture = np.asarray(Image.open(work / "eval" / "pictures" / "classes.png"))
    assert picture.shape == (2 * (2 * 32 + 2), min(GRID, n) * (2 * 32 + 2), 3)
    assert sorted(p.name for p in (work / "eval" / "pictures").iterdir()) == ["classes.png", "real.png", "samples.png",
                                                                               "untrained.png"]
