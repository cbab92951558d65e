"""Several runs' predictions of the same test clips, side by side, in one picture.

Columns: the true next frame, the last input frame (the baseline), then each run's first
predicted frame; one row per test clip. Every run must have evaluated the same ``data/test.h5``
(the same clips, in the same order), e.g. two copies of the repository run with different params:

    python -m experiments.compare --test data/test.h5 --clips 0 6 12 \\
        --out experiments/results/figures/photos-small.jpg \\
        --run "earlier defaults=../old/eval/predictions.h5" --run "new defaults=eval/predictions.h5"
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

from pyext.data.store import ClipArray
from pyext.evaluation.predictor import read_predictions
from pyext.files import atomic_output

TITLE_HEIGHT = 18
GAP = 4


def run_argument(text: str) -> tuple[str, Path]:
    """``"title=path/to/predictions.h5"`` as ``(title, path)``."""
    title, sep, path = text.partition("=")
    if not sep or not title or not path:
        raise argparse.ArgumentTypeError(f"expected TITLE=PREDICTIONS.h5, got {text!r}")
    return title, Path(path)


def comparison(test: Path, runs: list[tuple[str, Path]], clips: list[int]) -> Image.Image:
    """The picture: ``len(clips)`` rows of ``2 + len(runs)`` frames under a title row; each row at
    its clip's (cropped) frame size, the columns as wide as the widest."""
    with h5py.File(test, "r") as f:
        stored = ClipArray(f)
        for c in clips:
            if not 0 <= c < len(stored):
                sys.exit(f"--clips: {c} is not a clip of {test} ({len(stored)} clips)")
        framing = None  # (input frames, crop origins): the same for every run
        predicted: list[list[np.ndarray]] = []
        for title, path in runs:
            with h5py.File(path, "r") as p:
                predictions, index, origins = read_predictions(p)
                this = (int(p.attrs["input_frames"]), origins.tolist())
                if framing not in (None, this):
                    sys.exit(f"{path}: input frames and crop origins differ from the other runs'")
                framing = this
                if len(index) != len(stored) or not np.array_equal(index, np.arange(len(stored))):
                    sys.exit(f"{path}: not an evaluation of every clip of {test}")
                predicted.append([predictions.read(c, 0) for c in clips])
        input_frames, origins = framing
        rows = []
        for r, c in enumerate(clips):
            (y0, x0), (h, w) = origins[c], predicted[0][r].shape[:2]
            clip = stored.read(c, slice(input_frames - 1, input_frames + 1), slice(y0, y0 + h), slice(x0, x0 + w))
            rows.append([clip[1], clip[0]] + [run[r] for run in predicted])
    titles = ["truth", "last frame"] + [title for title, _ in runs]
    w = max(row[0].shape[1] for row in rows)
    heights = [row[0].shape[0] for row in rows]
    canvas = Image.new("RGB", (len(titles) * (w + GAP) - GAP, TITLE_HEIGHT + sum(heights) + GAP * (len(rows) - 1)),
                       "white")
    draw = ImageDraw.Draw(canvas)
    for i, title in enumerate(titles):
        draw.text((i * (w + GAP) + 4, 3), title, fill="black")
    y = TITLE_HEIGHT
    for row, height in zip(rows, heights):
        for i, frame in enumerate(row):
            canvas.paste(Image.fromarray(frame), (i * (w + GAP), y))
        y += height + GAP
    return canvas


def main(argv: list[str] | None = None, prog: str = "python -m experiments.compare") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--run", dest="runs", action="append", type=run_argument, required=True,
                        metavar="TITLE=PREDICTIONS.h5", help="a run's eval/predictions.h5, under its column title")
    parser.add_argument("--test", type=Path, default=Path("data/test.h5"), help="the test clips every run evaluated")
    parser.add_argument("--clips", type=int, nargs="+", default=[0], help="test clip indices, one row each")
    parser.add_argument("--out", type=Path, required=True, help="the picture (.jpg or .png)")
    args = parser.parse_args(argv)
    for path in [args.test] + [p for _, p in args.runs]:
        if not path.is_file():
            parser.error(f"{path}: no such file")
    picture = comparison(args.test, args.runs, args.clips)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.out) as tmp:
        picture.save(tmp, format="JPEG" if args.out.suffix.lower() in (".jpg", ".jpeg") else "PNG", quality=90)
    print(f"wrote {args.out} ({picture.width}x{picture.height})")


if __name__ == "__main__":
    main()
