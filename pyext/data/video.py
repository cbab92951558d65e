"""Decoding and encoding videos with PyAV (FFmpeg).

:func:`read_video` decodes a whole video to RGB uint8 ``(T, H, W, 3)``, optionally downscaled to fit
a maximum size; :func:`iter_frames` yields the same frames one at a time (memory independent of the
video's length) and :func:`count_packets` tells how many there will be without decoding. A video
contributes all its frames or none: any failure (missing, empty, truncated, corrupt or non-video
file, no video stream, no frame) raises :class:`VideoError`, whose one-line message names the file.
:func:`write_video` writes MPEG-4 Part 2 yuv420p AVIs like UCF101's XviD files, atomically (a
temporary name in the same folder, renamed when complete).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> frames = np.zeros((4, 48, 64, 3), np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_video(Path(tmp) / "clip.avi", frames)
    ...     read_video(Path(tmp) / "clip.avi", max_size=(24, 24)).shape
    (4, 18, 24, 3)
"""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import cv2
import numpy as np

from ..files import FileError, atomic_output

__all__ = ["VideoError", "read_video", "iter_frames", "count_packets", "frame_rate", "rate_to_write", "write_video",
           "fit_size", "DEFAULT_BITRATE", "DEFAULT_FPS"]

DEFAULT_FPS = 25  # frames per second written where a video's rate is not asked for and its input declares none

# 1.5 Mbit/s, ~0.8 bit per pixel at 320x240 and 25 fps. Measured on the demo's classes: from 1 Mbit/s
# up, FFmpeg's rate control sits at its finest quantiser (qmin 2), files take 0.4-0.9 Mbit/s, and
# the codec costs ~0.5 dB of PSNR on top of yuv420p's own chroma subsampling (30-37 dB on the demo's
# two-colour textures); 1.5 leaves headroom for busier content. UCF101's XviD files run at a few
# hundred kbit/s on natural footage.
DEFAULT_BITRATE = 1_500_000

