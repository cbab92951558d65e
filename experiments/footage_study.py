"""The default pipeline judged on real camera footage, one source left out: for every source of
:mod:`experiments.footage` but the one kept aside, the pipeline as ``params.yaml`` ships it (its
``data`` section pointed at the footage) trains on the other sources' segments and is tested on that
source's, once per seed; then a table of the test's figures beside the end-of-training verdict's
(does validation on held-out videos tell the sign of the test?), and one picture a source.

    python -m experiments.footage_study                       # every source but city, seeds 0 and 1
    python -m experiments.footage_study --only box,cup --seeds 0 --set train.steps=100
    python -m experiments.footage_study --aside-run           # the source kept aside, measured once
    python -m experiments.footage_study --set train.init=pretrained --out experiments/results/footage-init
    python -m experiments.footage_study --pretrained          # the shipped predictor alone, every source

Each run is the stages in turn (prepare to evaluate, as ``dvc repro`` runs them) in a workspace of
its own under ``experiments/logs/footage/<run>/`` (:mod:`experiments.workspace`; the user's
workspace is untouched). The footage is laid out once per test source under
``data/footage-study/`` (not committed). Writes ``experiments/results/footage/footage.md``,
``footage.json`` (every figure, the settings, the commit, the machine and the footage's record) and
``<source>.jpg`` (the evaluation's picture of the source's first test clip, seed 0, halved);
``--aside-run`` writes ``aside.*``, ``--pretrained`` ``pretrained.*`` and ``<source>-pretrained.jpg``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path

import cv2

from experiments import footage
from experiments.runner import RESULTS, git, machine
from experiments.workspace import STAGES, evaluated, parse_settings, run_stages, settings_preset, workspace
from pyext.files import PRETRAINED

HELP = "the default pipeline on real footage, one source left out, against copying the last frame"

LAID_OUT = Path("data/footage-study")  # one layout a test source (git-ignored, as data/ is)
WORK = Path("experiments/logs/footage")  # each run's workspace and its stages' output
OUT = RESULTS / "footage"
ASIDE = "city"  # the source no run trains or tests on until --aside-run
MEASURES = (("psnr", "moving"), ("psnr_full", "whole"))
# What a record says of its data (as the other studies' records do): each run has its own split.
DATA = {"source": "ucf101", "md5": None,
        "reason": "each run lays out the real footage with another source as its test split: `footage` records "
                  "every source clip's SHA-256"}


def layout(test: str, aside: str, cache: Path | None) -> Path:
    """The footage laid out with ``test``'s segments as the test split and ``aside`` left out (once)."""
    root = LAID_OUT / f"test-{test}-aside-{aside or 'none'}"
    if not (root / "footage.json").is_file():
        footage.lay_out(root, test, aside, cache)
    return root


def footage_record(root: Path) -> list[dict]:
    """Each source clip of a layout: its name, package, clip SHA-256, frames and segments."""
    laid = json.loads((root / "footage.json").read_text())
    return [{"name": s["name"], "package": s["package"], "clip_sha256": s["clip_sha256"], "frames": s["frames"],
             "frame_size": s["frame_size"], "segments": len(s["segments"])} for s in laid["sources"]]


def run(test: str, seed: int, aside: str, extra: list[str], cache: Path | None) -> dict:
    """One run: ``test``'s segments tested, the others but ``aside`` trained on, ``train.seed``
    ``seed``; returns its figures (the evaluation's and the kept generator's validation)."""
    name = f"{test}-seed{seed}"
    root = layout(test, aside, cache)
    settings: dict[str, object] = {"data.source": "ucf101", "data.root": str(root.resolve()), "data.split": 1,
                                   "train.seed": seed, **parse_settings(extra)}
    folder = workspace(WORK / name, settings_preset(settings))
    run_stages(folder, STAGES, "footage_study")
    kept = json.loads((folder / "dvclive" / "metrics.json").read_text())["kept"]
    return {"run": name, "test": test, "seed": seed, "settings": {k: v for k, v in settings.items()
                                                                     if k != "data.root"},
            **tested(folder), "validation": kept}


def tested(folder: Path) -> dict:
    """The evaluation's figures in a workspace: its clips, and each method's PSNR on moving regions
    and whole frames at steps 1 and 2; where its first picture is."""
    metrics, test_figures = evaluated(folder, MEASURES)
    return {"clips": metrics["clips"], "clips_without_motion": metrics["clips_without_motion"],
            "test_figures": test_figures, "picture": str(folder / "eval" / "pictures")}


