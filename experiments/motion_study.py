"""The generated photo set's motion against real footage's: for every video of each set, the
motion scores of random training patches (what ``filter.min_motion`` thresholds: the RMS
frame difference of a clip, :func:`pyext.data.extract.motion_score`) and the optical-flow
magnitude between each clip's last input frame and its target (what the evaluation's moving
regions threshold at ``evaluate.flow_threshold``), summarised as percentiles per set and per
footage source. Where the photo set's distributions sit apart from the footage's, its rendering
is what to change (with a version param, so that the committed figures stay reproducible).

    python -m experiments.motion_study          # the photo sets of params.yaml and configs/pretrained.yaml, the footage

Sets: ``photos`` (params.yaml's photo set, every video), ``photos-pretrained vN`` (the set the shipped
pretrained predictor trains on, configs/pretrained.yaml, at each ``photos.version`` N) and each footage source of
:mod:`experiments.footage`. The photo sets are rendered under ``data/motion-study/`` and the footage
laid out as the footage study lays it out (neither committed). Writes
``experiments/results/motion/motion.{md,json}``.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from experiments.footage_study import layout
from experiments.runner import RESULTS, git, machine
from pyext.config import load_params
from pyext.data.extract import motion_score
from pyext.data.photos import MOTIONS, generate_photos
from pyext.data.synthetic import VIDEO_DIR
from pyext.data.video import read_video
from pyext.evaluation.metrics import optical_flow
from pyext.files import write_json
from pyext.presets import preset_params

HELP = "the photo set's motion (patch motion scores, optical flow) against real footage's"

RENDERED = Path("data/motion-study")
PRETRAINED_PRESET = "configs/pretrained.yaml"
OUT = RESULTS / "motion"
SIZE = (240, 320)  # extract.frame_size's default: every set measured at the size the pipeline works at
CLIP = 5  # frames of a clip: 4 inputs and the target, as clip.input_frames + clip.output_frames
STRIDE = 4  # frames between measured clips' starts
CROPS = 4  # random patches a clip (extract.crops_per_clip)
PATCH = 32
FLOW_STEP = 4  # the flow field sampled every 4th pixel each way
# What the record says of its data (as the other studies' records do).
DATA = {"source": "photos, footage", "md5": None,
        "reason": "the photo sets are rendered from params.yaml and configs/pretrained.yaml; the footage is laid out "
                  "as the footage study lays it out (its record names every clip's SHA-256)"}
SCORE_PERCENTILES = (10, 25, 50, 75, 90)
FLOW_PERCENTILES = (50, 75, 90, 99)


def photo_set(name: str, params_file: str | None, version: int | None = None) -> Path:
    """The photo set of ``params.yaml`` (``params_file`` None) or of the preset ``params_file`` over
    it, at its ``photos.version`` or at ``version``, rendered once under :data:`RENDERED`."""
    params = load_params("params.yaml") if params_file is None else preset_params(params_file)
    arguments = params.photos.generator_arguments(params.clip)
    arguments["version"] = version or arguments["version"]
    root = RENDERED / f"{name}-v{arguments['version']}"
    if not (root / VIDEO_DIR).is_dir():
        generate_photos(root, **arguments, size=SIZE)
    return root


def measure(videos: list[Path], seed: int = 0) -> dict[str, np.ndarray]:
    """The motion scores of :data:`CROPS` random patches per clip and the flow magnitudes (sampled)
    of each clip's target, over ``videos``."""
    rng = np.random.default_rng(seed)
    scores, magnitudes = [], []
    for video in tqdm(videos, desc="motion", leave=False):
        frames = read_video(video, max_size=SIZE)
        _, h, w, _ = frames.shape
        for start in range(0, len(frames) - CLIP + 1, STRIDE):
            clip = frames[start:start + CLIP]
            ys, xs = rng.integers(0, h - PATCH + 1, CROPS), rng.integers(0, w - PATCH + 1, CROPS)
            scores.append(motion_score(np.stack([clip[:, y:y + PATCH, x:x + PATCH] for y, x in zip(ys, xs)])))
            flow = optical_flow(clip[-2], clip[-1])[::FLOW_STEP, ::FLOW_STEP]
            magnitudes.append(np.hypot(flow[..., 0], flow[..., 1]).ravel())
    return {"scores": np.concatenate(scores), "flow": np.concatenate(magnitudes)}


