"""The demo dataset: synthetic videos laid out exactly like UCF101, so UCF101's code path ingests them.

Laid out like UCF101 (:mod:`pyext.data.synthetic`): groups ``1..test_groups`` are the test split.
Each video is rendered from its own seed (:func:`~pyext.data.synthetic.clip_seed` of ``(seed, class
name, group, clip)``), so test videos come from seeds no training video uses, and a class's videos do
not depend on how many classes are generated.

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

import cv2
import numpy as np

from ..config import SOURCES
from .synthetic import GeneratedSet, Sprite, clip_seed, composite, round_uint8, video_arguments, video_name

__all__ = ["CLASSES", "generate_demo", "render_clip", "clip_seed", "video_name"]

# One class per motion kind, in classInd.txt order; generate_demo(classes=k) uses the first k.
CLASSES = SOURCES["demo"].classes  # the motion kinds, one per class


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


def _sprite(rng: np.random.Generator, radius: float) -> Sprite:
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
    return Sprite(np.concatenate([_object_texture(rng, size) * alpha, alpha], axis=2), radius)


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
           ) -> tuple[list[Sprite], np.ndarray]:
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


def _draw(canvas: np.ndarray, sprites: list[Sprite], poses: np.ndarray) -> np.ndarray:
    """Composites ``sprites`` at ``poses`` ``(n, 4)`` over a copy of ``canvas``."""
    out = canvas.copy()
    for sprite, (cx, cy, angle, scale) in zip(sprites, poses):
        composite(out, sprite, cx, cy, angle, scale)
    return out


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
    rng, frames, (h, w) = video_arguments("demo", CLASSES, class_name, seed, group, clip, frames, size)
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
            video[i] = round_uint8(cv2.warpAffine(canvas, shift, (w, h), flags=cv2.INTER_LINEAR))
        return video
    background = _background(rng, h, w)
    sprites, tracks = _scene(class_name, rng, frames, h, w, min(h, w))
    for i in range(frames):
        video[i] = round_uint8(_draw(background, sprites, tracks[:, i]))
    return video


def _render(class_name: str, seed: int, group: int, clip: int, frames: int, test: bool,
            size: tuple[int, int]) -> np.ndarray:
    return render_clip(class_name, seed, group, clip, frames, size)  # test videos differ by their seeds alone


# generate_demo(root, classes, groups, test_groups, clips_per_group, frames, seed, size=(240, 320),
# fps=25, progress=True) writes the demo set (pyext.data.synthetic.GeneratedSet.__call__).
generate_demo = GeneratedSet("demo videos", CLASSES, _render)
