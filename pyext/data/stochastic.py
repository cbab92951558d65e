"""The uncertain-futures set: objects whose next motion the past frames cannot reveal, laid out like
UCF101 (:mod:`pyext.data.synthetic`), with every possible future of each test clip recorded.

The demo's motions are nearly deterministic: a few past frames fix the next one, so the mean
squared error's optimum is already a sharp frame and a discriminator has nothing to see. Here the
future branches. Each video holds 4-6 objects over a still textured background (the demo's), each
object moving at a constant speed of 3-5 px/frame along its heading and reflecting off the frame's
borders. At every frame, with probability ``switch_probability``, the scene switches: one branch
out of the first ``branches`` of :data:`BRANCHES`, equally likely, is drawn and every object takes
it from that frame on. A switch is memoryless (the same chance at every frame, whatever came
before) and drawn apart from the scene's look, so nothing in the past frames hints at when the
next one comes or which branch it takes. The frame after a switch is the first that shows it.

==========  ====================================================
``left``    the heading turns 90 degrees counter-clockwise
``right``   the heading turns 90 degrees clockwise
``stop``    the object stands still (a later branch sets it moving again)
``back``    the heading turns 180 degrees
==========  ====================================================

One class per object shape (:data:`CLASSES`: discs, squares, triangles, crosses), each object
filled with one of the demo's random textures: the class shows in a single frame and says nothing
of the branch. Every frame gets light sensor noise (Gaussian, sigma :data:`SENSOR_NOISE` levels),
drawn per frame index so that every future of a clip shares it: no prediction is ever exact, and
the futures differ only by their motion.

Test videos are one test clip long (``test_frames`` frames, so every test clip starts at their
first frame) and switch exactly at frame ``switch_at`` (the clip's first predicted frame), with no
switch after it. The branch that happened is the video; every branch's video is written too, under
``futures/<Class>/v_<Class>_gGG_cCC_kK.avi`` (K = 1..branches, in :data:`BRANCHES` order), so that
evaluation measures a prediction against each possible future. The encoder is causal and the
futures' frames before the switch are the same, so their decoded inputs are too.

Example:
    >>> futures = render_futures("Discs", seed=0, group=1, clip=1, size=(48, 64), branches=2, switch_at=4,
    ...                          test_frames=6)
    >>> futures.shape, bool((futures[0, :4] == futures[1, :4]).all()), bool((futures[0, 4:] != futures[1, 4:]).any())
    ((2, 6, 48, 64, 3), True, True)
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..config import SOURCES
from .demo import _background, _object_texture
from .synthetic import GeneratedSet, Sprite, check_count, composite, round_uint8, video_arguments

__all__ = ["BRANCHES", "CLASSES", "SENSOR_NOISE", "generate_stochastic", "happened", "render_futures", "render_video"]

CLASSES = SOURCES["stochastic"].classes  # one object shape per class
BRANCHES = ("left", "right", "stop", "back")  # a switch's possible motions; `branches` takes the first ones
SENSOR_NOISE = 1.5  # levels (0..255) of Gaussian noise on every pixel of every frame
_SPEEDS = (3.0, 5.0)  # px/frame, drawn per object
_RADII = (0.06, 0.1)  # of the frame's shorter side: 14-24 px at 240x320, an edge in most 32x32 patches


def _shape_mask(class_name: str, size: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """The class's shape, anti-aliased, inscribed in a circle of ``radius`` at the centre of a
    ``size`` square: uint8 ``(size, size)``. A random rotation, so shape alone is the class."""
    centre = (size - 1) / 2
    sub = 16  # OpenCV's fixed-point coordinates (shift=4): sub-pixel, anti-aliased edges
    mask = np.zeros((size, size), np.uint8)
    if class_name == "Discs":
        cv2.circle(mask, (round(centre * sub), round(centre * sub)), round(radius * sub), 255, cv2.FILLED,
                   cv2.LINE_AA, shift=4)
        return mask
    turn = rng.uniform(0, 2 * np.pi)
    if class_name == "Squares":
        angles, radii = turn + np.arange(4) * np.pi / 2, np.full(4, radius)
    elif class_name == "Triangles":
        angles, radii = turn + np.arange(3) * 2 * np.pi / 3, np.full(3, radius)
    else:  # a cross: twelve corners, arms a third of the span wide
        arm = math.atan2(1, 3)
        corner = math.hypot(1, 1) / math.hypot(3, 1)  # the inner corners' radius over the arm ends'
        angles = turn + np.repeat(np.arange(4) * np.pi / 2, 3) + np.tile([-arm, arm, np.pi / 4], 4)
        radii = radius * np.tile([1.0, 1.0, corner], 4)
    points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], axis=1)
    cv2.fillPoly(mask, [np.round(points * sub).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask


def _sprite(class_name: str, rng: np.random.Generator, radius: float) -> Sprite:
    size = 2 * math.ceil(radius) + 3
    alpha = _shape_mask(class_name, size, radius, rng).astype(np.float32)[..., None] / 255
    return Sprite(np.concatenate([_object_texture(rng, size) * alpha, alpha], axis=2), radius)


def _branch(heading: np.ndarray, moving: np.ndarray, branch: str) -> tuple[np.ndarray, np.ndarray]:
    """The objects' headings (radians, ``(n,)``) and moving flags after ``branch``."""
    if branch == "stop":
        return heading, np.zeros_like(moving)
    turn = {"left": -np.pi / 2, "right": np.pi / 2, "back": np.pi}[branch]  # image y points down
    return heading + turn, np.ones_like(moving)


