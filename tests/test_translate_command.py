"""pyext.translating and ``beyondmse translate``: frames translated one by one at the video's size
(cropped to the model's size multiple) against the model run by hand, through a real encoded video;
a folder translated into a new one of the same layout that reads as a folder data source; inputs
never overwritten and nothing left behind on failure; a model file that is no translator refused in
one line; and the command end to end on a saved translator of a registered family."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from pyext import cli
from pyext.data.dataset import to_model, to_uint8
from pyext.data.manifest import folder_manifest
from pyext.data.video import VideoError, frame_rate, read_video, write_video
from pyext.models import MultiScaleGenerator, generator_file
from pyext.prediction import crop_to_model, write_side_by_side
from pyext.translating import translate_folder, translate_frames, translate_path, translate_video, translated_name
from test_translation_eval import ColourMap, translation_params

pytestmark = pytest.mark.usefixtures("one_torch_thread")

T, H, W = 8, 50, 66  # not multiples of 4: the frames are cropped to 48x64


def moving_square(t: int = T, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """uint8 ``(t, h, w, 3)``: a bright square moving 2 px right a frame over smooth stripes."""
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([70 + 40 * np.sin((xx + 2 * yy + seed) / 7), 100 + 0 * xx, 120 + 30 * np.cos(xx / 9)], -1)
    frames = np.repeat(background[None], t, axis=0).astype(np.uint8)
    for k in range(t):
        frames[k, 12:28, 6 + 2 * k:22 + 2 * k] = (220, 190, 60)
    return frames


def _close(a: np.ndarray, b: np.ndarray) -> float:
    """The mean absolute difference of two uint8 videos (0..255)."""
    return float(np.abs(a.astype(np.int64) - b).mean())


def test_frames_are_cropped_then_translated_one_by_one_as_the_model_does():
    model, frames = ColourMap(40, -40), moving_square()
    out = translate_frames(model, frames, "ab", batch_size=3)
    cropped = crop_to_model(frames, model.size_multiple)
    assert out.shape == (T, 48, 64, 3) and cropped.shape == out.shape
    assert np.array_equal(out, to_uint8(model.translate(to_model(cropped), "ab")))
    assert np.array_equal(translate_frames(model, out, "ba"), cropped.clip(0, 215))  # back, where nothing clamped
    with pytest.raises(ValueError, match="--direction must be one of ab, ba, got 'xy'"):
        translate_frames(model, frames, "xy")
    with pytest.raises(ValueError, match="too small"):
        translate_frames(model, frames[:, :3, :3], "ab")


def test_a_video_file_is_translated_at_its_size_within_the_codecs_tolerance(tmp_path):
    model = ColourMap(40, -40)
    write_video(tmp_path / "in.avi", moving_square())
    decoded = read_video(tmp_path / "in.avi")
    translate_video(model, tmp_path / "in.avi", tmp_path / "out.mp4", "ab")
    written = read_video(tmp_path / "out.mp4")
    expected = to_uint8(model.translate(to_model(crop_to_model(decoded, model.size_multiple)), "ab"))
    assert written.shape == (T, 48, 64, 3)
    # Exactly the model's frames as the encoder gives them back (it is deterministic) ...
    write_side_by_side(expected, tmp_path / "expected.mp4")
    assert np.array_equal(written, read_video(tmp_path / "expected.mp4"))
    assert _close(written, expected) < 8.0  # ... which is MPEG-4's loss on small frames of saturated edges
    assert _close(written, crop_to_model(decoded, 4)) > 30  # ... and it was translated


FOLDER_RATES = {"Walk/a.avi": 10, "Walk/b.mkv": 15, "Run/c.mp4": 25}  # _folder's videos and their frame rates


def _folder(root) -> None:
    """Videos in two class folders at their own frame rates (:data:`FOLDER_RATES`), one of them a container
    the output does not keep (.mkv)."""
    for seed, (rel, fps) in enumerate(FOLDER_RATES.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_video(root / rel, moving_square(6, 40, 48, seed), fps=fps)


def test_a_folder_is_translated_into_a_new_one_that_reads_as_a_folder_source(tmp_path):
    _folder(tmp_path / "videos")
    written = translate_folder(ColourMap(30, -30), tmp_path / "videos", tmp_path / "out", "ba")
    assert sorted(written) == ["Run/c.mp4", "Walk/a.avi", "Walk/b.mp4"]
    source, result = folder_manifest(tmp_path / "videos"), folder_manifest(tmp_path / "out")
    assert result.classes == source.classes == ["Run", "Walk"]
    assert sorted(v.path for v in result.videos) == sorted(written)
    assert [v.label for v in sorted(result.videos, key=lambda v: v.path)] == [0, 1, 1]
    assert read_video(tmp_path / "out" / "Walk/b.mp4").shape == (6, 40, 48, 3)
    # Each video at its own rate.
    assert [frame_rate(tmp_path / "out" / translated_name(rel)) for rel in FOLDER_RATES] == list(FOLDER_RATES.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "videos"]  # no temporary left
    assert translated_name("x/y.MOV") == "x/y.mp4"


def test_a_failed_folder_leaves_nothing_behind(tmp_path):
    _folder(tmp_path / "videos")
    (tmp_path / "videos" / "Run" / "broken.avi").write_bytes(b"not a video")
    with pytest.raises(VideoError, match="broken.avi"):
        translate_folder(ColourMap(), tmp_path / "videos", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["videos"]


def test_an_input_is_never_overwritten(tmp_path):
    """Refused before the model is read (here: a file that is none)."""
    write_video(tmp_path / "in.avi", moving_square())
    _folder(tmp_path / "videos")
    model = tmp_path / "generator.pt"
    model.write_bytes(b"no model")
    before = (tmp_path / "in.avi").read_bytes()
    with pytest.raises(ValueError, match="is the input .*choose another OUTPUT"):
        translate_path(model, tmp_path / "in.avi", tmp_path / "in.avi")
    with pytest.raises(ValueError, match="OUTPUT is the input folder"):
        translate_path(model, tmp_path / "videos", tmp_path / "videos")
    with pytest.raises(ValueError, match="OUTPUT is inside the input folder"):
        translate_path(model, tmp_path / "videos", tmp_path / "videos" / "Walk" / "translated")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("kept")
    with pytest.raises(ValueError, match="OUTPUT exists and is not empty"):
        translate_path(model, tmp_path / "videos", tmp_path / "taken")
    with pytest.raises(FileNotFoundError, match="no such video file or folder"):
        translate_path(model, tmp_path / "missing.avi", tmp_path / "out.avi")
    assert (tmp_path / "in.avi").read_bytes() == before
    assert (tmp_path / "taken" / "notes.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator.pt", "in.avi", "taken", "videos"]


def test_a_model_file_that_is_no_translator_is_refused_in_one_line(tmp_path, capsys):
    torch.manual_seed(0)
    torch.save(generator_file(MultiScaleGenerator(4, 1, scales=2, width=0.05)), tmp_path / "generator.pt")
    write_video(tmp_path / "in.avi", moving_square())
    with pytest.raises(ValueError, match="a multiscale model, which translates no frames .*translate needs a "
                                         "translator"):
        translate_path(tmp_path / "generator.pt", tmp_path / "in.avi", tmp_path / "out.mp4")
    with pytest.raises(SystemExit) as done:
        cli.main(["translate", str(tmp_path / "generator.pt"), str(tmp_path / "in.avi"), str(tmp_path / "out.mp4")])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("translate: ") and err.count("\n") == 1
    assert not (tmp_path / "out.mp4").exists()


# ------------------------------------------------------- a saved translator (with the families)


@pytest.fixture
def saved_cyclegan(tmp_path):
    """A cyclegan translator built from the tests' params through the registry, saved as the train
    stage saves it."""
    from pyext.models import FAMILIES

    torch.manual_seed(0)
    model = FAMILIES["cyclegan"].from_params(translation_params("cyclegan")).eval()
    torch.save(generator_file(model), tmp_path / "generator.pt")
    return model, tmp_path / "generator.pt"


def test_the_command_translates_a_video_with_a_saved_cyclegan(tmp_path, saved_cyclegan, capsys):
    model, path = saved_cyclegan
    write_video(tmp_path / "in.avi", moving_square(h=64, w=80), fps=12)
    cli.main(["translate", str(path), str(tmp_path / "in.avi"), str(tmp_path / "out.mp4"), "--direction", "ba",
              "--batch", "3"])
    assert frame_rate(tmp_path / "out.mp4") == 12  # the input's
    assert capsys.readouterr().out.startswith(f"translate: {T} frames of ")
    written, decoded = read_video(tmp_path / "out.mp4"), read_video(tmp_path / "in.avi")
    expected = to_uint8(model.translate(to_model(crop_to_model(decoded, model.size_multiple)), "ba"))
    assert written.shape == expected.shape and written.shape[0] == T
    write_side_by_side(expected, tmp_path / "expected.mp4", fps=12)
    assert np.array_equal(written, read_video(tmp_path / "expected.mp4"))


def test_the_command_translates_a_folder_with_a_saved_cyclegan(tmp_path, saved_cyclegan, capsys):
    _, path = saved_cyclegan
    _folder(tmp_path / "videos")
    cli.main(["translate", str(path), str(tmp_path / "videos"), str(tmp_path / "out"), "--fps", "7"])
    assert capsys.readouterr().out.startswith("translate: 3 videos of ")
    assert {frame_rate(video) for video in (tmp_path / "out").rglob("*.*")} == {7}  # --fps over the inputs' own
    assert sorted(v.path for v in folder_manifest(tmp_path / "out").videos) == ["Run/c.mp4", "Walk/a.avi",
                                                                                 "Walk/b.mp4"]
