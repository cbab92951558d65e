"""train: the multi-scale adversarial predictor on data/train.h5 -> models/generator.pt, with
checkpoints in models/checkpoint.pt and dvclive logs in dvclive/. Resumes from a checkpoint of
the same params, data and code (the stage's code deps in dvc.yaml); moves any other to
models/stale/. Distributed: ``torchrun --nproc_per_node N -m pipeline.train``."""
import argparse
from pyext.commands import run
from pyext.config import load_params
from pyext.files import Layout
from pyext.training import TrainingError, rate, train

LAYOUT = Layout()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--until-step", type=int, default=None, metavar="N",
                        help="stop after step N with a checkpoint (a time slice of the run); rerun to go on")
    args = parser.parse_args()
    if args.until_step is not None and args.until_step < 1:
        parser.error(f"--until-step must be >= 1, got {args.until_step}")
    params = load_params()
    summary = train(params, LAYOUT.data, LAYOUT.train, until_step=args.until_step)
    if summary["step"] < params.train.steps:
        print(f"train: stopped after step {summary['step']} of {params.train.steps}; rerun to continue")
    else:
        print(f"train: {LAYOUT.train.generator} after {summary['step']} steps holds the generator of step "
              f"{summary['val_step']} (train.keep: {summary['kept']})")
    print(f"train: {rate(summary)}")


if __name__ == "__main__":
    run("train", main, errors=(TrainingError,), lock=LAYOUT.locked("train"))