def _walk(start: np.ndarray, heading: np.ndarray, speed: np.ndarray, radii: np.ndarray,
          switches: list[str | None], h: int, w: int) -> np.ndarray:
    """``(n, T, 2)`` positions: frame 0 at ``start`` ``(n, 2)``; before frame t the branch
    ``switches[t]`` (None: none; ``switches[0]`` is unused) changes every object's motion, then each
    moves one step and reflects off the borders where its bounding circle touches them."""
    low, high = radii[:, None], np.stack([w - radii, h - radii], axis=1)
    position, heading, moving = start.astype(np.float64), heading.astype(np.float64), np.ones(len(start), bool)
    out = np.empty((len(start), len(switches), 2))
    out[:, 0] = position
    for t in range(1, len(switches)):
        if switches[t] is not None:
            heading, moving = _branch(heading, moving, switches[t])
        velocity = (speed * moving)[:, None] * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        position = position + velocity
        for beyond, wall in ((position < low, low), (position > high, high)):
            position = np.where(beyond, 2 * wall - position, position)
            velocity = np.where(beyond, -velocity, velocity)
        heading = np.arctan2(velocity[:, 1], velocity[:, 0]) * moving + heading * ~moving
        out[:, t] = position
    return out


def _switches(rng: np.random.Generator, frames: int, branches: int, probability: float) -> list[str | None]:
    """Memoryless switches: at each frame t >= 1, with ``probability``, one of the first ``branches``
    of :data:`BRANCHES`, equally likely. Drawn for every frame whether or not it switches, so the
    draws of frame t never depend on the outcome before it."""
    happens, which = rng.random(frames) < probability, rng.integers(branches, size=frames)
    return [None] + [BRANCHES[k] if s else None for s, k in zip(happens[1:], which[1:])]


def _stream(rng: np.random.Generator, *key: int) -> np.random.Generator:
    """An independent generator of the video whose generator is ``rng``, named by ``key``."""
    seq = rng.bit_generator.seed_seq
    return np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=key))


def _render(class_name: str, seed: int, group: int, clip: int, frames: int, size: tuple[int, int],
            branches: int, probability: float, forced: tuple[int, int] | None) -> np.ndarray:
    """The frames ``(T, H, W, 3)`` of one video; ``forced`` ``(frame, branch index)``: the switch at
    that frame, and none after it."""
    rng, frames, (h, w) = video_arguments("stochastic", CLASSES, class_name, seed, group, clip, frames, size)
    # Independent streams for the look, the start, the switches and each frame's noise: forcing a
    # branch changes the motion after it and nothing else.
    look, start, switch = _stream(rng, 0), _stream(rng, 1), _stream(rng, 2)
    background = _background(look, h, w)
    n = int(look.integers(4, 7))
    radii = look.uniform(*_RADII, n) * min(h, w)
    sprites = [_sprite(class_name, look, r) for r in radii]
    position = np.stack([start.uniform(radii, w - radii), start.uniform(radii, h - radii)], axis=1)
    heading, speed = start.uniform(0, 2 * np.pi, n), start.uniform(*_SPEEDS, n)
    switches = _switches(switch, frames, branches, probability)
    if forced is not None:
        at, k = forced
        switches = switches[:at] + [BRANCHES[k]] + [None] * (frames - at - 1)
    tracks = _walk(position, heading, speed, radii, switches, h, w)
    video = np.empty((frames, h, w, 3), np.uint8)
    for t in range(frames):
        frame = background.copy()
        for sprite, (cx, cy) in zip(sprites, tracks[:, t]):
            composite(frame, sprite, cx, cy, 0.0, 1.0)
        video[t] = round_uint8(frame + SENSOR_NOISE * _stream(rng, 3, t).standard_normal((h, w, 3), np.float32))
    return video


