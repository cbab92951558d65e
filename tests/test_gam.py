"""The Generative Adversarial Metric (pyext.evaluation.gam; Im et al. 2016, section 5): the ratios and
verdict of two constructed discriminators (thresholds on mean brightness) on constructed images
against hand-computed errors, the refusal where r_test's interval leaves [0.9, 1.1], zero
denominators, the bootstrap (its counts against resampling indices, its interval around the point
estimate and narrowing with more data), which objectives give a classifier, the one-line refusals
of runs, and ``beyondmse gam`` end to end on two tiny trained DCGANs."""
from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from cases import TEST_PARAMS, TINY_GENERATORS, moving_squares, set_params, write_clips

from pyext import cli
from pyext.config import load_params
from pyext.evaluation.gam import Classifier, battle, decision_threshold, ratio, verdict
from pyext.evaluation.samples import BATCH

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def brightness(cut: float) -> Classifier:
    """A discriminator calling an image real where its mean brightness lies above ``cut``."""
    return Classifier(lambda images, labels: images.mean((1, 2, 3)) - cut, 0.0)


def images(*groups: tuple[float, int]) -> torch.Tensor:
    """Constant images ``(N, 3, 4, 4)``: ``count`` of each ``(value, count)``."""
    return torch.cat([torch.full((count, 3, 4, 4), value) for value, count in groups])


# D_A: real above 0; D_B: real above 0.05. On the test images (brightness 0.5 or -0.5) they make the
# same errors, the two dark ones each: r_test = 0.2 / 0.2 = 1 on every resample (the same images).
D_A, D_B = brightness(0.0), brightness(0.05)
TEST = images((0.5, 8), (-0.5, 2))
# G_A's samples: 2 bright, 4 at 0.03, 4 dark: D_B (above 0.05) takes the 2 bright for real: 2 / 10.
# G_B's samples: 2 bright, 4 at 0.03, 4 dark: D_A (above 0) takes 6 for real: 6 / 10. r_samples = 3.
SAMPLES_A = images((0.5, 2), (0.03, 4), (-0.5, 4))
SAMPLES_B = images((0.03, 4), (0.5, 2), (-0.5, 4))


def test_the_battle_of_two_brightness_thresholds_against_hand_computed_errors():
    result = battle(D_A, D_B, TEST, SAMPLES_A, SAMPLES_B, resamples=500)
    assert result["errors"] == {"test_A": 0.2, "test_B": 0.2, "A_on_B_samples": 0.6, "B_on_A_samples": 0.2}
    assert result["r_test"]["value"] == 1.0 and result["r_test"]["interval"] == [1.0, 1.0]
    assert result["r_test"]["errors"] == [2, 2] and result["r_test"]["images"] == [10, 10]
    assert result["r_samples"]["value"] == pytest.approx(3.0) and result["r_samples"]["errors"] == [6, 2]
    # D_A is fooled by G_B's samples three times as often as D_B by G_A's: B wins.
    assert result["verdict"] == "B" and result["verdict_line"].startswith("B wins (r_samples > 1)")
    swapped = battle(D_B, D_A, TEST, SAMPLES_B, SAMPLES_A, resamples=500)
    assert swapped["r_samples"]["value"] == pytest.approx(1 / 3) and swapped["verdict"] == "A"
    itself = battle(D_A, D_A, TEST, SAMPLES_A, SAMPLES_A, resamples=500)  # a model against itself: a tie
    assert itself["r_samples"]["value"] == 1.0 and itself["verdict"] == "tie"


def test_an_output_at_the_threshold_is_an_error_either_way():
    at = Classifier(lambda images, labels: images.mean((1, 2, 3)), 0.25)
    assert at.says_real(images((0.25, 2), (0.3, 1))).tolist() == [False, False, True]
    # So a real image at the threshold counts wrong for D, and a generated one fools it not.
    result = battle(at, D_A, images((0.25, 1), (0.5, 3)), images((0.25, 4)), images((0.25, 4)), resamples=50)
    assert result["errors"]["test_A"] == 0.25 and result["errors"]["A_on_B_samples"] == 0.0


