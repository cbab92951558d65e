"""Unpaired translation from the demo set to the photo set: CycleGAN, DiscoGAN and DualGAN at their
presets (``configs/<family>.yaml``: domain A ``data.source: demo``, domain B ``data.translate.source:
photos``), one DVC experiment a row; then a translator put to a video pipeline's use: a predictor
trained on the demo set's videos translated by the ``cyclegan`` row's model (``beyondmse translate``
writes them as a ``folder`` source) against one trained on the demo set as it is, each with two seeds,
all tested on 32 test videos of the photo set (``data.test.source: photos``).

    python -m experiments.translation                          # every row; writes experiments/results/translation/
    python -m experiments.translation --only cyclegan,dualgan  # some rows
    python -m experiments.translation --collect                # only the tables and picture, of existing experiments

The translators' table (``translation.md``): per row and direction (A -> B by G, B -> A by F) the FID
and KID of the translated test patches against the target domain's beside the untranslated ones',
the cycle PSNR, the share of translations a domain classifier (trained on held-out real patches of
both domains) assigns to the target domain beside the untranslated share, the flicker on still
regions and the warping error of the translated test clips beside the source clips', and the
training seconds. The predictors' table: moving-region PSNR, SSIM and sharpness at the first
predicted step on the photo set's test clips, and copying the last frame; then the two predictors
clip by clip (:func:`paired`). ``translation.png``: each translator's test patches, their
translations and cycles; ``translation.gif``: a test clip of each domain and its translation by the
``cyclegan`` row's model, frame by frame.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from experiments import runner
from experiments.runner import Row, Study, show
from experiments.zoo import cell
from pyext.config import load_params
from pyext.data.manifest import source_manifest
from pyext.presets import overrides, read_preset

TRANSLATORS = ("cyclegan", "discogan", "dualgan")
PRESETS = {family: Path(f"configs/{family}.yaml") for family in TRANSLATORS}
# The translator whose model translates the demo set for the predictor's row, and where its videos go
# (a folder data source; the study's own output, remade before that row runs).
TRANSLATING = "cyclegan"
TRANSLATED = Path("data/translated/demo-to-photos")
# Both predictors are tested on the photo set's test videos: 8 test groups of its 4 classes (32 videos of
# its test photographs, which no translator saw), not the 4 of the shipped set.
TARGET = ("data.test.source=photos", "photos.groups=9", "photos.test_groups=8")
SEEDS = (0, 1)  # each predictor's train.seed: the runs' spread beside the two predictors' difference
TRAINED_ON = {"demo": (), "translated": ("data.source=folder", f"data.root={TRANSLATED.resolve()}")}
PREDICTORS = {f"predictor-{data}-seed{seed}": (*settings, *TARGET, f"train.seed={seed}")
              for data, settings in TRAINED_ON.items() for seed in SEEDS}
DIRECTIONS = {"ab": "A -> B", "ba": "B -> A"}


def rows(params_path: str = "params.yaml") -> list[Row]:
    """Each translator at its preset, then the two predictors (:data:`PREDICTORS`) at ``params.yaml``'s
    predictor settings."""
    out = [Row(family, tuple(overrides(read_preset(PRESETS[family], params_path)))) for family in TRANSLATORS]
    return out + [Row(name, settings) for name, settings in PREDICTORS.items()]


def translate_demo(prefix: str, out: Path = TRANSLATED) -> None:
    """The demo set as ``params.yaml`` makes it, translated A -> B by the :data:`TRANSLATING` row's
    model into the folder ``out`` (its motion classes as sub-folders), replacing an earlier one; kept
    where ``out`` was made by this very experiment (its ref in ``<out>.ref``)."""
    from pyext.models import load_translator
    from pyext.translating import translate_folder

    ref = runner.experiment_ref(prefix, TRANSLATING)
    if ref is None:
        sys.exit(f"translation: the {prefix}{TRANSLATING} experiment at this commit is missing: its model translates "
                 f"the demo set for the predictor's row (run --only {TRANSLATING} first)")
    made_by = out.with_name(out.name + ".ref")
    if out.is_dir() and made_by.is_file() and made_by.read_text() == ref:
        return
    made_by.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "generator.pt"
        model_file.write_bytes(runner.read_output(ref, "models/generator.pt").read())
        source_manifest(load_params(), "demo", None, 1, Path(tmp) / "demo")  # renders the set as prepare does
        if out.exists():
            shutil.rmtree(out)
        translate_folder(load_translator(model_file), Path(tmp) / "demo" / "UCF-101", out, "ab", progress=True)
    made_by.write_text(ref)


def before(prefix: str, row: Row) -> None:
    """What a row needs made first: the predictor's translated videos."""
    if row.name.startswith("predictor-translated"):
        translate_demo(prefix)


