"""A generator from noise's FID and KID during training (pyext.training.distances): the logged
values against pyext.evaluation.fid's computed apart from the same real and generated images, the
lines said where nothing or KID alone is measured, the PSNR table left alone, a resumed run still
exact with its curves, and a measurement that leaves the random state and the training alone."""
from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from cases import (TINY_GENERATORS, assert_resumes_exactly, assert_same_weights, family_params, moving_squares,
                   write_clips)

from pyext.evaluation.extractor import shipped
from pyext.evaluation.fid import frechet_distance, kernel_distance
from pyext.evaluation.generation import untrained
from pyext.files import DataFiles, RunFiles
from pyext.models import draw_latents, load_generator
from pyext.training import make_step, train
from pyext.training.distances import VAL_KEY, generator_distances
from pyext.training.validation import validation_batches

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VAL_CLIPS = 300  # > 2 x 128 feature dimensions: FID is measured


def _params(family: str = "dcgan", features: str = "builtin", patches: int = VAL_CLIPS, kind: str = "bce", **train):
    p = family_params(family, TINY_GENERATORS[family], kind, **train)
    return replace(p, evaluate=replace(p.evaluate, features=features, patches=patches))


def _series(run: Path, name: str) -> dict[int, float]:
    """dvclive's table of ``val/<name>``: step -> value."""
    _, *rows = (run / "live" / "plots" / "metrics" / "val" / f"{name}.tsv").read_text().splitlines()
    return {int(step): float(value) for step, value in (row.split("\t") for row in rows)}


def _features(images: np.ndarray) -> np.ndarray:
    """The shipped extractor's features of uint8 images ``(N, S, S, 3)``, fed as its card says:
    RGB float32 in [0, 1] ``(N, 3, S, S)``."""
    with warnings.catch_warnings():  # torch deprecates TorchScript, the format evaluate.features takes
        warnings.simplefilter("ignore", FutureWarning)
        extractor = torch.jit.load(str(shipped("features")))
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float().div(127.5).sub(1).add(1).div(2)
    with torch.no_grad():
        return extractor(x).double().numpy()