def test_no_verdict_where_r_test_leaves_the_band_but_the_ratios_are_given():
    # D_B cut at 0.2 also calls the four images at 0.1 generated: test errors 2 / 10 against 6 / 10.
    d_b = brightness(0.2)
    test = images((0.5, 4), (0.1, 4), (-0.5, 2))
    result = battle(D_A, d_b, test, SAMPLES_A, SAMPLES_B, resamples=500)
    assert result["r_test"]["value"] == pytest.approx(1 / 3) and result["verdict"] is None
    assert result["r_samples"]["value"] == pytest.approx(0.6 / 0.2)  # still measured and reported
    lo, hi = result["r_test"]["interval"]
    assert result["verdict_line"] == (f"no verdict: r_test's interval [{lo:.3f}, {hi:.3f}] is not inside [0.9, 1.1]: "
                                      "the discriminators do not generalise alike on the test images "
                                      "(Im et al. 2016, section 5)")
    # An interval that reaches past 1.1 alone refuses too, though the point estimate is 1.
    wide = {"value": 1.0, "interval": [0.95, 1.2]}
    assert verdict(wide, result["r_samples"])[0] is None


def test_zero_denominators_are_said_not_divided():
    # D_B takes every test image right (cut below the dark ones): r_test = x / 0.
    d_b = brightness(-0.9)
    result = battle(D_A, d_b, TEST, SAMPLES_A, SAMPLES_B, resamples=100)
    assert result["r_test"]["value"] is None and result["r_test"]["interval"] is None
    assert result["r_test"]["undefined"] == "a zero error in the denominator (0 of 10)"
    assert result["verdict"] is None and result["verdict_line"].startswith("no verdict: r_test is undefined (a zero")
    # No sample of G_A fools D_B: r_samples undefined, r_test fine: still no verdict, said why.
    darker = battle(D_A, D_B, TEST, images((-0.5, 10)), SAMPLES_B, resamples=100)
    assert darker["r_samples"]["value"] is None
    assert darker["verdict_line"] == "no verdict: r_samples is undefined (a zero error in the denominator (0 of 10))"
    json.dumps(darker, allow_nan=False)  # strict JSON (what --out is written as): no NaN nor infinity


def test_resamples_with_a_zero_denominator_give_an_infinite_end_or_are_left_out():
    first, second = np.array([1, 0, 0, 0], bool), np.array([1, 0, 0, 0], bool)
    r = ratio(first, second, resamples=2000, seed=1)  # independent: some resamples draw no error below
    assert r["value"] == 1.0 and r["interval"][1] == "inf" and r["undefined_resamples"] > 0
    # P(no error among 4 draws) = 0.75^4 each: about 0.32^2 of the resamples are 0 / 0.
    assert r["undefined_resamples"] / 2000 == pytest.approx(0.75 ** 8, abs=0.03)


@pytest.mark.parametrize("paired", [False, True])
def test_the_bootstrap_counts_are_those_of_resampling_the_images(paired):
    rng = np.random.default_rng(0)
    first, second = rng.random(40) < 0.3, rng.random(40) < 0.5
    if paired:  # correlated errors: the same images are hard for both D's
        second = first | (rng.random(40) < 0.3)
    r = ratio(first, second, resamples=20000, seed=2, paired=paired)
    # Resampling indices outright (both vectors through the same indices where paired).
    picks_a = rng.integers(0, 40, (20000, 40))
    picks_b = picks_a if paired else rng.integers(0, 40, (20000, 40))
    top, bottom = first[picks_a].mean(1), second[picks_b].mean(1)
    brute = np.quantile(top[bottom > 0] / bottom[bottom > 0], [0.025, 0.975], method="inverted_cdf")
    assert r["interval"] == pytest.approx(brute, rel=0.06)
    assert r["value"] == pytest.approx(first.mean() / second.mean())


def test_the_interval_holds_the_estimate_and_narrows_with_more_images():
    rng = np.random.default_rng(3)
    first, second = rng.random(60) < 0.25, rng.random(60) < 0.35
    widths = []
    for copies in (1, 4, 16):
        r = ratio(np.tile(first, copies), np.tile(second, copies), resamples=3000, seed=4)
        lo, hi = r["interval"]
        assert lo <= r["value"] <= hi
        widths.append(hi - lo)
    assert widths[0] > 1.6 * widths[1] > 1.6 * 1.6 * widths[2]  # about halving with 4 times the images
    assert ratio(first, second, confidence=0.5, resamples=3000, seed=4)["interval"][1] < hi + widths[0]
    narrow, wide = (ratio(first, second, confidence=c, resamples=3000, seed=4)["interval"] for c in (0.5, 0.99))
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_which_objectives_give_a_classifier():
    from dataclasses import replace

    from pyext.losses import make_objective

    p = load_params(TEST_PARAMS).loss.adversarial
    thresholds = {kind: decision_threshold(make_objective(replace(p, kind=kind)))
                  for kind in ("bce", "minimax", "lsgan", "hinge", "fgan", "wgan", "wgan_gp", "ebgan", "began")}
    assert thresholds == {"bce": 0.0, "minimax": 0.0, "lsgan": 0.5, "hinge": 0.0, "fgan": thresholds["fgan"],
                          "wgan": None, "wgan_gp": None, "ebgan": None, "began": None}
    assert thresholds["fgan"] is not None