def collect(row: Row, ref: str) -> dict:
    """The row's evaluation and its training seconds."""
    live = json.loads(show(ref, "dvclive/metrics.json"))
    out = {"metrics": json.loads(show(ref, "eval/metrics.json")), "train_seconds": live["train"].get("seconds")}
    if row.name in PREDICTORS:  # per test clip, to pair the predictors clip by clip
        clips = csv.DictReader(io.StringIO(runner.read_output(ref, "eval/plots/clips.csv").read().decode()))
        out["clips"] = {f"{c['clip']} {c['video']}": float(c["value"]) for c in clips if c["series"] == "model"}
    return out


def _pair(scores: dict | None, key: str, digits: int = 2, reference: str = "untranslated") -> str:
    """``translated (reference)`` of a measure's figures, ``-`` where not measured."""
    if not scores:
        return "-"
    value = lambda v: v["mean"] if isinstance(v, dict) else v
    return f"{cell(value(scores.get(key)), digits)} ({cell(value(scores.get(reference)), digits)})"


def translators_table(results: list[dict]) -> str:
    """Per translator and direction: FID, KID, cycle PSNR, target-domain share, flicker, warping error
    (each beside the untranslated frames'), and the training seconds."""
    head = ("| run | direction | FID | KID | cycle PSNR dB | target-domain share | flicker | warping error | "
            "train s |\n" + "|---" * 9 + "|\n")
    body = ""
    for r in results:
        if r["row"] not in TRANSLATORS:
            continue
        m = r["metrics"]
        for direction, arrow in DIRECTIONS.items():
            d = m[direction]
            temporal = d.get("temporal", {})
            body += (f"| `{r['row']}` | {arrow} | {_pair(d.get('fid'), 'translated')} | "
                     f"{_pair(d.get('kid'), 'translated', 4)} | {cell(d.get('cycle_psnr', {}).get('mean'))} | "
                     f"{_pair(d.get('target_share'), 'translated', 3)} | "
                     f"{_pair(temporal.get('flicker'), 'translated', 2, 'source')} | "
                     f"{_pair(temporal.get('warping_error'), 'translated', 5, 'source')} | "
                     f"{cell(r['train_seconds'], 0) if direction == 'ab' else ''} |\n")
    return head + body


def predictors_table(results: list[dict]) -> str:
    """Per predictor: its moving-region PSNR, SSIM and sharpness at step 1 on the photo set's test
    clips, and copying the last frame's."""
    head = "| run | trained on | PSNR dB | SSIM | sharpness | last frame PSNR dB | train s |\n" + "|---" * 7 + "|\n"
    body = ""
    for r in results:
        if r["row"] not in PREDICTORS:
            continue
        m = r["metrics"]
        s1, last = m["model"]["step1"], m["last_frame"]["step1"]
        trained = ("the demo set" if r["row"].startswith("predictor-demo") else
                   f"the demo set translated by `{TRANSLATING}`")
        body += (f"| `{r['row']}` | {trained} | {cell(s1['psnr'])} | {cell(s1['ssim'], 3)} | "
                 f"{cell(s1['sharpness'], 1)} | {cell(last['psnr'])} | {cell(r['train_seconds'], 0)} |\n")
    return head + body


