"""A trained generator on any video: recursive predictions beside the truth.

:func:`predict` runs a generator over the windows of a whole video and lays each true frame and its
prediction side by side; :func:`write_side_by_side` saves the result as an MP4, AVI or GIF;
:func:`predict_video` does both for a video file (the command ``beyondmse predict VIDEO --out OUT.mp4``).

Example (an untrained generator, so the right halves are noise)::

    from pyext.data.video import read_video
    from pyext.models import load_generator
    from pyext.prediction import predict, write_side_by_side

    G = load_generator("models/generator.pt")
    frames = read_video("my_video.avi", max_size=(240, 320))      # uint8 (T, H, W, 3)
    write_side_by_side(predict(G, frames, steps=2), "predicted.mp4", fps=25)

The module itself is callable, ``pyext.predict(G, frames)`` being :func:`predict`, so that the
package can offer the function under the module's name.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data.dataset import to_model, to_uint8
from .data.video import DEFAULT_BITRATE, centre_crop, rate_to_write, read_video, video_shape, write_video
from .models import Predictor, load_predictor
from .pictures import save_animation

__all__ = ["predict", "predict_video", "window_starts", "crop_to_model", "write_side_by_side", "check_label",
           "check_output_path", "OUTPUT_SUFFIXES", "INPUT_GAP_COLOUR", "PREDICTION_GAP_COLOUR"]

OUTPUT_SUFFIXES = (".mp4", ".avi", ".gif")
# The band between the halves: grey while a window's input frames are shown (the same frame on both
# sides), red while its predictions are (truth on the left, prediction on the right).
INPUT_GAP_COLOUR = (128, 128, 128)
PREDICTION_GAP_COLOUR = (220, 0, 0)
GAP = 8  # pixels of the band between the halves


def _positive_int(name: str, value: object, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def crop_to_model(frames: np.ndarray, multiple: int) -> np.ndarray:
    """The centre crop of frames ``(..., H, W, 3)`` whose height and width are the largest
    multiples of ``max(2, multiple)`` that fit: a generator needs multiples of its
    ``size_multiple``, and yuv420p video needs even sizes. The extra rows and columns go half
    above/left (rounded down) and half below/right. A view, not a copy.

    Raises:
        ValueError: the frames are smaller than one such multiple.
    """
    q = max(2, multiple)
    try:
        return centre_crop(frames, q)[0]
    except ValueError:
        h, w = frames.shape[-3:-1]
        raise ValueError(f"frames of {w}x{h} are too small for a generator of size multiple {multiple} "
                         f"(width and height must be at least {q})") from None


def window_starts(length: int, input_frames: int, predicted: int, stride: int | None = None,
                  from_end: bool = False) -> list[int]:
    """The first frames of the windows :func:`predict` uses in a video of ``length`` frames.

    Args:
        length: T, the video's frame count.
        input_frames: m, frames a window feeds the generator.
        predicted: p, frames predicted from each window (``steps * n``).
        stride: frames between window starts; None: ``p``, so that the predicted frames tile the
            video from frame m on. Ignored with ``from_end``.
        from_end: one window, the last m frames (its predictions lie past the video's end).
    Returns:
        ``[0, stride, 2 stride, ...]`` up to the last start ``s`` with ``s + m + p <= T`` (every
        predicted frame has its true frame), or ``[T - m]`` with ``from_end``.
    Raises:
        ValueError: the video is too short for one window.

    Example:
        >>> window_starts(12, 4, 2), window_starts(12, 4, 2, stride=5), window_starts(12, 4, 2, from_end=True)
        ([0, 2, 4, 6], [0, 5], [8])
    """
    need = input_frames if from_end else input_frames + predicted
    if length < need:
        what = (f"{input_frames} input frames" if from_end else
                f"{input_frames} input frames and {predicted} true future frames to compare the predictions with")
        raise ValueError(f"the video has {length} frame{'s' * (length != 1)}; a window needs {need} "
                         f"({what})" + ("" if from_end else "; predicting from its end needs only "
                                        f"{input_frames}"))
    if from_end:
        return [length - input_frames]
    stride = predicted if stride is None else _positive_int("stride", stride)
    return list(range(0, length - need + 1, stride))


def _generator_device(generator: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    parameter = next(generator.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


def check_label(generator: Predictor, label: int | None) -> None:
    """A class-conditioned generator needs a class of its own to predict under (others take any).

    Raises:
        ValueError: naming ``--label``, the command's option for it.
    """
    if generator.classes and (isinstance(label, bool) or not isinstance(label, int)
                              or not 0 <= label < generator.classes):
        raise ValueError(f"a class-conditioned generator ({generator.classes} classes) needs the video's class "
                         f"0..{generator.classes - 1} (--label), got {label!r}")


def predict(generator: Predictor, frames: np.ndarray, steps: int = 2, stride: int | None = None,
            from_end: bool = False, *, label: int | None = None, batch_size: int = 8, gap: int = GAP,
            progress: bool = False) -> np.ndarray:
    """Recursive predictions over a whole video, each beside the truth, as frames of a new video.

    The frames are first centre-cropped (:func:`crop_to_model`) to multiples of
    ``max(2, generator.size_multiple)`` in height and width. Each window of m = ``generator.input_frames``
    consecutive frames starting at ``s`` (:func:`window_starts`: every ``stride`` frames, by default
    ``steps * n`` so the predictions tile the video) predicts p = ``steps * n`` frames with
    :meth:`Predictor.predict <pyext.models.Predictor.predict>` (``steps`` rounds of n = ``generator.output_frames``
    frames, each fed back as input). A window gives ``m + p`` output frames:

    * its m input frames, the same on both sides (grey band, :data:`INPUT_GAP_COLOUR`);
    * then for each predicted frame ``s + m + j``: left the true frame, right the prediction (red
      band, :data:`PREDICTION_GAP_COLOUR`).

    With ``from_end`` there is one window, the last m frames, and the predictions go past the
    video's end: having no truth, the left side shows the last true frame dimmed to half
    brightness, so the motion predicted on the right stands out against where the video stopped.

    Windows run through the generator in batches on its device (and dtype), without gradients.

    Args:
        generator: a (trained) :class:`~pyext.models.Predictor` of any family.
        frames: uint8 ``(T, H, W, 3)`` RGB, the whole video (:func:`pyext.data.video.read_video`).
        steps: recursive prediction rounds per window, >= 1.
        stride: frames between window starts, >= 1; None: ``steps * n``. Ignored with ``from_end``.
        from_end: predict past the end from the last m frames instead.
        label: the video's class, which a class-conditioned generator (``generator.classes > 0``)
            needs and any other ignores.
        batch_size: windows per generator call.
        gap: width of the band between the halves, in pixels (even keeps the width even for video).
        progress: show a tqdm progress bar over the windows (on stderr).
    Returns:
        uint8 ``(K, H', 2 W' + gap, 3)``, ``K = windows * (m + steps * n)``, where ``H' x W'`` is the
        cropped size; window ``i`` is frames ``i (m + p)`` to ``(i + 1)(m + p) - 1``.
    Raises:
        TypeError: ``frames`` is not a uint8 numpy array.
        ValueError: ``frames`` is not ``(T, H, W, 3)``, the video has fewer than ``m + steps * n``
            frames (``m`` with ``from_end``), its frames are too small for the generator, or an
            invalid ``steps``, ``stride``, ``batch_size`` or ``gap``; a class-conditioned generator
            without a ``label`` of its classes.
    """
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a numpy array, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise TypeError(f"frames must be uint8, got {frames.dtype}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3), got shape {frames.shape}")
    steps = _positive_int("steps", steps)
    batch_size = _positive_int("batch_size", batch_size)
    gap = _positive_int("gap", gap, allow_zero=True)
    check_label(generator, label)
    m, p = generator.input_frames, steps * generator.output_frames
    starts = window_starts(len(frames), m, p, stride, from_end)
    video = crop_to_model(frames, generator.size_multiple)
    _, h, w, _ = video.shape
    device, dtype = _generator_device(generator)

    out = np.empty((len(starts) * (m + p), h, 2 * w + gap, 3), np.uint8)
    out[:, :, w:w + gap] = PREDICTION_GAP_COLOUR
    dimmed = video[-1] // 2
    with tqdm(total=len(starts), desc="predict", unit="window", disable=not progress) as bar:
        for first in range(0, len(starts), batch_size):
            batch = starts[first:first + batch_size]
            x = to_model(np.stack([video[s:s + m] for s in batch])).to(device, dtype)
            labels = torch.full((len(batch),), label or 0, dtype=torch.long, device=device)
            predicted = to_uint8(generator.predict(x, steps, labels))  # (B, p, h, w, 3)
            for i, s in enumerate(batch):
                o = (first + i) * (m + p)
                out[o:o + m, :, :w] = out[o:o + m, :, w + gap:] = video[s:s + m]
                out[o:o + m, :, w:w + gap] = INPUT_GAP_COLOUR
                out[o + m:o + m + p, :, :w] = dimmed if from_end else video[s + m:s + m + p]
                out[o + m:o + m + p, :, w + gap:] = predicted[i]
            bar.update(len(batch))
    return out


def check_output_path(path: str | os.PathLike) -> str:
    """The format :func:`write_side_by_side` writes ``path`` in, by its suffix (any case):
    ``"video"`` for ``.mp4``/``.avi``, ``"gif"`` for ``.gif``.

    Raises:
        ValueError: any other suffix, naming the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f"{path}: cannot write {suffix or 'a file without a suffix'!r} files; "
                         f"use {', '.join(OUTPUT_SUFFIXES)}")
    return "gif" if suffix == ".gif" else "video"