# ------------------------------------------------------------------------------------ the runs


def _folder(tmp_path, name: str, **changes):
    """A run folder: the tests' params for a tiny 4-step DCGAN (``changes`` on top)."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(TEST_PARAMS, folder / "params.yaml")
    knobs = {f"model__dcgan__{k}": v for k, v in TINY_GENERATORS["dcgan"].items()}
    settings = dict(model__family="dcgan", **knobs, train__steps=4, train__batch_size=4, train__device="cpu",
                    train__workers=0, train__checkpoint_every=2, train__log_every=1, train__val_every=2,
                    train__val_batches=1, train__image_every=4, train__seed=3, evaluate__patches=24,
                    filter__min_motion=1.0)
    set_params(folder, **(settings | changes))
    return folder


def _trained(tmp_path, data_dir, name: str, kind: str):
    from pyext.files import DataFiles, Layout
    from pyext.training import train

    folder = _folder(tmp_path, name, loss__adversarial__kind=kind)
    train(load_params(folder / "params.yaml"), DataFiles(data_dir), Layout(folder).train, progress=False)
    return folder


def _gam(capsys, *args):
    with pytest.raises(SystemExit) as done:
        cli.main(["gam", *map(str, args)])
    return done.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny DCGANs trained 4 steps (BCE, LSGAN) and a test store of moving squares."""
    tmp = tmp_path_factory.mktemp("gam")
    data = tmp / "data"
    data.mkdir()
    write_clips(data / "train.h5", moving_squares(24, 5, seed=1))
    write_clips(data / "val.h5", moving_squares(6, 5, seed=2))
    write_clips(data / "test.h5", moving_squares(24, 5, seed=5))
    torch.set_num_threads(1)
    return {"a": _trained(tmp, data, "a", "bce"), "b": _trained(tmp, data, "b", "lsgan"), "test": data / "test.h5",
            "tmp": tmp}


def test_beyondmse_gam_on_two_trained_dcgans(runs, tmp_path, capsys):
    from pyext.evaluation.generation import real_images
    from pyext.data.dataset import to_model
    from pyext.models.dcgan import DCGANDiscriminator

    out = tmp_path / "gam.json"
    params = runs["a"] / "params.yaml"
    cli.main(["gam", str(runs["a"]), str(runs["b"]), "--out", str(out), "--test", str(runs["test"]),
              "--params", str(params), "--resamples", "200"])
    printed = capsys.readouterr().out.splitlines()
    result = json.loads(out.read_text())
    assert result["runs"]["A"]["objective"] == "bce" and result["runs"]["B"]["objective"] == "lsgan"
    assert result["runs"]["A"]["threshold"] == 0.0 and result["runs"]["B"]["threshold"] == 0.5
    assert result["confidence"] == 0.95 and result["resamples"] == 200
    real, _ = real_images(runs["test"], load_params(params))
    n = len(real)
    assert result["test"]["images"] == n == result["samples"] and n >= 2
    # D of A rebuilt by hand from its checkpoint, in training mode (batch statistics, each batch of
    # BATCH test images normalised whole): its errors on the real test images.
    p = load_params(runs["a"] / "params.yaml")
    D = DCGANDiscriminator.from_params(p)
    D.load_state_dict(torch.load(runs["a"] / "models" / "checkpoint.pt", weights_only=True)["discriminator"])
    with torch.no_grad():
        x = to_model(real)
        wrong = torch.cat([D.train()([x[i:i + BATCH]])[0][:, 0] <= 0
                           for i in range(0, n, BATCH)]).float().mean().item()
    assert result["errors"]["test_A"] == pytest.approx(wrong, abs=1e-6)
    for name in ("r_test", "r_samples"):
        r, (top, bottom) = result[name], result[name]["errors"]
        if r["value"] is not None:
            assert r["value"] == pytest.approx((top / r["images"][0]) / (bottom / r["images"][1]))
    assert printed[-1] == f"gam: {result['verdict_line']}; written to {out}"
    assert printed[2].startswith("error on test images") and printed[4].startswith("r_test    = ")
    # The same run twice: r_test 1 on every resample, r_samples 1: a tie (or, with no error, said why).
    cli.main(["gam", str(runs["a"]), str(runs["a"]), "--out", str(out), "--test", str(runs["test"]),
              "--params", str(params), "--resamples", "50", "--samples", "30"])
    itself = json.loads(out.read_text())
    assert itself["samples"] == 30
    assert itself["errors"]["test_A"] == itself["errors"]["test_B"]
    assert itself["errors"]["A_on_B_samples"] == itself["errors"]["B_on_A_samples"]
    assert itself["verdict"] == "tie" or itself["verdict_line"].startswith("no verdict: r_")
    capsys.readouterr()


