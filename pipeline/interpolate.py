"""interpolate: a trained GAIA model's codes mixed between two videos' patches (not a DVC stage).

    python -m pipeline.interpolate A.avi B.avi --out grid.gif      # the frames play
    python -m pipeline.interpolate A.avi B.avi --out grid.png      # the last frame of each

From each video, the centre patch (the model's clip.patch square) of its first frames (as many as
the model's samples hold) after downscaling to fit --max-size; both are encoded, their codes mixed
in --steps steps from A's to B's, and each mixture decoded: one row, A's patch, the decoded
mixtures, B's patch, enlarged 4 times. OUT: .gif (the clips' frames play) or .png.
"""
import argparse
from pathlib import Path

import torch

from pipeline.stage import run
from pyext.data.dataset import to_model
from pyext.data.video import VideoError, read_video
from pyext.latent import interpolation_steps
from pyext.models import load_generator
from pyext.models.gaia import GAIA
from pyext.pictures import clip_grid, save_animation, save_png
from pyext.prediction import check_writable

MODEL = Path("models") / "generator.pt"
ERRORS = (VideoError, ValueError, OSError)
_SUFFIXES = (".gif", ".png")


def patch_of(path: Path, model: GAIA, max_size: tuple[int, int]) -> torch.Tensor:
    """The centre ``patch``-square of the first ``model.frames`` frames of a video, ``(1, T, 3, P, P)``."""
    frames = read_video(path, max_size=max_size)
    if len(frames) < model.frames:
        raise ValueError(f"{path}: {len(frames)} frames, the model's samples hold {model.frames}")
    h, w = frames.shape[1:3]
    if min(h, w) < model.patch:
        raise ValueError(f"{path}: frames of {w}x{h} are smaller than the model's {model.patch}x{model.patch} patch")
    top, left = (h - model.patch) // 2, (w - model.patch) // 2
    return to_model(frames[None, :model.frames, top:top + model.patch, left:left + model.patch].copy())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.interpolate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", type=Path, help="the first video")
    parser.add_argument("b", type=Path, help="the second video")
    parser.add_argument("--out", type=Path, required=True, help="the grid: .gif or .png")
    parser.add_argument("--model", type=Path, default=MODEL, help=f"the trained GAIA model (default: {MODEL})")
    parser.add_argument("--steps", type=int, default=8, help="mixtures from A's code to B's, both ends included "
                                                             "(default: 8)")
    parser.add_argument("--max-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="downscale larger frames to fit, aspect kept (default: 240 320, as extract.frame_size)")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error(f"--steps must be >= 2, got {args.steps}")
    if args.out.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"{args.out}: the grid is written as .gif or .png, not {args.out.suffix or 'no suffix'}")
    check_writable(args.out, inputs=(args.a, args.b, args.model))
    if not args.model.is_file():
        raise FileNotFoundError(f"{args.model}: no such model file (train one with model.family: gaia, or pass --model)")
    model = load_generator(args.model)
    if not isinstance(model, GAIA):
        raise ValueError(f"{args.model}: a {model.family} model, which has no codes to interpolate "
                         f"(train one with model.family: gaia)")
    a, b = (patch_of(p, model, tuple(args.max_size)) for p in (args.a, args.b))
    with torch.no_grad():
        za, zb = model.encode(a), model.encode(b)
        mixed = [model.mix(za, zb, float(t)) for t in interpolation_steps(args.steps)]
    frames = clip_grid(torch.stack([a, *mixed, b], dim=1))  # one row: A, the mixtures, B
    if args.out.suffix.lower() == ".gif":
        save_animation(args.out, frames)
    else:
        save_png(args.out, frames[-1])
    print(f"interpolate: {args.steps} mixtures of {model.frames}-frame {model.patch}x{model.patch} patches "
          f"written to {args.out}")


if __name__ == "__main__":
    run("interpolate", main, errors=ERRORS)