def check_writable(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = (), argument: str = "--out") -> None:
    """Checks that ``path`` can be written and is none of ``inputs`` (the same file, also through
    a link), before any work; ``argument`` is the command's name for ``path``, said where it must change.

    Raises:
        ValueError: ``path`` is one of the inputs (writing it would destroy that input), or a folder.
        OSError: it, or the folder it would be created in, cannot be written; the message names it.
    """
    path = Path(path)
    for given in inputs:
        if path.exists() and Path(given).exists() and os.path.samefile(path, given):
            raise ValueError(f"{path}: is the input {given}; writing it would overwrite the input "
                             f"(choose another {argument})")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a file to write")
    folder = path.absolute().parent  # missing folders are created: the nearest existing one must take them
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{path}: cannot be written ({folder} is not a folder)")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionError(f"{path}: cannot be written (permission denied)")


def write_side_by_side(frames: np.ndarray, path: str | os.PathLike, fps: int = 25) -> None:
    """Saves frames (those :func:`predict` returns) as a video or an animated GIF, atomically.

    By the suffix of ``path``: ``.mp4`` and ``.avi`` are MPEG-4 Part 2 (FFmpeg's ``mpeg4``) yuv420p
    through :func:`pyext.data.video.write_video`, at its bitrate scaled up with the frame area
    beyond 320x240; ``.gif`` is written by :func:`pyext.pictures.save_animation`, looping forever, each frame shown
    ``1000 / fps`` ms (GIF counts in hundredths of a second, and Pillow merges consecutive identical
    frames into one longer frame). The file appears only once complete.

    Args:
        frames: uint8 ``(T, H, W, 3)`` RGB, T >= 1 (H and W even for video).
        path: the output file; missing folders are created.
        fps: frames per second, a positive int.
    Raises:
        ValueError: an unknown suffix (naming the file), bad ``frames`` or ``fps``.
        TypeError: ``frames`` is not a uint8 numpy array.
        pyext.data.video.VideoError: FFmpeg failed, or odd H or W for video.
        OSError: the GIF cannot be written.
    """
    path = Path(path)
    kind = check_output_path(path)
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise TypeError(f"frames must be a uint8 numpy array, got "
                        f"{frames.dtype if isinstance(frames, np.ndarray) else type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (T, H, W, 3) with T >= 1, got shape {frames.shape}")
    fps = _positive_int("fps", fps)
    _, h, w, _ = frames.shape
    if kind == "video":
        path.parent.mkdir(parents=True, exist_ok=True)
        bitrate = max(DEFAULT_BITRATE, round(DEFAULT_BITRATE * h * w / (240 * 320)))
        write_video(path, frames, fps=fps, bitrate=bitrate)
        return
    save_animation(path, list(frames), max(1, round(1000 / fps)))



