"""pyext.training and the train stage: a resumed run ends with the same weights as an uninterrupted
one; a checkpoint of other params, data or code is not resumed but kept aside; a diverging run
stops with one line and keeps its last good checkpoint; a 2-process DistributedDataParallel run
through torchrun matches a single process on the whole batch; the dvclive logs and pictures are
written."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from cases import TEST_PARAMS, assert_same_weights, moving_squares, saved_weights, with_multiscale, write_clips

from pyext.config import OBJECTIVES, AUGMENTATIONS, ParamsError, load_params, parse_params
from pyext.data.dataset import ClipDataset
from pyext.data.manifest import Manifest, write_manifest
from pyext.data.store import StoreError
from pyext.models import MultiScaleGenerator, load_generator
from pyext.files import DataFiles, RunFiles
from pyext.presets import apply_preset, read_preset
from pyext.training import (
    ClipBatches,
    DomainBatches,
    TrainingError,
    make_step,
    train,
    validation_psnr,
    verdict,
)
from pyext.training.steps.multiscale import MultiScaleStep

REPO = Path(__file__).resolve().parents[1]

# Tiny networks: one intra-op thread is many times faster on a small, shared machine.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _params(**train):
    p = load_params(TEST_PARAMS)
    settings = dict(steps=6, batch_size=4, optimizer="adam", betas=(0.5, 0.999), lr_g=1e-3, lr_g_final=1e-4,
                    lr_d=1e-3, lr_d_final=1e-3, seed=3, device="cpu", compile=False, workers=0, checkpoint_every=2,
                    log_every=1, val_every=3, val_batches=1, image_every=3, augment=(), colour_jitter=0.0, keep="last")
    settings.update(train)
    return replace(with_multiscale(p, scales=2, width=0.05, skip="none"), train=replace(p.train, **settings))


def test_batches_continue_from_a_position_and_split_across_processes():
    whole = ClipBatches(10, 4, seed=0, position=0)
    first = [b for b, _ in zip(whole, range(6))]
    flat = [i for b in first for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))  # epochs
    assert flat[:10] != flat[10:20]  # each epoch its own order
    later = ClipBatches(10, 4, seed=0, position=8)
    assert [b for b, _ in zip(later, range(4))] == first[2:6]
    halves = [ClipBatches(10, 4, seed=0, position=0, rank=r, world=2) for r in (0, 1)]
    for j, (a, b) in enumerate(zip(*halves)):
        assert a + b == first[j]
        if j == 5:
            break


def test_domain_batches_are_unpaired_halves_that_continue_from_a_position():
    domains = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0])  # 5 clips of A, 6 of B
    whole = DomainBatches(domains, 2, seed=0, position=0)
    first = [b for b, _ in zip(whole, range(9))]
    assert all(len(b) == 4 and set(domains[b[:2]]) == {0} and set(domains[b[2:]]) == {1} for b in first)
    # Each domain runs through all its clips, epoch after epoch, on its own.
    a_order, b_order = [i for b in first for i in b[:2]], [i for b in first for i in b[2:]]
    assert sorted(a_order[:5]) == list(np.flatnonzero(domains == 0))
    assert sorted(b_order[:6]) == sorted(b_order[6:12]) == list(np.flatnonzero(domains == 1))
    later = DomainBatches(domains, 2, seed=0, position=6)
    assert [b for b, _ in zip(later, range(3))] == first[3:6]
    halves = [DomainBatches(domains, 2, seed=0, position=0, rank=r, world=2) for r in (0, 1)]
    for j, (a, b) in zip(range(4), zip(*halves)):
        assert sorted(a + b) == sorted(first[j])
    with pytest.raises(ValueError, match="no training clips of domain B"):
        DomainBatches(np.zeros(4, int), 2, seed=0, position=0)


def test_resumed_run_equals_uninterrupted(data_dir, tmp_path):
    # With every augmentation and the best generator kept: both must survive the interruption.
    params = _params(augment=AUGMENTATIONS, colour_jitter=0.2, keep="best", val_every=1)
    whole = train(params, DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    assert whole["step"] == 6 and whole["resumed_from"] == 0

    # Stopped after step 3 (a time slice: it checkpoints there), then rerun with loader workers.
    interrupted = tmp_path / "b"
    part = train(params, DataFiles(data_dir), RunFiles(interrupted), until_step=3, progress=False)
    assert part["step"] == 3 and not RunFiles(interrupted).generator.exists()
    assert torch.load(RunFiles(interrupted).checkpoint, weights_only=True)["step"] == 3
    first = torch.load(RunFiles(interrupted).checkpoint, weights_only=True)["seconds"]
    rest = train(replace(params, train=replace(params.train, workers=2)), DataFiles(data_dir), RunFiles(interrupted), progress=False)
    assert rest["resumed_from"] == 3 and rest["step"] == 6
    # The training time counts on from the interrupted part's.
    assert torch.load(RunFiles(interrupted).checkpoint, weights_only=True)["seconds"] > first > 0

    assert_same_weights(saved_weights(RunFiles(tmp_path / "a").generator), saved_weights(RunFiles(interrupted).generator))
    a, b = (torch.load(RunFiles(d).checkpoint, weights_only=True) for d in (tmp_path / "a", interrupted))
    assert_same_weights(a["discriminator"], b["discriminator"])
    assert a["opt_g"]["state"].keys() == b["opt_g"]["state"].keys()
    for k in a["opt_g"]["state"]:
        assert torch.equal(a["opt_g"]["state"][k]["exp_avg"], b["opt_g"]["state"][k]["exp_avg"])
    # A finished run is resumed at its end: nothing more to do, the same weights.
    again = train(params, DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    assert again["resumed_from"] == 6
    assert_same_weights(saved_weights(RunFiles(tmp_path / "a").generator), saved_weights(RunFiles(interrupted).generator))


def test_without_validation_clips_the_run_logs_no_nan_and_still_draws(data_dir, tmp_path, capsys):
    # A set too small to hold out a video: data/val.h5 holds no clips. The logs hold no NaN, the
    # pictures (a DVC output) exist, and one line says nothing was compared.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.h5").symlink_to(data_dir / "train.h5")
    write_clips(tmp_path / "data" / "val.h5", moving_squares(0, 5, seed=2))
    summary = train(_params(), DataFiles(tmp_path / "data"), RunFiles(tmp_path / "models", tmp_path / "live"), progress=False)
    assert summary["val_psnr"] is None and summary["val_psnr_last_frame"] is None
    metrics = json.loads((tmp_path / "live" / "metrics.json").read_text(), parse_constant=pytest.fail)
    assert "val" not in metrics and metrics["step"] == 6
    assert sorted(p.name for p in (tmp_path / "live" / "plots" / "images" / "predictions").iterdir()) == [
        "step000003.png", "step000006.png"]
    assert "train: no validation clips (its validation set is empty)" in capsys.readouterr().out
    assert RunFiles(tmp_path / "models").generator.exists()
    # The generator written is the last step's, and the summary says so (with train.keep: best it
    # named step 0).
    best = _params(keep="best")
    summary = train(best, DataFiles(tmp_path / "data"), RunFiles(tmp_path / "best"), progress=False)
    assert summary["val_step"] == best.train.steps == summary["step"]


def test_absurd_but_valid_sizes_and_rates(data_dir, tmp_path, capsys):
    # A batch larger than the training set stops with the key; a final rate above the first is
    # allowed (a warm-up) with one line; an empty training set names the file.
    with pytest.raises(ParamsError, match=rf"^params.yaml: train.batch_size: expected at most the 24 training "
                                          rf"clips of {data_dir / 'train.h5'}, got 25$"):
        train(_params(batch_size=25), DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    train(_params(steps=1, lr_g_final=2e-3), DataFiles(data_dir), RunFiles(tmp_path / "warm"), progress=False)
    out = capsys.readouterr().out
    assert "train: train.lr_g_final (0.002) is above train.lr_g (0.001): the rate rises over the run" in out
    assert "lr_d_final" not in out
    (tmp_path / "empty").mkdir()
    write_clips(tmp_path / "empty" / "train.h5", moving_squares(0, 5, seed=1))
    with pytest.raises(TrainingError, match="holds no training clips"):
        train(_params(), DataFiles(tmp_path / "empty"), RunFiles(tmp_path / "e"), progress=False)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_damaged_chunk_of_the_training_set_is_one_line_naming_the_file(data_dir, tmp_path, workers):
    # A damaged compressed chunk raised h5py's OSError without the file's name (through a loader
    # worker, with the worker's traceback in the message).
    (tmp_path / "data").mkdir()
    damaged = tmp_path / "data" / "train.h5"
    damaged.write_bytes((data_dir / "train.h5").read_bytes())
    (tmp_path / "data" / "val.h5").symlink_to(data_dir / "val.h5")
    with h5py.File(damaged, "r") as f:
        chunks = [f["clips"].id.get_chunk_info(i) for i in range(f["clips"].id.get_num_chunks())]
    with open(damaged, "r+b") as f:
        for chunk in chunks:  # every chunk: whichever clip the run reads first
            f.seek(chunk.byte_offset + chunk.size // 4)
            f.write(bytes(range(256)) * (chunk.size // 512))
    with pytest.raises(StoreError) as info:
        train(_params(workers=workers), DataFiles(tmp_path / "data"), RunFiles(tmp_path / "models"), progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{damaged}: clip ") and "cannot be read" in message


def _table(live: Path, name: str) -> list[str]:
    return (live / "plots" / "metrics" / name).read_text().splitlines()


def test_killed_run_logs_each_step_once_after_resuming(data_dir, tmp_path, monkeypatch):
    # A run killed after step 5 (its last checkpoint at step 4, every step logged, pictures at 3
    # and 6) resumes at 4: the tables and pictures are those of an uninterrupted run, no row twice.
    params = _params(checkpoint_every=4, image_every=5)
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "a", tmp_path / "a" / "live"), progress=False)
    real_step = MultiScaleStep.step

    def killed(self, step, batches, labels=None):
        if step == 5:
            raise KeyboardInterrupt
        return real_step(self, step, batches, labels)

    monkeypatch.setattr(MultiScaleStep, "step", killed)
    with pytest.raises(KeyboardInterrupt):
        train(params, DataFiles(data_dir), RunFiles(tmp_path / "b", tmp_path / "b" / "live"), progress=False)
    live = tmp_path / "b" / "live"
    assert [r.split("\t")[0] for r in _table(live, "train/loss_g.tsv")[1:]] == list("12345")  # the defect's rows
    assert (live / "plots" / "images" / "predictions" / "step000005.png").exists()
    monkeypatch.setattr(MultiScaleStep, "step", real_step)
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path / "b", tmp_path / "b" / "live"), progress=False)["resumed_from"] == 4
    for name in ("train/loss_g.tsv", "train/d/scale1.tsv", "val/psnr.tsv"):
        whole, resumed = _table(tmp_path / "a" / "live", name), _table(live, name)
        assert [r.split("\t")[0] for r in resumed] == [r.split("\t")[0] for r in whole], name
    assert sorted(p.name for p in (live / "plots" / "images" / "predictions").iterdir()) == [
        "step000005.png", "step000006.png"]


def _stale(out_dir: Path) -> list[Path]:
    return sorted(RunFiles(out_dir).stale.iterdir()) if RunFiles(out_dir).stale.exists() else []


def _objective_params(p, kind, **section):
    """``p`` with ``loss.adversarial.kind`` set and keys of that objective's section replaced."""
    adversarial = replace(p.loss.adversarial, kind=kind)
    if section:
        adversarial = replace(adversarial, **{kind: replace(getattr(adversarial, kind), **section)})
    return replace(p, loss=replace(p.loss, adversarial=adversarial))


