"""The paper's Table 2 as one command: every row a preset of ``configs/table2/`` run as a DVC
experiment over the workspace's params (:mod:`experiments.runner`, as the zoo runs its rows), each
with the same budget, one at a time, plus a second seed of one row as the noise floor; then the
table, by both measures, beside the published one, and a picture of one test clip predicted by
every row.

    python -m experiments.table2                            # every row; writes experiments/results/table2/
    python -m experiments.table2 --set train.steps=100      # a shorter budget for every row
    python -m experiments.table2 --base configs/paper.yaml  # the paper's networks and training under every row
    python -m experiments.table2 --only l1,gdl-l1           # some rows
    python -m experiments.table2 --collect                  # only the table and picture, of existing experiments

Each experiment stays in the repository as ``table2-<row>``. The rows marked * go on learning on
64x64 patches after training (the finetune stage, ``finetune.steps`` more steps). The paper's last model ("Adv+GDL fine-tuned*": trained
on Sports-1M, fine-tuned on UCF101) needs two data sets and is listed as not run.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from experiments import runner
from experiments.runner import Row, Study, show
from experiments.zoo import blur_measures, has_blur_measures
from pyext.config import load_params
from pyext.presets import overrides, read_preset

# What `beyondmse table2` says of itself in `beyondmse --help`.
HELP = "the paper's Table 2: every row as a DVC experiment, then the table beside the published one"

PRESETS = Path("configs/table2")

# The rows this project runs, in Table 2's order: the preset's name and the paper's label (* :
# fine-tuned on 64x64 patches).
ROWS = (("single-l2", "single sc. l2"), ("l2", "l2"), ("l1", "l1"), ("gdl-l1", "GDL l1"), ("gdl-l1-ft", "GDL l1*"),
        ("adv-ft", "Adv*"), ("adv-gdl-ft", "Adv+GDL*"))
SEEDED = "adv-gdl-ft"  # the row run again with the next train.seed: the noise floor of the table
LABELS = dict(ROWS)

# Table 2 as published: Mathieu, Couprie & LeCun, "Deep multi-scale video prediction beyond mean
# square error", ICLR 2016 (arXiv:1511.05440); UCF101, 10% of its test videos, moving regions,
# the authors' measure. Per row: PSNR, SSIM, sharpness of the 1st predicted frame, then the 2nd.
PAPER = {
    "single sc. l2": (26.5, 0.84, 24.7, 22.4, 0.82, 24.2),
    "l2": (27.6, 0.86, 24.7, 22.5, 0.81, 24.2),
    "l1": (28.7, 0.88, 24.8, 23.8, 0.83, 24.3),
    "GDL l1": (29.4, 0.90, 25.0, 24.9, 0.84, 24.4),
    "GDL l1*": (29.9, 0.90, 25.0, 26.4, 0.87, 24.5),
    "Adv*": (30.6, 0.89, 25.2, 26.1, 0.85, 24.2),
    "Adv+GDL*": (31.5, 0.91, 25.4, 28.0, 0.87, 25.1),
    "Adv+GDL fine-tuned*": (32.0, 0.92, 25.4, 28.9, 0.89, 25.0),
    "last input": (28.6, 0.89, 24.6, 26.3, 0.87, 24.2),
    "optical flow": (31.6, 0.93, 25.3, 28.2, 0.90, 24.7),
}
NOT_RUN = {"Adv+GDL fine-tuned*": "not run: trained on Sports-1M, then fine-tuned on UCF101 (two data sets)"}
# The two measures eval/metrics.json holds, as (title, key prefix).
MEASURES = (("the authors' measure (Table 2's: frames masked to their moving regions, whole-frame PSNR, clips "
             "at >= 50 dB left out)", "authors_"),
            ("this project's moving-region mean (means over the moving pixels)", ""))


def rows(params_path: str = "params.yaml", base: tuple[str, ...] = ()) -> list[Row]:
    """Every row of :data:`ROWS` (the ``base`` presets' settings, then the row's own), then
    :data:`SEEDED` with the next ``train.seed``."""
    p = load_params(params_path)
    under = tuple(s for b in base for s in overrides(read_preset(b, params_path)))
    out = [Row(stem, under + tuple(overrides(read_preset(PRESETS / f"{stem}.yaml", params_path))))
           for stem, _ in ROWS]
    seeded = next(r for r in out if r.name == SEEDED)
    return out + [Row(f"{SEEDED}-seed{p.train.seed + 1}", (*seeded.settings, f"train.seed={p.train.seed + 1}"))]


def label(name: str) -> str:
    """The paper's label of a row (a seed row: its row's, with the seed)."""
    stem, _, seed = name.partition("-seed")
    return LABELS[stem] + (f" (seed {seed})" if seed else "")


def _seconds(ref: str, path: str) -> float | None:
    """Training seconds from a dvclive summary of the experiment (``path`` in git or DVC's cache)."""
    try:
        import dvc.api
        summary = json.loads(dvc.api.read(path, repo=".", rev=ref))
    except Exception:  # noqa: BLE001 (a row without fine-tuning has no such file)
        return None
    return summary.get("train", {}).get("seconds")


def collect(row: Row, ref: str) -> dict:
    """The figures and budget of the row's experiment (git ref ``ref``)."""
    params = yaml.safe_load(show(ref, "params.yaml"))
    return {"label": label(row.name), "metrics": json.loads(show(ref, "eval/metrics.json")),
            "budget": {"train": params["train"], "finetune": params["finetune"],
                       "width": params["model"]["multiscale"]["width"]},
            "seconds": {"train": _seconds(ref, "dvclive/metrics.json"),
                        "finetune": _seconds(ref, "models/finetune/dvclive/metrics.json")
                        if params["finetune"]["patch"] else None}}


def _cells(values) -> str:
    return " | ".join("-" if v is None else f"{v:.3f}" if i % 3 == 1 else f"{v:.2f}" for i, v in enumerate(values))


def table(results: list[dict], prefix: str) -> str:
    """One markdown table in Table 2's layout by one measure (``prefix`` of the metrics' keys): the
    rows run, the paper's rows not run, then the baselines (from the first experiment: every
    experiment evaluates the same test clips)."""
    keys = [f"{prefix}{k}" for k in ("psnr", "ssim", "sharpness")]

    def values(scores: dict) -> list[float | None]:
        return [scores[f"step{s}"].get(k) for s in (1, 2) for k in keys]

    extra = prefix == "" and has_blur_measures(results)  # beside the moving-region means only
    head = ("| | PSNR 1 | SSIM 1 | sharpness 1 | PSNR 2 | SSIM 2 | sharpness 2 "
            + ("| gradient ratio 1 | FID 1 " if extra else "") + "| train s |\n" + "|---" * (8 + 2 * extra) + "|\n")

    def blur(metrics: dict, method: str) -> str:
        return "".join(f" | {c}" for c in blur_measures(metrics, method)) if extra else ""

    body = ""
    for r in results:
        seconds = [s for s in r["seconds"].values() if s is not None]
        body += (f"| {r['label']} | {_cells(values(r['metrics']['model']))}{blur(r['metrics'], 'model')} "
                 f"| {sum(seconds):.0f} |\n")
    for name, why in NOT_RUN.items():
        body += f"| {name} | {why} | | | | | |{' | |' * extra} |\n"
    first = results[0]["metrics"]
    for name, key in (("last input", "last_frame"), ("optical flow", "optical_flow")):
        body += f"| {name} | {_cells(values(first[key]))}{blur(first, key)} | |\n"
    return head + body


def published() -> str:
    """The published Table 2 in the same layout."""
    head = ("| | PSNR 1 | SSIM 1 | sharpness 1 | PSNR 2 | SSIM 2 | sharpness 2 |\n"
            "|---|---|---|---|---|---|---|\n")
    return head + "".join(f"| {name} | " + " | ".join(f"{v:.2f}" if i % 3 == 1 else f"{v:.1f}" for i, v in enumerate(row))
                          + " |\n" for name, row in PAPER.items())


def caption(record: dict) -> str:
    """What a record's table was measured on: data, machine, budget, and the noise floor."""
    results = record["results"]
    first = results[0]
    train, tune = first["budget"]["train"], first["budget"]["finetune"]
    clips = first["metrics"]["clips"]
    total = sum(s for r in results for s in r["seconds"].values() if s is not None)
    return (f"Measured on the {record['data']['source']} set ({clips} full-frame test clips, 4 frames in, 2 recursive "
            f"steps), on {record['machine']}: "
            f"every row {train['steps']} steps of batch {train['batch_size']} ({train['optimizer']}, width "
            f"{first['budget']['width']}); the * rows then {tune['steps']} steps on 64x64 patches at the final "
            f"rates; {total / 60:.0f} min of training in all. The row run with a second seed shows the noise floor.")


def document(record: dict) -> str:
    """``table2.md`` of a record: the caption, both measures, and the published table."""
    parts = [f"# Table 2, reproduced\n\n{caption(record)}\n"]
    for title, prefix in MEASURES:
        parts.append(f"## By {title}\n\n{table(record['results'], prefix)}")
    parts.append("## As published (UCF101; Mathieu, Couprie & LeCun, ICLR 2016, arXiv:1511.05440, Table 2)\n\n"
                 + published())
    return "\n".join(parts)


STUDY = Study(
    name="table2", description=__doc__.split("\n\n")[0], rows=lambda args: rows(base=tuple(args.base)),
    collect=collect, document=document, label=lambda result: result["label"],
    options=(("--base", {"action": "append", "default": [], "metavar": "PRESET",
                         "help": "a preset applied under every row (e.g. configs/paper.yaml); repeatable"}),))


def main(argv: list[str] | None = None, prog: str = "python -m experiments.table2") -> None:
    """``python -m experiments.table2 [--only ROWS] [--set KEY=VALUE] [--base PRESET] [--collect]``
    (``argv``: the arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