def available_memory() -> int | None:
    """Bytes of memory this machine can give a process now (Linux's MemAvailable); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_needed(frames: int, height: int, width: int, input_frames: int, predicted: int, stride: int | None,
                  from_end: bool, batch_size: int) -> int:
    """Bytes :func:`predict_video` holds at once for a video of ``frames`` frames of ``height`` x
    ``width`` (after downscaling): the decoded frames twice (decoding stacks them), the side-by-side
    frames it writes, and a batch of windows in float32, in and out (the network's own activations
    come on top).

    Example:
        >>> # 100 frames twice, 48 windows of 6 frames 240 x (2 x 320 + 8), 8 windows of 6 in float32
        >>> memory_needed(100, 240, 320, 4, 2, None, False, 8) == (2 * 100 * 320 + 48 * 6 * 648 + 8 * 6 * 320 * 4) * 240 * 3
        True
    """
    frame = height * width * 3
    windows = window_starts(frames, input_frames, predicted, stride, from_end)
    written = len(windows) * (input_frames + predicted) * height * (2 * width + GAP) * 3
    batch = min(batch_size, len(windows)) * (input_frames + predicted) * frame * 4
    return 2 * frames * frame + written + batch


def predict_video(video: Path, out: Path, model: Path, steps: int = 2, stride: int | None = None,
                  from_end: bool = False, label: int | None = None, fps: int | None = None,
                  max_size: tuple[int, int] = (240, 320), batch_size: int = 8,
                  device: torch.device = torch.device("cpu"), progress: bool = False) -> str:
    """A trained generator's predictions on a video file, beside the truth, written to ``out``
    (:func:`predict`, then :func:`write_side_by_side` at ``fps``, None: the video's own,
    :func:`~pyext.data.video.rate_to_write`); the frames are downscaled to fit ``max_size`` first. A
    bad output suffix, an output that cannot (or must not: one of the inputs) be written and a missing
    model fail before any work. Returns the line that says what was written.

    Raises:
        ValueError, OSError, pyext.data.video.VideoError: one line naming the file at fault.
    """
    check_output_path(out)
    check_writable(out, inputs=(video, model))
    if not Path(model).is_file():
        raise FileNotFoundError(f"{model}: no such generator file (train one with `dvc repro`, or pass --model)")
    generator = load_predictor(model, map_location=device)
    check_label(generator, label)
    length, height, width = video_shape(video, tuple(max_size))
    try:
        need = memory_needed(length, height, width, generator.input_frames, steps * generator.output_frames, stride,
                             from_end, batch_size)
    except ValueError as exc:  # too short: said before decoding
        raise ValueError(f"{video}: {exc}") from None
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"{video}: predicting its {length} frames at {width}x{height} needs about {need / 2**30:.1f} "
                         f"GiB, more than the {free / 2**30:.1f} GiB this machine has free: pass a smaller --max-size "
                         f"(or --from-end, or a larger --stride)")
    frames = read_video(video, max_size=tuple(max_size))
    try:
        frames_out = predict(generator, frames, steps=steps, stride=stride, from_end=from_end, label=label,
                             batch_size=batch_size, progress=progress)
    except ValueError as exc:  # too short, or frames too small: the video is at fault
        raise ValueError(f"{video}: {exc}") from None
    write_side_by_side(frames_out, out, fps=rate_to_write(video, fps))
    windows = len(frames_out) // (generator.input_frames + steps * generator.output_frames)
    return (f"{windows} window{'s' * (windows != 1)} of {len(frames)} frames, {len(frames_out)} frames "
            f"of {frames_out.shape[2]}x{frames_out.shape[1]} written to {out}")
