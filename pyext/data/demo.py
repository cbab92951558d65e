"""The demo dataset: synthetic videos laid out exactly like UCF101, so UCF101's code path ingests them.

Layout under ``root`` (the official UCF101 layout, split 1 only)::

    UCF-101/<Class>/v_<Class>_gGG_cCC.avi     MPEG-4 Part 2 (XVID tag) in AVI, 320x240, 25 fps
    ucfTrainTestlist/classInd.txt             "1 Translate": 1-based index, class name
    ucfTrainTestlist/trainlist01.txt          "Translate/v_Translate_g03_c01.avi 1": path, class index
    ucfTrainTestlist/testlist01.txt           "Translate/v_Translate_g01_c01.avi": path only

Groups ``1..test_groups`` are the test split, the others the training split, as UCF101's split 1
holds groups 1-7 out. Each video is rendered from its own seed, derived from ``(seed, class name,
group, clip)`` by :class:`numpy.random.SeedSequence`, so test videos come from seeds no training
video uses, and a class's videos do not depend on how many classes are generated.

Content: a textured background (smooth colour noise with a multi-octave luminance texture, never
flat) and 3-5 textured objects (Occlude 3-4, CameraPan 6-9 over its larger canvas): discs,
rectangles or star-shaped polygons with anti-aliased edges, 7-17% of the frame's shorter side in radius,
filled with smooth noise, stripes or a checkerboard in random colours, composited back to front.
One motion kind per class, drawn afresh for every video:

=========  ==============================================================================
Translate  each object moves at its own constant velocity: random direction, 1-4 px/frame
Rotate     objects spin about their centres, each at its own speed (2-8 degrees/frame)
Scale      objects grow and shrink smoothly, ``scale = exp(a sin(2 pi t / P + phi))``,
           a in [0.25, 0.5], period P in [24, 64] frames
Bounce     objects fly ballistically (1-4 px/frame, shared gravity up to 0.3 px/frame^2)
           and reflect off the frame borders
CameraPan  a static scene on a larger canvas, seen through a window panning at a constant
           velocity (random direction, 1-4 px/frame)
Occlude    objects cross paths near a common point at different times, so they pass in front
           of each other in a fixed depth order
=========  ==============================================================================

Copying the last frame is a fair baseline (most pixels are static or move a few pixels) that a
predictor can beat: the motion is smooth and visible in a few past frames, but its speed and
direction vary per object and per video.

Example:
    >>> clip = render_clip("Rotate", seed=0, group=1, clip=1, frames=4, size=(48, 64))
    >>> clip.shape, clip.dtype
    ((4, 48, 64, 3), dtype('uint8'))
"""
from __future__ import annotations

import math
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .files import temporary_sibling
from .video import write_video

__all__ = ["CLASSES", "generate_demo", "render_clip", "clip_seed", "video_name"]

# One class per motion kind, in classInd.txt order; generate_demo(classes=k) uses the first k.
CLASSES = ("Translate", "Rotate", "Scale", "Bounce", "CameraPan", "Occlude")

# The folder and list names of the official UCF101 release.
VIDEO_DIR = "UCF-101"
LIST_DIR = "ucfTrainTestlist"


@dataclass(frozen=True)
class _Sprite:
    """An object: premultiplied RGBA float32 ``(S, S, 4)`` (RGB in [0, 255] times alpha, alpha in
    [0, 1]) centred at ``((S - 1) / 2, (S - 1) / 2)``; ``radius`` bounds its shape about the centre."""

    rgba: np.ndarray
    radius: float


def clip_seed(seed: int, class_name: str, group: int, clip: int) -> np.random.SeedSequence:
    """The seed of one demo video: a SeedSequence of ``(seed, crc32(class name), group, clip)``.

    CRC-32 rather than ``hash()``: Python salts string hashes per process.
    """
    return np.random.SeedSequence([seed, zlib.crc32(class_name.encode()), group, clip])