@pytest.mark.parametrize("kind,section", [("wgan_gp", dict(critic_steps=2)), ("began", dict(lambda_k=0.05))])
def test_resumed_run_of_a_stateful_objective_equals_uninterrupted(data_dir, tmp_path, kind, section):
    # wgan_gp: the penalty's random interpolates and the critic steps' batches come back exactly on
    # resume; began: k_t (a fast gain, so that it moves) comes back from the checkpoint.
    params = _objective_params(_params(steps=4, checkpoint_every=2), kind, **section)
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), until_step=2, progress=False)
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), progress=False)["resumed_from"] == 2
    assert_same_weights(saved_weights(RunFiles(tmp_path / "a").generator), saved_weights(RunFiles(tmp_path / "b").generator))
    a, b = (torch.load(RunFiles(d).checkpoint, weights_only=True) for d in (tmp_path / "a", tmp_path / "b"))
    assert_same_weights(a["discriminator"], b["discriminator"])
    assert_same_weights(a["objective"], b["objective"])
    if kind == "began":
        assert 0 < float(a["objective"]["k"]) < 1


@pytest.mark.parametrize("best_of", [1, 2])
def test_resumed_run_of_a_generator_with_noise_equals_uninterrupted(data_dir, tmp_path, best_of):
    # Its latents come from (seed, step, batch), not from a random state a resume would lose; the
    # best-of-many samples' from (seed, step, batch, sample).
    params = with_multiscale(_params(steps=4, checkpoint_every=2), noise=3)
    params = replace(params, loss=replace(params.loss, best_of=best_of))
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), until_step=2, progress=False)
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), progress=False)["resumed_from"] == 2
    a, b = (saved_weights(RunFiles(tmp_path / d).generator) for d in "ab")
    assert_same_weights(a, b)
    # ...and the latents reached the generator: its first layer has weights on them, trained.
    first = MultiScaleGenerator(4, 1, scales=2, width=0.05, noise=3).nets[0][0].in_channels
    assert a["nets.0.0.weight"].shape[1] == first == 3 * 4 + 3


