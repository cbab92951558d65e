"""pyext.predict and ``beyondmse predict``: the side-by-side layout of windows (inputs on
both sides, then truth | prediction), the predictions themselves against the generator run by hand,
stride, from_end, cropping, too-short videos, and the command end to end on real encoded files
(.mp4, .gif) with its one-line errors."""
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import pyext
import pyext.prediction
from pyext import cli
from cases import TEST_PARAMS
from pyext.data.dataset import to_model, to_uint8
from pyext.data.video import read_video, write_video
from pyext.files import PRETRAINED
from pyext.models import MultiScaleGenerator, generator_file
from pyext.prediction import (INPUT_GAP_COLOUR, PREDICTION_GAP_COLOUR, crop_to_model, predict, window_starts,
                           write_side_by_side)

REPO = Path(__file__).resolve().parents[1]
T, H, W, GAP = 20, 64, 80, 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def moving_square(t: int, h: int, w: int) -> np.ndarray:
    """uint8 ``(t, h, w, 3)``: a checkered square moving 2 px right and 1 px down per frame over a
    diagonal-stripe background."""
    yy, xx = np.mgrid[0:h, 0:w]
    background = np.stack([60 + 30 * ((xx + yy) // 6 % 2), 90 + 0 * xx, 140 - 40 * ((xx - yy) // 8 % 2)], axis=-1)
    frames = np.repeat(background[None], t, axis=0).astype(np.uint8)
    for k in range(t):
        y0, x0 = 10 + k, 4 + 2 * k
        square = np.where(((yy[:20, :20] // 4 + xx[:20, :20] // 4) % 2)[..., None], [230, 200, 40], [200, 30, 30])
        frames[k, y0:y0 + 20, x0:x0 + 20] = square
    return frames


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return MultiScaleGenerator(4, 1, scales=2, width=0.05).eval()


@pytest.fixture(scope="module")
def files(tmp_path_factory, generator):
    """A real encoded video and a generator file, in one folder."""
    folder = tmp_path_factory.mktemp("predict")
    write_video(folder / "video.avi", moving_square(T, H, W), fps=12)  # written back at its rate
    torch.save(generator_file(generator), folder / "generator.pt")
    return folder


@pytest.fixture(scope="module")
def frames(files):
    decoded = read_video(files / "video.avi")
    assert decoded.shape == (T, H, W, 3)
    return decoded


def by_hand(generator, inputs: np.ndarray, steps: int) -> np.ndarray:
    """The recursive prediction of uint8 inputs ``(m, H, W, 3)``, one forward per step, as uint8."""
    x, out = to_model(inputs)[None], []
    with torch.no_grad():
        for _ in range(steps):
            y = generator(x)
            out.append(y)
            x = torch.cat([x, y], dim=1)[:, -generator.input_frames:]
    return to_uint8(torch.cat(out, dim=1))[0]


def halves(out: np.ndarray):
    return out[:, :, :W], out[:, :, W:W + GAP], out[:, :, W + GAP:]


def test_windows_tile_the_video_and_show_truth_beside_prediction(generator, frames):
    out = predict(generator, frames, steps=2, batch_size=1, gap=GAP)
    m, p = 4, 2
    starts = list(range(0, T - m - p + 1, p))  # 0, 2, ..., 14: the predictions tile frames 4..19
    assert out.shape == (len(starts) * (m + p), H, 2 * W + GAP, 3) and out.dtype == np.uint8
    left, gap, right = halves(out)
    for i, s in enumerate(starts):
        o = i * (m + p)
        assert np.array_equal(left[o:o + m], frames[s:s + m]), i
        assert np.array_equal(right[o:o + m], frames[s:s + m]), i
        assert np.array_equal(left[o + m:o + m + p], frames[s + m:s + m + p]), i
        assert np.array_equal(right[o + m:o + m + p], by_hand(generator, frames[s:s + m], 2)), i
        assert (gap[o:o + m] == INPUT_GAP_COLOUR).all() and (gap[o + m:o + m + p] == PREDICTION_GAP_COLOUR).all()
    # An untrained generator is far from the truth: the halves were not mixed up.
    assert np.abs(right[m:m + p].astype(int) - left[m:m + p]).mean() > 20


def test_batches_give_the_same_frames(generator, frames):
    one = predict(generator, frames, steps=2, batch_size=1)
    batched = predict(generator, frames, steps=2, batch_size=5)  # 8 windows: batches of 5 and 3
    assert batched.shape == one.shape
    assert np.abs(batched.astype(int) - one).max() <= 1  # float sums may round one level differently
    assert np.mean(batched != one) < 1e-3


def test_stride(generator, frames):
    out = predict(generator, frames, steps=1, stride=5, gap=GAP)
    starts = [0, 5, 10, 15]  # 15 + 4 + 1 = 20 frames: the last window's truth is the last frame
    assert out.shape == (4 * 5, H, 2 * W + GAP, 3)
    left, _, right = halves(out)
    for i, s in enumerate(starts):
        assert np.array_equal(left[5 * i:5 * i + 5], frames[s:s + 5]), i
        assert np.array_equal(right[5 * i:5 * i + 4], frames[s:s + 4]), i
    assert window_starts(T, 4, 1, stride=5) == starts
    assert window_starts(T, 4, 3) == [0, 3, 6, 9, 12]


def test_from_end_predicts_past_the_video(generator, frames):
    out = predict(generator, frames, steps=3, from_end=True, batch_size=1, gap=GAP)
    assert out.shape == (4 + 3, H, 2 * W + GAP, 3)
    left, _, right = halves(out)
    assert np.array_equal(left[:4], frames[-4:]) and np.array_equal(right[:4], frames[-4:])
    assert np.array_equal(left[4:], np.broadcast_to(frames[-1] // 2, (3, H, W, 3)))
    assert np.array_equal(right[4:], by_hand(generator, frames[-4:], 3))
    # Only the last m frames are needed.
    assert predict(generator, frames[:4], steps=3, from_end=True).shape == out.shape


def test_frames_are_centre_cropped_to_the_scales():
    torch.manual_seed(1)
    g3 = MultiScaleGenerator(4, 1, scales=3, width=0.05).eval()  # multiples of 4
    video = np.random.default_rng(0).integers(0, 256, (6, 70, 87, 3), dtype=np.uint8)
    out = predict(g3, video, steps=2, gap=4)
    cropped = video[:, 1:69, 1:85]  # 70 -> 68 (1 above, 1 below), 87 -> 84 (1 left, 2 right)
    assert out.shape == (6, 68, 2 * 84 + 4, 3)
    assert np.array_equal(out[:, :, :84], cropped)
    assert np.array_equal(out[4:, :, 88:], by_hand(g3, cropped[:4], 2))
    # One scale needs no multiple, but video needs even sizes.
    assert crop_to_model(video, 1).shape == (6, 70, 86, 3)
    with pytest.raises(ValueError, match="too small"):
        predict(g3, video[:, :3], steps=1)


def test_too_short_videos(generator, frames):
    with pytest.raises(ValueError, match="the video has 5 frames; a window needs 6 .*from its end needs only 4"):
        predict(generator, frames[:5], steps=2)
    assert len(predict(generator, frames[:6], steps=2)) == 6
    with pytest.raises(ValueError, match="the video has 3 frames; a window needs 4 "):
        predict(generator, frames[:3], from_end=True)


@pytest.mark.parametrize("kwargs, error", [
    (dict(steps=0), ValueError), (dict(stride=0), ValueError), (dict(batch_size=0), ValueError),
    (dict(gap=-2), ValueError),
])
def test_bad_arguments(generator, frames, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        predict(generator, frames, **kwargs)


def test_bad_frames(generator, frames):
    with pytest.raises(TypeError, match="uint8"):
        predict(generator, frames.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        predict(generator, frames[..., :2])


def test_package_level_call(generator, frames):
    assert callable(pyext.predict)
    assert np.array_equal(pyext.predict(generator, frames[:8], steps=1), predict(generator, frames[:8], steps=1))


def test_write_side_by_side_bad_suffix(tmp_path, frames):
    for name in ("out.png", "out"):
        with pytest.raises(ValueError, match=f"{tmp_path / name}: cannot write"):
            write_side_by_side(frames, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_write_side_by_side_gif_and_avi(tmp_path, frames):
    write_side_by_side(frames[:5], tmp_path / "sub" / "a.GIF", fps=20)
    with Image.open(tmp_path / "sub" / "a.GIF") as gif:
        assert (gif.n_frames, gif.size, gif.info["loop"], gif.info["duration"]) == (5, (W, H), 0, 50)
    write_side_by_side(frames[:5], tmp_path / "a.avi", fps=20)
    assert read_video(tmp_path / "a.avi").shape == (5, H, W, 3)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.GIF", "a.avi", "sub"]


# ----------------------------------------------------------------------------------- command line


def _cli(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pyext.cli", "predict", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_cli_writes_mp4(tmp_path, files, generator, frames):
    result = _cli([files / "video.avi", "--out", "out/pred.mp4", "--model", files / "generator.pt"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == ["predict: 8 windows of 20 frames, 48 frames of 168x64 written "
                                                  "to out/pred.mp4"]
    with av.open(str(tmp_path / "out" / "pred.mp4")) as container:
        assert container.format.name.split(",")[0] in ("mov", "mp4")
        assert container.streams.video[0].codec_context.name == "mpeg4"
        assert container.streams.video[0].average_rate == 12  # the input's, as no --fps was given
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    expected = predict(generator, frames, steps=2)
    assert decoded.shape == expected.shape == (48, H, 2 * W + 8, 3)
    assert psnr(decoded, expected) > 28
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["pred.mp4"]


def test_cli_writes_gif_from_the_end_downscaled(tmp_path, files, generator, frames):
    result = _cli([files / "video.avi", "--out", "pred.gif", "--model", files / "generator.pt", "--from-end",
                   "--steps", "3", "--fps", "10", "--max-size", "32", "40"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 window of 20 frames, 7 frames of 88x32" in result.stdout
    with Image.open(tmp_path / "pred.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"], gif.info["loop"]) == (7, (88, 32), 100, 0)
        decoded = []
        for k in range(gif.n_frames):
            gif.seek(k)
            decoded.append(np.asarray(gif.convert("RGB")))
    small = read_video(files / "video.avi", max_size=(32, 40))
    expected = predict(generator, small, steps=3, from_end=True)
    assert np.abs(np.stack(decoded).astype(int) - expected).mean() < 4  # a 256-colour palette per frame


def test_cli_missing_video_is_one_line(tmp_path, files):
    result = _cli(["nothing.avi", "--out", "pred.mp4", "--model", files / "generator.pt"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["predict: nothing.avi: no such file"]
    assert list(tmp_path.iterdir()) == []


def _in_process(argv, capsys) -> str:
    """Runs ``beyondmse predict`` in this process; its stderr."""
    with pytest.raises(SystemExit) as exc_info:
        cli.main(["predict", *(str(a) for a in argv)])
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("predict: "), err
    return err.strip()


def test_cli_errors_are_one_line(tmp_path, files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, video = files / "generator.pt", files / "video.avi"
    text = tmp_path / "notes.avi"
    text.write_text("not a video\n" * 20)
    assert _in_process([text, "--out", "p.mp4", "--model", model], capsys).startswith(f"predict: {text}: cannot decode")
    assert _in_process([video, "--out", "p.png", "--model", model], capsys) == \
        "predict: p.png: cannot write '.png' files; use .mp4, .avi, .gif"
    assert _in_process([video, "--out", "p.mp4", "--model", "models/generator.pt"], capsys).startswith(
        "predict: models/generator.pt: no such generator file")
    assert _in_process([video, "--out", "p.mp4", "--model", text], capsys).startswith(
        f"predict: {text}: not a readable generator file")
    assert _in_process([video, "--out", "p.mp4", "--model", model, "--steps", "17"], capsys) == (
        f"predict: {video}: the video has 20 frames; a window needs 21 (4 input frames and 17 true future frames "
        "to compare the predictions with); predicting from its end needs only 4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.avi"]


def _predicted(argv, capsys) -> str:
    """Runs ``beyondmse predict`` in this process to success; the line it printed."""
    cli.main(["predict", *(str(a) for a in argv)])
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_cli_defaults_to_the_workspace_s_generator_else_the_shipped_one_and_says_which(tmp_path, files, capsys,
                                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    video = files / "video.avi"
    assert _predicted([video, "--out", "a.mp4"], capsys).endswith(
        f"written to a.mp4 by the shipped pretrained predictor {PRETRAINED} (no trained generator at "
        f"models/generator.pt)")
    assert _predicted([video, "--out", "b.mp4", "--model", PRETRAINED], capsys).endswith("written to b.mp4")
    np.testing.assert_array_equal(read_video(tmp_path / "a.mp4"), read_video(tmp_path / "b.mp4"))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "generator.pt").write_bytes((files / "generator.pt").read_bytes())
    assert _predicted([video, "--out", "c.mp4"], capsys).endswith(
        "written to c.mp4 by this workspace's trained generator models/generator.pt")
    # In a pipeline's folder that fine-tunes, the fine-tuned generator (absent here), not the train stage's.
    params = yaml.safe_load(TEST_PARAMS.read_text())
    params["finetune"]["patch"] = 64
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert _predicted([video, "--out", "d.mp4"], capsys).endswith(
        "(no trained generator at models/finetune/generator.pt)")


def test_cli_refuses_to_overwrite_its_input_or_write_where_it_cannot(tmp_path, files, capsys, monkeypatch):
    # `--out` the input video itself (or a link to it) overwrote the video; an unwritable output
    # failed only after decoding and predicting.
    monkeypatch.chdir(tmp_path)
    video, model = tmp_path / "video.avi", files / "generator.pt"
    video.write_bytes((files / "video.avi").read_bytes())
    (tmp_path / "link.avi").symlink_to(video)
    before = video.read_bytes()
    for out in (video, tmp_path / "link.avi", Path("video.avi")):
        assert _in_process([video, "--out", out, "--model", model], capsys) == (
            f"predict: {out}: is the input {video}; writing it would overwrite the input (choose another --out)")
    assert _in_process([tmp_path / "link.avi", "--out", video, "--model", model], capsys).endswith("overwrite the input (choose another --out)")
    assert video.read_bytes() == before
    (tmp_path / "locked").mkdir(mode=0o500)
    (tmp_path / "file").write_text("")
    decoded = []
    monkeypatch.setattr(pyext.prediction, "read_video", lambda *a, **k: decoded.append(a) or read_video(*a, **k))
    if os.geteuid() != 0:  # root writes anywhere
        assert _in_process([video, "--out", tmp_path / "locked" / "p.mp4", "--model", model], capsys) == (
            f"predict: {tmp_path / 'locked' / 'p.mp4'}: cannot be written (permission denied)")
    assert _in_process([video, "--out", tmp_path / "file" / "p.mp4", "--model", model], capsys) == (
        f"predict: {tmp_path / 'file' / 'p.mp4'}: cannot be written ({tmp_path / 'file'} is not a folder)")
    assert decoded == []


def test_cli_bad_options(tmp_path, files, capsys):
    for argv in (["--steps", "0"], ["--from-end", "--stride", "2"], ["--max-size", "0", "10"]):
        with pytest.raises(SystemExit) as exc_info:
            cli.main(["predict", str(files / "video.avi"), "--out", str(tmp_path / "p.mp4"), *argv])
        assert exc_info.value.code == 2
        assert argv[0] in capsys.readouterr().err


def test_a_video_too_large_for_the_machines_memory_is_refused_before_decoding(tmp_path, files, capsys, monkeypatch):
    # predict --max-size 3000 4000 on a 4000x3000 video grew to 21 GB with no warning.
    from pyext.data.video import video_shape
    from pyext.prediction import memory_needed

    video, model = files / "video.avi", files / "generator.pt"
    assert video_shape(video) == read_video(video).shape[:3] == (T, H, W)
    assert video_shape(video, (32, 40)) == read_video(video, max_size=(32, 40)).shape[:3]
    need = memory_needed(T, H, W, 4, 2, None, False, 8)
    monkeypatch.setattr(pyext.prediction, "available_memory", lambda: need - 1)
    decoded = []
    monkeypatch.setattr(pyext.prediction, "read_video", lambda *a, **k: decoded.append(a))
    assert _in_process([video, "--out", tmp_path / "p.mp4", "--model", model], capsys) == (
        f"predict: {video}: predicting its {T} frames at {W}x{H} needs about {need / 2**30:.1f} GiB, more than the "
        f"{(need - 1) / 2**30:.1f} GiB this machine has free: pass a smaller --max-size (or --from-end, or a larger "
        "--stride)")
    assert decoded == [] and not (tmp_path / "p.mp4").exists()


@pytest.mark.parametrize("family,config,trains", [
    ("gaia", {"frames": 5, "patch": 32, "latent": 8, "width": 0.1}, "autoencoders"),
    ("dcgan", {"size": 32, "latent": 8, "width": 0.125}, "a generator of images from noise"),
    ("lapgan", {"size": 32, "levels": 3, "latent": 8, "width": 0.0625}, "a generator of images from noise"),
    ("vaegan", {"size": 32, "latent": 8, "width": 0.125}, "a generator of images from noise")])
def test_cli_refuses_a_model_that_predicts_no_frames_with_one_line(tmp_path, capsys, family, config, trains):
    from pyext.models import FAMILIES

    torch.save(generator_file(FAMILIES[family](**config)), tmp_path / "model.pt")
    write_video(tmp_path / "video.avi", np.zeros((8, 32, 32, 3), np.uint8))
    argv = [str(tmp_path / "video.avi"), "--out", str(tmp_path / "out.mp4"), "--model", str(tmp_path / "model.pt")]
    with pytest.raises(SystemExit) as exc_info:
        cli.main(["predict", *argv])
    assert exc_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"predict: {tmp_path / 'model.pt'}: a {family} model, which predicts no frames (model.family: {family} trains "
        f"{trains})"]
    assert not (tmp_path / "out.mp4").exists()