# Muxer by file suffix (the temporary name a video is written under has another suffix).
_CONTAINER_FORMATS = {".avi": "avi", ".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}


class VideoError(Exception):
    """A video that cannot be read or written; ``str(error)`` is ``"<path>: <problem>"``, one line.

    Attributes:
        path: the file at fault.
        problem: what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())  # one line, whatever FFmpeg's text holds
        super().__init__(f"{self.path}: {self.problem}")


def fit_size(h: int, w: int, max_size: tuple[int, int] | None) -> tuple[int, int]:
    """The largest ``(h', w')`` with the aspect ratio of ``(h, w)`` that fits in ``max_size``.

    Args:
        h, w: the frame size, positive ints.
        max_size: ``(max_h, max_w)``, positive ints, or None (no limit).
    Returns:
        ``(h, w)`` itself when it fits (frames are never upscaled); else the size scaled by
        ``min(max_h / h, max_w / w)``, rounded, at least 1.

    Example:
        >>> fit_size(480, 640, (240, 320)), fit_size(200, 300, (240, 320)), fit_size(240, 640, (240, 320))
        ((240, 320), (200, 300), (120, 320))
    """
    for name, value in (("h", h), ("w", w)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if max_size is None:
        return int(h), int(w)
    max_h, max_w = _check_max_size(max_size)
    if h <= max_h and w <= max_w:
        return int(h), int(w)
    scale = min(max_h / h, max_w / w)
    # Rounding keeps each side within its bound: h * scale <= max_h, and max_h is an int.
    return max(1, min(max_h, round(h * scale))), max(1, min(max_w, round(w * scale)))


def _check_max_size(max_size: object) -> tuple[int, int]:
    if (not isinstance(max_size, (tuple, list)) or len(max_size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                       for s in max_size)):
        raise ValueError(f"max_size must be a pair of positive ints (max_h, max_w), got {max_size!r}")
    return int(max_size[0]), int(max_size[1])


def _ffmpeg_reason(exc: BaseException) -> str:
    # PyAV's str() repeats the errno and the file name; strerror is FFmpeg's own text.
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _check_riff(path: Path, size: int) -> None:
    """Raises VideoError when an AVI (RIFF) file is shorter than its top-level chunks declare.

    A truncated AVI decodes without any error up to where it was cut, and the header's frame count
    cannot tell: a complete AVI may hold empty dropped-frame chunks that decode to no frame, so it
    decodes fewer frames than it declares. The RIFF chunk sizes, written when the file is finalised,
    do tell. OpenDML AVIs over 1 GiB chain several RIFF chunks ('AVI ', then 'AVIX'); bytes after
    the last one are not checked.
    """
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(8)
            if header[:4] != b"RIFF":
                return
            end = offset + 8 + struct.unpack("<I", header[4:])[0]
            if end > size:
                raise VideoError(path, f"truncated: its RIFF chunk at byte {offset} ends at byte {end} "
                                       f"but the file has {size} bytes")
            offset = end + (end & 1)  # chunks are padded to even sizes


def read_video(
    path: str | os.PathLike, max_size: tuple[int, int] | None = None, threads: int | None = None
) -> np.ndarray:
    """Decodes every frame of a video's first video stream to RGB, into one array.

    Args:
        path, max_size, threads: as :func:`iter_frames`.
    Returns:
        uint8 ``(T, H, W, 3)``, T >= 1, RGB (BT.601 conversion of the decoded YUV, as FFmpeg does).
    Raises:
        VideoError: as :func:`iter_frames`; also a video that decodes to no frame.
        ValueError: an invalid ``max_size`` or ``threads``.
    """
    frames = list(iter_frames(path, max_size, threads))
    if not frames:
        raise VideoError(path, "no frame decoded")
    return np.stack(frames)


def iter_frames(
    path: str | os.PathLike, max_size: tuple[int, int] | None = None, threads: int | None = None
) -> Iterator[np.ndarray]:
    """Decodes a video's first video stream to RGB frames one at a time, so that a consumer keeping
    only the frames it needs holds memory independent of the video's length.

    The file is checked (it exists, is not empty, an AVI is not shorter than its chunks declare)
    when this is called; decoding errors, and a stream that ends well before the duration its
    container declares, raise :class:`VideoError` during or at the end of the iteration, after the
    frames already yielded: a consumer that must not use a damaged video's frames commits nothing
    before the iteration ends.

    Args:
        path: the video file (any container and codec FFmpeg reads; UCF101 is XviD in AVI).
        max_size: ``(max_h, max_w)``: frames larger in either dimension are downscaled with
            ``cv2.INTER_AREA`` to :func:`fit_size`, aspect kept; frames that fit are yielded as
            decoded. None: full size.
        threads: decoder threads (``stream.thread_count``); None lets FFmpeg choose. Either way the
            decoder may thread over frames and slices (``thread_type = "AUTO"``).
    Yields:
        uint8 ``(H, W, 3)`` RGB frames, all of one size.
    Raises:
        VideoError: the file is missing, empty, truncated, corrupt, not a video or has no video
            stream; frames of different sizes.
        ValueError: an invalid ``max_size`` or ``threads``.
    """
    path = Path(path)
    if max_size is not None:
        max_size = _check_max_size(max_size)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    _check_file(path)
    return _decoded(path, max_size, threads)


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
        if size == 0:
            raise VideoError(path, "empty file")
        _check_riff(path, size)
    except FileNotFoundError:
        raise VideoError(path, "no such file") from None
    except OSError as exc:
        raise VideoError(path, f"cannot read: {_ffmpeg_reason(exc)}") from exc


def _decoded(path: Path, max_size: tuple[int, int] | None, threads: int | None) -> Iterator[np.ndarray]:
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise VideoError(path, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if threads is not None:
                stream.thread_count = threads
            decoded_shape, damaged, last_time, count = None, None, None, 0
            for frame in _frames(container, stream):
                if isinstance(frame, float):  # the time of a packet the file holds only part of
                    damaged = frame if damaged is None else damaged
                    continue
                if frame.is_corrupt and damaged is None:  # decoded from incomplete data (a cut MPEG)
                    damaged = frame.time or 0.0
                last_time = frame.time if frame.time is not None else last_time
                rgb = frame.to_ndarray(format="rgb24")
                if decoded_shape is None:
                    decoded_shape = rgb.shape
                    out_h, out_w = fit_size(rgb.shape[0], rgb.shape[1], max_size)
                elif rgb.shape != decoded_shape:
                    raise VideoError(path, f"frame {count} is {rgb.shape[1]}x{rgb.shape[0]}, "
                                           f"frame 0 {decoded_shape[1]}x{decoded_shape[0]}")
                if (out_h, out_w) != rgb.shape[:2]:
                    rgb = cv2.resize(rgb, (out_w, out_h), interpolation=cv2.INTER_AREA)
                count += 1
                yield rgb
            if damaged is not None:
                raise VideoError(path, f"truncated or damaged: its data at {damaged:.2f} s is incomplete")
            _check_end(path, container, stream, last_time)
    except (av.FFmpegError, OSError, ValueError) as exc:
        # ValueError: PyAV raises it for streams it cannot convert (e.g. an unknown pixel format).
        raise VideoError(path, f"cannot decode: {_ffmpeg_reason(exc)}") from exc


@contextmanager
def _video_stream(path: str | os.PathLike) -> Iterator[tuple]:
    """``(container, stream)``: the checked file (:func:`_check_file`) opened, its first video stream;
    FFmpeg's errors inside the block raised as :class:`VideoError` naming the file."""
    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                raise VideoError(path, "no video stream")
            yield container, container.streams.video[0]
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(path, f"cannot decode: {_ffmpeg_reason(exc)}") from exc


def count_packets(path: str | os.PathLike) -> int:
    """The number of non-empty packets of a video's first video stream, read without decoding (a
    fraction of a percent of decoding's time): the number of frames the video decodes to, before
    decoding it. One frame per packet holds for every container and codec this project reads and
    writes (AVI with dropped-frame chunks: those are empty packets); a decoder may still return
    fewer or more, so use it as a plan and check the decoded count.

    Raises:
        VideoError: as :func:`iter_frames` for a file that cannot be opened or demuxed.
    """
    with _video_stream(path) as (container, stream):
        return _packets(container, stream)


def _packets(container, stream) -> int:
    """The non-empty packets of an open container's ``stream`` (:func:`count_packets`)."""
    return sum(1 for packet in container.demux(stream) if packet.size > 0)


def video_shape(path: str | os.PathLike, max_size: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """``(T, H, W)`` that :func:`read_video` will return for the video, read without decoding: its
    packets (:func:`count_packets`) and its stream's frame size fitted to ``max_size``. A plan, to
    size work before it starts.

    Raises:
        VideoError: as :func:`count_packets`; a stream that states no frame size.
    """
    with _video_stream(path) as (container, stream):
        h, w = stream.codec_context.height, stream.codec_context.width
        frames = _packets(container, stream)
    if not h or not w:
        raise VideoError(Path(path), "its video stream states no frame size")
    return (frames, *fit_size(h, w, max_size))


def frame_rate(path: str | os.PathLike) -> int | None:
    """A video's frame rate as its first video stream declares it (the average rate, else FFmpeg's
    guess), rounded to whole frames per second as :func:`write_video` takes it (29.97 -> 30); None
    where the stream declares neither (a GIF's per-frame delays, for one).

    Raises:
        VideoError: as :func:`count_packets`.
    """
    with _video_stream(path) as (_, stream):
        rate = stream.average_rate or stream.guessed_rate
    return max(1, round(float(rate))) if rate else None


def rate_to_write(path: str | os.PathLike, fps: int | None) -> int:
    """The frame rate to write a video made from the video at ``path`` at: ``fps`` where given, else
    the video's own (:func:`frame_rate`), else :data:`DEFAULT_FPS` where it declares none.

    Raises:
        VideoError: as :func:`frame_rate`, where ``fps`` is None.
    """
    return fps or frame_rate(path) or DEFAULT_FPS


def _frames(container, stream) -> Iterator[av.VideoFrame | float]:
    """The stream's decoded frames, and before a packet's frames the time (s) of a packet that the
    demuxer read only in part (FFmpeg flags it corrupt: a file cut inside the packet). A cut that
    falls exactly between packets of a container without a declared duration (an MPEG program
    stream, a fragmented MP4 between fragments) looks like a shorter file and is not caught."""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            yield float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
        yield from packet.decode()


# Containers whose headers declare the stream's duration; others' (MPEG program streams, ...) are
# estimated from the bitrate and the file size, which a cut file shrinks with it.
_DECLARED_DURATION = ("mov", "matroska", "avi")
# A stream ending short of its declared duration by more than this (seconds; or this fraction of
# the duration) was cut. Complete files with a variable frame rate or dropped-frame chunks end
# their last frame within a frame of the declared end.
_END_TOLERANCE_S, _END_TOLERANCE = 0.5, 0.02


def _check_end(path: Path, container, stream, last_time: float | None) -> None:
    """Raises VideoError when the decoded frames end well before the duration the container
    declares: a cut file that decodes without an error (an MP4 with its index at the front, MKV)."""
    if last_time is None or container.format.name.split(",")[0] not in _DECLARED_DURATION:
        return
    if stream.duration:
        declared = float(stream.duration * stream.time_base)
    elif container.duration:
        declared = container.duration / av.time_base
    else:
        return
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    step = 1 / float(stream.average_rate) if stream.average_rate else 0.0
    end = last_time - start + step
    if end < declared - max(_END_TOLERANCE_S, _END_TOLERANCE * declared):
        raise VideoError(path, f"truncated: its frames end at {end:.2f} s of the {declared:.2f} s it declares")


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: int = DEFAULT_FPS,
    codec: str = "mpeg4",
    bitrate: int = DEFAULT_BITRATE,
) -> None:
    """Encodes RGB frames to a video file, atomically.

    The container follows the suffix (``.avi``, ``.mp4``, ``.mov``, ``.mkv``); frames are encoded as
    yuv420p (BT.601) at ``bitrate`` with FFmpeg's one-pass rate control. The default, MPEG-4 Part 2
    (FFmpeg's ``mpeg4``) tagged ``XVID`` in AVI, is what UCF101's files hold. The encoder runs on
    one thread: FFmpeg's sliced multi-threaded MPEG-4 encoding makes the bytes depend on the core
    count, and the same frames must give the same file on every machine. The file is written under
    a hidden temporary name in the same folder and renamed when complete, so an interrupted write
    never leaves a file that looks complete; an existing file is replaced.

    Args:
        path: the output file; its folder must exist.
        frames: uint8 ``(T, H, W, 3)`` RGB, T >= 1, H and W even (yuv420p halves both for chroma).
        fps: frames per second, a positive int.
        codec: an FFmpeg encoder name.
        bitrate: target bits per second (:data:`DEFAULT_BITRATE` suits 320x240 at 25 fps).
    Raises:
        TypeError, ValueError: ``frames`` is not a uint8 ``(T, H, W, 3)`` array, or an invalid
            ``fps``/``bitrate``.
        VideoError: odd H or W, an unknown suffix, or FFmpeg failed to encode or write.
        pyext.files.WriteError: the file cannot be written (a full disk, a read-only folder, a
            parent that is a file), one line naming it.
    """
    path = Path(path)
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (T, H, W, 3) with T >= 1, got shape {frames.shape}")
    for name, value in (("fps", fps), ("bitrate", bitrate)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    _, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise VideoError(path, f"frame size {w}x{h} is odd; yuv420p needs an even width and height")
    container_format = _CONTAINER_FORMATS.get(path.suffix.lower())
    if container_format is None:
        raise VideoError(path, f"unknown video suffix {path.suffix!r}; use one of "
                               f"{', '.join(_CONTAINER_FORMATS)}")

    try:
        av.Codec(codec, "w")
    except (av.FFmpegError, ValueError):  # PyAV's UnknownCodecError is a ValueError
        raise VideoError(path, f"FFmpeg has no {codec!r} encoder") from None
    try:
        with atomic_output(path) as tmp, av.open(str(tmp), mode="w", format=container_format) as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            stream.bit_rate = bitrate
            stream.codec_context.thread_count = 1
            if codec == "mpeg4" and container_format == "avi":
                stream.codec_context.codec_tag = "XVID"
            for rgb in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            container.mux(stream.encode(None))  # flush the encoder's delayed packets
    except FileError:  # the file could not be written (a full disk, a read-only folder): said as it is
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(path, f"cannot write: {_ffmpeg_reason(exc)}") from exc


def centre_crop(frames: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The centred crop of frames ``(..., H, W, 3)`` whose height and width are the largest
    multiples of ``multiple`` that fit (a view), and its origin (top, left); the extra rows and
    columns go half above/left (rounded down), half below/right.

    Raises:
        ValueError: the frames are smaller than ``multiple``.

    Example:
        >>> crop, origin = centre_crop(np.zeros((2, 243, 322, 3), np.uint8), 8)
        >>> crop.shape, origin
        ((2, 240, 320, 3), (1, 1))
    """
    rows, columns = centre_window(*frames.shape[-3:-1], multiple)
    return frames[..., rows, columns, :], (rows.start, columns.start)


def centre_window(height: int, width: int, multiple: int) -> tuple[slice, slice]:
    """The rows and columns of :func:`centre_crop`'s crop of a ``height`` x ``width`` frame: what to
    read of a stored clip (a row of :class:`pyext.data.store.ClipArray`) without reading the rest.

    Raises:
        ValueError: the frame is smaller than ``multiple``.

    Example:
        >>> centre_window(243, 322, 8)
        (slice(1, 241, None), slice(1, 321, None))
    """
    ch, cw = height - height % multiple, width - width % multiple
    if ch == 0 or cw == 0:
        raise ValueError(f"frames of {width}x{height} are smaller than {multiple}x{multiple}")
    top, left = (height - ch) // 2, (width - cw) // 2
    return slice(top, top + ch), slice(left, left + cw)
