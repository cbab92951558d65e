"""The fine-tuning stages (the paper's Table 2 rows marked *): patches of twice the training size
cut from the training videos, the train stage's generator trained on on them with a discriminator
built afresh, and the evaluate stage measuring the fine-tuned generator."""
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from cases import REPO, assert_same_weights, run_in, saved_weights, set_params, tiny_pipeline
from pyext.files import PRETRAINED, DataFiles, Layout, RunFiles
from pyext.config import FAMILIES, finetune_params, load_params, parse_params
from pyext.models import MultiScaleGenerator, evaluated_generator, generator_file, load_predictor
from pyext.presets import apply_preset, read_preset
from pyext.training import TrainingError, train
from pyext.training.loop import start_from

TUNE = 64  # twice the tests' clip.patch


def _stage(work, name, check=True):
    return run_in([sys.executable, "-m", f"pipeline.{name}"], work, check=check)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny pipeline trained at 32x32, with its 64x64 fine-tuning patches cut."""
    work = tiny_pipeline(tmp_path_factory.mktemp("finetune"))
    set_params(work, finetune__patch=TUNE, finetune__steps=2)
    for stage in ("prepare", "extract", "filter", "val_frames", "train", "finetune_data"):
        _stage(work, stage)
    return work


def test_finetune_data_cuts_larger_patches_of_the_training_videos_only(work):
    manifest = json.loads((work / "data" / "manifest.json").read_text())
    training = {v["path"] for v in manifest["videos"] if v["split"] == "train"}
    folder = work / "data" / "finetune"
    report = json.loads((folder / "report.json").read_text())
    assert report["patch"] == TUNE and report["extract"]["test_clips"] == 0
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "train.h5", "val.h5"]
    with h5py.File(folder / "train.h5") as f, h5py.File(folder / "val.h5") as g:
        assert f["clips"].shape[1:] == (5, TUNE, TUNE, 3) and g["clips"].shape[1:] == (5, TUNE, TUNE, 3)
        assert len(f["clips"]) == report["filter"]["train"] > 0
        names = {n.decode() if isinstance(n, bytes) else n for n in f["videos"][:]}
        assert names <= training
    # The 32x32 training set is the train stage's, untouched.
    with h5py.File(work / "data" / "train.h5") as f:
        assert f["clips"].shape[2:4] == (32, 32)


def test_the_finetuning_starts_from_the_trained_generator(work, tmp_path):
    # At a rate of zero the fine-tuning writes back the train stage's generator, weight for weight,
    # though its discriminator (built for 64x64) and its data are new.
    params = finetune_params(load_params(work / "params.yaml"))
    still = replace(params, train=replace(params.train, lr_g=0.0, lr_g_final=0.0))
    train(still, DataFiles(work / "data" / "finetune"), RunFiles(tmp_path), progress=False, start=work / "models" / "generator.pt", manifest=work / "data" / "manifest.json", stage="finetune")
    assert_same_weights(saved_weights(tmp_path / "generator.pt"), saved_weights(work / "models" / "generator.pt"))
    D = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["discriminator"]
    trained = torch.load(work / "models" / "checkpoint.pt", weights_only=True)["discriminator"]
    # D was built for the larger patches: every scale's first fully connected layer sees more.
    first = [k for k in D if k.endswith("classifier.0.weight")]
    assert len(first) == 2 and all(D[k].shape[1] > trained[k].shape[1] for k in first)


def test_start_from_refuses_a_generator_of_another_architecture(work, tmp_path):
    params = load_params(work / "params.yaml")
    wider = MultiScaleGenerator.from_params(replace(params, model=replace(params.model, multiscale=replace(
        params.model.multiscale, width=0.1))))
    with pytest.raises(TrainingError, match=r"generator.pt does not fit the params \(width 0.05 \(params: 0.1\)\)"):
        start_from(wider, work / "models" / "generator.pt")
    (tmp_path / "other.pt").write_bytes(b"not a generator")
    with pytest.raises(TrainingError, match="other.pt: not a readable generator file"):
        start_from(wider, tmp_path / "other.pt")


def test_train_init_starts_the_generator_from_a_saved_one_and_enters_the_identity(work, tmp_path, capsys):
    import shutil

    from pyext.files import file_digest

    params = load_params(work / "params.yaml")
    init = tmp_path / "init.pt"
    shutil.copy(work / "models" / "generator.pt", init)
    # At a rate of zero the run writes back the file it started from, weight for weight: its weights at step 0.
    still = replace(params, train=replace(params.train, init=str(init), lr_g=0.0, lr_g_final=0.0, steps=1))
    train(still, DataFiles(work / "data"), RunFiles(tmp_path / "a"), progress=False)
    assert_same_weights(saved_weights(tmp_path / "a" / "generator.pt"), saved_weights(init))
    fresh = replace(still, train=replace(still.train, init=""))
    train(fresh, DataFiles(work / "data"), RunFiles(tmp_path / "b"), progress=False)
    started = saved_weights(tmp_path / "b" / "generator.pt")
    assert any(not torch.equal(started[k], saved_weights(init)[k]) for k in started)
    # The file's digest is in the run's identity: replaced, the checkpoint is not resumed against it.
    saved = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    assert saved["data_hash"] == f"{file_digest(work / 'data' / 'train.h5')}+{file_digest(init)}"
    shutil.copy(tmp_path / "b" / "generator.pt", init)
    capsys.readouterr()
    assert train(still, DataFiles(work / "data"), RunFiles(tmp_path / "a"), progress=False)["resumed_from"] == 0
    assert "checkpoint.pt was trained with other training data or starting generator; starting afresh" \
        in capsys.readouterr().out


def test_train_init_of_another_architecture_or_family_stops_with_one_line(work, tmp_path):
    from pyext.config import ParamsError, parse_params

    params = load_params(work / "params.yaml")
    init = str(work / "models" / "generator.pt")
    narrower = replace(params, train=replace(params.train, init=init),
                       model=replace(params.model, multiscale=replace(params.model.multiscale, width=0.1)))
    with pytest.raises(TrainingError) as raised:
        train(narrower, DataFiles(work / "data"), RunFiles(tmp_path), progress=False)
    assert str(raised.value) == (f"params.yaml: train.init: {init} is a generator of another architecture "
                                 f"(width 0.05 (params: 0.1))")
    raw = yaml.safe_load((work / "params.yaml").read_text())
    raw["train"]["init"] = "models/missing.pt"
    with pytest.raises(ParamsError, match=r"^.*params.yaml: train.init: no such file: .*models/missing.pt$"):
        parse_params(raw, work / "params.yaml")
    raw["train"]["init"], raw["model"]["family"], raw["train"]["batch_size"] = "models/generator.pt", "gaia", 2
    with pytest.raises(ParamsError, match=r"train.init: expected '' with model.family: gaia"):
        parse_params(raw, work / "params.yaml")


def test_the_shipped_pretrained_predictor_is_the_default_architecture_and_train_init_names_it():
    shipped = load_predictor(PRETRAINED)
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert shipped.config() == MultiScaleGenerator.from_params(parse_params(raw, REPO / "params.yaml")).config()
    card = json.loads((PRETRAINED.parent / "card.json").read_text())  # the card is of this very file
    assert card["sha256"] == hashlib.sha256(PRETRAINED.read_bytes()).hexdigest()
    # The command reproduces it: params.yaml with configs/pretrained.yaml applied is what it trained with.
    again = apply_preset(yaml.safe_load((REPO / "params.yaml").read_text()),
                         read_preset(REPO / "configs" / "pretrained.yaml", REPO / "params.yaml"))
    # The model section less the other families' subsections: a family added since leaves the card valid.
    others = set(FAMILIES) - {card["params"]["model"]["family"]}
    for params in (card["params"], again):
        params["model"] = {key: value for key, value in params["model"].items() if key not in others}
    # So does a domain B added since: a predictor reads none (params.yaml's none).
    if "translate" not in card["params"]["data"]:
        assert again["data"].pop("translate")["source"] == "none"
    for section in ("clip", "data", "photos", "extract", "filter", "model", "loss", "train"):
        assert card["params"][section] == again[section], section
    raw["train"]["init"] = "pretrained"
    params = parse_params(raw, REPO / "params.yaml")
    assert params.train.init == str(PRETRAINED)
    started = MultiScaleGenerator.from_params(params)
    start_from(started, Path(params.train.init))
    assert_same_weights(started.state_dict(), shipped.state_dict())


def test_the_finetune_stage_trains_and_evaluate_measures_its_generator(work):
    out = _stage(work, "finetune")
    tuned = work / "models" / "finetune" / "generator.pt"
    assert f"finetune: models/finetune/generator.pt: models/generator.pt after 2 steps on {TUNE}x{TUNE}" in out.stdout
    # It validates on the train stage's full-frame clips, as the train stage does.
    assert "full-frame clips, moving regions" in out.stdout
    before = saved_weights(work / "models" / "generator.pt")
    after = saved_weights(tuned)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert evaluated_generator(load_params(work / "params.yaml"), Layout(work))[1] == tuned
    _stage(work, "evaluate")
    fine = json.loads((work / "eval" / "metrics.json").read_text())

    # Without fine-tuning: the stage writes none.json, removes the fine-tuned generator, and
    # evaluate measures the train stage's: other model figures, the same baselines.
    set_params(work, finetune__patch=0)
    try:
        assert "nothing to fine-tune" in _stage(work, "finetune").stdout
        assert not tuned.exists() and (work / "models" / "finetune" / "none.json").is_file()
        _stage(work, "evaluate")
        plain = json.loads((work / "eval" / "metrics.json").read_text())
    finally:
        set_params(work, finetune__patch=TUNE)
    assert fine["last_frame"] == plain["last_frame"] and fine["optical_flow"] == plain["optical_flow"]
    assert fine["model"]["step1"]["psnr"] != plain["model"]["step1"]["psnr"]


def test_finetune_stops_on_patches_of_another_size(work):
    set_params(work, finetune__patch=2 * TUNE)
    try:
        result = _stage(work, "finetune", check=False)
    finally:
        set_params(work, finetune__patch=TUNE)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"finetune: data/finetune holds {TUNE}-pixel patches, params.yaml asks for "
                                     f"{2 * TUNE} (finetune.patch): rerun finetune_data")


def test_finetune_data_without_finetuning_reads_no_video(tmp_path):
    work = tiny_pipeline(tmp_path)
    assert "no fine-tuning patches" in _stage(work, "finetune_data").stdout
    assert [p.name for p in (work / "data" / "finetune").iterdir()] == ["report.json"]


def test_generator_files_hold_no_patch_size():
    # What lets a 32x32 generator go on at 64x64: nothing in its file depends on the patch.
    params = load_params("tests/params.yaml")
    small = generator_file(MultiScaleGenerator.from_params(params))
    large = generator_file(MultiScaleGenerator.from_params(finetune_params(replace(
        params, finetune=replace(params.finetune, patch=TUNE)))))
    assert small["config"] == large["config"]
    assert all(np.array_equal(small["state_dict"][k].shape, v.shape) for k, v in large["state_dict"].items())