def test_checkpoint_of_other_params_or_data_is_not_resumed(data_dir, tmp_path, capsys):
    params = _params(steps=2)
    train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    first = RunFiles(tmp_path).checkpoint.read_bytes()
    no_gdl = replace(params, loss=replace(params.loss, gdl=0.0))
    assert train(no_gdl, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 0
    out = capsys.readouterr().out
    assert "was trained with other params; starting afresh" in out
    [kept] = _stale(tmp_path)  # the old checkpoint is kept aside, named in that line
    assert kept.read_bytes() == first and f"the old checkpoint is kept as {kept}" in out
    # Operational keys do not make a checkpoint stale.
    watched = replace(no_gdl, train=replace(no_gdl.train, log_every=2, workers=1))
    assert train(watched, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 2

    other = tmp_path / "other"
    other.mkdir()
    write_clips(other / "train.h5", moving_squares(24, 5, seed=9))
    (other / "val.h5").symlink_to(data_dir / "val.h5")
    assert train(no_gdl, DataFiles(other), RunFiles(tmp_path), progress=False)["resumed_from"] == 0
    assert "was trained with other training data or starting generator; starting afresh" in capsys.readouterr().out
    assert len(_stale(tmp_path)) == 2


def test_checkpoint_of_other_code_is_kept_aside_and_the_same_code_resumes(data_dir, tmp_path, capsys, monkeypatch):
    params = _params(steps=2)
    train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    finished = RunFiles(tmp_path).checkpoint.read_bytes()
    # The same code (and params and data): a finished run resumes at its end, as before.
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 2
    assert "resuming from" in capsys.readouterr().out and not _stale(tmp_path)

    # Other code (the train stage's code deps changed): trained again from step 0, never from the
    # old weights, and the old checkpoint is moved aside, not destroyed.
    steps = []
    real_step = MultiScaleStep.step
    monkeypatch.setattr(MultiScaleStep, "step",
                        lambda self, step, batches, labels=None: steps.append(step) or real_step(self, step, batches, labels))
    monkeypatch.setattr("pyext.training.loop.code_hash", lambda stage: "edited-code")
    again = train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    assert again["resumed_from"] == 0 and again["step"] == 2 and steps == [0, 1]
    out = capsys.readouterr().out
    [kept] = _stale(tmp_path)
    assert kept.read_bytes() == finished
    assert (f"train: {RunFiles(tmp_path).checkpoint} was trained with other code; starting afresh "
            f"(the old checkpoint is kept as {kept})") in out
    assert torch.load(RunFiles(tmp_path).checkpoint, weights_only=True)["code_hash"] == "edited-code"
    # ...and the new run resumes under that code.
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 2 and steps == [0, 1]

    # A checkpoint from before code hashes counts as other code; a foreign file is kept aside too.
    saved = torch.load(RunFiles(tmp_path).checkpoint, weights_only=True)
    del saved["code_hash"]
    torch.save(saved, RunFiles(tmp_path).checkpoint)
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 0
    assert "was trained with other code; starting afresh" in capsys.readouterr().out
    RunFiles(tmp_path).checkpoint.write_bytes(b"not a checkpoint")
    assert train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)["resumed_from"] == 0
    out = capsys.readouterr().out
    assert "is not a readable checkpoint" in out and len(_stale(tmp_path)) == 3
    assert any(p.read_bytes() == b"not a checkpoint" and str(p) in out for p in _stale(tmp_path))


def test_code_hash_is_the_train_stages_code_digest():
    from pyext.files import code_digest
    from pyext.training import code_hash
    assert code_hash() == code_digest(REPO, "train", size=8)


def _val_psnrs(live: Path) -> dict[int, float]:
    rows = (live / "plots" / "metrics" / "val" / "psnr.tsv").read_text().splitlines()[1:]
    return {int(r.split("\t")[0]): float(r.split("\t")[1]) for r in rows}


def _val_psnr_of(path: Path, data_dir: Path) -> float:
    dataset = ClipDataset(data_dir / "val.h5")
    # What val_batches=1 of 4 clips validates on (the classes go unused by an unconditioned model).
    batches = [(torch.stack([dataset[i] for i in range(4)]), torch.zeros(4, dtype=torch.long))]
    return validation_psnr(load_generator(path), batches, torch.device("cpu"))


@pytest.mark.parametrize("keep", ["best", "last"])
def test_keep_writes_the_best_or_the_last_generator(data_dir, tmp_path, keep, capsys):
    # A high learning rate makes validation PSNR go up and down over 8 steps.
    params = _params(steps=8, val_every=1, keep=keep, lr_g=3e-3, lr_g_final=3e-3)
    summary = train(params, DataFiles(data_dir), RunFiles(tmp_path / "models", tmp_path / "live"), progress=False)
    logged = _val_psnrs(tmp_path / "live")
    assert sorted(logged) == list(range(1, 9))
    best_step = max(logged, key=logged.get)
    assert best_step != 8, "the test needs a run whose last validation is not its best"
    expected_step = best_step if keep == "best" else 8
    assert summary["val_step"] == expected_step and summary["kept"] == keep
    assert summary["val_psnr"] == pytest.approx(logged[expected_step])
    # The file holds that generator: validated again from the file, it scores what was logged.
    assert _val_psnr_of(RunFiles(tmp_path / "models").generator, data_dir) == pytest.approx(logged[expected_step], abs=1e-6)
    last = torch.load(RunFiles(tmp_path / "models").checkpoint, weights_only=True)["generator"]
    same_as_last = all(torch.equal(v, last[k]) for k, v in saved_weights(RunFiles(tmp_path / "models").generator).items())
    assert same_as_last == (keep == "last")
    assert verdict(summary) in capsys.readouterr().out


def test_end_of_training_line_says_when_the_model_is_worse_than_the_last_frame(data_dir, tmp_path, capsys,
                                                                              monkeypatch):
    # An untrained paper-form generator (learning rate 0) is far from the last frame...
    worse = train(_params(steps=2, lr_g=0.0, lr_g_final=0.0), DataFiles(data_dir), RunFiles(tmp_path / "a"), progress=False)
    assert worse["val_psnr"] < worse["val_psnr_last_frame"] - 3
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("train: the model is WORSE than copying the last frame: validation PSNR")
    assert f"{worse['val_psnr']:.2f} dB against {worse['val_psnr_last_frame']:.2f} dB" in line
    # ...and a skip generator whose every change is zero copies it exactly: the two PSNRs measure alike.
    init = MultiScaleGenerator.__init__

    def copying(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for net in self.nets:
            torch.nn.init.zeros_(net[-1].weight)
            torch.nn.init.zeros_(net[-1].bias)

    monkeypatch.setattr(MultiScaleGenerator, "__init__", copying)
    params = _params(steps=2, lr_g=0.0, lr_g_final=0.0)
    params = with_multiscale(params, skip="last_frame")
    same = train(params, DataFiles(data_dir), RunFiles(tmp_path / "b"), progress=False)
    assert same["val_psnr"] == pytest.approx(same["val_psnr_last_frame"], abs=1e-9)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("train: validation PSNR") and "(+0.00 dB" in line and "WORSE" not in line


def test_paper_preset_trains_the_papers_model_unchanged(data_dir, tmp_path, monkeypatch):
    # Whatever the shipped defaults do (skip connection, augmentation, the best generator), the
    # paper preset trains Table 1's tanh generator on the clips as stored and writes its last weights.
    raw = apply_preset(yaml.safe_load(TEST_PARAMS.read_text()), read_preset(REPO / "configs" / "paper.yaml"))
    raw["model"]["multiscale"]["skip"], raw["train"]["augment"], raw["train"]["keep"] = "last_frame", ["flip", "colour"], "best"
    raw = apply_preset(raw, read_preset(REPO / "configs" / "paper.yaml"))  # the preset wins over any default
    p = parse_params(raw, TEST_PARAMS)
    params = replace(with_multiscale(p, scales=2, width=0.05),  # small, for speed
                     train=replace(p.train, steps=3, batch_size=4, workers=0, device="cpu", val_every=1, val_batches=1))
    seen, seen_by_networks, inside = [], [], [False]
    real_step, real_forward = MultiScaleStep.step, MultiScaleGenerator.forward_scales

    def spying_step(self, step, batches, labels=None):
        assert isinstance(self.G, MultiScaleGenerator) and self.G.skip == "none"
        with torch.no_grad():  # the paper's output: tanh, strictly inside (-1, 1)
            assert self.G(batches[-1][:, :4]).abs().max() < 1
        seen.append([b.clone() for b in batches])
        inside[0] = True
        try:
            return real_step(self, step, batches, labels)
        finally:
            inside[0] = False

    def spying_forward(self, x, labels=None, z=None):
        if inside[0]:
            seen_by_networks.append(x.detach().clone())
        return real_forward(self, x, labels, z)

    monkeypatch.setattr(MultiScaleStep, "step", spying_step)
    monkeypatch.setattr(MultiScaleGenerator, "forward_scales", spying_forward)
    train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    dataset = ClipDataset(data_dir / "train.h5")
    order = [i for b, _ in zip(ClipBatches(len(dataset), 4, params.train.seed, 0), range(6)) for i in b]
    stored = torch.stack([dataset[i] for i in order]).view(6, 4, 5, 3, 32, 32)
    assert torch.equal(torch.stack([b for step in seen for b in step]), stored)
    # The generator runs on exactly those inputs, no augmentation between (D's batch, then G's).
    assert len(seen_by_networks) == 6
    for x, clips in zip(seen_by_networks, stored):
        assert torch.equal(x, clips[:, :4])
    last = torch.load(RunFiles(tmp_path).checkpoint, weights_only=True)["generator"]
    assert_same_weights(saved_weights(RunFiles(tmp_path).generator), last)


@pytest.mark.parametrize("kind,cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam),
                                      ("rmsprop", torch.optim.RMSprop)])
def test_optimizer_of_both_networks(kind, cls):
    trainer = make_step(_params(optimizer=kind, betas=(0.0, 0.9), lr_g=2e-3, lr_d=5e-4), torch.device("cpu"))
    for opt, lr in ((trainer.opt_g, 2e-3), (trainer.opt_d, 5e-4)):
        assert type(opt) is cls and opt.param_groups[0]["lr"] == lr
        if kind == "adam":  # train.betas reach Adam (WGAN-GP's setting here, not the default)
            assert opt.param_groups[0]["betas"] == (0.0, 0.9)


# How D is doing, in each objective's own terms: an accuracy at its threshold, a critic's distance
# estimate, an autoencoder's energies, BEGAN's k_t and convergence measure.
MEASURES = {"wgan": {"critic_distance"}, "wgan_gp": {"critic_distance"}, "ebgan": {"energy_real", "energy_fake"},
            "began": {"energy_real", "energy_fake", "k", "convergence"}}


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_every_objective_trains(kind, data_dir, tmp_path):
    params = _objective_params(_params(steps=2, log_every=1), kind)
    summary = train(params, DataFiles(data_dir), RunFiles(tmp_path, tmp_path / "live"), progress=False)
    assert math.isfinite(summary["val_psnr"])
    logged = json.loads((tmp_path / "live" / "metrics.json").read_text())["train"]
    assert math.isfinite(logged["loss_d"]) and math.isfinite(logged["loss_g"])
    measures = MEASURES.get(kind, {"d_accuracy"})
    every = {"d_accuracy", "critic_distance", "energy_real", "energy_fake", "k", "convergence"}
    assert measures <= set(logged) and not (every - measures) & set(logged)
    assert all(math.isfinite(logged[name]) for name in measures)
    if "d_accuracy" in measures:
        assert 0 <= logged["d_accuracy"] <= 1


def test_critic_steps_update_the_critic_on_batches_of_their_own(data_dir):
    p = _params(optimizer="rmsprop")
    loss = replace(p.loss, adversarial=replace(p.loss.adversarial, kind="wgan",
                                               wgan=replace(p.loss.adversarial.wgan, critic_steps=3, clip=0.01)))
    trainer = make_step(replace(p, loss=loss), torch.device("cpu"))
    assert trainer.batches_per_step == 4
    seen = []
    real_loss = trainer.objective.discriminator_loss
    trainer.objective.discriminator_loss = lambda D, real, fake, x: seen.append(x) or real_loss(D, real, fake, x)
    batches = [torch.from_numpy(moving_squares(4, 5, seed=10 + j)).permute(0, 1, 4, 2, 3).float() / 127.5 - 1
               for j in range(4)]  # (B, m + n, 3, P, P) in [-1, 1]
    trainer.step(0, batches)
    assert len(seen) == 3 and not torch.equal(seen[0], seen[1])  # three critic updates, three batches
    assert trainer.opt_d.state[next(iter(trainer.D.parameters()))]["step"] == 3
    assert all(float(q.detach().abs().max()) <= 0.01 for q in trainer.D.parameters())  # clipped after each


def test_d_steps_update_every_objective_several_times(data_dir):
    # loss.adversarial.d_steps for the objectives without critic_steps of their own (WGAN's keep theirs).
    p = _params()
    for kind, per_step in (("bce", 3), ("hinge", 3), ("wgan", 5 + 1)):
        adversarial = replace(p.loss.adversarial, kind=kind, d_steps=2,
                              wgan=replace(p.loss.adversarial.wgan, critic_steps=5))
        trainer = make_step(replace(p, loss=replace(p.loss, adversarial=adversarial)), torch.device("cpu"))
        assert trainer.batches_per_step == per_step, kind


def test_rmsprop_trains(data_dir, tmp_path):
    summary = train(_params(steps=2, optimizer="rmsprop", lr_g=5e-5, lr_g_final=5e-5, lr_d=5e-5, lr_d_final=5e-5), DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    assert math.isfinite(summary["val_psnr"])
    # The same seed at rate 0 writes the initial weights: RMSProp moved them.
    train(_params(steps=2, optimizer="rmsprop", lr_g=0.0, lr_g_final=0.0, lr_d=0.0, lr_d_final=0.0), DataFiles(data_dir), RunFiles(tmp_path / "still"), progress=False)
    before, after = saved_weights(RunFiles(tmp_path / "still").generator), saved_weights(RunFiles(tmp_path).generator)
    assert any(not torch.equal(before[k], v) for k, v in after.items())


def test_verdict():
    summary = {"val_psnr": 25.5, "val_psnr_last_frame": 24.0, "val_step": 600, "kept": "best"}
    assert verdict(summary) == ("train: validation PSNR 25.50 dB against 24.00 dB for copying the last frame "
                                "(+1.50 dB, generator of step 600, train.keep: best)")
    assert "WORSE" in verdict({**summary, "val_psnr": 23.99})
    assert "no validation clips" in verdict({**summary, "val_psnr": None, "val_psnr_last_frame": float("nan")})


def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    # The first update multiplies the generator's weights up to overflow: the next forward gives inf - inf.
    params = _params(optimizer="sgd", lr_g=1e30, lr_g_final=1e30, checkpoint_every=1,
                     steps=20)
    with pytest.raises(TrainingError, match=r"a loss became NaN or infinite between steps (\d+) and \1; "
                                            r"training stopped and .* keeps step \d+") as error:
        train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    kept = torch.load(RunFiles(tmp_path).checkpoint, weights_only=True)
    bad_step = int(str(error.value).split("between steps ")[1].split(" ")[0])
    assert kept["step"] == bad_step - 1
    assert f"keeps step {kept['step']}" in str(error.value)
    assert all(torch.isfinite(v).all() for v in kept["generator"].values())
    assert not RunFiles(tmp_path).generator.exists()


def test_adversarial_off_trains_no_discriminator(data_dir, tmp_path):
    params = _params(steps=2)
    params = replace(params, loss=replace(params.loss, adv=0.0))
    train(params, DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    saved = torch.load(RunFiles(tmp_path).checkpoint, weights_only=True)
    assert saved["discriminator"] is None and saved["opt_d"] is None
    assert saved["position"] == 2 * 4  # one batch a step: the generator's only


def test_dvclive_logs_and_pictures(data_dir, tmp_path):
    params = _params()
    summary = train(params, DataFiles(data_dir), RunFiles(tmp_path / "models", tmp_path / "live"), progress=False)
    live = tmp_path / "live"
    metrics = json.loads((live / "metrics.json").read_text())
    assert metrics["step"] == 6
    assert metrics["val"]["psnr"] == pytest.approx(summary["val_psnr"])
    assert 0 < metrics["val"]["psnr_last_frame"] < 100
    assert {"loss_g", "loss_d", "d_accuracy", "lr_g"} <= set(metrics["train"])
    assert set(metrics["train"]["lp"]) == {"scale1", "scale2"}
    rows = (live / "plots" / "metrics" / "train" / "loss_g.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["step", "loss_g"] and [r.split("\t")[0] for r in rows[1:]] == list("123456")
    seconds = [float(r.split("\t")[1]) for r in (live / "plots" / "metrics" / "train" / "seconds.tsv").read_text().splitlines()[1:]]
    assert len(seconds) == 6 and 0 < seconds[0] and all(a < b for a, b in zip(seconds, seconds[1:]))  # wall time
    from PIL import Image
    pictures = sorted((live / "plots" / "images" / "predictions").iterdir())
    assert [p.name for p in pictures] == ["step000003.png", "step000006.png"]
    # 4 clips of the first validation batch, 4 inputs + truth + prediction, 32x32 zoomed 4x, 4-pixel
    # lines between them, a row of labels above
    width, height = Image.open(pictures[0]).size
    assert width == 6 * 132 - 4 and 4 * 132 - 4 + 10 < height < 4 * 132 - 4 + 40
    # The generator's outputs at its 2 scales, beside the last input and the truth
    scales = sorted((live / "plots" / "images" / "scales").iterdir())
    assert [p.name for p in scales] == ["step000003.png", "step000006.png"]
    assert Image.open(scales[0]).size == (4 * 132 - 4, height)


def _project(tmp_path: Path, data_dir: Path, kind: str = "bce", pause: float = 0.0, condition: str = "none",
             noise: int = 0, best_of: int = 1, **train_settings) -> Path:
    raw = yaml.safe_load((TEST_PARAMS).read_text())
    raw["loss"]["best_of"] = best_of
    raw["model"]["condition"] = condition
    raw["loss"]["adversarial"]["kind"] = kind
    raw["loss"]["adversarial"]["d_pause"] = pause
    raw["loss"]["adversarial"]["wgan_gp"]["critic_steps"] = 2
    raw["loss"]["adversarial"]["began"]["lambda_k"] = 0.5
    raw["model"]["multiscale"].update(scales=2, width=0.05, noise=noise)
    raw["train"].update(dict(steps=2, batch_size=4, optimizer="sgd", lr_g=0.04, lr_g_final=0.005, device="cpu",
                             workers=0, checkpoint_every=1, log_every=1, val_every=1, val_batches=1, image_every=2,
                             seed=5, augment=list(AUGMENTATIONS), colour_jitter=0.2), **train_settings)
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(raw))
    for name in ("train.h5", "val.h5"):
        (project / "data" / name).symlink_to(data_dir / name)
    write_manifest(project / "data" / "manifest.json", Manifest("folder", "videos", 0, ["a", "b"]))
    return project


def _run(project: Path, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind,port,pause,condition,noise,best_of", [
    ("bce", 29517, 0.0, "none", 0, 1), ("wgan_gp", 29519, 0.0, "none", 0, 1), ("began", 29521, 0.0, "none", 0, 1),
    ("bce", 29525, 1e9, "none", 0, 1), ("hinge", 29527, 0.0, "acgan", 0, 1), ("bce", 29529, 0.0, "none", 3, 2)])
def test_two_process_ddp_run_matches_one_process(data_dir, tmp_path, kind, port, pause, condition, noise, best_of):
    # wgan_gp: the gradient penalty's double backward goes through DistributedDataParallel, and the
    # interpolates' coefficients are drawn for the whole batch. began: both replicas update k_t from
    # energies averaged over the processes (a fast gain, so that k_t matters within 2 steps). The
    # pause (DeePSiM's, every step after the first): both replicas skip D's second update, on the
    # ratio of losses averaged over the processes, and measure D's loss without DDP's graph. acgan:
    # each process's share of the classes goes with its share of the clips, to G and to D's class head.
    # noise: each process gives its clips their rows of the whole batch's latents (and, best of 2,
    # of the second sample's; each clip's best sample is its own process's choice).
    project = _project(tmp_path / "ddp", data_dir, kind, pause, condition, noise, best_of)
    torchrun = Path(sys.executable).with_name("torchrun")
    done = _run(project, str(torchrun), "--nproc_per_node", "2", "--master_port", str(port), "-m", "pipeline.train")
    assert done.returncode == 0, done.stderr[-3000:]
    if pause:  # the second step was paused
        paused = (project / "dvclive" / "plots" / "metrics" / "train" / "d_paused.tsv").read_text().split()
        assert paused[-4:] == ["1", "0.0", "2", "1.0"], paused
    single = _project(tmp_path / "single", data_dir, kind, pause, condition, noise, best_of)
    done = _run(single, sys.executable, "-m", "pipeline.train")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train: models/generator.pt after 2 steps" in done.stdout
    ddp, one = (saved_weights(RunFiles(p / "models").generator) for p in (project, single))
    assert ddp.keys() == one.keys()
    # the same updates (each process augments its rows of the batch as one process augments them
    # all), gradients averaged over two half-batches instead of one batch
    for name in ddp:
        torch.testing.assert_close(ddp[name], one[name], rtol=1e-4, atol=1e-6)
    # The discriminators too (where a gradient penalty acts first).
    ddp_d, one_d = (torch.load(RunFiles(p / "models").checkpoint, weights_only=True)["discriminator"] for p in (project, single))
    for name in one_d:
        torch.testing.assert_close(ddp_d[name], one_d[name], rtol=1e-4, atol=1e-6)
    ddp_o, one_o = (torch.load(RunFiles(p / "models").checkpoint, weights_only=True)["objective"] for p in (project, single))
    assert ddp_o.keys() == one_o.keys()
    for name in one_o:  # BEGAN's k_t, the same in every replica as in one process
        torch.testing.assert_close(ddp_o[name], one_o[name], rtol=1e-4, atol=1e-6)
    # ...and they did change the weights: the comparison is not between two untouched models.
    start = _project(tmp_path / "start", data_dir, kind, pause, condition, noise, steps=1, lr_g=0.0, lr_g_final=0.0)
    _run(start, sys.executable, "-m", "pipeline.train")
    untouched = saved_weights(RunFiles(start / "models").generator)
    assert any(not torch.allclose(untouched[n], one[n]) for n in one)


def test_stage_errors_are_one_line(data_dir, tmp_path):
    project = _project(tmp_path, data_dir, batch_size=3)
    torchrun = Path(sys.executable).with_name("torchrun")
    done = _run(project, str(torchrun), "--nproc_per_node", "2", "--master_port", "29518", "-m", "pipeline.train")
    assert done.returncode != 0
    assert "train: params.yaml: train.batch_size: expected a multiple of the 2 processes, got 3" in done.stderr
    (project / "data" / "train.h5").unlink()
    done = _run(project, sys.executable, "-m", "pipeline.train")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train: data/train.h5: cannot open as HDF5"), done.stderr


def _foreign_store(path: Path, frames: np.ndarray, **changes) -> Path:
    """A store written by hand, as a foreign tool would: the schema's fields, ``changes`` replacing
    some (None: left out)."""
    n = len(frames)
    fields = {"clips": frames, "motion": np.ones(n, np.float32), "video": np.zeros(n, np.int32),
              "start": np.zeros(n, np.int32), "yx": np.zeros((n, 2), np.int16), "label": np.zeros(n, np.int16),
              "videos": np.array([b"synthetic"])} | changes
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = 2
        for name, values in fields.items():
            if values is not None:
                f.create_dataset(name, data=values)
    return path


@pytest.mark.parametrize("case,problem", [
    ("six-frames", r"clips of 6 frames of 32x32, but params.yaml asks for 5 frames of 32x32 "
                   r"\(clip.input_frames \+ clip.output_frames, clip.patch\): the data stages ran with other params"),
    ("16x16", r"clips of 5 frames of 16x16, but params.yaml asks for 5 frames of 32x32"),
    ("four-channels", r"not a clip store of this project: clips uint8 \(8, 5, 32, 32, 4\) \(expected uint8 "),
    ("float", r"not a clip store of this project: clips float32 \(8, 5, 32, 32, 3\)"),
    ("short-labels", r"not a clip store of this project: label holds 3 values for its 8 clips"),
    ("no-datasets", r"not a clip store of this project: it holds no clips"),
])
def test_a_foreign_or_mismatched_store_stops_training_with_one_line(tmp_path, case, problem):
    # After clip.input_frames changed without re-extracting, training stopped with "RuntimeError:
    # Sizes of tensors must match"; foreign stores tracebacked, and float clips were trained on.
    clips = moving_squares(8, 5, seed=1)
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "train.h5"
    if case == "six-frames":
        _foreign_store(path, np.concatenate([clips, clips[:, :1]], 1))
    elif case == "16x16":
        _foreign_store(path, clips[:, :, :16, :16])
    elif case == "four-channels":
        _foreign_store(path, np.concatenate([clips, clips[..., :1]], -1))
    elif case == "float":
        _foreign_store(path, clips.astype(np.float32))
    elif case == "short-labels":
        _foreign_store(path, clips, label=np.zeros(3, np.int16))
    else:
        _foreign_store(path, clips, **{name: None for name in ("clips", "motion", "video", "start", "yx", "label",
                                                                "videos")})
    write_clips(tmp_path / "data" / "val.h5", moving_squares(4, 5, seed=2))
    with pytest.raises(StoreError, match=rf"^{path}: {problem}"):
        train(_params(), DataFiles(tmp_path / "data"), RunFiles(tmp_path / "models"), progress=False)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_a_checkpoint_that_cannot_be_written_is_one_line_naming_it(data_dir, tmp_path, monkeypatch):
    # torch.save reports a full disk as a RuntimeError: the stage printed its traceback.
    from pyext.files import WriteError
    from pyext.training import checkpoints

    def full_disk(obj, path):
        Path(path).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0\nmore lines")

    monkeypatch.setattr(checkpoints.torch, "save", full_disk)
    run = RunFiles(tmp_path / "models")
    with pytest.raises(WriteError) as error:
        train(_params(), DataFiles(data_dir), run, progress=False)
    assert str(error.value) == (f"{run.checkpoint}: cannot be written ([enforce fail at inline_container.cc:672] . "
                                "unexpected pos 64 vs 0)")
    assert sorted(p.name for p in run.folder.iterdir()) == []  # no temporary, no checkpoint


def test_a_training_command_ends_with_its_steps_time_and_rate(data_dir, tmp_path):
    from pyext.training import rate
    assert rate({"step": 10, "resumed_from": 4, "seconds": 3.0}) == "6 steps in 3.0 s (2.00 steps/s)"
    assert rate({"step": 6, "resumed_from": 6, "seconds": 0.3}) == "no step left to train (0.3 s)"
    summary = train(_params(steps=2), DataFiles(data_dir), RunFiles(tmp_path), progress=False)
    assert summary["step"] - summary["resumed_from"] == 2 and 0 < summary["seconds"] < 600


def _full_frames(path: Path, count: int, seed: int) -> np.ndarray:
    """A full-frame store of ``count`` clips of 5 frames of 43x51: a moving square in a still
    border, so that the whole frame differs from the moving region; odd sizes, cropped to 42x50."""
    clips = np.pad(moving_squares(count, 5, seed), ((0, 0), (0, 0), (5, 6), (9, 10), (0, 0)), mode="edge")
    write_clips(path, clips)
    return clips


def test_full_frame_validation_scores_as_the_evaluation_scores(tmp_path):
    from pyext.evaluation.predictor import evaluate_clip
    from pyext.training.validation import frame_clips, frame_psnrs

    clips = _full_frames(tmp_path / "val_frames.h5", 3, seed=4)
    params = _params()
    generator = MultiScaleGenerator.from_params(params).eval()
    threshold = params.evaluate.flow_threshold
    held = frame_clips(tmp_path / "val_frames.h5", generator, 2, threshold)
    assert len(held) == 2 and held.inputs[0].shape == (1, 4, 3, 42, 50) and held.truths[0].shape == (1, 42, 50, 3)
    cpu = torch.device("cpu")
    got, copied = frame_psnrs(generator, held, cpu), frame_psnrs(generator, held, cpu, last_frame=True)
    # The evaluation's own path on the same crops (it crops each clip's odd row and column as these).
    scored = [evaluate_clip(generator, clip[:, :42, :50], 1, threshold, cpu).scores for clip in clips[:2]]
    for method, scores in (("model", got), ("last_frame", copied)):
        assert scores["moving"] == pytest.approx(np.mean([s[method][0]["psnr"] for s in scored]), abs=1e-9)
        assert scores["whole"] == pytest.approx(np.mean([s[method][0]["psnr_full"] for s in scored]), abs=1e-9)
    assert copied["whole"] > copied["moving"]  # the still border is copied exactly
    assert len(frame_clips(tmp_path / "none.h5", generator, 2, threshold)) == 0  # outside the pipeline: none


def test_the_full_frames_decide_the_kept_generator_and_the_verdict(data_dir, tmp_path, capsys, monkeypatch):
    # As test_keep_writes_the_best_or_the_last_generator, with full-frame clips beside the patches. The
    # patches' PSNR rises over these 8 steps; the full frames' scores are lowered by 1 dB a validation
    # more, so that they pick the first step whatever the floating point of the machine (left alone,
    # both can peak at the last step).
    from pyext.training import loop

    scored = loop.frame_psnrs
    validations = []

    def falling(generator, clips, device, last_frame=False):
        scores = scored(generator, clips, device, last_frame=last_frame)
        if last_frame:
            return scores
        validations.append(None)
        return {name: value - len(validations) for name, value in scores.items()}

    monkeypatch.setattr(loop, "frame_psnrs", falling)
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.h5", "val.h5"):
        (data / name).write_bytes((data_dir / name).read_bytes())
    _full_frames(data / "val_frames.h5", 3, seed=5)
    params = with_multiscale(_params(steps=8, val_every=1, keep="best", lr_g=3e-3, lr_g_final=3e-3, val_clips=2),
                             skip="last_frame")
    summary = train(params, DataFiles(data), RunFiles(tmp_path / "models", tmp_path / "live"), progress=False)
    logged = {name: {int(r.split("\t")[0]): float(r.split("\t")[1])
                     for r in (tmp_path / "live" / "plots" / "metrics" / "val" / f"{name}.tsv").read_text().splitlines()[1:]}
              for name in ("psnr", "frames_moving", "frames_whole", "frames_moving_last_frame")}
    best = max(logged["frames_moving"], key=logged["frames_moving"].get)
    assert best != max(logged["psnr"], key=logged["psnr"].get), "the test needs the patches to pick another step"
    assert summary["val_step"] == best and summary["val_clips"] == 2
    assert summary["val_frames"] == {"moving": pytest.approx(logged["frames_moving"][best]),
                                     "whole": pytest.approx(logged["frames_whole"][best])}
    assert summary["val_psnr"] == pytest.approx(logged["psnr"][best])  # the patches of that same generator
    assert summary["val_frames_last_frame"]["moving"] == pytest.approx(logged["frames_moving_last_frame"][1])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == verdict(summary) and "validation on 2 full-frame clips, moving regions" in line
