"""GAIA (pyext.losses.gaia, pyext.models.gaia, pyext.training.steps.gaia): each loss term and the
balancing against hand-computed values, the interpolations, the structure term against the
reference op and its gradient into the encoder, and a run resumed bit for bit."""
from __future__ import annotations

import math
import sys
from dataclasses import replace

import pytest
import torch
from cases import TEST_PARAMS, assert_same_weights, saved_weights

from pyext.files import DataFiles, RunFiles
from pyext import reference
from pyext.config import ParamsError, load_params, parse_params
from pyext.losses import gaia as losses
from pyext.models import load_generator
from pyext.models.gaia import GAIA, levels_of
from pyext.training import make_step, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _s(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _t(v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def test_errors_are_mean_absolute_on_the_unit_scale():
    a = torch.tensor([-1.0, 1.0, 0.0, 0.5])
    b = torch.tensor([1.0, 1.0, 0.0, -0.5])
    # on [0, 1]: 0 vs 1, 1 vs 1, 0.5 vs 0.5, 0.75 vs 0.25 -> (1 + 0 + 0 + 0.5) / 4
    assert float(losses.l1(a, b)) == pytest.approx(0.375)


def test_balancing_and_both_losses_by_hand():
    real, recon, interp, structure = _t(0.1), _t(0.2), _t(0.3), _t(0.4)
    errors = losses.GAIAErrors(real, recon, interp, structure)
    assert float(errors.fake) == pytest.approx(0.25)
    balance = losses.GAIABalance.of(real, recon, interp, slope=20.0)
    assert float(balance.d_share) == pytest.approx(_s(20 * (0.1 - 0.25)))  # s(-3)
    assert float(balance.p_fake) == pytest.approx(_s(20 * (0.5 * 0.3 - 0.1)))  # s(1)
    assert float(balance.p_interp) == pytest.approx(_s(20 * (0.3 - 0.2)))  # s(2)
    assert float(losses.discriminator_loss(errors, balance)) == pytest.approx(0.1 - _s(1) * 0.25)
    w = 0.5
    assert float(losses.generator_loss(errors, balance, w)) == pytest.approx(_s(2) * 0.3 + (1 - _s(2)) * 0.2 + w * 0.4)


def test_p_fake_is_capped_and_the_losses_clipped_with_no_gradient_beyond():
    balance = losses.GAIABalance.of(_t(0.0), _t(0.0), _t(1.0), slope=20.0)
    assert float(balance.p_fake) == pytest.approx(0.9)  # s(10) = 0.99995, capped
    structure = torch.tensor(10.0, dtype=torch.float64, requires_grad=True)
    errors = losses.GAIAErrors(_t(0.1), _t(0.2), _t(0.3), structure)
    loss = losses.generator_loss(errors, balance, 1.0)
    assert float(loss.detach()) == 1.0
    loss.backward()
    assert float(structure.grad) == 0.0
    # D's loss is clipped below: real 0, fake 1 with p_fake 0.9 -> -0.9 (inside), and never < -1
    assert float(losses.discriminator_loss(losses.GAIAErrors(_t(0.0), _t(1.0), _t(1.0), _t(0.0)), balance)) \
        == pytest.approx(-0.9)


def test_balancing_weights_are_constants_of_the_step():
    real, recon, interp = (torch.tensor(v, requires_grad=True) for v in (0.1, 0.2, 0.3))
    balance = losses.GAIABalance.of(real, recon, interp, slope=20.0)
    assert not any(t.requires_grad for t in (balance.d_share, balance.p_fake, balance.p_interp))
    loss = losses.generator_loss(losses.GAIAErrors(real, recon, interp, torch.tensor(0.0)), balance, 0.0)
    loss.backward()  # d/d(interp) = p_interp exactly: the weight itself is not differentiated
    assert float(interp.grad) == pytest.approx(float(balance.p_interp))
    assert float(recon.grad) == pytest.approx(1 - float(balance.p_interp))


def test_interpolations_pair_the_halves_twice_the_second_time_reversed():
    z = torch.tensor([[0.0], [1.0], [10.0], [20.0]])
    t = torch.tensor([[0.5, 0.25], [0.0, 1.0]])
    # a = [0, 1], b = [10, 20]: a + t0 (b - a) = [5, 5.75]; reversed a' = [1, 0]: a' + t1 (b - a') = [1, 20]
    assert losses.interpolate(z, t).flatten().tolist() == [5.0, 5.75, 1.0, 20.0]
    with pytest.raises(ValueError, match="B even"):
        losses.interpolate(torch.zeros(3, 2), torch.zeros(2, 1))


def test_interpolation_coefficients_follow_the_normal_they_are_drawn_from():
    t = losses.interpolation_weights(50_000, 0.5, 0.25, generator=torch.Generator().manual_seed(0))
    assert t.shape == (2, 50_000)
    assert float(t.mean()) == pytest.approx(0.5, abs=0.004)  # 4 standard errors of the mean
    assert float(t.std()) == pytest.approx(0.25, abs=0.003)
    # N(0.5, 0.25) puts 2 Phi(-2) = 4.55% outside [0, 1]: extrapolations
    outside = float(((t < 0) | (t > 1)).double().mean())
    assert outside == pytest.approx(2 * 0.5 * math.erfc(2 / math.sqrt(2)), abs=0.003)


def test_structure_term_is_the_reference_op_and_reaches_the_encoder():
    torch.manual_seed(0)
    model = GAIA(frames=5, patch=8, latent=4, width=0.1).double()
    x = torch.rand(6, 5, 3, 8, 8, dtype=torch.float64) * 2 - 1
    z = model.encode(x)
    term = losses.structure(x, z)
    torch.testing.assert_close(term, reference.structure_loss(x.flatten(1), z))
    term.backward()
    first = model.generator.encoder[0].weight.grad
    assert first is not None and float(first.abs().sum()) > 0
    assert all(p.grad is None for p in model.discriminator.parameters())
    # a batch of identical samples: finite (the mean distance is floored), not NaN
    same = x[:1].expand(6, -1, -1, -1, -1)
    assert torch.isfinite(losses.structure(same, model.encode(same)))


def test_autoencoder_shapes_and_samples():
    assert [levels_of(p) for p in (8, 32, 64)] == [1, 3, 4]
    with pytest.raises(ValueError, match="power of two"):
        levels_of(48)
    model = GAIA(frames=5, patch=32, latent=16, width=0.1)
    clips = torch.zeros(4, 5, 3, 32, 32)
    assert model.encode(clips).shape == (4, 16)
    assert model(clips).shape == model.judge(clips).shape == clips.shape
    single = GAIA(frames=1, patch=32, latent=16, width=0.1)
    assert single.samples(clips).shape == (20, 1, 3, 32, 32)  # every frame its own sample


def _gaia_params(**train):
    p = load_params(TEST_PARAMS)
    settings = dict(steps=4, batch_size=4, seed=3, device="cpu", compile=False, workers=0, checkpoint_every=2,
                    log_every=1, val_every=2, val_batches=1, image_every=2, augment=("flip",), keep="last")
    settings.update(train)
    return replace(p, model=replace(p.model, family="gaia"), train=replace(p.train, **settings))


def test_one_step_updates_both_networks_at_rates_that_sum_to_lr(data_dir):
    params = _gaia_params()
    step = make_step(params, torch.device("cpu"))
    before = {k: v.clone() for k, v in step.model.state_dict().items()}
    clips = torch.rand(4, 5, 3, 32, 32) * 2 - 1
    logged = step.step(0, [clips])
    assert float(logged["train/lr_d"] + logged["train/lr_g"]) == pytest.approx(params.model.gaia.lr)
    after = step.model.state_dict()
    for net in ("generator", "discriminator"):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net)), net
    for name in ("real", "recon", "interp", "structure"):
        assert math.isfinite(float(logged[f"train/gaia/{name}"])), name


