"""pyext.presets and beyondmse preset: every shipped preset applies to params.yaml; the
paper preset is the paper's setting; overrides for dvc exp run; writing keeps the file's comments;
bad presets stop with one line naming the preset and the key."""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pyext.config import OBJECTIVES, ParamsError, load_params, parse_params
from pyext.presets import apply_preset, overrides, preset_params, read_preset, write_preset

REPO = Path(__file__).resolve().parents[1]
PRESETS = sorted((REPO / "configs").glob("*.yaml"))


def test_there_are_presets():
    assert {p.name for p in PRESETS} >= {"paper.yaml", "photos-small.yaml"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_preset_applies_to_params_yaml(path):
    preset = read_preset(path, REPO / "params.yaml")
    raw = apply_preset(yaml.safe_load((REPO / "params.yaml").read_text()), preset)
    params = parse_params(raw, REPO / "params.yaml")

    def check(dotted, given, found):
        for key, value in given.items():
            if isinstance(value, dict):  # a sub-section sets some of its keys
                check(f"{dotted}.{key}", value, found[key])
            else:
                assert found[key] == value, f"{dotted}.{key}"

    for section, keys in preset.items():
        check(section, keys, params.section(section))


def test_paper_preset_is_the_papers_setting():
    p = preset_params(REPO / "configs" / "paper.yaml", REPO / "params.yaml")
    assert (p.model.multiscale.scales, p.model.multiscale.width, p.model.multiscale.skip) == (4, 1.0, "none")  # Table 1, the tanh form
    assert (p.train.optimizer, p.train.lr_g, p.train.lr_g_final, p.train.lr_d) == ("sgd", 0.04, 0.005, 0.02)
    assert (p.train.augment, p.train.keep, p.train.batch_size) == ((), "last", 8)
    assert (p.clip.input_frames, p.clip.output_frames, p.clip.patch) == (4, 1, 32)
    assert (p.loss.adversarial.kind, p.loss.lp, p.loss.gdl, p.loss.p, p.loss.alpha) == ("bce", 1.0, 1.0, 2, 1.0)


def test_overrides_are_dvc_set_arguments():
    assert overrides({"model": {"multiscale": {"width": 1.0, "skip": "none"}}, "train": {"augment": ["flip", "rotate"], "keep": "last",
                                                                          "compile": False}}) == [
        "model.multiscale.width=1.0", 'model.multiscale.skip="none"', 'train.augment=["flip","rotate"]', 'train.keep="last"',
        "train.compile=false"]


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_dvc_reads_the_overrides_as_the_preset_says(path, tmp_path):
    # dvc exp run -S parses its overrides with this function: the result is the preset applied.
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    preset = read_preset(path, params)
    apply_overrides(params, overrides(preset))
    expected = parse_params(apply_preset(yaml.safe_load((REPO / "params.yaml").read_text()), preset), params)
    assert load_params(params) == expected


def test_write_keeps_comments_and_sets_values(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    preset = read_preset(REPO / "configs" / "paper.yaml", params)
    write_preset({**preset, "train": {**preset["train"], "augment": ["flip"]}}, params)
    text = params.read_text()
    assert "# the pipeline's parameters" in text.lower() and "# multiplies every channel count" in text
    assert "augment: [flip]" in text  # a list stays on its key's line
    p = load_params(params)
    assert (p.model.multiscale.width, p.train.optimizer, p.train.augment) == (1.0, "sgd", ("flip",))
    assert [line.split("#")[0].strip() for line in text.splitlines() if line.strip().startswith("data:")] == ["data:"]


@pytest.mark.parametrize("kind", OBJECTIVES)
def test_dvc_set_switches_the_objective_in_one_key(kind, tmp_path):
    # `dvc exp run -S loss.adversarial.kind=<kind>` from the shipped params: DVC's own override
    # parser, then the loader; nothing else of the loss section changes.
    from dvc.utils.hydra import apply_overrides

    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    shipped = load_params(params)
    apply_overrides(params, [f"loss.adversarial.kind={kind}"])
    switched = load_params(params)
    assert switched.loss.adversarial.kind == kind
    assert replace(switched, loss=shipped.loss) == shipped


def test_write_sets_a_key_of_a_subsection(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    write_preset({"loss": {"adversarial": {"kind": "hinge"}, "adv": 0.1}}, params)
    text = params.read_text()
    assert "kind: hinge" in text and "# bce (the paper's)" in text  # the key's comment stays
    p = load_params(params)
    assert (p.loss.adversarial.kind, p.loss.adv, p.loss.gdl) == ("hinge", 0.1, 1.0)
    assert overrides({"loss": {"adversarial": {"kind": "hinge"}}}) == ['loss.adversarial.kind="hinge"']


def test_a_written_small_rate_reads_back(tmp_path):
    # ruamel writes 0.00005 as 5e-05, which the params loader refused (YAML 1.1 reads it as a string)
    # after --write had reported success: the README's WGAN rate could not be set as it says.
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    write_preset({"train": {"lr_g": 0.00005, "lr_d": 0.00005}}, params)
    assert "lr_g: 5e-05" in params.read_text()
    assert (load_params(params).train.lr_g, load_params(params).train.lr_d) == (5e-05, 5e-05)
    assert read_preset(_preset(tmp_path, "train:\n  lr_g: 5e-5\n"), params) == {"train": {"lr_g": 5e-05}}


def _preset(folder: Path, text: str) -> Path:
    path = folder / "preset.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,where,problem", [
    ("modle:\n  width: 1.0\n", "modle", "not a section of"),
    ("model:\n  widht: 1.0\n", "model.widht", "not a key of"),
    ("model:\n  multiscale:\n    width: 0\n", "model.multiscale.width", "expected a number >= 0.001, got 0"),
    ("model: 1.0\n", None, "expected sections of keys"),
    ("loss:\n  adversarial:\n    kidn: hinge\n", "loss.adversarial.kidn", "not a key of"),
    ("loss:\n  adv:\n    kind: hinge\n", "loss.adv.kind", "not a key of"),
    ("loss:\n  adversarial:\n    kind: hinje\n", "loss.adversarial.kind", "expected one of bce, minimax"),
    ("model:\n  width: 1.0\nmodel:\n  width: 2.0\n", None, "duplicate key 'model'"),
])
def test_bad_presets_name_the_preset_and_the_key(tmp_path, text, where, problem):
    path = tmp_path / "preset.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as error:
        read_preset(path, REPO / "params.yaml")
    message = str(error.value)
    assert "\n" not in message and str(path) in message and problem in message
    if where:
        assert f": {where}: " in message


def test_command_prints_overrides_and_writes(tmp_path):
    env_path = {"PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "pyext.cli", "preset", str(REPO / "configs" / "photos-small.yaml")],
                          cwd=REPO, capture_output=True, text=True, env=env_path)
    assert done.returncode == 0 and done.stdout.split() == ["-S", 'data.source="photos"', "-S",
                                                            "extract.test_clips_per_video=4"]
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    done = subprocess.run([sys.executable, "-m", "pyext.cli", "preset", str(REPO / "configs" / "photos-small.yaml"),
                           "--params", str(params), "--write"], cwd=REPO, capture_output=True, text=True, env=env_path)
    assert done.returncode == 0 and load_params(params).data.source == "photos"
    # The old spelling is an alias of the command.
    missing = subprocess.run([sys.executable, "-m", "pipeline.preset", str(tmp_path / "nope.yaml")], cwd=REPO,
                             capture_output=True, text=True, env=env_path)
    assert missing.returncode == 2 and missing.stderr.startswith("preset: ") and "no such preset file" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_a_value_with_white_space_is_refused_as_overrides_and_written(tmp_path):
    # `dvc exp run $(beyondmse preset p.yaml)` split '-S data.root="/my videos"' into two words (DVC:
    # LexerNoViableAltException); the command refuses it with one line and --write sets it.
    videos = tmp_path / "my videos"
    videos.mkdir()
    preset = _preset(tmp_path, f"data:\n  source: folder\n  root: {videos}\n")
    done = subprocess.run([sys.executable, "-m", "pyext.cli", "preset", str(preset)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"preset: {preset}: data.root: {str(videos)!r} holds white space, which $(beyondmse preset ...) splits "
        "into separate words: write the preset into params.yaml with --write instead"]
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    write_preset(read_preset(preset, params), params)
    assert load_params(params).data.root == videos
    assert overrides({"train": {"betas": [0.5, 0.999]}}) == ["train.betas=[0.5,0.999]"]  # lists have no spaces


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_a_preset_that_starts_from_the_shipped_predictor_keeps_its_architecture(path):
    # params.yaml's train.init: pretrained; a preset changing the generator must start from random weights,
    # else its train stage stops on the architecture (pyext.training.loop.start_from).
    from pyext.files import PRETRAINED
    from pyext.models import MultiScaleGenerator, load_generator

    p = preset_params(path, REPO / "params.yaml")
    if p.train.init == str(PRETRAINED):
        assert MultiScaleGenerator.from_params(p).config() == load_generator(PRETRAINED).config(), path.name
    else:
        assert p.train.init == "", path.name
