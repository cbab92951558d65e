"""predict: a trained generator on any video, truth and prediction side by side (not a DVC stage).

    python -m pipeline.predict VIDEO --out OUT.mp4               # every window of the video
    python -m pipeline.predict VIDEO --out OUT.gif --from-end    # from the last frames, past the end

From each window of the generator's m input frames, predicts --steps recursive rounds and writes
the window's inputs (on both sides, grey band between), then each true future frame (left) beside
its prediction (right, red band between). Windows start every --stride frames (default: the frames
predicted per window, so the predictions tile the video). With --from-end, one window: the last m
frames, predicted past the end of the video beside the last true frame dimmed. Frames are downscaled
to fit --max-size, then centre-cropped to what the generator's scales need. OUT: .mp4, .avi or .gif.
"""
import argparse
import sys
from pathlib import Path

import torch

from pipeline.stage import run
from pyext.config import load_params
from pyext.data.video import VideoError, read_video
from pyext.models import evaluated_generator, load_predictor
from pyext.prediction import check_label, check_output_path, check_writable, predict, write_side_by_side

MODEL = Path("models") / "generator.pt"
PARAMS = Path("params.yaml")
# What ends the command with one line naming the file at fault (exit status 2): an unreadable video,
# a missing or foreign model file, a bad output suffix, a video too short or small, an unwritable output.
ERRORS = (VideoError, ValueError, OSError)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path, help="the video to predict on (any format FFmpeg reads)")
    parser.add_argument("--out", type=Path, required=True, help="the side-by-side result: .mp4, .avi or .gif")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"the trained generator (default: the one the evaluate stage measures: "
                             f"models/finetune/generator.pt where {PARAMS}'s finetune.patch > 0, else {MODEL})")
    parser.add_argument("--steps", type=int, default=2, help="recursive prediction rounds per window (default: 2)")
    parser.add_argument("--stride", type=int, default=None,
                        help="frames between window starts (default: the frames predicted per window)")
    parser.add_argument("--from-end", action="store_true",
                        help="one window, the last input frames, predicting past the end of the video")
    parser.add_argument("--label", type=int, default=None, metavar="CLASS",
                        help="the video's class (0-based, as data/manifest.json lists them): what a class-conditioned "
                             "generator (model.condition: concat or acgan) predicts under; others ignore it")
    parser.add_argument("--fps", type=int, default=25, help="frame rate of the output (default: 25)")
    parser.add_argument("--max-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="downscale larger frames to fit, aspect kept (default: 240 320, as extract.frame_size)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per generator call (default: 8)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the generator runs (auto: CUDA when present)")
    args = parser.parse_args(argv)
    for name in ("steps", "stride", "fps", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if min(args.max_size) < 1:
        parser.error(f"--max-size must be two positive ints, got {' '.join(map(str, args.max_size))}")
    if args.from_end and args.stride is not None:
        parser.error("--stride has no effect with --from-end (one window)")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but no CUDA device is visible")
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")

    if args.model is None:  # outside a pipeline's folder: the train stage's file name
        args.model = evaluated_generator(load_params(PARAMS))[1] if PARAMS.is_file() else MODEL
    check_output_path(args.out)  # a bad suffix fails before any work
    check_writable(args.out, inputs=(args.video, args.model))  # and so does an output that cannot, or must not, be written
    if not args.model.is_file():
        raise FileNotFoundError(f"{args.model}: no such generator file (train one with `dvc repro`, "
                                f"or pass --model)")
    generator = load_predictor(args.model, map_location=device)
    check_label(generator, args.label)
    frames = read_video(args.video, max_size=tuple(args.max_size))
    try:
        out = predict(generator, frames, steps=args.steps, stride=args.stride, from_end=args.from_end,
                      label=args.label, batch_size=args.batch_size, progress=sys.stderr.isatty())
    except ValueError as exc:  # too short, or frames too small: the video is at fault
        raise ValueError(f"{args.video}: {exc}") from None
    write_side_by_side(out, args.out, fps=args.fps)
    windows = len(out) // (generator.input_frames + args.steps * generator.output_frames)
    print(f"predict: {windows} window{'s' * (windows != 1)} of {len(frames)} frames, {len(out)} frames "
          f"of {out.shape[2]}x{out.shape[1]} written to {args.out}")


if __name__ == "__main__":
    run("predict", main, errors=ERRORS)