def summary(measured: dict[str, np.ndarray], videos: int, min_motion: float, flow_threshold: float) -> dict:
    """Percentiles of both distributions, the share of patches the filter keeps and of pixels the
    evaluation counts as moving, and the mean flow over those."""
    scores, flow = measured["scores"], measured["flow"]
    moving = flow > flow_threshold
    return {"videos": videos, "patches": len(scores),
            "score_percentiles": {str(q): round(float(np.percentile(scores, q)), 2) for q in SCORE_PERCENTILES},
            "kept_share": round(float((scores >= min_motion).mean()), 3),
            "flow_percentiles": {str(q): round(float(np.percentile(flow, q)), 2) for q in FLOW_PERCENTILES},
            "moving_share": round(float(moving.mean()), 3),
            "moving_flow_mean": round(float(flow[moving].mean()), 2) if moving.any() else None}


def table(sets: dict[str, dict], min_motion: float, flow_threshold: float) -> str:
    """One row a set: patch motion-score percentiles and kept share, flow percentiles, moving share."""
    head = (["set", "videos", *(f"score p{q}" for q in SCORE_PERCENTILES), f"kept (>= {min_motion:g})",
             *(f"flow p{q} (px)" for q in FLOW_PERCENTILES), f"moving (> {flow_threshold:g} px)", "moving flow mean"])
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, s in sets.items():
        cells = [name, s["videos"], *s["score_percentiles"].values(), f"{s['kept_share']:.0%}",
                 *s["flow_percentiles"].values(), f"{s['moving_share']:.0%}", s["moving_flow_mean"]]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None, prog: str = "python -m experiments.motion_study") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="where the footage's packages are kept")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the results go (default {OUT})")
    args = parser.parse_args(argv)
    params = load_params("params.yaml")
    min_motion, flow_threshold = params.filter.min_motion, params.evaluate.flow_threshold
    began = time.perf_counter()
    # The pretrained predictor's set at every version: what a new version changes, on the same videos' draws.
    roots = {"photos": photo_set("photos", None),
             **{f"photos-pretrained v{v}": photo_set("pretrained", PRETRAINED_PRESET, v) for v in MOTIONS}}
    laid = layout("city", "", args.cache)  # every source; which is the test split does not matter here
    videos = {name: sorted((root / VIDEO_DIR).rglob("*.avi")) for name, root in roots.items()}
    for source in json.loads((laid / "footage.json").read_text())["sources"]:  # each source is a class folder
        videos[source["name"]] = sorted((laid / VIDEO_DIR / source["class"]).glob("*.avi"))
    measured = {name: measure(paths) for name, paths in videos.items()}
    every = [n for n in measured if not n.startswith("photos")]
    measured["footage (all)"] = {k: np.concatenate([measured[n][k] for n in every]) for k in ("scores", "flow")}
    counts = {**{n: len(p) for n, p in videos.items()}, "footage (all)": sum(len(videos[n]) for n in every)}
    sets = {name: summary(m, counts[name], min_motion, flow_threshold) for name, m in measured.items()}
    record = {"machine": machine(), "commit": git("rev-parse", "HEAD").strip(), "data": DATA,
              "minutes": round((time.perf_counter() - began) / 60, 1), "size": list(SIZE), "clip": CLIP,
              "stride": STRIDE, "crops": CROPS, "patch": PATCH, "flow_step": FLOW_STEP, "min_motion": min_motion,
              "flow_threshold": flow_threshold, "sets": sets}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "motion.json", record)
    text = (f"Motion of the photo sets against real footage's (commit {record['commit'][:10]}, {record['machine']}, "
            f"{record['minutes']} min): the motion scores of {CROPS} random {PATCH}x{PATCH} patches of every "
            f"{STRIDE}th {CLIP}-frame clip (the filter's, 0..255) and the optical-flow magnitude between each clip's "
            f"last input frame and its target (every {FLOW_STEP}th pixel), at {SIZE[1]}x{SIZE[0]}.\n\n"
            + table(sets, min_motion, flow_threshold))
    (args.out / "motion.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