def _noise(rng: np.random.Generator, h: int, w: int, cell: float, channels: int = 1) -> np.ndarray:
    """Smooth noise ``(h, w, channels)`` float32, unit variance per grid point: a Gaussian grid of
    one point per ``cell`` pixels, upsampled bicubically."""
    grid = rng.standard_normal((math.ceil(h / cell) + 1, math.ceil(w / cell) + 1, channels))
    out = cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return out.reshape(h, w, channels)


def _luminance_texture(rng: np.random.Generator, h: int, w: int, cells: tuple[float, ...]) -> np.ndarray:
    """Octaves of smooth noise ``(h, w, 1)``, each half the amplitude of the coarser one."""
    return sum(0.5 ** k * _noise(rng, h, w, cell) for k, cell in enumerate(cells))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour noise: a random base colour, slow chroma variation and a luminance texture
    down to 6-pixel detail (detail in luminance, as in natural images, survives yuv420p)."""
    base = rng.uniform(60, 190, 3).astype(np.float32)
    colour = 35 * _noise(rng, h, w, cell=h / 2, channels=3)
    texture = 28 * _luminance_texture(rng, h, w, cells=(48, 24, 12, 6))
    return np.clip(base + colour + texture, 0, 255)


def _two_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two colours at least 80 levels apart in every channel."""
    first = rng.uniform(0, 256, 3)
    return first.astype(np.float32), ((first + rng.uniform(80, 176, 3)) % 256).astype(np.float32)


def _object_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """``(size, size, 3)`` float32: smooth noise, soft stripes or a soft checkerboard."""
    first, second = _two_colours(rng)
    kind = rng.integers(3)
    if kind == 0:
        base = rng.uniform(40, 215, 3).astype(np.float32)
        return np.clip(base + 30 * _noise(rng, size, size, size / 2, 3)
                       + 40 * _luminance_texture(rng, size, size, (12, 6)), 0, 255)
    theta = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    period = rng.uniform(6, 16)
    wave = np.sin(2 * np.pi * u / period)
    if kind == 2:  # checkerboard: the product of two orthogonal waves
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        wave = wave * np.sin(2 * np.pi * v / period)
    # tanh of a scaled sine: flat colours joined by edges about a pixel wide.
    mix = (0.5 + 0.5 * np.tanh(3 * wave))[..., None]
    return (first + mix * (second - first)).astype(np.float32)


def _sprite(rng: np.random.Generator, radius: float) -> _Sprite:
    """A textured disc, rectangle or star-shaped polygon inscribed in a circle of ``radius``."""
    size = 2 * math.ceil(radius) + 3
    centre = (size - 1) / 2
    mask = np.zeros((size, size), np.uint8)
    kind = rng.integers(3)
    sub = 16  # OpenCV's fixed-point coordinates (shift=4): sub-pixel, anti-aliased edges
    if kind == 0:
        cv2.circle(mask, (round(centre * sub), round(centre * sub)), round(radius * sub), 255,
                   cv2.FILLED, cv2.LINE_AA, shift=4)
    else:
        if kind == 1:  # rectangle: corners on the circle, random aspect
            phi = rng.uniform(0.35, 1.2)
            angles = np.array([phi, np.pi - phi, np.pi + phi, -phi])
            radii = np.full(4, radius)
        else:  # 3-7 vertices, spread around the centre
            n = int(rng.integers(3, 8))
            angles = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n
            radii = radius * rng.uniform(0.55, 1.0, n)
        points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(points * sub).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32)[..., None] / 255
    return _Sprite(np.concatenate([_object_texture(rng, size) * alpha, alpha], axis=2), radius)


def _composite(canvas: np.ndarray, sprite: _Sprite, cx: float, cy: float, angle: float,
               scale: float) -> None:
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