def _check_branching(branches: int, switch_probability: float, switch_at: int | None = None,
                     frames: int | None = None) -> None:
    """The branching arguments; with ``switch_at``, a test video's forced switch within its ``frames``."""
    check_count("branches", branches, 2, len(BRANCHES))
    if not isinstance(switch_probability, (int, float)) or not 0 < switch_probability <= 1:
        raise ValueError(f"switch_probability must be a number in (0, 1], got {switch_probability!r}")
    if switch_at is not None:
        check_count("switch_at", switch_at, 1, frames - 1)


def happened(seed: int, class_name: str, group: int, clip: int, branches: int) -> int:
    """The branch index (into :data:`BRANCHES`) a test video's switch takes: drawn from its own
    stream, equally likely, so which future happened says nothing of the scene."""
    rng, _, _ = video_arguments("stochastic", CLASSES, class_name, seed, group, clip, 1, (1, 1))
    return int(_stream(rng, 4).integers(branches))


def render_futures(class_name: str, seed: int, group: int, clip: int, size: tuple[int, int] = (240, 320),
                   branches: int = 2, switch_probability: float = 0.5, switch_at: int = 4,
                   test_frames: int = 6) -> np.ndarray:
    """Every possible future of one test video, from the same state.

    Args:
        class_name: one of :data:`CLASSES`.
        seed, group, clip: the set's seed and the video's group and clip (its seed: ``clip_seed``).
        branches: the possible motions, the first ``branches`` of :data:`BRANCHES`, 2..4.
        size: ``(H, W)``.
        branches: the possible motions, the first ``branches`` of :data:`BRANCHES`, 2..4.
        switch_probability: the chance of a switch at each frame before ``switch_at``.
        switch_at: the frame that first shows the switch (the test clip's first predicted frame).
        test_frames: T, the test video's length (one test clip), > ``switch_at``.
    Returns:
        uint8 ``(branches, T, H, W, 3)``: future k takes branch ``BRANCHES[k]`` at ``switch_at`` and
        no switch after; all share frames ``0..switch_at-1`` exactly.
    """
    _check_branching(branches, switch_probability, switch_at, test_frames)
    return np.stack([_render(class_name, seed, group, clip, test_frames, size, branches, switch_probability,
                             (switch_at, k)) for k in range(branches)])


def render_video(class_name: str, seed: int, group: int, clip: int, frames: int, test: bool,
                 size: tuple[int, int] = (240, 320), branches: int = 2, switch_probability: float = 0.5,
                 switch_at: int = 4, test_frames: int = 6) -> np.ndarray:
    """One video of the set, uint8 ``(T, H, W, 3)``: a training video (``frames`` long) switches at
    random, ``switch_probability`` a frame; a test video (``test_frames`` long) is the future of
    :func:`render_futures` that :func:`happened` picks (arguments as there)."""
    if test:
        _check_branching(branches, switch_probability, switch_at, test_frames)
        k = happened(seed, class_name, group, clip, branches)
        return _render(class_name, seed, group, clip, test_frames, size, branches, switch_probability,
                       (switch_at, k))
    _check_branching(branches, switch_probability)
    return _render(class_name, seed, group, clip, frames, size, branches, switch_probability, None)


# generate_stochastic(root, classes, groups, test_groups, clips_per_group, frames, seed, size=(240, 320),
# fps=25, progress=True, branches=2, switch_probability=0.5, switch_at=4, test_frames=6) writes the set
# (pyext.data.synthetic.GeneratedSet.__call__), the futures of its test videos included.
generate_stochastic = GeneratedSet("stochastic videos", CLASSES, render_video, futures=render_futures)