def test_resumed_gaia_run_equals_uninterrupted(data_dir, tmp_path):
    params = _gaia_params()
    whole = train(params, DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    assert whole["step"] == 4 and whole["val_psnr"] is not None and whole["val_psnr_last_frame"] is None
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), until_step=2, progress=False)
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), progress=False)["resumed_from"] == 2
    assert_same_weights(saved_weights(RunFiles(tmp_path / "a").generator), saved_weights(RunFiles(tmp_path / "b").generator))
    a, b = (torch.load(RunFiles(d).checkpoint, weights_only=True) for d in (tmp_path / "a", tmp_path / "b"))
    for k in a["opt_d"]["state"]:
        assert torch.equal(a["opt_d"]["state"][k]["exp_avg"], b["opt_d"]["state"][k]["exp_avg"])
    model = load_generator(RunFiles(tmp_path / "a").generator)
    assert isinstance(model, GAIA) and model.config() == GAIA.from_params(params).config()


_DDP_SCRIPT = """
import sys
from dataclasses import replace

import torch
import torch.distributed as dist

from pyext.config import load_params
from pyext.training import make_step

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
p = load_params(sys.argv[1])
params = replace(p, model=replace(p.model, family="gaia"),
                 train=replace(p.train, batch_size=4, seed=3, device="cpu", augment=()))
step = make_step(params, torch.device("cpu"), distributed=True, rank=rank, world=world)
torch.manual_seed(0)
share = (torch.rand(4, 5, 3, 32, 32) * 2 - 1)[2 * rank:2 * rank + 2]  # this process's rows of one batch


def gathered(t):
    out = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(out, t.contiguous())
    return out


with torch.no_grad():  # each share's own errors, as the step's first update will see them
    torch.manual_seed(99)
    e = step.errors(step.model.samples(share))
    local = torch.stack([e.real, e.recon, e.interp])
before = torch.cat([q.detach().flatten().clone() for q in step.model.parameters()])
logged = [step.step(s, [share]) for s in range(3)]
after = torch.cat([q.detach().flatten() for q in step.model.parameters()])
mine = torch.stack([logged[0]["train/gaia/real"], logged[0]["train/gaia/recon"], logged[0]["train/gaia/interp"]])
locals_, weights, rates = gathered(local), gathered(after), gathered(torch.stack([x["train/lr_d"] for x in logged]))
if rank == 0:
    assert not torch.allclose(locals_[0], locals_[1]), "the shares' own errors differ, so unaveraged rates would"
    torch.testing.assert_close(mine[0], (locals_[0][0] + locals_[1][0]) / 2)  # real needs no random draw
    assert torch.equal(weights[0], weights[1]), "the replicas' weights differ"
    assert torch.equal(rates[0], rates[1]) and not torch.equal(after, before)
    print("replicas agree", rates[0].tolist())
"""