def test_a_judging_d_normalises_by_each_batch_and_leaves_its_running_statistics():
    from pyext.evaluation.gam import judging
    from pyext.models.blocks import set_batch_groups
    from pyext.models.dcgan import DCGANDiscriminator

    torch.manual_seed(0)
    d = DCGANDiscriminator.from_params(load_params(TEST_PARAMS))
    set_batch_groups(d, 4)  # as training left it: real and generated halves normalised apart
    for module in d.modules():  # running statistics of neither kind, far from any batch's
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.fill_(5.0)
            module.running_var.fill_(0.01)
    kept = {k: v.clone() for k, v in d.state_dict().items()}
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        by_hand = copy.deepcopy(d)
        set_batch_groups(by_hand, None)
        expected = by_hand.train()([x])[0]  # plain training batch norm over the whole batch
        eval_mode = copy.deepcopy(d).eval()([x])[0]
        judged = judging(d)([x])[0]
    assert torch.allclose(judged, expected, atol=1e-6) and not torch.allclose(judged, eval_mode, atol=1e-2)
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in kept.items())  # running statistics untouched


def test_runs_the_gam_cannot_battle_are_refused_in_one_line(runs, tmp_path, capsys):
    from pyext.models import generator_file
    from pyext.models.lapgan import LAPGAN
    from pyext.models.multiscale import MultiScaleGenerator

    a, test, out = runs["a"], runs["test"], tmp_path / "gam.json"
    common = ["--out", out, "--test", test, "--params", a / "params.yaml"]
    code, said = _gam(capsys, tmp_path / "nowhere", a, *common)
    assert code == 2 and said.err == (f"gam: {tmp_path / 'nowhere'}: no such run folder (a folder where a generator "
                                      "from noise was trained: params.yaml, models/generator.pt, "
                                      "models/checkpoint.pt)\n")
    # A predictor's run; a LAPGAN's (a pyramid of D's); a critic's (no threshold); each in one line.
    for name, model, family, kind, expected in (
            ("predictor", MultiScaleGenerator(scales=2, width=0.05), "multiscale", "bce",
             "a multiscale model, which samples no images from noise"),
            ("lapgan", LAPGAN(**TINY_GENERATORS["lapgan"]), "lapgan", "bce",
             "a lapgan generator: the GAM needs one classifier D per model, and lapgan has none (its discriminators "
             "are a pyramid"),
            ("critic", None, "dcgan", "wgan_gp", "loss.adversarial.kind wgan_gp trains a D whose output (a critic's "
                                                 "score, an energy) has no threshold between real and generated")):
        folder = _folder(tmp_path, name, model__family=family, loss__adversarial__kind=kind)
        (folder / "models").mkdir()
        if model is None:
            shutil.copy(a / "models" / "generator.pt", folder / "models" / "generator.pt")
        else:
            torch.save(generator_file(model), folder / "models" / "generator.pt")
        code, said = _gam(capsys, a, folder, *common)
        assert code == 2 and expected in said.err and len(said.err.splitlines()) == 1, said.err
    # Another run's checkpoint beside a generator: its params are not the folder's.
    mixed = _folder(tmp_path, "mixed", loss__adversarial__kind="lsgan")
    shutil.copytree(a / "models", mixed / "models")
    code, said = _gam(capsys, a, mixed, *common)
    assert code == 2 and said.err == f"gam: {mixed / 'models' / 'checkpoint.pt'}: trained with other params than " \
                                     f"{mixed / 'params.yaml'} (the run's own params are needed)\n"
    # The run's params, but the checkpoint of another generator (B's weights in A's checkpoint).
    other = tmp_path / "other"
    shutil.copytree(a, other)
    checkpoint = torch.load(other / "models" / "checkpoint.pt", weights_only=True)
    checkpoint["generator"] = torch.load(runs["b"] / "models" / "checkpoint.pt", weights_only=True)["generator"]
    torch.save(checkpoint, other / "models" / "checkpoint.pt")
    code, said = _gam(capsys, a, other, *common)
    assert code == 2 and "holds another generator than" in said.err
    code, said = _gam(capsys, a, a, *common[:2], "--test", test, "--params", a / "params.yaml", "--confidence", "1.5")
    assert code == 2 and said.err == "gam: --confidence must be in (0, 1), got 1.5\n"
    assert yaml.safe_load((a / "params.yaml").read_text())["loss"]["adversarial"]["kind"] == "bce"