def _velocities(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2)`` px/frame: random directions, speeds 1-4."""
    theta = rng.uniform(0, 2 * np.pi, n)
    return rng.uniform(1, 4, n)[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def _tracks(positions: np.ndarray, angles: np.ndarray | float = 0.0, scales: np.ndarray | float = 1.0
            ) -> np.ndarray:
    """``(n, T, 4)`` float64 ``(cx, cy, angle, scale)`` from ``(n, T, 2)`` positions."""
    n, t = positions.shape[:2]
    return np.concatenate([positions, np.broadcast_to(angles, (n, t))[..., None],
                           np.broadcast_to(scales, (n, t))[..., None]], axis=2)


def _scene(kind: str, rng: np.random.Generator, t: int, h: int, w: int, unit: float
           ) -> tuple[list[_Sprite], np.ndarray]:
    """The objects of one video, back to front, and their ``(n, T, 4)`` tracks on an ``h x w``
    canvas; object radii are 7-17% of ``unit``, the frame's shorter side."""
    # CameraPan's canvas is up to ~2.5 frames large, and its objects do not move: more of them.
    n = int(rng.integers(6, 10) if kind == "CameraPan" else rng.integers(3, 5) if kind == "Occlude"
            else rng.integers(3, 6))
    radii = rng.uniform(0.07, 0.17, n) * unit
    inside = np.stack([rng.uniform(radii, w - radii), rng.uniform(radii, h - radii)], axis=1)[:, None]
    steps = np.arange(t, dtype=np.float64)[None, :, None]
    if kind == "Translate":
        # Mid-clip positions inside the frame: objects may enter or leave, but are seen for long.
        tracks = _tracks(inside + _velocities(rng, n)[:, None] * (steps - (t - 1) / 2))
    elif kind in ("Rotate", "CameraPan"):
        spin = rng.uniform(2, 8, n) * rng.choice([-1, 1], n) if kind == "Rotate" else np.zeros(n)
        angles = rng.uniform(0, 360, n)[:, None] + spin[:, None] * steps[..., 0]
        tracks = _tracks(np.broadcast_to(inside, (n, t, 2)), angles)
    elif kind == "Scale":
        # Sprites are drawn at their largest size and only ever scaled down: their texture stays sharp.
        amplitude = rng.uniform(0.25, 0.5, n)[:, None]
        period, phase = rng.uniform(24, 64, n)[:, None], rng.uniform(0, 2 * np.pi, n)[:, None]
        scales = np.exp(amplitude * (np.sin(2 * np.pi * steps[..., 0] / period + phase) - 1))
        radii = radii * np.exp(amplitude[:, 0])
        tracks = _tracks(np.broadcast_to(inside, (n, t, 2)), rng.uniform(0, 360, n)[:, None], scales)
    elif kind == "Bounce":
        tracks = _tracks(_bounce(inside[:, 0], _velocities(rng, n), rng.uniform(0, 0.3), radii, t, h, w))
    elif kind == "Occlude":
        # Paths through points near a common one, at different times, in well-spread directions.
        meet = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h])
        near = meet + rng.uniform(-0.1, 0.1, (n, 2)) * unit
        theta = rng.uniform(0, 2 * np.pi) + np.arange(n) * np.pi / n + rng.uniform(-0.3, 0.3, n)
        velocity = rng.uniform(1, 4, n)[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        crossing = rng.uniform(0.3, 0.7, n) * (t - 1)
        tracks = _tracks(near[:, None] + velocity[:, None] * (steps - crossing[:, None, None]))
    else:
        raise ValueError(f"unknown demo class {kind!r}; the classes are {', '.join(CLASSES)}")
    return [_sprite(rng, r) for r in radii], tracks


def _bounce(start: np.ndarray, velocity: np.ndarray, gravity: float, radii: np.ndarray, t: int,
            h: int, w: int) -> np.ndarray:
    """``(n, T, 2)`` positions of objects under ``gravity`` (px/frame^2, downwards) that reflect
    off the frame borders where their bounding circles touch them."""
    low = radii[:, None]
    high = np.stack([w - radii, h - radii], axis=1)
    position, velocity = start.copy(), velocity.copy()
    out = np.empty((len(start), t, 2))
    for step in range(t):
        out[:, step] = position
        velocity[:, 1] += gravity
        position += velocity
        for beyond, wall in ((position < low, low), (position > high, high)):
            position = np.where(beyond, 2 * wall - position, position)
            velocity = np.where(beyond, -velocity, velocity)
    return out


def _draw(canvas: np.ndarray, sprites: list[_Sprite], poses: np.ndarray) -> np.ndarray:
    """Composites ``sprites`` at ``poses`` ``(n, 4)`` over a copy of ``canvas``."""
    out = canvas.copy()
    for sprite, (cx, cy, angle, scale) in zip(sprites, poses):
        _composite(out, sprite, cx, cy, angle, scale)
    return out


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0, 255)).astype(np.uint8)