def run_pretrained(test: str, cache: Path | None, generator: Path = PRETRAINED) -> dict:
    """A pretrained predictor alone (the shipped one, :data:`pyext.files.PRETRAINED`, unless
    ``generator`` names another; never trained on footage) on ``test``'s test clips: the data
    stages, then the evaluation of that generator."""
    name = f"{test}-pretrained"
    root = layout(test, "", cache)
    folder = workspace(WORK / name, settings_preset({"data.source": "ucf101", "data.root": str(root.resolve()),
                                                     "data.split": 1}))
    run_stages(folder, ("prepare", "extract"), "footage_study")
    (folder / "models").mkdir()
    shutil.copyfile(generator, folder / "models" / "generator.pt")  # what the train stage would have written
    run_stages(folder, ("evaluate",), "footage_study")
    return {"run": name, "test": test, "generator_sha256": hashlib.sha256(generator.read_bytes()).hexdigest(),
            **tested(folder)}


def _gap(figures: dict, step: str, measure: str, method: str = "model") -> float | None:
    """``method``'s PSNR minus copying the last frame's (None where either is missing)."""
    value, base = figures[method][step][measure], figures["last_frame"][step][measure]
    return None if value is None or base is None else value - base


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _told(result: dict) -> list[float | None]:
    """The verdict's margins over copying the last frame, moving regions and whole frames (None
    where the validation could not take the measure: no clip moved)."""
    v = result["validation"]
    return [None if v["scores"].get(m) is None or v["last_frame"].get(m) is None
            else v["scores"][m] - v["last_frame"][m] for m in ("moving", "whole")]


def signs_agree(result: dict) -> bool:
    """Whether the verdict's margins have the test's signs at step 1, moving regions and whole frames."""
    tested = [_gap(result["test_figures"], "step1", m) for m in ("moving", "whole")]
    return all(a is not None and b is not None and (a >= 0) == (b >= 0) for a, b in zip(tested, _told(result)))


def table(results: list[dict]) -> str:
    """Per run: the test's margins over copying the last frame (moving regions and whole frames, steps
    1 and 2), optical flow's at step 1, and the verdict's margins on the held-out videos' full frames;
    whether the verdict's sign is the test's (:func:`signs_agree`). Runs that trained nothing (the
    pretrained predictor's) have no verdict columns."""
    verdict = all("validation" in r for r in results)
    names = ["run", "clips", "test moving 1", "test whole 1", "test moving 2", "test whole 2", "flow moving 1",
             "flow whole 1", *(["verdict moving", "verdict whole", "signs agree"] if verdict else [])]
    lines = ["| " + " | ".join(names) + " |\n", "|---" * len(names) + "|\n"]
    for r in results:
        f = r["test_figures"]
        tested = [_gap(f, f"step{s}", m) for s in (1, 2) for m in ("moving", "whole")]
        flow = [_gap(f, "step1", m, method="optical_flow") for m in ("moving", "whole")]
        cells = [_signed(c) for c in [*tested, *flow]]
        if verdict:
            cells += [*map(_signed, _told(r)), "yes" if signs_agree(r) else "no"]
        lines.append(f"| {r['run']} | {r['clips']} | " + " | ".join(cells) + " |\n")
    return "".join(lines)


def document(record: dict) -> str:
    """The markdown: what ran, where, then :func:`table` (dB over copying the last frame)."""
    if record.get("pretrained"):
        return (f"The shipped pretrained predictor alone (sha256 {record['results'][0]['generator_sha256'][:12]}, "
                f"trained on generated photo-set videos only) on each source's test clips "
                f"({len(record['results'])} sources). Commit {record['commit'][:10]}, {record['machine']}, "
                f"{record['minutes']:.1f} min. Each figure is its PSNR minus copying the last frame's, in dB "
                f"(moving regions as the evaluation masks them, whole frames; steps 1 and 2), optical flow's "
                f"beside it.\n\n" + table(record["results"]))
    aside = "the source kept aside, tested once, trained on all the others" if record["aside_run"] else \
        f"aside: {record['aside']}"
    return (f"Real footage, one source left out ({len(record['results'])} runs; {aside}; "
            f"settings beyond params.yaml: {', '.join(record['set']) or 'none'}). Commit {record['commit'][:10]}, "
            f"{record['machine']}, {record['minutes']:.1f} min. Each figure is the model's PSNR minus copying the "
            f"last frame's, in dB: the test's on the left-out source's test clips (moving regions as the "
            f"evaluation masks them, whole frames; steps 1 and 2), optical flow's beside it, and the verdict's on "
            f"the full-frame clips of the training sources' held-out videos (the generator train.keep kept).\n\n"
            + table(record["results"]))


