"""A trained generator from noise's images (``beyondmse sample``): ``n`` images of latents drawn
from a seed, to a PNG grid a person looks at or an ``.npz`` a program reads.

The latents are drawn on the CPU with :func:`pyext.models.base.seeded_generator` of the seed
alone, so that a seed gives the same images on any device, and decoded in eval mode a batch at a
time (in eval mode an image is a function of its latent alone, so the batches change nothing).
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import torch

from .data.dataset import to_uint8
from .files import atomic_output
from .models import load_noise_generator, noise_families
from .models.base import seeded_generator
from .pictures import frame_grid, save_png
from .prediction import check_writable

SUFFIXES = (".png", ".npz")
ZOOM = 2  # each image enlarged twice in the PNG grid: a 32x32 sample is seen
BATCH_SIZE = 256  # images per generator call: the memory a call needs is bounded whatever n

__all__ = ["BATCH_SIZE", "SUFFIXES", "ZOOM", "sample_grid", "sample_to_file"]


def sample_grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """A picture of images ``(n, 3, S, S)`` in [-1, 1]: rows of ``columns`` (all ``n`` in one row
    where fewer), in order, each image enlarged :data:`ZOOM` times, white lines between them and
    white cells filling the last row (:func:`pyext.pictures.frame_grid`).

    Returns:
        uint8 ``(R (ZOOM S + 2), C (ZOOM S + 2), 3)``, with ``C = min(columns, n)`` and
        ``R = ceil(n / C)``.

    Example:
        >>> sample_grid(torch.zeros(5, 3, 8, 8), columns=4).shape
        (36, 72, 3)
    """
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an int >= 1, got {columns!r}")
    n = len(images)
    width = min(columns, n)
    rows = math.ceil(n / width)
    cells = images.new_ones((rows * width, *images.shape[1:]))  # +1 is white, as the lines between
    cells[:n] = images
    return frame_grid(cells.unflatten(0, (rows, width)), zoom=ZOOM)


def sample_to_file(model: Path, out: Path, n: int = 64, seed: int = 0, label: int | None = None,
                   truncation: float | None = None, columns: int = 8,
                   device: torch.device = torch.device("cpu")) -> str:
    """Writes ``n`` images of the generator from noise in the file ``model`` to ``out``,
    atomically, by its suffix: ``.png`` a grid of ``columns`` columns (:func:`sample_grid`);
    ``.npz`` the arrays ``images`` uint8 ``(n, S, S, 3)``, ``z`` float32 ``(n, latent_total)`` (the
    latents they decode), ``seed``, ``family``, ``latent`` (z's size), ``truncation`` (nan: none)
    and ``label`` (-1: none). The latents are :meth:`~pyext.models.NoiseGenerator.latents` drawn with
    ``seeded_generator([seed])`` (with ``truncation``, the truncation trick at that threshold); a
    class-conditioned generator's images are all of class ``label``. Bad arguments, a bad or
    unwritable ``out`` (``model`` itself included) and a missing or foreign model fail before any
    work. Returns the line that says what was written.

    Raises:
        ValueError, OSError: one line naming the file or the command's option at fault.
    """
    for option, value, least in (("-n", n, 1), ("--seed", seed, 0), ("--columns", columns, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{option} must be an int >= {least}, got {value!r}")
    if truncation is not None and not truncation > 0:
        raise ValueError(f"--truncation must be a number > 0 (the threshold of |z|), got {truncation!r}")
    suffix = Path(out).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{out}: the samples are written as .png (a grid) or .npz (arrays), "
                         f"not {Path(out).suffix or 'no suffix'}")
    check_writable(out, inputs=(model,))
    if not Path(model).is_file():
        raise FileNotFoundError(f"{model}: no such generator file (train one with model.family one of "
                                f"{', '.join(noise_families())}; or pass --model)")
    generator = load_noise_generator(model, map_location=device)
    labels = None if label is None else torch.full((n,), label, dtype=torch.long)
    try:
        generator.check_labels(labels, n)
    except ValueError as exc:
        raise ValueError(f"--label {label}: {exc}") from None
    try:  # n is good: what fails is the truncation
        z = generator.latents(n, seeded_generator([seed]), truncation)
    except ValueError as exc:
        raise ValueError(f"--truncation {truncation}: {exc}") from None
    images = generator.decode(z, labels, BATCH_SIZE).cpu()  # (n, 3, S, S)
    if suffix == ".png":
        save_png(out, sample_grid(images, columns))
    else:
        _save_arrays(out, images=to_uint8(images), z=z.numpy(), seed=np.int64(seed),
                     family=np.str_(generator.family), latent=np.int64(generator.latent),
                     truncation=np.float64(math.nan if truncation is None else truncation),
                     label=np.int64(-1 if label is None else label))
    drawn = "".join([f", truncated at {truncation}" if truncation is not None else "",
                     f", class {label}" if label is not None else ""])
    return f"{n} images of the {generator.family} generator {model} (seed {seed}{drawn}) written to {out}"


def _save_arrays(path: Path, **arrays: np.ndarray) -> None:
    """An ``.npz`` of ``arrays`` (what :func:`numpy.load` reads, without pickles), the same bytes
    for the same arrays: :func:`numpy.savez` stamps each member with the time of writing."""
    with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            member.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(member, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)


_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip member can say
