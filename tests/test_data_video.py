"""pyext.data.video on real encoded files: the write/read round trip, downscaling to fit, fit_size,
and VideoError for every kind of bad file (missing, empty, garbage, truncated, no video stream)."""
import av
import cv2
import numpy as np
import pytest

from pyext.data.video import VideoError, fit_size, frame_rate, read_video, write_video


def smooth_pattern(t: int, h: int, w: int) -> np.ndarray:
    """uint8 ``(t, h, w, 3)``: slow colour waves drifting a pixel per frame (easy to encode well)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = [np.stack([128 + 90 * np.sin((xx - k) / 17 + c) * np.cos((yy + k) / 23 - c) for c in (0, 1, 2)],
                       axis=-1) for k in range(t)]
    return np.rint(frames).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def assert_names_file(exc_info: pytest.ExceptionInfo, path, problem: str) -> None:
    message = str(exc_info.value)
    assert message.startswith(f"{path}: ") and problem in message, message
    assert "\n" not in message
    assert exc_info.value.path == path


def test_round_trip(tmp_path):
    frames = smooth_pattern(6, 48, 64)
    path = tmp_path / "clip.avi"
    write_video(path, frames)
    decoded = read_video(path)
    assert decoded.shape == (6, 48, 64, 3) and decoded.dtype == np.uint8
    assert psnr(decoded, frames) > 30
    assert np.array_equal(read_video(path, threads=1), decoded)
    # Nothing but the video is left in the folder: the temporary name was renamed.
    assert [p.name for p in tmp_path.iterdir()] == ["clip.avi"]


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".mkv"])
def test_the_frame_rate_is_the_one_written_as_opencv_reads_it(tmp_path, suffix):
    for fps in (7, 30):
        path = tmp_path / f"clip{fps}{suffix}"
        write_video(path, smooth_pattern(3, 32, 48), fps=fps)
        capture = cv2.VideoCapture(str(path))
        try:
            assert frame_rate(path) == round(capture.get(cv2.CAP_PROP_FPS)) == fps
        finally:
            capture.release()
    with pytest.raises(VideoError, match="no such file"):
        frame_rate(tmp_path / "missing.avi")


def test_written_like_ucf101(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, smooth_pattern(3, 48, 64), fps=25)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert container.format.name == "avi"
        assert stream.codec_context.name == "mpeg4" and stream.codec_context.codec_tag == "XVID"
        assert stream.format.name == "yuv420p" and stream.average_rate == 25


def test_rgb_channel_order(tmp_path):
    colour = np.array([200, 40, 90], np.uint8)
    path = tmp_path / "red.avi"
    write_video(path, np.broadcast_to(colour, (2, 32, 32, 3)).copy())
    assert np.abs(read_video(path).reshape(-1, 3).mean(axis=0) - colour).max() < 4


def test_downscale_to_fit(tmp_path):
    path = tmp_path / "large.avi"
    write_video(path, smooth_pattern(2, 480, 640))
    full = read_video(path)
    small = read_video(path, max_size=(240, 320))
    assert small.shape == (2, 240, 320, 3)
    expected = np.stack([cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA) for f in full])
    assert np.array_equal(small, expected)


def test_frames_that_fit_are_untouched(tmp_path):
    path = tmp_path / "small.avi"
    write_video(path, smooth_pattern(2, 200, 300))
    assert np.array_equal(read_video(path, max_size=(240, 320)), read_video(path))
    assert read_video(path, max_size=(240, 320)).shape == (2, 200, 300, 3)


@pytest.mark.parametrize("size, max_size, expected", [
    ((480, 640), (240, 320), (240, 320)),    # same aspect, halved
    ((200, 300), (240, 320), (200, 300)),    # fits: untouched, never upscaled
    ((240, 320), (240, 320), (240, 320)),    # exactly the limit
    ((240, 640), (240, 320), (120, 320)),    # wide: width binds
    ((640, 480), (240, 320), (240, 180)),    # tall: height binds
    ((1080, 1920), (240, 320), (180, 320)),
    ((241, 100), (240, 320), (240, 100)),    # one pixel over: 99.6 rounds to 100
    ((100, 5000), (240, 320), (6, 320)),
    ((3, 5000), (240, 320), (1, 320)),       # at least one pixel
    ((480, 640), None, (480, 640)),
])
def test_fit_size(size, max_size, expected):
    assert fit_size(*size, max_size) == expected


@pytest.mark.parametrize("max_size", [(0, 320), (240,), (240.0, 320), "240x320", (True, 320)])
def test_bad_max_size(tmp_path, max_size):
    with pytest.raises(ValueError, match="max_size"):
        fit_size(480, 640, max_size)
    with pytest.raises(ValueError, match="max_size"):
        read_video(tmp_path / "any.avi", max_size=max_size)


def test_missing_file(tmp_path):
    path = tmp_path / "v_X_g01_c01.avi"
    with pytest.raises(VideoError) as exc_info:
        read_video(path)
    assert_names_file(exc_info, path, "no such file")


@pytest.mark.parametrize("content, problem", [
    (b"", "empty file"),
    (np.random.default_rng(0).bytes(20_000), "cannot decode"),
    (b"not a video, just some text\n" * 50, "cannot decode"),
])
def test_not_a_video(tmp_path, content, problem):
    path = tmp_path / "v_X_g01_c01.avi"
    path.write_bytes(content)
    with pytest.raises(VideoError) as exc_info:
        read_video(path)
    assert_names_file(exc_info, path, problem)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_video(tmp_path, keep):
    # FFmpeg decodes a cut AVI without an error, up to the cut: the video must still be refused.
    path = tmp_path / "v_X_g01_c01.avi"
    write_video(path, np.random.default_rng(0).integers(0, 256, (8, 64, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(VideoError) as exc_info:
        read_video(path)
    assert_names_file(exc_info, path, "truncated")


# Containers as crawls hold them: (suffix, FFmpeg format, codec, muxer options).
CONTAINERS = {
    "mp4-index-first": (".mp4", "mp4", "mpeg4", {"movflags": "faststart"}),
    "mkv": (".mkv", "matroska", "mpeg4", {}),
    "fragmented-mp4": (".mp4", "mp4", "mpeg4", {"movflags": "frag_keyframe+empty_moov"}),
    "mpeg": (".mpg", "mpeg", "mpeg1video", {}),
    "avi": (".avi", "avi", "mpeg4", {}),
}


def _write(path, kind: str, times: list[int], fps: int = 25) -> None:
    """40 random 48x64 frames shown at ``times`` (in frames of ``fps``): gaps are dropped frames."""
    _, fmt, codec, options = CONTAINERS[kind]
    frames = np.random.default_rng(0).integers(0, 256, (len(times), 48, 64, 3), dtype=np.uint8)
    with av.open(str(path), "w", format=fmt, options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 64, 48, "yuv420p", 400_000
        for t, rgb in zip(times, frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = t
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.7])
@pytest.mark.parametrize("kind", CONTAINERS)
def test_cut_files_of_every_container_are_refused(tmp_path, kind, keep):
    # Cut at 50%, an MP4 with its index first, an MKV, a fragmented MP4 and an MPEG file decoded
    # half their frames without a complaint, and the halves went into the sets.
    path = tmp_path / f"v_X_g01_c01{CONTAINERS[kind][0]}"
    _write(path, kind, list(range(40)))
    assert len(read_video(path)) == 40
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(VideoError) as exc_info:
        read_video(path)
    assert_names_file(exc_info, path, "")
    assert any(why in str(exc_info.value) for why in ("truncated", "cannot decode")), str(exc_info.value)


@pytest.mark.parametrize("kind", CONTAINERS)
def test_complete_files_with_dropped_frames_or_a_variable_rate_are_kept(tmp_path, kind):
    # Fewer frames than the duration holds, yet complete: a gap of dropped frames (empty chunks in
    # AVI), then a variable rate (frames 1, 2 or 3 frame-times apart).
    dropped = [*range(15), *range(25, 50)]  # frames 15..24 dropped
    variable = np.cumsum(np.random.default_rng(1).integers(1, 4, 40)).tolist()
    for name, times in (("dropped", dropped), ("variable", variable)):
        path = tmp_path / f"{name}{CONTAINERS[kind][0]}"
        _write(path, kind, times)
        assert len(read_video(path)) >= 40 - 1, (name, kind)


def test_no_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        samples.sample_rate = 8000
        container.mux(stream.encode(samples))
        container.mux(stream.encode(None))
    with pytest.raises(VideoError) as exc_info:
        read_video(path)
    assert_names_file(exc_info, path, "no video stream")


def test_odd_frame_size(tmp_path):
    path = tmp_path / "odd.avi"
    with pytest.raises(VideoError) as exc_info:
        write_video(path, np.zeros((2, 48, 63, 3), np.uint8))
    assert_names_file(exc_info, path, "63x48 is odd")
    assert list(tmp_path.iterdir()) == []


def test_write_errors(tmp_path):
    frames = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(VideoError, match="unknown video suffix"):
        write_video(tmp_path / "clip.xyz", frames)
    with pytest.raises(VideoError, match="no 'nope' encoder"):
        write_video(tmp_path / "clip.avi", frames, codec="nope")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(OSError, match=rf"^{tmp_path / 'a_file' / 'clip.avi'}: cannot be written \({tmp_path / 'a_file'} "
                                      r"is not a folder\)$"):
        write_video(tmp_path / "a_file" / "clip.avi", frames)
    (tmp_path / "a_file").unlink()
    with pytest.raises(TypeError, match="uint8"):
        write_video(tmp_path / "clip.avi", frames.astype(np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "clip.avi", frames[..., 0])
    assert list(tmp_path.iterdir()) == []


class InterruptedFrames(np.ndarray):
    """Frames whose iteration is interrupted (as by Ctrl-C) after the first frame."""

    def __iter__(self):
        yield np.asarray(self)[0]
        raise KeyboardInterrupt


def test_write_creates_missing_folders(tmp_path):
    write_video(tmp_path / "new" / "clip.avi", smooth_pattern(2, 32, 32))
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["clip.avi"]


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path, smooth_pattern(2, 32, 32))
    before = path.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        write_video(path, smooth_pattern(4, 32, 32).view(InterruptedFrames))
    # The old file is intact and no partial file is left beside it.
    assert [p.name for p in tmp_path.iterdir()] == ["clip.avi"]
    assert path.read_bytes() == before