def test_two_process_gaia_balances_on_averaged_errors_and_keeps_replicas_identical(tmp_path):
    # The balancing reads errors averaged over the processes, so every replica sets the same rates
    # and, with gradients averaged, keeps the same weights (the pairs and the structure term stay
    # within each process's share: a distributed run is not one process's run on the whole batch).
    from cases import two_processes

    done = two_processes(_DDP_SCRIPT, tmp_path, 29523)
    assert "replicas agree" in done.stdout


def test_gaia_params_are_checked_with_one_line_naming_the_key():
    import yaml

    raw = yaml.safe_load(TEST_PARAMS.read_text())
    raw["model"]["family"] = "gaia"
    raw["train"]["batch_size"] = 3
    with pytest.raises(ParamsError, match="train.batch_size.*even"):
        parse_params(raw)
    raw["train"]["batch_size"] = 4
    raw["clip"]["patch"] = 24
    with pytest.raises(ParamsError, match="clip.patch"):
        parse_params(raw)
    raw["clip"]["patch"] = 32
    raw["model"]["gaia"]["frames"] = 2
    with pytest.raises(ParamsError, match="model.gaia.frames"):
        parse_params(raw)


def test_the_pipeline_trains_and_evaluates_gaia_with_every_output(tmp_path):
    # The evaluate stage dispatches on the family: GAIA's measures, pictures and every output that
    # dvc.yaml declares for the stage.
    import csv
    import json

    import h5py
    import numpy as np
    import yaml
    from cases import run_in, set_params, tiny_pipeline

    from pyext.evaluation.predictor import read_predictions

    work = tiny_pipeline(tmp_path)
    set_params(work, model__family="gaia", train__batch_size=2, evaluate__patches=8, evaluate__pictures=2,
               filter__min_motion=1.0, evaluate__features="builtin", evaluate__classifier="builtin")
    for stage in ("prepare", "extract", "filter", "train", "evaluate"):
        done = run_in([sys.executable, "-m", f"pipeline.{stage}"], work)
    assert done.stdout.startswith("evaluate: GAIA on 8 moving test patches: reconstruction PSNR")
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert metrics["family"] == "gaia" and metrics["samples"] == 8
    structure = metrics["structure"]
    assert -1 <= structure["gaia"] <= 1 and -1 <= structure["pca"] <= 1 and structure["pca_components"] >= 2
    assert 0 < metrics["reconstruction"]["psnr"] < 100 and metrics["interpolation"]["d_error_real"] > 0
    assert 0 < metrics["reconstruction"]["psnr_pca"] < 100
    # KID through the shipped extractor (8 samples of 5 frames: too few for FID), of the
    # reconstructions and the midpoint interpolations (4 of them) against the samples' frames.
    assert set(metrics["kid"]) == {"gaia", "pca", "interpolation"} and "fid" not in metrics
    assert (metrics["feature_extractor"]["patches"], metrics["feature_extractor"]["kid_subset_size"]) == (40, 20)
    assert metrics["classifier_refused"].startswith("evaluate.classifier: builtin names object shapes")
    assert "evaluate: KID against the samples' frames through features.pt: gaia " in done.stdout
    with open(work / "eval" / "plots" / "steps.csv") as f:  # a series table (pyext.tables)
        rows = list(csv.DictReader(f))
    mixed = [r for r in rows if r["series"] == "d_error_interpolations"]
    assert [float(r["t"]) for r in mixed] == pytest.approx([k / 7 for k in range(8)], abs=1e-4)
    assert {r["series"] for r in rows} == {"d_error_interpolations", "d_error_real"} and len(rows) == 16
    with open(work / "eval" / "plots" / "clips.csv") as f:
        rows = list(csv.DictReader(f))
    pca = [float(r["value"]) for r in rows if r["series"] == "pca"]
    assert len(rows) == 16 and np.mean(pca) == pytest.approx(metrics["reconstruction"]["psnr_pca"], abs=1e-3)
    with h5py.File(work / "eval" / "predictions.h5") as f:
        recon, clip, origin = read_predictions(f)
        assert len(recon) == len(clip) == len(origin) == 8 and recon[0].shape == (5, 32, 32, 3)
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    for stage in ("train", "evaluate"):
        for group in ("outs", "metrics", "plots"):
            for out in stages[stage][group]:
                assert (work / (out if isinstance(out, str) else next(iter(out)))).exists(), (stage, out)
    pictures = sorted(p.name for p in (work / "eval" / "pictures").iterdir())
    with h5py.File(work / "data" / "train.h5") as f:
        classes = np.unique(f["label"][:])  # an attribute picture per class of the training clips
    assert pictures == sorted([*(f"attribute_class{c}.png" for c in classes), "interpolation.gif", "interpolation.png",
                               "reconstructions.png"])