def _check_count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")
    return int(value)


def _check_size(size: object, even: bool) -> tuple[int, int]:
    low = 2 if even else 1
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= low
                       and (s % 2 == 0 or not even) for s in size)):
        kind = "even ints >= 2" if even else "positive ints"
        raise ValueError(f"size must be a pair of {kind} (H, W), got {size!r}")
    return int(size[0]), int(size[1])


def render_clip(class_name: str, seed: int, group: int, clip: int, frames: int,
                size: tuple[int, int] = (240, 320)) -> np.ndarray:
    """The frames of one demo video, before encoding.

    Args:
        class_name: one of :data:`CLASSES`, the motion kind.
        seed, group, clip: the dataset seed and the video's group and clip numbers, non-negative
            ints; see :func:`clip_seed`.
        frames: the number of frames T >= 1.
        size: ``(H, W)``.
    Returns:
        uint8 ``(T, H, W, 3)`` RGB, a deterministic function of the arguments.
    """
    if class_name not in CLASSES:
        raise ValueError(f"unknown demo class {class_name!r}; the classes are {', '.join(CLASSES)}")
    for name, value in (("seed", seed), ("group", group), ("clip", clip)):
        _check_count(name, value, 0, 2 ** 63 - 1)
    frames = _check_count("frames", frames, 1, 1_000_000)
    h, w = _check_size(size, even=False)
    rng = np.random.default_rng(clip_seed(seed, class_name, group, clip))
    video = np.empty((frames, h, w, 3), np.uint8)
    if class_name == "CameraPan":
        # A static scene on a canvas the size of the frame plus the pan, seen through a moving window.
        velocity = _velocities(rng, 1)[0]
        travel = np.abs(velocity) * (frames - 1)
        canvas_h, canvas_w = h + math.ceil(travel[1]) + 2, w + math.ceil(travel[0]) + 2
        sprites, tracks = _scene(class_name, rng, 1, canvas_h, canvas_w, min(h, w))
        canvas = _draw(_background(rng, canvas_h, canvas_w), sprites, tracks[:, 0])
        origin = np.where(velocity < 0, travel, 0) + 1  # the window stays a pixel inside the canvas
        for i in range(frames):
            ox, oy = origin + velocity * i
            shift = np.array([[1.0, 0.0, -ox], [0.0, 1.0, -oy]])
            video[i] = _to_uint8(cv2.warpAffine(canvas, shift, (w, h), flags=cv2.INTER_LINEAR))
        return video
    background = _background(rng, h, w)
    sprites, tracks = _scene(class_name, rng, frames, h, w, min(h, w))
    for i in range(frames):
        video[i] = _to_uint8(_draw(background, sprites, tracks[:, i]))
    return video


def video_name(class_name: str, group: int, clip: int) -> str:
    """UCF101's file name of a video: ``v_<Class>_gGG_cCC.avi``."""
    return f"v_{class_name}_g{group:02d}_c{clip:02d}.avi"


