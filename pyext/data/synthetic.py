"""What the generated data sets share (the shapes demo and the photo set): UCF101's tree and list
files, per-video seeds, argument checks, and compositing of cut-out objects over a frame.

Layout under ``root`` (the official UCF101 layout, split 1 only)::

    UCF-101/<Class>/v_<Class>_gGG_cCC.avi     MPEG-4 Part 2 (XVID tag) in AVI, 25 fps
    ucfTrainTestlist/classInd.txt             "1 Translate": 1-based index, class name
    ucfTrainTestlist/trainlist01.txt          "Translate/v_Translate_g03_c01.avi 1": path, class index
    ucfTrainTestlist/testlist01.txt           "Translate/v_Translate_g01_c01.avi": path only
    futures/<Class>/v_<Class>_gGG_cCC_kK.avi  a set with branching futures only (the stochastic set):
                                              future K of each test video, K = 1, 2, ...

Groups ``1..test_groups`` are the test split, the others the training split, as UCF101's split 1
holds groups 1-7 out.
"""
from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..files import atomic_folder
from .video import DEFAULT_BITRATE, write_video

# The folder and list names of the official UCF101 release.
VIDEO_DIR = "UCF-101"
LIST_DIR = "ucfTrainTestlist"
FUTURES_DIR = "futures"  # every possible future of each test video, where a set records them


@dataclass(frozen=True)
class Sprite:
    """A cut-out object: premultiplied RGBA float32 ``(S, S, 4)`` (RGB in [0, 255] times alpha,
    alpha in [0, 1]) centred at ``((S - 1) / 2, (S - 1) / 2)``; ``radius`` bounds its shape about
    the centre."""

    rgba: np.ndarray
    radius: float


def clip_seed(seed: int, class_name: str, group: int, clip: int) -> np.random.SeedSequence:
    """The seed of one generated video: a SeedSequence of ``(seed, crc32(class name), group, clip)``.

    CRC-32 rather than ``hash()``: Python salts string hashes per process.
    """
    return np.random.SeedSequence([seed, zlib.crc32(class_name.encode()), group, clip])


def video_name(class_name: str, group: int, clip: int) -> str:
    """UCF101's file name of a video: ``v_<Class>_gGG_cCC.avi``."""
    return f"v_{class_name}_g{group:02d}_c{clip:02d}.avi"


def future_path(video: str, k: int) -> str:
    """The path of future ``k`` (0-based) of a test video, relative to the set's root, from the
    video's own path there (``UCF-101/<Class>/v_..._cCC.avi``): ``futures/<Class>/v_..._cCC_k<k+1>.avi``."""
    folder, _, name = video.rpartition("/")
    return f"{FUTURES_DIR}/{folder.partition('/')[2]}/{name[:-4]}_k{k + 1}.avi"


def future_paths(video: str, branches: int) -> list[str]:
    """The paths of a test video's futures K = 1..branches (:func:`future_path`)."""
    return [future_path(video, k) for k in range(branches)]


def recorded_futures(root: Path, video: str) -> list[Path]:
    """The futures recorded for the video at ``root / video`` (:func:`future_paths`), K = 1, 2, ...
    as long as they exist; none for a set that does not record them (UCF101's own)."""
    found = []
    while (path := root / future_path(video, len(found))).is_file():
        found.append(path)
    return found


def composite(canvas: np.ndarray, sprite: Sprite, cx: float, cy: float, angle: float, scale: float) -> None:
    """Draws ``sprite`` over ``canvas`` (float32 ``(H, W, 3)``, in place), its centre at ``(cx, cy)``,
    rotated by ``angle`` degrees (counter-clockwise) and scaled; only its bounding box is warped."""
    h, w = canvas.shape[:2]
    reach = sprite.radius * scale + 2
    x0, x1 = max(0, math.floor(cx - reach)), min(w, math.ceil(cx + reach) + 1)
    y0, y1 = max(0, math.floor(cy - reach)), min(h, math.ceil(cy + reach) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    centre = (sprite.rgba.shape[0] - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), angle, scale)
    matrix[:, 2] += (cx - centre - x0, cy - centre - y0)
    # Premultiplied alpha: the zero border outside the sprite is transparent black, and bilinear
    # sampling across the edge blends colour and coverage consistently.
    rgba = cv2.warpAffine(sprite.rgba, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = canvas[y0:y1, x0:x1]
    roi *= 1 - rgba[..., 3:]
    roi += rgba[..., :3]


def video_arguments(what: str, classes: Sequence[str], class_name: str, seed: int, group: int, clip: int,
                    frames: int, size: object) -> tuple[np.random.Generator, int, tuple[int, int]]:
    """Checks the arguments of one video of a set (``what`` names the set in errors) and gives its
    random generator (seeded by :func:`clip_seed`), frame count and ``(H, W)``."""
    if class_name not in classes:
        raise ValueError(f"unknown {what} class {class_name!r}; the classes are {', '.join(classes)}")
    for name, value in (("seed", seed), ("group", group), ("clip", clip)):
        check_count(name, value, 0, 2 ** 63 - 1)
    frames = check_count("frames", frames, 1, 1_000_000)
    size = check_size(size, even=False)
    return np.random.default_rng(clip_seed(seed, class_name, group, clip)), frames, size


def round_uint8(image: np.ndarray) -> np.ndarray:
    """Float pixel values on the 0..255 scale -> uint8, clipped and rounded."""
    return np.rint(np.clip(image, 0, 255)).astype(np.uint8)


def check_count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def check_size(size: object, even: bool) -> tuple[int, int]:
    low = 2 if even else 1
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= low
                       and (s % 2 == 0 or not even) for s in size)):
        kind = "even ints >= 2" if even else "positive ints"
        raise ValueError(f"size must be a pair of {kind} (H, W), got {size!r}")
    return int(size[0]), int(size[1])


