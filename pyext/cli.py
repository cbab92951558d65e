"""The ``beyondmse`` command: a trained model on your files, presets, and the long experiments.

    beyondmse predict VIDEO --out OUT.mp4           # a trained generator on any video
    beyondmse interpolate A.avi B.avi --out grid.gif  # a trained GAIA model's codes mixed
    beyondmse sample --out grid.png [-n 64 --seed 0]  # a trained generator from noise's images (or .npz)
    beyondmse translate MODEL IN OUT [--direction ba] # a trained translator on a video or a folder of them
    beyondmse gam RUN_A RUN_B --out gam.json        # two trained GANs battle, discriminators swapped
    beyondmse preset configs/paper.yaml [--write]   # a preset as `dvc exp run` overrides
    beyondmse zoo | table2 | claim | generation ... # the experiments (experiments/), where installed
    beyondmse footage data/footage                  # real camera clips from public packages, like UCF101
    beyondmse footage-study                         # the default pipeline on them, one source left out
    beyondmse pretrain                              # the shipped pretrained predictor, retrained
    beyondmse motion-study                          # the photo set's motion against the footage's

``beyondmse COMMAND --help`` says more. Each command parses its arguments and makes one call; bad
input ends it with one line naming the file, key or argument at fault (exit status 2). The
pipeline's stages are not commands here: ``dvc repro`` runs them (``python -m pipeline.<stage>``).

Commands beyond this module's come from the entry points of the group ``beyondmse.commands``
(the project's ``setup.py`` registers its experiment runners there): each names a function
``main(argv: list[str] | None, prog: str)`` whose module's ``HELP`` is its line in ``--help``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

from .commands import run
from .files import PRETRAINED, Layout

if TYPE_CHECKING:
    import torch

__all__ = ["main", "alias"]

PLUGINS = "beyondmse.commands"
PARAMS = Path("params.yaml")
LAYOUT = Layout()


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, its arguments, and the call it makes with them (which
    returns the line to print) and the errors that end it with one line (given when it runs:
    their modules are imported then, not for ``--help``)."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    call: Callable[[argparse.Namespace, argparse.ArgumentParser], str | None]
    errors: Callable[[], tuple[type[Exception], ...]] = tuple


def _positive(parser: argparse.ArgumentParser, args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")


def _device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the generator runs (auto: CUDA when present)")


def _device(args: argparse.Namespace, parser: argparse.ArgumentParser) -> torch.device:
    """The torch device ``--device`` names (auto: CUDA when present)."""
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but no CUDA device is visible")
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


# ------------------------------------------------------------------------------------------ predict


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="the video to predict on (any format FFmpeg reads)")
    parser.add_argument("--out", type=Path, required=True, help="the side-by-side result: .mp4, .avi or .gif")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"the trained generator (default: the one the evaluate stage measures: "
                             f"{LAYOUT.finetune.generator} where {PARAMS}'s finetune.patch > 0, else "
                             f"{LAYOUT.train.generator}; where that does not exist, the shipped pretrained predictor)")
    parser.add_argument("--steps", type=int, default=2, help="recursive prediction rounds per window (default: 2)")
    parser.add_argument("--stride", type=int, default=None,
                        help="frames between window starts (default: the frames predicted per window)")
    parser.add_argument("--from-end", action="store_true",
                        help="one window, the last input frames, predicting past the end of the video")
    parser.add_argument("--label", type=int, default=None, metavar="CLASS",
                        help="the video's class (0-based, as the manifest lists them): what a class-conditioned "
                             "generator (model.condition: concat or acgan) predicts under; others ignore it")
    parser.add_argument("--fps", type=int, default=None,
                        help="frame rate of the output (default: the video's, rounded to whole frames per second; "
                             "25 where it declares none)")
    parser.add_argument("--max-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="downscale larger frames to fit, aspect kept (default: 240 320, as extract.frame_size)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per generator call (default: 8)")
    _device_argument(parser)


def _predict(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .config import load_params
    from .models import evaluated_generator
    from .prediction import predict_video

    _positive(parser, args, "steps", "stride", "fps", "batch_size")
    if min(args.max_size) < 1:
        parser.error(f"--max-size must be two positive ints, got {' '.join(map(str, args.max_size))}")
    if args.from_end and args.stride is not None:
        parser.error("--stride has no effect with --from-end (one window)")
    device = _device(args, parser)
    which = ""
    if args.model is None:  # the workspace's trained generator (outside a pipeline's folder: the train stage's) ...
        trained = evaluated_generator(load_params(PARAMS), LAYOUT)[1] if PARAMS.is_file() else LAYOUT.train.generator
        if trained.is_file():
            args.model, which = trained, f" by this workspace's trained generator {trained}"
        else:  # ... else the shipped one
            args.model = PRETRAINED
            which = f" by the shipped pretrained predictor {PRETRAINED} (no trained generator at {trained})"
    return predict_video(args.video, args.out, args.model, steps=args.steps, stride=args.stride,
                         from_end=args.from_end, label=args.label, fps=args.fps, max_size=tuple(args.max_size),
                         batch_size=args.batch_size, device=device,
                         progress=sys.stderr.isatty()) + which


# -------------------------------------------------------------------------------------- interpolate


def _interpolate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", type=Path, help="the first video")
    parser.add_argument("b", type=Path, help="the second video")
    parser.add_argument("--out", type=Path, required=True, help="the grid: .gif (the frames play) or .png")
    parser.add_argument("--model", type=Path, default=LAYOUT.train.generator,
                        help=f"the trained GAIA model (default: {LAYOUT.train.generator})")
    parser.add_argument("--steps", type=int, default=8, help="mixtures from A's code to B's, both ends included "
                                                             "(default: 8; at most 64)")
    parser.add_argument("--max-size", type=int, nargs=2, default=(240, 320), metavar=("H", "W"),
                        help="downscale larger frames to fit, aspect kept (default: 240 320, as extract.frame_size)")


def _interpolate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .interpolation import MAX_STEPS, interpolate_videos

    if not 2 <= args.steps <= MAX_STEPS:  # one row of pictures: 100000 grew without bound
        parser.error(f"--steps must be in 2..{MAX_STEPS}, got {args.steps}")
    return interpolate_videos(args.a, args.b, args.out, args.model, args.steps, tuple(args.max_size))


# ------------------------------------------------------------------------------------------- sample


def _sample_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True,
                        help="the samples: .png (a grid) or .npz (images uint8 (N, S, S, 3), their latents z, "
                             "seed, family, latent, truncation, label)")
    # A generator from noise has no fine-tuning stage: the train stage's is the one trained.
    parser.add_argument("--model", type=Path, default=LAYOUT.train.generator,
                        help=f"the trained generator from noise (a model.family such as dcgan; default: the train "
                             f"stage's, {LAYOUT.train.generator})")
    parser.add_argument("-n", type=int, default=64, help="images to sample (default: 64)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the latents' seed (default: 0): the same images on any device")
    parser.add_argument("--label", type=int, default=None, metavar="CLASS",
                        help="the images' class (0-based), for a class-conditioned generator (none is yet)")
    parser.add_argument("--truncation", type=float, default=None, metavar="T",
                        help="the truncation trick (BigGAN): latent values beyond +-T redrawn until inside; "
                             "smaller T, less varied and more typical images (default: none)")
    parser.add_argument("--columns", type=int, default=8, help="images per row of the .png grid (default: 8)")
    _device_argument(parser)


def _sample(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .sampling import sample_to_file

    return sample_to_file(args.model, args.out, n=args.n, seed=args.seed, label=args.label,
                          truncation=args.truncation, columns=args.columns, device=_device(args, parser))


# ---------------------------------------------------------------------------------------- translate


def _translate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help=f"the trained translator (model.family cyclegan, discogan or dualgan; the train stage "
                             f"writes it to {LAYOUT.train.generator})")
    parser.add_argument("input", type=Path, metavar="INPUT", help="a video file, or a folder of videos (class "
                                                                  "sub-folders as a folder data source has them)")
    parser.add_argument("output", type=Path, metavar="OUTPUT",
                        help="for a video: the translated video, .mp4, .avi or .gif; for a folder: a new folder of "
                             "the same layout, which reads as a folder data source. Frames are centre-cropped to "
                             "multiples of the model's size multiple")
    parser.add_argument("--direction", choices=("ab", "ba"), default="ab",
                        help="ab: domain A (data.source) to B (data.translate.source), the mapping G; ba: B to A, "
                             "F (default: ab)")
    parser.add_argument("--batch", type=int, default=8, help="frames per call of the mapping (default: 8)")
    parser.add_argument("--fps", type=int, default=None,
                        help="frame rate of the output videos (default: each input video's, rounded to whole frames "
                             "per second; 25 where it declares none)")
    _device_argument(parser)


def _translate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .translating import translate_path

    _positive(parser, args, "batch", "fps")
    return translate_path(args.model, args.input, args.output, direction=args.direction, batch_size=args.batch,
                          fps=args.fps, device=_device(args, parser), progress=sys.stderr.isatty())


# ---------------------------------------------------------------------------------------------- gam


def _gam_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description += (" (Im et al. 2016, section 5): r_test = err(D_A; test) / err(D_B; test), r_samples = "
                           "err(D_A; G_B's samples) / err(D_B; G_A's samples); A wins where r_samples < 1, B where "
                           "> 1; no verdict unless r_test's bootstrap interval lies inside [0.9, 1.1]")
    for name in ("run_a", "run_b"):
        parser.add_argument(name, type=Path, metavar=name.upper(),
                            help="a folder where a generator from noise was trained (dcgan, vaegan, biggan, gran, icgan): its params.yaml, "
                                 f"{LAYOUT.train.generator} and {LAYOUT.train.checkpoint} (the same folder twice: a tie)")
    parser.add_argument("--out", type=Path, required=True, help="the result, JSON")
    parser.add_argument("--test", type=Path, default=LAYOUT.data.test,
                        help=f"the test clips whose moving patches are the real images (default: {LAYOUT.data.test})")
    parser.add_argument("--params", type=Path, default=PARAMS,
                        help=f"the params the test patches are cut with (default: {PARAMS})")
    parser.add_argument("--samples", type=int, default=None, help="images drawn from each generator "
                                                                  "(default: as many as the real images)")
    parser.add_argument("--seed", type=int, default=0, help="the latents' and the resamples' seed (default: 0)")
    # The defaults are pyext.evaluation.gam's CONFIDENCE and RESAMPLES (not imported for --help: torch).
    parser.add_argument("--confidence", type=float, default=0.95, help="the bootstrap intervals' level (default: 0.95)")
    parser.add_argument("--resamples", type=int, default=1000, help="the bootstrap's resamples (default: 1000)")
    _device_argument(parser)


def _gam(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .evaluation.gam import compare_runs, table

    result = compare_runs(args.run_a, args.run_b, args.out, args.test, args.params, samples=args.samples,
                          seed=args.seed, confidence=args.confidence, resamples=args.resamples,
                          device=_device(args, parser))
    print(table(result))
    return f"{result['verdict_line']}; written to {args.out}"


# ------------------------------------------------------------------------------------------- preset


def _preset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("preset", help="a preset file, e.g. configs/paper.yaml")
    parser.add_argument("--params", default=str(PARAMS), help=f"the params file (default: {PARAMS})")
    parser.add_argument("--write", action="store_true", help="set the preset's values in the params file, "
                                                             "keeping its comments, instead of printing overrides")


def _preset(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    from .presets import overrides, read_preset, write_preset

    preset = read_preset(args.preset, args.params)
    if args.write:
        write_preset(preset, args.params)
        return f"{args.preset} written into {args.params}"
    print(" ".join(f"-S {o}" for o in overrides(preset, args.preset)))
    return None


def _file_errors() -> tuple[type[Exception], ...]:
    """What a command's video and model files can be: unreadable videos, missing or foreign model
    files, a bad suffix, an output that cannot be written; each error names its file."""
    from .data.video import VideoError
    return (VideoError, ValueError, OSError)


COMMANDS: dict[str, Command] = {
    "predict": Command("a trained generator on any video, truth and prediction side by side",
                       _predict_arguments, _predict, _file_errors),
    "interpolate": Command("a trained GAIA model's codes mixed between two videos' patches",
                           _interpolate_arguments, _interpolate, _file_errors),
    "sample": Command("a trained generator from noise's images, to a PNG grid or an .npz",
                      _sample_arguments, _sample, _file_errors),
    "translate": Command("a trained translator on a video or a folder of videos, frame by frame (A to B, or back)",
                         _translate_arguments, _translate, _file_errors),
    "gam": Command("two trained GANs battle, discriminators swapped: the Generative Adversarial Metric",
                   _gam_arguments, _gam, _file_errors),
    "preset": Command("a preset file as `dvc exp run` overrides, or written into params.yaml",
                      _preset_arguments, _preset),
}


def _plugins() -> dict[str, Callable]:
    """The installed commands of the group :data:`PLUGINS`, by name."""
    return {ep.name: ep for ep in entry_points(group=PLUGINS)}


def _parser(plugins: dict) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The command's parser and each of this module's subcommands' own."""
    parser = argparse.ArgumentParser(prog="beyondmse", description="BeyondMSE: a trained model on your files, "
                                     "presets, and the long experiments.",
                                     epilog="`beyondmse COMMAND --help` for a command's arguments.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    subs = {}
    for name, command in COMMANDS.items():
        subs[name] = commands.add_parser(name, help=command.help, description=command.help)
        command.arguments(subs[name])
    for name, ep in plugins.items():
        module = ep.value.split(":")[0]
        try:
            help_line = getattr(importlib.import_module(module), "HELP", "")
        except ImportError as exc:  # an entry point of a removed or broken install: said, not fatal
            help_line = f"(cannot be loaded: {exc})"
        commands.add_parser(name, help=help_line, add_help=False)
    return parser, subs


def main(argv: Sequence[str] | None = None) -> None:
    """Runs ``beyondmse`` with ``argv`` (default: the command line)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    plugins = _plugins()
    if argv and argv[0] in plugins:  # its own parser reads the rest, --help included
        plugins[argv[0]].load()(argv[1:], prog=f"beyondmse {argv[0]}")
        return
    parser, subs = _parser(plugins)
    args = parser.parse_args(argv)
    command = COMMANDS[args.command]

    def call() -> None:
        line = command.call(args, subs[args.command])
        if line is not None:
            print(f"{args.command}: {line}")

    run(args.command, call, command.errors())


def alias(name: str) -> None:
    """``python -m pipeline.<name>``, kept as an alias of ``beyondmse <name>``."""
    main([name, *sys.argv[1:]])


if __name__ == "__main__":
    main()
