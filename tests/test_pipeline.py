"""The DVC pipeline end to end on a tiny demo set: stages run, rerun only when their inputs change,
and bad params stop a stage with one line naming the key."""
import json
import shutil
import sys

import h5py
import pytest
import yaml

from pyext.data.store import ClipArray

from cases import REPO, tiny_pipeline
from cases import run_in as _run
from cases import set_params as _set


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the pipeline with a tiny demo set, as a DVC project without git."""
    work = tiny_pipeline(tmp_path_factory.mktemp("pipeline"))
    _run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], work)
    shutil.copytree(REPO / ".dvc" / "plots", work / ".dvc" / "plots")  # the plot templates dvc.yaml names
    return work


def test_repro_builds_the_training_set_and_trains_then_does_nothing(workdir):
    repro = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    # The end of training compares the model with copying the last frame, in one line, on full
    # frames of the held-out videos as the test measures them, and on the patches.
    said = [line for line in (repro.stdout + repro.stderr).splitlines()
            if line.startswith("train: ") and "dB" in line and "copying the last frame" in line]
    assert len(said) == 1 and "validation on 2 full-frame clips, moving regions " in said[0], said
    assert "whole frames " in said[0] and "; patches " in said[0]
    # Those clips: one of each held-out video (filter.val_fraction 0.5 of 4), cut as a test clip is
    # (the test videos' frame size, 6 frames).
    with h5py.File(workdir / "data" / "val_frames.h5") as f, h5py.File(workdir / "data" / "val.h5") as v, \
            h5py.File(workdir / "data" / "test.h5") as t:
        held_out = {v["videos"][i] for i in v["video"][:]}
        assert [f["videos"][i] for i in f["video"][:]] == sorted(held_out) and len(held_out) == 2
        assert tuple(ClipArray(f).sizes[0]) == tuple(ClipArray(t).sizes[0]) and ClipArray(f).clip_shape[0] == 6
    manifest = (workdir / "data" / "manifest.json").read_text()
    assert '"source": "demo"' in manifest and "v_Translate_g01_c01.avi" in manifest
    assert len(list((workdir / "data" / "demo" / "UCF-101").rglob("*.avi"))) == 2 * 3
    with h5py.File(workdir / "data" / "train.h5") as f:
        assert len(f["clips"]) > 0
    assert (workdir / "models" / "generator.pt").is_file() and (workdir / "models" / "checkpoint.pt").is_file()
    evaluation = json.loads((workdir / "eval" / "metrics.json").read_text())
    assert {"model", "last_frame", "optical_flow"} <= set(evaluation) and evaluation["clips"] == 2
    metrics = _run([sys.executable, "-m", "dvc", "metrics", "show", "--json"], workdir).stdout
    assert "psnr_last_frame" in metrics and "loss_g" in metrics and "bytes_per_patch" in metrics
    assert "optical_flow" in metrics and "sharpness_full" in metrics
    plots = _run([sys.executable, "-m", "dvc", "plots", "show", "-o", "plots_html"], workdir)
    html = (workdir / "plots_html" / "index.html").read_text()
    assert "loss_g" in html and "predictions/step000004.png" in html and "scales/step000004.png" in html, plots.stdout
    assert "the predictor's PSNR (dB; evaluate.measure) per recursive step" in html
    assert "eval/pictures/clip00000.png" in html and "eval/pictures/clip00000_animated.png" in html
    assert "WARNING" not in plots.stderr and "failed to load" not in plots.stderr, plots.stderr
    # The training curves: validation PSNR beside copying the last frame's, in one plot drawn by
    # the project's series template (one colour per series).
    curves = json.loads(_run([sys.executable, "-m", "dvc", "plots", "show", "--json"], workdir).stdout)
    validation = curves["data"]["dvclive/plots/custom/validation.csv"][0]["content"]
    assert validation["encoding"]["color"]["field"] == "series"
    assert {row["series"] for row in validation["data"]["values"]} == {
        "psnr", "psnr_last_frame", "frames_moving", "frames_moving_last_frame", "frames_whole", "frames_whole_last_frame"}
    again = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert "Running stage" not in again.stdout


def test_editing_filter_params_reruns_filter_and_train_only(workdir):
    _set(workdir, filter__min_motion=1.0)
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert "Running stage 'filter'" in result.stdout and "Running stage 'train'" in result.stdout
    assert "Running stage 'extract'" not in result.stdout and "Running stage 'prepare'" not in result.stdout
    assert "was trained with other training data or starting generator; starting afresh" in result.stdout + result.stderr


def test_editing_loss_params_retrains_afresh(workdir):
    _set(workdir, loss__gdl=0.0)
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert "Running stage 'train'" in result.stdout and "Running stage 'filter'" not in result.stdout
    assert "was trained with other params; starting afresh" in result.stdout + result.stderr


def test_editing_training_code_retrains_afresh_and_keeps_the_old_checkpoint(workdir):
    # The finished checkpoint of other code is not resumed (that would write the old generator again).
    losses = workdir / "pyext" / "losses" / "generator.py"
    losses.write_text(losses.read_text() + "# edited\n")
    old = (workdir / "models" / "checkpoint.pt").read_bytes()
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    out = result.stdout + result.stderr
    assert "Running stage 'train'" in out and "Running stage 'filter'" not in out
    assert "models/checkpoint.pt was trained with other code; starting afresh" in out
    assert "resuming from" not in out
    kept = [p for p in (workdir / "models" / "stale").iterdir() if p.read_bytes() == old]
    assert len(kept) == 1 and f"the old checkpoint is kept as models/stale/{kept[0].name}" in out


def test_editing_extract_params_does_not_regenerate_the_demo(workdir):
    _set(workdir, extract__crops_per_clip=2)
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert "Running stage 'extract'" in result.stdout and "Running stage 'prepare'" not in result.stdout


def test_editing_demo_params_reruns_everything(workdir):
    _set(workdir, demo__seed=1)
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert all(f"Running stage '{s}'" in result.stdout for s in ("prepare", "extract", "filter"))


def test_the_photo_set_runs_through_the_pipeline(workdir):
    _set(workdir, data__source="photos", photos__classes=2, photos__groups=3, photos__test_groups=1,
         photos__clips_per_group=1, photos__frames=12)
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert all(f"Running stage '{s}'" in result.stdout for s in ("prepare", "extract", "filter", "train", "evaluate"))
    manifest = json.loads((workdir / "data" / "manifest.json").read_text())
    assert manifest["source"] == "photos" and len(manifest["videos"]) == 6
    assert len(list((workdir / "data" / "photos" / "UCF-101").rglob("*.avi"))) == 6
    assert [p.name for p in (workdir / "data" / "demo").iterdir()] == ["UNUSED.txt"]
    assert json.loads((workdir / "eval" / "metrics.json").read_text())["clips"] == 2
    # Back to the demo: its folder is generated again, the photo set's emptied.
    _set(workdir, data__source="demo")
    _run([sys.executable, "-m", "dvc", "repro", "prepare"], workdir)
    assert [p.name for p in (workdir / "data" / "photos").iterdir()] == ["UNUSED.txt"]
    assert (workdir / "data" / "demo" / "UCF-101").is_dir()


def test_training_and_test_videos_from_different_sources(workdir):
    # Train on the photo set, test on the demo's test videos (as the paper trained on Sports-1M and
    # tested on UCF101): both sets rendered, the manifest holding the one's training and the other's test videos.
    _set(workdir, data__source="photos", photos__classes=2, photos__groups=3, photos__test_groups=1,
         photos__clips_per_group=1, photos__frames=12, data__test__source="demo")
    result = _run([sys.executable, "-m", "dvc", "repro"], workdir)
    assert all(f"Running stage '{s}'" in result.stdout for s in ("prepare", "extract", "filter", "train", "evaluate"))
    assert "prepare: photos (training) + demo (test): 4 training and 2 test videos in 4 classes" in result.stdout
    manifest = json.loads((workdir / "data" / "manifest.json").read_text())
    assert manifest["classes"] == ["Tripod", "Handheld", "Translate", "Rotate"]
    demo = "data/demo"  # a generated set's root, as the training set's: relative to the workspace
    assert manifest["root"] == "data/photos"
    assert {(v["split"], v["class_name"], v.get("root")) for v in manifest["videos"]} == {
        ("train", "Tripod", None), ("train", "Handheld", None), ("test", "Translate", demo), ("test", "Rotate", demo)}
    assert [p.name for p in (workdir / "data" / "stochastic").iterdir()] == ["UNUSED.txt"]
    with h5py.File(workdir / "data" / "test.h5") as f, h5py.File(workdir / "data" / "train.h5") as g:
        tested = {f["videos"].asstr()[i] for i in f["video"][:]}
        trained = {g["videos"].asstr()[i] for i in g["video"][:]}
    assert tested == {"UCF-101/Translate/v_Translate_g01_c01.avi", "UCF-101/Rotate/v_Rotate_g01_c01.avi"}
    assert trained and all(name.split("/")[1] in ("Tripod", "Handheld") for name in trained)
    assert json.loads((workdir / "eval" / "metrics.json").read_text())["clips"] == 2
    _set(workdir, data__source="demo", data__test__source="same")


def test_filter_stops_with_one_line_on_a_bad_store_or_a_threshold_that_keeps_nothing(workdir):
    # After the repro above. These were tracebacks (StoreError uncaught), or an exit 0 with an
    # empty training set that train then died on.
    patches, train_set = workdir / "data" / "patches.h5", workdir / "data" / "train.h5"
    before = train_set.read_bytes()
    shipped = yaml.safe_load((workdir / "params.yaml").read_text())["filter"]
    _set(workdir, filter__min_motion=1e6, filter__min_kept=0)
    result = _run([sys.executable, "-m", "pipeline.filter"], workdir, check=False)
    _set(workdir, filter__min_motion=shipped["min_motion"], filter__min_kept=shipped["min_kept"])
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("filter: params.yaml: filter.min_motion: 1e+06 keeps no training patch of the ")
    assert "their motion scores: 10% " in result.stderr and train_set.read_bytes() == before  # nothing written
    whole = patches.read_bytes()
    try:
        for damage in (lambda: patches.unlink(), lambda: patches.write_bytes(whole[:len(whole) // 2])):
            damage()
            result = _run([sys.executable, "-m", "pipeline.filter"], workdir, check=False)
            assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
            assert result.stderr.startswith("filter: data/patches.h5: cannot open as HDF5")
    finally:
        patches.write_bytes(whole)
    assert train_set.read_bytes() == before


def test_extract_merge_of_a_damaged_shard_is_one_line(workdir):
    shard = workdir / "data" / "shards" / "0-of-1"
    shard.mkdir(parents=True)
    try:
        shutil.copy(workdir / "data" / "extract_report.json", shard / "extract_report.json")
        (shard / "patches.h5").write_bytes(b"not HDF5")
        result = _run([sys.executable, "-m", "pipeline.extract", "--merge", "--num-shards", "1"], workdir, check=False)
    finally:
        shutil.rmtree(workdir / "data" / "shards")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("extract: ") and "data/shards/0-of-1/" in result.stderr


def test_bad_params_stop_the_stage_with_one_line(workdir):
    _set(workdir, extract__workers="two")
    result = _run([sys.executable, "-m", "pipeline.prepare"], workdir, check=False)
    _set(workdir, extract__workers=2)
    assert result.returncode == 2
    assert result.stderr.strip() == "prepare: params.yaml: extract.workers: expected an int >= 1, got 'two'"
