"""Pictures of clips a person looks at; every picture the project draws is laid out here.

:func:`labelled_grid` is the one layout: frames in rows and columns, with row labels in a left
margin, column labels in a top band and captions in a band under each row, never over a frame.
On it: :func:`patch_grid` (training patches), :func:`comparison` (an evaluated clip: one row per
method, one column per predicted frame, zoomed crops of the moving region beside the full frames)
and :func:`comparison_frames` (the same methods side by side, one picture per time step, for
:func:`save_animation`). :func:`frame_grid` and :func:`clip_grid` are the unlabelled grids of
GAIA's samples and mixtures.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .data.dataset import to_uint8
from .files import atomic_output

FONT_SIZE = 14
PAD = 4  # around texts
GAP = 4  # white lines between frames
TEXT = (20, 20, 20)
MARK = (255, 230, 0)  # the moving region's outline and the zoomed crop's box: yellow, seen on the demo's purples
MAX_WIDTH = 1280  # fits a browser page 1400 px wide (dvc plots show) without horizontal scrolling
ZOOM = 3  # crops of the moving region, enlarged this many times ...
ZOOMED = 2  # ... of at most this many predicted frames (the first and the last): a row must fit the page


@dataclass(frozen=True)
class Box:
    """A rectangle of a picture: rows ``top:top + height``, columns ``left:left + width``."""

    top: int
    left: int
    height: int
    width: int

    def overlaps(self, other: Box) -> bool:
        return (self.top < other.top + other.height and other.top < self.top + self.height
                and self.left < other.left + other.width and other.left < self.left + self.width)


@dataclass
class Layout:
    """Where :func:`labelled_grid` put things: ``cells[r][c]`` (None: an empty cell) and the box of
    every text it drew (labels, captions, title)."""

    cells: list[list[Box | None]]
    texts: list[Box]


@functools.lru_cache(maxsize=4)
def _font(size: int = FONT_SIZE) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size)  # Pillow's bundled font: the same pictures on every machine


def _text_size(text: str) -> tuple[int, int]:
    """(height, width) of ``text`` (lines split at newlines); (0, 0) for an empty one."""
    if not text:
        return 0, 0
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).multiline_textbbox(
        (0, 0), text, font=_font(), spacing=2)
    return bottom, right


def labelled_grid(cells: list[list[np.ndarray | None]], rows: list[str], columns: list[str],
                  captions: list[list[str]] | None = None, title: str = "") -> tuple[np.ndarray, Layout]:
    """Frames in a grid, every label outside them.

    Args:
        cells: R rows of C uint8 frames ``(h, w, 3)`` (None: an empty cell); a column is as wide as
            its widest frame, a row as tall as its tallest, each frame centred in its place.
        rows: R labels, in a left margin (all empty: no margin).
        columns: C labels, in a band above the first row (all empty: no band).
        captions: R rows of C texts under the frames (a band under a row only where one is not empty).
        title: a line above everything ("": none).
    Returns:
        the picture, uint8 ``(H, W, 3)`` on white, and its :class:`Layout`.

    Example:
        >>> frame = np.zeros((8, 8, 3), np.uint8)
        >>> picture, layout = labelled_grid([[frame, frame]], ["row"], ["a", "b"])
        >>> layout.cells[0][1].width, any(t.overlaps(layout.cells[0][0]) for t in layout.texts)
        (8, False)
    """
    n_rows, n_cols = len(cells), len(cells[0])
    captions = captions or [[""] * n_cols for _ in range(n_rows)]
    heights = [max((c.shape[0] for c in row if c is not None), default=0) for row in cells]
    widths = [max((row[j].shape[1] for row in cells if row[j] is not None), default=0) for j in range(n_cols)]
    widths = [max(w, _text_size(label)[1] + 2 * PAD, *(_text_size(row[j])[1] + 2 * PAD for row in captions))
              for j, (w, label) in enumerate(zip(widths, columns))]
    cap_heights = [max(_text_size(t)[0] for t in row) for row in captions]
    margin = max(_text_size(label)[1] for label in rows) + 2 * PAD if any(rows) else 0
    title_height = _text_size(title)[0] + 2 * PAD if title else 0
    band = max(_text_size(label)[0] for label in columns) + 2 * PAD if any(columns) else 0
    lefts = [margin + sum(widths[:j]) + GAP * j for j in range(n_cols)]
    tops, y = [], title_height + band
    for h, cap in zip(heights, cap_heights):
        tops.append(y)
        y += h + (cap + 2 * PAD if cap else 0) + GAP
    image = Image.new("RGB", (lefts[-1] + widths[-1], y - GAP), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    texts: list[Box] = []

    def write(text: str, top: int, left: int) -> None:
        if text:
            draw.multiline_text((left, top), text, fill=TEXT, font=_font(), spacing=2)
            h, w = _text_size(text)
            texts.append(Box(top, left, h, w))

    write(title, PAD, PAD)
    placed: list[list[Box | None]] = []
    for r, row in enumerate(cells):
        placed.append([])
        for j, cell in enumerate(row):
            if cell is None:
                placed[r].append(None)
                continue
            h, w = cell.shape[:2]
            box = Box(tops[r] + (heights[r] - h) // 2, lefts[j] + (widths[j] - w) // 2, h, w)
            image.paste(Image.fromarray(np.ascontiguousarray(cell)), (box.left, box.top))
            placed[r].append(box)
            cap_h, cap_w = _text_size(captions[r][j])
            write(captions[r][j], tops[r] + heights[r] + PAD, lefts[j] + (widths[j] - cap_w) // 2)
        label_h, _ = _text_size(rows[r])
        write(rows[r], tops[r] + (heights[r] - label_h) // 2, PAD)
    for j, label in enumerate(columns):
        write(label, title_height + PAD, lefts[j] + (widths[j] - _text_size(label)[1]) // 2)
    return np.asarray(image), Layout(placed, texts)


def enlarge(frame: np.ndarray, zoom: int) -> np.ndarray:
    """``frame`` ``(h, w, 3)`` enlarged ``zoom`` times, each pixel a square (nothing smoothed)."""
    return frame.repeat(zoom, axis=0).repeat(zoom, axis=1) if zoom > 1 else frame


def patch_grid(clips: torch.Tensor, columns: list[str], zoom: int = 4) -> np.ndarray:
    """A labelled picture of clips ``(B, T, 3, P, P)`` in [-1, 1] (patches): one row per clip, its
    T frames enlarged ``zoom`` times under the T ``columns`` labels.

    Returns:
        uint8 ``(band + B (zoom P + GAP) - GAP, T (zoom P + GAP) - GAP, 3)``, ``band`` the label row.
    """
    frames = to_uint8(clips)
    cells = [[enlarge(f, zoom) for f in clip] for clip in frames]
    return labelled_grid(cells, [""] * len(cells), columns)[0]


def moving_crop(mask: np.ndarray, side: int) -> Box:
    """The ``side``-square crop of a frame ``(H, W)`` centred on the moving pixels of ``mask``
    (bool; their mean position), kept inside the frame; the frame's centre where none moves."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.mean(), xs.mean()) if len(ys) else (h / 2, w / 2)
    top = int(np.clip(round(cy - side / 2), 0, h - side))
    left = int(np.clip(round(cx - side / 2), 0, w - side))
    return Box(top, left, side, side)