def picture(folder: Path, out: Path) -> None:
    """The evaluation's picture of the first test clip in ``folder``, halved, as JPEG."""
    image = cv2.imread(str(sorted(folder.glob("clip*[0-9].png"))[0]))
    cv2.imwrite(str(out), cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
                [cv2.IMWRITE_JPEG_QUALITY, 85])


def main(argv: list[str] | None = None, prog: str = "python -m experiments.footage_study") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    names = [s.name for s in footage.SOURCES]
    parser.add_argument("--only", help=f"comma-separated test sources (default: all but {ASIDE}; of {', '.join(names)})")
    parser.add_argument("--seeds", default="0,1", help="comma-separated train.seed values (default 0,1)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a params setting for every run (e.g. train.steps=100); repeatable")
    parser.add_argument("--aside-run", action="store_true",
                        help=f"test on {ASIDE}, the source kept aside (trained on all the others), and nothing else")
    parser.add_argument("--pretrained", action="store_true",
                        help="the shipped pretrained predictor alone on each source's test clips, no training "
                             f"({ASIDE} included: the predictor trained on no footage); writes pretrained.{{md,json}}")
    parser.add_argument("--generator", type=Path, default=PRETRAINED,
                        help=f"with --pretrained: the pretrained generator (default the shipped {PRETRAINED}), e.g. "
                             "a candidate written by `beyondmse pretrain --out`")
    parser.add_argument("--cache", type=Path, default=None, help="where the footage's packages are kept")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the results go (default {OUT})")
    args = parser.parse_args(argv)
    if args.aside_run and args.pretrained:
        parser.error("--aside-run and --pretrained: one at a time")
    if args.pretrained and not args.generator.is_file():
        parser.error(f"--pretrained: no pretrained predictor at {args.generator} (python -m experiments.pretrain)")
    if args.generator != PRETRAINED and not args.pretrained:
        parser.error("--generator: only with --pretrained (a training run names its start as --set train.init=FILE)")
    every = names if args.pretrained else [n for n in names if n != ASIDE]
    tests = [ASIDE] if args.aside_run else (args.only.split(",") if args.only else every)
    unknown = sorted(set(tests) - set(names))
    if unknown:
        parser.error(f"--only: unknown sources {', '.join(unknown)} (known: {', '.join(names)})")
    seeds = [] if args.pretrained else [int(s) for s in args.seeds.split(",")]
    aside = "" if args.aside_run or args.pretrained else ASIDE
    began, results = time.perf_counter(), []
    if args.pretrained:
        for i, test in enumerate(tests):
            print(f"footage_study: [{i + 1}/{len(tests)}] test {test}, the pretrained predictor", flush=True)
            results.append(run_pretrained(test, args.cache, args.generator))
    for i, (test, seed) in enumerate((t, s) for t in tests for s in seeds):
        print(f"footage_study: [{i + 1}/{len(tests) * len(seeds)}] test {test}, seed {seed}", flush=True)
        results.append(run(test, seed, aside, args.set, args.cache))
    record = {"machine": machine(), "commit": git("rev-parse", "HEAD").strip(), "aside": ASIDE,
              "aside_run": args.aside_run, "pretrained": args.pretrained, "set": args.set, "seeds": seeds,
              "minutes": (time.perf_counter() - began) / 60, "data": DATA,
              "footage": footage_record(layout(tests[0], aside, args.cache)), "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "aside" if args.aside_run else "pretrained" if args.pretrained else "footage"
    for r in results:
        if args.pretrained or r["seed"] == seeds[0]:
            picture(Path(r.pop("picture")), args.out / f"{r['test']}{'-pretrained' * args.pretrained}.jpg")
        r.pop("picture", None)
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n")
    text = document(record)
    (args.out / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