def test_interpolate_writes_a_row_of_mixtures_and_refuses_a_predictor(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from pyext import cli
    from pyext.data.video import write_video
    from pyext.models import MultiScaleGenerator, generator_file

    params = _gaia_params()
    torch.save(generator_file(GAIA.from_params(params)), tmp_path / "gaia.pt")
    torch.save(generator_file(MultiScaleGenerator(scales=2, width=0.05)), tmp_path / "predictor.pt")
    rng = np.random.default_rng(0)
    for name in ("a.avi", "b.avi"):
        write_video(tmp_path / name, rng.integers(0, 256, (6, 48, 64, 3), dtype=np.uint8))
    common = [str(tmp_path / "a.avi"), str(tmp_path / "b.avi"), "--steps", "4"]
    cli.main(["interpolate", *common, "--out", str(tmp_path / "grid.gif"), "--model", str(tmp_path / "gaia.pt")])
    with Image.open(tmp_path / "grid.gif") as gif:  # one row of A, 4 mixtures, B; one GIF frame per clip frame
        assert gif.n_frames == 5 and gif.size == (6 * (4 * 32 + 2), 4 * 32 + 2)
    cli.main(["interpolate", *common, "--out", str(tmp_path / "grid.png"), "--model", str(tmp_path / "gaia.pt")])
    assert Image.open(tmp_path / "grid.png").size == (6 * 130, 130)
    with pytest.raises(SystemExit):
        cli.main(["interpolate", *common, "--out", str(tmp_path / "p.png"), "--model", str(tmp_path / "predictor.pt")])
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"interpolate: {tmp_path / 'predictor.pt'}: a multiscale model, which has no codes to interpolate "
        "(train one with model.family: gaia)")
    assert not (tmp_path / "p.png").exists()
    for steps in ("1", "100000"):  # one row of pictures: 100000 mixtures grew without bound
        with pytest.raises(SystemExit) as done:
            cli.main(["interpolate", *common[:2], "--steps", steps, "--out", str(tmp_path / "p.png")])
        assert done.value.code == 2
        assert f"--steps must be in 2..64, got {steps}" in capsys.readouterr().err