def _replace_dir(new: Path, root: Path) -> None:
    """Renames the folder ``new`` to ``root``, replacing ``root`` if it exists."""
    if not root.exists():
        new.rename(root)
        return
    # Renamed aside first: a rename cannot replace a non-empty folder.
    old = new.with_name(new.name + ".old")
    root.rename(old)
    try:
        new.rename(root)
    except BaseException:
        old.rename(root)
        raise
    shutil.rmtree(old)


def generate_demo(
    root: str | os.PathLike,
    classes: int,
    groups: int,
    test_groups: int,
    clips_per_group: int,
    frames: int,
    seed: int,
    size: tuple[int, int] = (240, 320),
    fps: int = 25,
    progress: bool = True,
) -> None:
    """Writes the demo dataset under ``root`` in UCF101's layout (see the module docstring).

    The whole tree is written into a hidden temporary sibling of ``root`` and renamed into place when
    complete, replacing a previous demo there; an interrupted run leaves ``root`` as it was.
    Deterministic: the same arguments give the same frames (and, with the same FFmpeg, the same
    bytes), whatever the machine's core count.

    Args:
        root: the output folder; if it exists it may hold only ``UCF-101`` and ``ucfTrainTestlist``
            (a guard against replacing a folder that is not a demo).
        classes: how many of :data:`CLASSES` to use, the first ones, 1-6.
        groups: groups per class, 2-99 (``gNN`` in the names).
        test_groups: groups ``1..test_groups`` form the test split, 1 to ``groups - 1``.
        clips_per_group: clips per group, 1-99 (``cNN``).
        frames: frames per video, >= 2.
        seed: non-negative int; with the class, group and clip it seeds each video.
        size: ``(H, W)``, even (UCF101's is 240x320).
        fps: frames per second written in the files.
        progress: show a tqdm progress bar over the videos.
    Raises:
        ValueError: an argument out of range, or ``root`` holds something else than a demo.
        VideoError: a video could not be written.
    """
    classes = _check_count("classes", classes, 1, len(CLASSES))
    groups = _check_count("groups", groups, 2, 99)
    test_groups = _check_count("test_groups", test_groups, 1, groups - 1)
    clips_per_group = _check_count("clips_per_group", clips_per_group, 1, 99)
    frames = _check_count("frames", frames, 2, 1_000_000)
    seed = _check_count("seed", seed, 0, 2 ** 63 - 1)
    size = _check_size(size, even=True)
    root = Path(root)
    if root.exists():
        unexpected = sorted(p.name for p in root.iterdir()) if root.is_dir() else ["(a file)"]
        unexpected = [name for name in unexpected if name not in (VIDEO_DIR, LIST_DIR)]
        if unexpected:
            raise ValueError(f"{root}: not a demo dataset folder (it holds {', '.join(unexpected)}); "
                             "generate_demo replaces its root folder, so it refuses this one")
    names = CLASSES[:classes]
    videos = [(name, group, clip) for name in names for group in range(1, groups + 1)
              for clip in range(1, clips_per_group + 1)]
    lists = {
        "classInd.txt": [f"{index} {name}" for index, name in enumerate(names, 1)],
        "trainlist01.txt": [f"{name}/{video_name(name, group, clip)} {names.index(name) + 1}"
                            for name, group, clip in videos if group > test_groups],
        "testlist01.txt": [f"{name}/{video_name(name, group, clip)}"
                           for name, group, clip in videos if group <= test_groups],
    }

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(root)
    try:
        for name in names:
            (tmp / VIDEO_DIR / name).mkdir(parents=True)
        for name, group, clip in tqdm(videos, desc="demo videos", unit="video", disable=not progress):
            write_video(tmp / VIDEO_DIR / name / video_name(name, group, clip),
                        render_clip(name, seed, group, clip, frames, size), fps=fps)
        (tmp / LIST_DIR).mkdir()
        for filename, lines in lists.items():
            # LF line endings; readers should strip each line, which accepts CRLF lists too.
            (tmp / LIST_DIR / filename).write_text("".join(line + "\n" for line in lines), newline="\n")
        _replace_dir(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