def outlined(frame: np.ndarray, mask: np.ndarray | None = None, box: Box | None = None) -> np.ndarray:
    """A copy of ``frame`` ``(H, W, 3)`` with the boundary of ``mask`` (bool ``(H, W)``) and the
    edge of ``box`` drawn in :data:`MARK`, one pixel wide."""
    out = frame.copy()
    if mask is not None:
        inner = mask.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        out[mask & ~inner] = MARK
    if box is not None:
        bottom, right = box.top + box.height - 1, box.left + box.width - 1
        out[[box.top, bottom], box.left:right + 1] = MARK
        out[box.top:bottom + 1, [box.left, right]] = MARK
    return out


def _fitted(frame: np.ndarray, scale: float) -> np.ndarray:
    """``frame`` resized by ``scale``: enlarged by whole pixels (>= 2), shrunk by area averaging."""
    if scale >= 2:
        return enlarge(frame, int(scale))
    if scale >= 1:
        return frame
    h, w = frame.shape[:2]
    return np.asarray(Image.fromarray(frame).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                                    Image.Resampling.BOX))


def _frame_scale(h: int, w: int, frames: int, crops: int, min_height: int = 160) -> float:
    """How much to resize frames ``h x w`` of which ``frames`` (plus ``crops`` square zoomed crops,
    ``h`` tall) stand in a row of at most :data:`MAX_WIDTH`: small frames enlarged to about
    ``min_height``, a row too wide shrunk (to no less than its captions' width, about 110 px a frame)."""
    fixed = (frames + crops) * GAP + 130  # 130: the row labels
    return max(min(float(max(1, min_height // h)), (MAX_WIDTH - fixed) / (frames * w + crops * h)), 110 / w)


def comparison(truth: np.ndarray, methods: dict[str, np.ndarray], masks: np.ndarray,
               captions: dict[str, list[str]], per_step: int = 1) -> tuple[np.ndarray, Layout]:
    """The picture of one evaluated clip: rows "truth" then each method, one column per predicted
    frame, then the moving region of the first and the last of them (:data:`ZOOMED`) cropped and
    enlarged :data:`ZOOM` times. The truth's frames carry the moving region's outline and the
    crop's box (:data:`MARK`).

    Args:
        truth: uint8 ``(F, H, W, 3)``, the true future frames.
        methods: name (its row's label) -> uint8 ``(F, H, W, 3)``, each method's predictions of them.
        masks: bool ``(F, H, W)``, the moving region of each true frame.
        captions: name -> F texts under that method's frames (a method not named: none).
        per_step: frames per recursive step (the column labels say step and frame).
    Returns:
        the picture (:func:`labelled_grid`), at most :data:`MAX_WIDTH` wide where F <= 8 or so.
    """
    f, h, w = masks.shape
    zoomed = sorted({0, f - 1}) if f > ZOOMED else list(range(f))
    scale = _frame_scale(h, w, f, len(zoomed))
    side = max(4, min(h, w) // ZOOM)
    box = moving_crop(masks[0], side)  # one place for all frames: the crops show the same patch evolve

    def crop(frame: np.ndarray) -> np.ndarray:
        patch = frame[box.top:box.top + side, box.left:box.left + side]
        return _fitted(enlarge(patch, ZOOM), scale)

    rows = {"truth": [outlined(t, m, box) for t, m in zip(truth, masks)], **methods}
    originals = {"truth": truth, **methods}
    cells = [[_fitted(frame, scale) for frame in frames] + [crop(originals[name][j]) for j in zoomed]
             for name, frames in rows.items()]
    steps = [f"t+{j + 1}" + (f" (step {j // per_step + 1})" if per_step > 1 else "") for j in range(f)]
    columns = steps + [f"t+{j + 1}, x{ZOOM}" for j in zoomed]
    blank = [""] * len(zoomed)
    texts = [[f"moving: {m.mean():.0%}" for m in masks] + blank]
    texts += [list(captions.get(name, [""] * f)) + blank for name in methods]
    return labelled_grid(cells, list(rows), columns, texts)


def comparison_frames(inputs: np.ndarray, truth: np.ndarray, methods: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The pictures of an animated comparison: per time step the truth beside each method, named
    above, the step named in a title; first the inputs (every panel shows them), then each
    predicted frame.

    Args:
        inputs: uint8 ``(m, H, W, 3)``.
        truth: uint8 ``(F, H, W, 3)``.
        methods: name (its panel's label) -> uint8 ``(F, H, W, 3)``.
    Returns:
        ``m + F`` uint8 pictures of one size.
    """
    m, (h, w) = len(inputs), inputs.shape[1:3]
    panels = 1 + len(methods)
    scale = min(float(max(1, 160 // h)), (MAX_WIDTH - GAP * panels) / (panels * w))
    columns = ["truth", *methods]
    out = []
    for t in range(m + len(truth)):
        if t < m:
            frames, title = [inputs[t]] * panels, f"input {t + 1} of {m}"
        else:
            j = t - m
            frames, title = [truth[j], *(v[j] for v in methods.values())], f"predicted t+{j + 1}"
        out.append(labelled_grid([[_fitted(f, scale) for f in frames]], [""], columns, title=title)[0])
    return out


def frame_grid(clips: torch.Tensor, zoom: int = 4) -> np.ndarray:
    """A picture of clips ``(B, T, 3, P, P)`` in [-1, 1]: one row per clip, its frames left to
    right, each enlarged ``zoom`` times, white lines between them.

    Returns:
        uint8 ``(B * (zoom P + 2), T * (zoom P + 2), 3)``.
    """
    frames = to_uint8(clips).repeat(zoom, axis=2).repeat(zoom, axis=3)  # (B, T, zP, zP, 3)
    frames = np.pad(frames, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)), constant_values=255)
    b, t, h, w, c = frames.shape
    return frames.transpose(0, 2, 1, 3, 4).reshape(b * h, t * w, c)


def clip_grid(cells: torch.Tensor) -> list[Image.Image]:
    """Clips arranged in a grid, ``cells`` ``(R, C, T, 3, P, P)`` in [-1, 1] (R rows of C clips):
    per frame t, the picture of every cell's frame t (:func:`frame_grid` layout)."""
    return [Image.fromarray(frame_grid(cells[:, :, t])) for t in range(cells.shape[2])]


def save_png(path: str | os.PathLike, image: Image.Image | np.ndarray) -> None:
    """Writes ``image`` (or a uint8 ``(H, W, 3)`` array) as a PNG at ``path``, atomically."""
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    with atomic_output(Path(path)) as tmp:
        image.save(tmp, format="PNG")


def save_animation(path: str | os.PathLike, frames: list[Image.Image | np.ndarray],
                   duration_ms: int | list[int] = 200) -> None:
    """Writes ``frames`` (of one size) as a looping animation at ``path``, atomically, by its
    suffix: ``.png`` an animated PNG (lossless; browsers play it where they show a PNG), ``.gif``
    a GIF, each frame with its own 256-colour palette and no dithering (GIF's one global palette
    would speckle smooth backgrounds). ``duration_ms``: per frame, or one for all."""
    images = [Image.fromarray(f) if isinstance(f, np.ndarray) else f for f in frames]
    suffix = Path(path).suffix.lower()
    if suffix == ".gif":
        images = [im.convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
                  for im in images]
    elif suffix != ".png":
        raise ValueError(f"{path}: an animation is written as .png or .gif, not {suffix or 'no suffix'}")
    with atomic_output(Path(path)) as tmp:
        images[0].save(tmp, format=suffix[1:].upper(), save_all=True, append_images=images[1:],
                       duration=duration_ms, loop=0)
