"""The shipped pretrained predictor (``pyext/models/pretrained/``): the default architecture trained
by the default pipeline on a large generated photo set, as ``configs/pretrained.yaml`` sets it over
``params.yaml``, in a workspace of its own (``experiments/logs/pretrained/``, the stages as ``dvc
repro`` runs them; the user's workspace is untouched). Writes the kept generator and its card
(``card.json``: the settings, the data, how long each stage took on which machine, the commit, and
what it scores on the photo set's test videos against copying the last frame and optical flow).

    python -m experiments.pretrain                        # as shipped (about 45 minutes on 2 cores)
    python -m experiments.pretrain --set train.steps=200 --out /tmp/pretrained   # a short try

`beyondmse predict` falls back to it where the workspace has no trained generator; ``train.init:
pretrained`` starts a run from it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

import torch
import yaml

from experiments.runner import git, machine
from experiments.workspace import STAGES, evaluated, parse_settings, run_stages, settings_preset, workspace
from pyext.files import PRETRAINED, atomic_output, write_json
from pyext.presets import read_preset

HELP = "train the shipped pretrained predictor (configs/pretrained.yaml) and write its model card"

PRESET = Path("configs/pretrained.yaml")
WORK = Path("experiments/logs/pretrained")
MEASURES = (("psnr", "moving"), ("psnr_full", "whole"), ("ssim", "ssim_moving"))


def card(folder: Path, preset: dict, extra: dict, seconds: dict[str, float], generator: Path) -> dict:
    """What the card says: the settings and data, the run's time and machine, and its scores."""
    metrics, figures = evaluated(folder, MEASURES)
    live = json.loads((folder / "dvclive" / "metrics.json").read_text())
    reports = {name: json.loads((folder / "data" / f"{name}_report.json").read_text()) for name in ("extract", "filter")}
    return {
        "what": "the default architecture (params.yaml's model section) trained by the default pipeline on the photo "
                "set as configs/pretrained.yaml makes it",
        "command": "python -m experiments.pretrain" + "".join(f" --set {k}={v}" for k, v in extra.items()),
        "preset": preset, "settings": extra,
        "params": yaml.safe_load((folder / "params.yaml").read_text()),  # all it trained with
        "commit": git("rev-parse", "HEAD").strip(), "machine": machine(), "torch": torch.__version__,
        "seconds": seconds, "minutes": round(sum(seconds.values()) / 60, 1),
        "sha256": hashlib.sha256(generator.read_bytes()).hexdigest(), "bytes": generator.stat().st_size,
        "photo_set_test": {"clips": metrics["clips"], **figures},
        "validation": live.get("kept"),
        "data": reports,
    }


def main(argv: list[str] | None = None, prog: str = "python -m experiments.pretrain") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"a params setting beyond {PRESET} (e.g. train.steps=200); repeatable")
    parser.add_argument("--out", type=Path, default=PRETRAINED.parent,
                        help=f"where generator.pt and card.json go (default {PRETRAINED.parent})")
    parser.add_argument("--work", type=Path, default=WORK,
                        help=f"the run's workspace (default {WORK}); another keeps that one's run, e.g. to compare")
    parser.add_argument("--card-only", action="store_true",
                        help=f"train nothing: write the card of the run in --work again (its stage times from the "
                             f"card in --out), e.g. after the card gained a field")
    args = parser.parse_args(argv)
    preset, extra = read_preset(PRESET), parse_settings(args.set)
    generator = args.work / "models" / "generator.pt"
    if args.card_only:
        if not generator.is_file() or not (args.out / "card.json").is_file():
            parser.error(f"--card-only: no finished run in {args.work} with a card in {args.out}")
        old = json.loads((args.out / "card.json").read_text())
        if old["sha256"] != hashlib.sha256(generator.read_bytes()).hexdigest():
            parser.error(f"--card-only: {generator} is not the generator {args.out / 'card.json'} describes")
        # What the run was made by and on stays the run's.
        made = {key: old[key] for key in ("command", "commit", "machine", "torch")}
        write_json(args.out / "card.json", {**card(args.work, old["preset"], old["settings"], old["seconds"], generator),
                                            **made})
        print(f"pretrain: wrote {args.out / 'card.json'} (of the run in {args.work})")
        return
    folder = workspace(args.work, preset, settings_preset(extra))
    print(f"pretrain: the stages in {folder} (logs there: <stage>.log)", flush=True)
    seconds = {}
    for stage in STAGES:  # one at a time, so that a long run says where it is
        began = time.strftime("%H:%M")
        seconds.update(run_stages(folder, (stage,), "pretrain"))
        print(f"pretrain: {stage} (from {began}) took {seconds[stage] / 60:.1f} min", flush=True)
    with atomic_output(args.out / "generator.pt") as tmp:
        shutil.copyfile(generator, tmp)
    write_json(args.out / "card.json", card(folder, preset, extra, seconds, generator))
    print(f"pretrain: wrote {args.out / 'generator.pt'} and {args.out / 'card.json'}")


if __name__ == "__main__":
    main()