def paired(results: list[dict]) -> str:
    """The two predictors clip by clip: each one's whole-frame PSNR at step 1 on each test clip (the
    series ``eval/plots/clips.csv`` holds; the tables' figure is the moving regions') averaged over
    its seeds, the translated one's lead on each clip, on how many clips it leads, and how far two
    seeds of one predictor lie apart; '' without runs of both predictors on the same clips."""
    runs = {data: [r["clips"] for r in results if r["row"].startswith(f"predictor-{data}-") and "clips" in r]
            for data in TRAINED_ON}
    if not all(runs.values()) or any(c.keys() != runs["demo"][0].keys() for seeds in runs.values() for c in seeds):
        return ""
    names = sorted(runs["demo"][0])
    psnr = {data: np.array([[c[n] for n in names] for c in seeds]) for data, seeds in runs.items()}  # (seeds, clips)
    lead = psnr["translated"].mean(axis=0) - psnr["demo"].mean(axis=0)
    # Two runs of one predictor apart: the mean over clips of |seed 0 - seed 1|, the larger predictor's.
    spread = max((float(np.abs(p[0] - p[1]).mean()) for p in psnr.values() if len(p) > 1), default=None)
    return (f"Clip by clip ({len(names)} test clips; whole-frame PSNR at step 1, each predictor's the mean of its "
            f"{min(len(p) for p in psnr.values())} seeds): the translated one leads by {cell(float(lead.mean()))} dB "
            f"on average (median {cell(float(np.median(lead)))}), ahead on {int(np.sum(lead > 0))} of {len(names)} "
            f"clips. Two seeds of one predictor differ by {cell(spread)} dB per clip on average (the larger of the "
            f"two predictors').")


def caption(record: dict) -> str:
    """What the tables measured."""
    first = next((r["metrics"] for r in record["results"] if r["row"] in TRANSLATORS), None)
    patches = f"{first['patches']['A']} and {first['patches']['B']} moving test patches of A and B; " if first else ""
    clips = next((r["metrics"]["clips"] for r in record["results"] if r["row"] in PREDICTORS), "the")
    return (f"Domain A: the demo set, B: the photo set. {patches}each figure beside, in brackets, the untranslated "
            f"frames' (FID, KID, share: the source domain's patches; flicker, warping error: the source clips'). "
            f"The predictors are tested on {clips} test clips of the photo set.")


def document(record: dict) -> str:
    """Both tables under a caption (the machine, then :func:`caption`)."""
    together = paired(record["results"])
    return (f"Translation on {record['machine']}: {caption(record)}\n\n" + translators_table(record["results"])
            + "\n" + predictors_table(record["results"]) + (f"\n{together}\n" if together else ""))


def picture(record: dict) -> np.ndarray:
    """Each translator's ``translations.png`` (rows A, G(A), F(G(A)), B, F(B), G(F(B))), labelled. RGB uint8."""
    cells = [runner.label(runner.read_picture(r["ref"], "eval/pictures/translations.png"), f"{r['row']}")
             for r in record["results"] if r["row"] in TRANSLATORS]
    return runner.tile(cells, 1)


def animation(record: dict) -> bytes | None:
    """The :data:`TRANSLATING` row's ``translated.gif``: a test clip of each domain beside its translation
    (None where that row has not run)."""
    ref = next((r["ref"] for r in record["results"] if r["row"] == TRANSLATING), None)
    return None if ref is None else runner.read_output(ref, "eval/pictures/translated.gif").read()


STUDY = Study(name="translation", description=__doc__.split("\n\n")[0], rows=lambda args: rows(), collect=collect,
              document=document, label=lambda result: result["row"], picture=picture, animation=animation,
              before=before)


def main(argv: list[str] | None = None, prog: str = "python -m experiments.translation") -> None:
    """``python -m experiments.translation [--only ROWS] [--set KEY=VALUE] [--collect]`` (``argv``: the
    arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