# (class name, seed, group, clip, frames, test video?, (H, W), **options) -> uint8 (T, H, W, 3)
Render = Callable[..., np.ndarray]
# (class name, seed, group, clip, (H, W), **options) -> uint8 (K, T, H, W, 3): a test video's futures
Futures = Callable[..., np.ndarray]


@dataclass(frozen=True)
class GeneratedSet:
    """A generated data set: its classes, how one video is rendered, and how videos are encoded.
    Calling it writes the set (:meth:`__call__`)."""

    what: str  # named on the progress bar
    classes: tuple[str, ...]
    render: Render
    bitrate: int = DEFAULT_BITRATE
    futures: Futures | None = None  # a set whose test videos' every possible future is written too

    def __call__(self, root: str | os.PathLike, classes: int, groups: int, test_groups: int, clips_per_group: int,
                 frames: int, seed: int, size: tuple[int, int] = (240, 320), fps: int = 25,
                 progress: bool = True, **options) -> None:
        """Writes the set under ``root`` in UCF101's layout (see the module docstring).

        The whole tree is written into a hidden temporary sibling of ``root`` and renamed into
        place when complete, replacing a previous set there; an interrupted run leaves ``root`` as
        it was. Deterministic: the same arguments give the same frames (and, with the same FFmpeg,
        the same bytes), whatever the machine's core count.

        Args:
            root: the output folder; if it exists it may hold only ``UCF-101``, ``ucfTrainTestlist``
                and ``futures`` (a guard against replacing a folder that is not a generated set).
            classes: how many of the set's classes to use, the first ones.
            groups: groups per class, 2-99 (``gNN`` in the names).
            test_groups: groups ``1..test_groups`` form the test split, 1 to ``groups - 1``.
            clips_per_group: clips per group, 1-99 (``cNN``).
            frames: frames per video, >= 2.
            seed: non-negative int; with the class, group and clip it seeds each video
                (:func:`clip_seed`).
            size: ``(H, W)``, even (UCF101's is 240x320).
            fps: frames per second written in the files.
            progress: show a tqdm progress bar over the videos.
            options: the set's own arguments, given to its ``render`` and ``futures``.
        Raises:
            ValueError: an argument out of range, or ``root`` holds something else than a generated set.
            VideoError: a video could not be written.
        """
        classes = check_count("classes", classes, 1, len(self.classes))
        groups = check_count("groups", groups, 2, 99)
        test_groups = check_count("test_groups", test_groups, 1, groups - 1)
        clips_per_group = check_count("clips_per_group", clips_per_group, 1, 99)
        frames = check_count("frames", frames, 2, 1_000_000)
        seed = check_count("seed", seed, 0, 2 ** 63 - 1)
        size = check_size(size, even=True)
        futures = None if self.futures is None else \
            lambda name, group, clip: self.futures(name, seed, group, clip, size, **options)
        _write_tree(Path(root), self.classes[:classes], groups, test_groups, clips_per_group,
                    lambda name, group, clip: self.render(name, seed, group, clip, frames, group <= test_groups, size,
                                                          **options),
                    fps, self.bitrate, progress, self.what, futures)


def _write_tree(root: Path, class_names: Sequence[str], groups: int, test_groups: int, clips_per_group: int,
                render: Callable[[str, int, int], np.ndarray], fps: int, bitrate: int, progress: bool,
                what: str, futures: Callable[[str, int, int], np.ndarray] | None = None) -> None:
    """Writes the videos (``render(class name, group, clip)``) and lists under ``root``, atomically;
    with ``futures`` (``(class name, group, clip) -> (K, T, H, W, 3)``), each test video's futures
    under :data:`FUTURES_DIR` too."""
    if root.exists():
        unexpected = sorted(p.name for p in root.iterdir()) if root.is_dir() else ["(a file)"]
        unexpected = [name for name in unexpected if name not in (VIDEO_DIR, LIST_DIR, FUTURES_DIR)]
        if unexpected:
            raise ValueError(f"{root}: not a generated dataset folder (it holds {', '.join(unexpected)}); "
                             "generating a set replaces its root folder, so this one is refused")
    names = list(class_names)
    videos = [(name, group, clip) for name in names for group in range(1, groups + 1)
              for clip in range(1, clips_per_group + 1)]
    lists = {
        "classInd.txt": [f"{index} {name}" for index, name in enumerate(names, 1)],
        "trainlist01.txt": [f"{name}/{video_name(name, group, clip)} {names.index(name) + 1}"
                            for name, group, clip in videos if group > test_groups],
        "testlist01.txt": [f"{name}/{video_name(name, group, clip)}"
                           for name, group, clip in videos if group <= test_groups],
    }
    with atomic_folder(root) as tmp:
        for name in names:
            (tmp / VIDEO_DIR / name).mkdir(parents=True)
        for name, group, clip in tqdm(videos, desc=what, unit="video", disable=not progress):
            write_video(tmp / VIDEO_DIR / name / video_name(name, group, clip), render(name, group, clip), fps=fps,
                        bitrate=bitrate)
            if futures is not None and group <= test_groups:
                (tmp / FUTURES_DIR / name).mkdir(parents=True, exist_ok=True)
                video = f"{VIDEO_DIR}/{name}/{video_name(name, group, clip)}"
                for k, future in enumerate(futures(name, group, clip)):
                    write_video(tmp / future_path(video, k), future, fps=fps, bitrate=bitrate)
        (tmp / LIST_DIR).mkdir()
        for filename, lines in lists.items():
            # LF line endings; readers should strip each line, which accepts CRLF lists too.
            (tmp / LIST_DIR / filename).write_text("".join(line + "\n" for line in lines), newline="\n")
