"""A trained translator (:class:`pyext.models.Translator`: the ``cyclegan``, ``discogan`` and
``dualgan`` families) on a video file or a folder of videos: every frame translated on its own, at
the video's size, from domain A to B (``ab``, the mapping G) or back (``ba``, F). The command
``beyondmse translate MODEL INPUT OUTPUT [--direction ab|ba] [--batch N]``.

Frames are centre-cropped to multiples of the model's ``size_multiple`` (and of 2, which yuv420p
video needs), as ``beyondmse predict`` crops them (:func:`~pyext.prediction.crop_to_model`): an
output frame may be a few rows and columns smaller than its input. A folder is translated into a new
folder of the same relative layout (class sub-folders kept), each video under its own name (``.mp4``
and ``.avi`` kept; another container written as ``.mp4``) at its own frame rate, so that the result
reads as a ``folder`` data source (:func:`pyext.data.manifest.folder_manifest`).

An input is never overwritten: an output that is the input, or lies inside an input folder, is
refused before any work; the output appears only once complete (a folder is written beside its
final name and renamed: :func:`pyext.files.atomic_folder`), so a failure leaves nothing behind.

Example::

    from pyext.data.video import read_video
    from pyext.models import load_translator
    from pyext.translating import translate_frames

    model = load_translator("models/generator.pt")
    frames = translate_frames(model, read_video("street.avi"), "ab")   # uint8 (T, H', W', 3)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .data.dataset import to_model, to_uint8
from .data.manifest import folder_manifest
from .data.video import rate_to_write, read_video
from .files import atomic_folder
from .files import check_writable as check_folder_writable
from .models import DIRECTIONS, Translator, load_translator
from .prediction import check_output_path, check_writable, crop_to_model, write_side_by_side

__all__ = ["FOLDER_SUFFIXES", "translate_folder", "translate_frames", "translate_path", "translate_video",
           "translated_name"]

FOLDER_SUFFIXES = (".mp4", ".avi")  # the containers a folder's videos keep; any other is written as the first


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"--direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")


def translate_frames(model: Translator, frames: np.ndarray, direction: str = "ab", batch_size: int = 8,
                     progress: bool = False) -> np.ndarray:
    """Each frame of a video translated on its own by ``model``'s ``direction``, ``batch_size`` frames
    a call, on the model's device, without gradients (in the model's current mode: eval, as loaded).

    Args:
        frames: uint8 ``(T, H, W, 3)`` RGB (:func:`pyext.data.video.read_video`).
        progress: a tqdm bar over the frames (on stderr).
    Returns:
        uint8 ``(T, H', W', 3)``: the centre crop of ``frames`` to multiples of
        ``max(2, model.size_multiple)`` (:func:`~pyext.prediction.crop_to_model`), translated.
    Raises:
        ValueError: a direction that is not ``ab`` or ``ba``, frames that are not ``(T, H, W, 3)`` or
            too small for the model, a ``batch_size`` below 1.
    """
    _check_direction(direction)
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got "
                         f"{f'{frames.dtype} {frames.shape}' if isinstance(frames, np.ndarray) else type(frames).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"--batch must be an int >= 1, got {batch_size!r}")
    video = crop_to_model(frames, model.size_multiple)
    out = np.empty_like(video)
    with tqdm(total=len(video), desc=f"translate {direction}", unit="frame", disable=not progress) as bar:
        for lo in range(0, len(video), batch_size):
            out[lo:lo + batch_size] = to_uint8(model.translate(to_model(video[lo:lo + batch_size]), direction))
            bar.update(len(out[lo:lo + batch_size]))
    return out


def translate_video(model: Translator, video: Path, out: Path, direction: str = "ab", batch_size: int = 8,
                    fps: int | None = None, progress: bool = False) -> np.ndarray:
    """A video file's frames translated (:func:`translate_frames`) and written to ``out`` (``.mp4``,
    ``.avi`` or ``.gif``: :func:`~pyext.prediction.write_side_by_side`, atomically) at ``fps`` (None:
    the video's own, :func:`~pyext.data.video.rate_to_write`); returns the translated frames.

    Raises:
        pyext.data.video.VideoError: the video cannot be read or the result written.
        ValueError: frames too small for the model, naming the video.
    """
    frames = read_video(video)
    try:
        translated = translate_frames(model, frames, direction, batch_size, progress)
    except ValueError as exc:  # too small: the video is at fault
        raise ValueError(f"{video}: {exc}") from None
    write_side_by_side(translated, out, fps=rate_to_write(video, fps))
    return translated


def translated_name(relative: str) -> str:
    """Where a folder's video (its path relative to the folder, ``/`` separators) is written in the
    output folder: the same path, its suffix kept where it is one of :data:`FOLDER_SUFFIXES`, else
    the first of them.

    Example:
        >>> translated_name("Walk/a.avi"), translated_name("Walk/b.MKV")
        ('Walk/a.avi', 'Walk/b.mp4')
    """
    path = Path(relative)
    suffix = path.suffix if path.suffix.lower() in FOLDER_SUFFIXES else FOLDER_SUFFIXES[0]
    return path.with_suffix(suffix).as_posix()


def translate_folder(model: Translator, folder: Path, out: Path, direction: str = "ab", batch_size: int = 8,
                     fps: int | None = None, progress: bool = False) -> list[str]:
    """Every video of ``folder`` (those a ``folder`` data source reads:
    :func:`~pyext.data.manifest.folder_manifest`) translated (:func:`translate_video`) into the new
    folder ``out``, at the same relative path (:func:`translated_name`). ``out`` appears once every
    video is written; on any failure nothing of it is left. Returns the written videos' relative paths.

    Raises:
        ValueError: a folder without videos, or two videos that would be written under one name.
        pyext.data.video.VideoError: a video cannot be read (named).
    """
    videos = [v.path for v in folder_manifest(folder).videos]
    if not videos:
        raise ValueError(f"{folder}: holds no video (of the suffixes a folder data source reads)")
    names: dict[str, str] = {}
    for relative in videos:
        name = translated_name(relative)
        if name in names:
            raise ValueError(f"{folder}: {names[name]} and {relative} would both be written as {out / name}; "
                             f"rename one")
        names[name] = relative
    with atomic_folder(out) as tmp:
        for name, relative in tqdm(names.items(), desc=f"translate {direction}", unit="video", disable=not progress):
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            translate_video(model, folder / relative, tmp / name, direction, batch_size, fps)
    return list(names)


def _check_folder_output(folder: Path, out: Path) -> None:
    """Refuses an output folder that is ``folder`` or lies inside it, or that holds anything already;
    checks that its parent can be written."""
    if out.resolve() == folder.resolve() or folder.resolve() in out.resolve().parents:
        raise ValueError(f"{out}: OUTPUT is {'the input folder' if out.resolve() == folder.resolve() else 'inside the input folder'} "
                         f"{folder}; writing there would change the input (choose another OUTPUT)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: OUTPUT exists{' and is not empty' if out.is_dir() else ''}; a folder is translated "
                         f"into a new one (remove it, or choose another OUTPUT)")
    check_folder_writable(out.absolute().parent)


def translate_path(model_path: Path, source: Path, out: Path, direction: str = "ab", batch_size: int = 8,
                   fps: int | None = None, device: torch.device = torch.device("cpu"), progress: bool = False) -> str:
    """The command's work: a video file or a folder of videos ``source`` translated by the translator
    in ``model_path`` into ``out`` (the module docstring). The paths and the model are checked before
    any frame is decoded. Returns the line that says what was written.

    Raises:
        ValueError, OSError, pyext.data.video.VideoError: one line naming the file or argument at fault.
    """
    source, out, model_path = Path(source), Path(out), Path(model_path)
    _check_direction(direction)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such video file or folder (INPUT)")
    if source.is_dir():
        _check_folder_output(source, out)
    else:
        check_output_path(out)
        check_writable(out, inputs=(source, model_path), argument="OUTPUT")
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no such model file (MODEL: a trained translator's file)")
    model = load_translator(model_path, map_location=device)
    mapping = f"{direction} ({'G: A to B' if direction == 'ab' else 'F: B to A'})"
    if source.is_dir():
        written = translate_folder(model, source, out, direction, batch_size, fps, progress)
        return f"{len(written)} video{'s' * (len(written) != 1)} of {source} translated {mapping} into {out}"
    frames = translate_video(model, source, out, direction, batch_size, fps, progress)
    return f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} translated {mapping}, written to {out}"