@pytest.fixture(scope="module")
def many_val(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A data folder whose val.h5 holds VAL_CLIPS clips (the stored uint8 clips beside it)."""
    folder = tmp_path_factory.mktemp("many_val")
    val = moving_squares(VAL_CLIPS, 5, seed=2)
    write_clips(folder / "train.h5", moving_squares(24, 5, seed=1))
    write_clips(folder / "val.h5", val)
    return folder, val


def test_the_logged_fid_and_kid_are_the_evaluations_of_the_same_images(many_val, tmp_path):
    folder, val = many_val
    params = _params(steps=2, val_every=1, val_batches=0)
    run = RunFiles(tmp_path / "run", tmp_path / "run" / "live")
    train(params, DataFiles(folder), run, progress=False)
    fid, kid = _series(run.folder, "fid"), _series(run.folder, "kid")
    assert list(fid) == list(kid) == [0, 1, 2]  # the untrained generator, then every train.val_every steps

    # Apart from the loop: one frame of each stored validation clip, drawn from (train.seed, VAL_KEY);
    # the written generator's images of latents from the same key, in eval mode.
    seed = params.train.seed
    real = val[np.arange(VAL_CLIPS), np.random.default_rng([seed, VAL_KEY]).integers(0, 5, VAL_CLIPS)]
    z = draw_latents((seed, VAL_KEY), 8, VAL_CLIPS)
    model = load_generator(run.generator).eval()
    real_f = _features(real)
    for step, generator in ((2, model), (0, untrained(model, seed))):
        with torch.no_grad():
            fake = generator(z).add(1).mul(127.5).clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        fake_f = _features(fake)
        # Equal but for the extractor's float32 sums over batches of other sizes and the logged rounding.
        assert fid[step] == pytest.approx(frechet_distance(real_f, fake_f), rel=1e-6), step
        ev = params.evaluate
        subset = min(ev.kid_subset_size, VAL_CLIPS)
        assert kid[step] == pytest.approx(kernel_distance(real_f, fake_f, ev.kid_subsets, subset)[0], rel=1e-6), step
    assert fid[2] != fid[0]  # training moved the generator: the comparison above could fail
    # The PSNR table (dvc.yaml's validation.csv, y: PSNR in dB) leaves the distances out.
    assert run.validation_table.read_text().splitlines() == ["step,series,value"]


def test_evaluate_patches_bounds_the_images(many_val, tmp_path):
    folder, _ = many_val
    p = _params(patches=40, val_batches=0)
    step = make_step(p, torch.device("cpu"))
    said: list[str] = []
    measurement = generator_distances(p, step.generator, validation_batches(folder / "val.h5", 4, 0),
                                      torch.device("cpu"), said.append)
    assert measurement.count == 40 and measurement.latents.shape == (40, 8) and not measurement.with_fid
    assert said == ["train: 40 validation frames <= 2 x 128 feature dimensions: the generator's FID is not measured "
                    "during training, its KID alone (the frames: at most train.val_batches x train.batch_size "
                    "validation patches and evaluate.patches)"]
    assert set(measurement.measure(0, step.generator)) == {"val/kid"}
    said.clear()  # no validation clip (a tiny set): nothing to measure, said once
    assert generator_distances(p, step.generator, [], torch.device("cpu"), said.append) is None
    assert said == ["train: 0 validation patches: the generator's FID and KID, which need 2, are not measured during "
                    "training"]


def test_nothing_is_measured_and_one_line_said_without_an_extractor(data_dir, tmp_path, capsys):
    run = RunFiles(tmp_path / "run", tmp_path / "run" / "live")
    train(_params(features=""), DataFiles(data_dir), run, progress=False)
    out = capsys.readouterr().out
    line = "train: evaluate.features is '': the generator's FID and KID are not measured during training"
    assert out.count(line) == 1 and "model.family: dcgan is not validated during training" in out
    assert not (run.live / "plots" / "metrics" / "val").exists()


def test_kid_alone_where_too_few_frames_for_fid_said_once(data_dir, tmp_path, capsys):
    run = RunFiles(tmp_path / "run", tmp_path / "run" / "live")
    # train.val_batches 1 of batch 4: 4 of the 6 validation clips; 4 steps, val_every 2
    train(_params(), DataFiles(data_dir), run, progress=False)
    out = capsys.readouterr().out
    assert out.count("train: 4 validation frames <= 2 x 128 feature dimensions") == 1
    assert "train: at step 4, KID " in out and "FID" not in out.split("train: at step 4, ")[1]
    assert list(_series(run.folder, "kid")) == [0, 2, 4]
    assert not (run.live / "plots" / "metrics" / "val" / "fid.tsv").exists()


@pytest.mark.parametrize("family", list(TINY_GENERATORS))
def test_a_resumed_run_equals_uninterrupted_with_its_curves(data_dir, tmp_path, family):
    params = _params(family, val_every=1)
    assert_resumes_exactly(params, data_dir, tmp_path / "plain")
    a, b = (RunFiles(tmp_path / name, tmp_path / name / "live") for name in ("a", "b"))
    train(params, DataFiles(data_dir), a, progress=False)
    train(params, DataFiles(data_dir), b, until_step=2, progress=False)
    train(params, DataFiles(data_dir), b, progress=False)
    assert_same_weights(torch.load(a.generator, weights_only=True)["state_dict"],
                        torch.load(b.generator, weights_only=True)["state_dict"])
    assert _series(a.folder, "kid") == _series(b.folder, "kid") and list(_series(a.folder, "kid")) == [0, 1, 2, 3, 4]


def test_a_measurement_leaves_the_random_state_the_mode_and_the_training_alone(data_dir):
    # WGAN-GP draws its mixing weights from torch's generator: a measurement that drew from it would
    # change the next step. Batch norm's running statistics would move in train mode.
    p = _params(kind="wgan_gp")
    batches = validation_batches(data_dir / "train.h5", 4, 0)
    measured, plain = make_step(p, torch.device("cpu")), make_step(p, torch.device("cpu"))
    distances = generator_distances(p, measured.generator, validation_batches(data_dir / "val.h5", 4, 0),
                                    torch.device("cpu"), lambda _: None)
    first = distances.measure(0, measured.generator)
    for step in range(2):
        per = measured.batches_per_step
        clips = [batches[(step * per + j) % len(batches)][0] for j in range(per)]
        torch.manual_seed(step)
        plain.step(step, clips)
        torch.manual_seed(step)
        before = torch.random.get_rng_state()
        weights = {k: v.clone() for k, v in measured.generator.state_dict().items()}
        distances.measure(step, measured.generator)
        assert torch.equal(torch.random.get_rng_state(), before) and measured.generator.training
        assert_same_weights(measured.generator.state_dict(), weights)  # running statistics included
        measured.step(step, clips)
    for net in ("generator", "discriminator"):
        assert_same_weights(measured.state()[net], plain.state()[net])
    assert distances.measure(0, untrained(measured.generator, p.train.seed)) == first  # fixed latents and reals
