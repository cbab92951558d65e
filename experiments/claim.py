"""The paper's claim as one command: on the uncertain-futures set (``configs/stochastic.yaml``), where
a frame has several possible futures, does the squared error blur them together, and do the
gradient difference loss and the adversarial term give a sharp future instead? Every row a DVC
experiment (:mod:`experiments.runner`, as the zoo and Table 2 run theirs), one at a time, with the
same budget; two seeds of l2, GDL-l1 and Adv+GDL as the noise floors.

    python -m experiments.claim                          # every row; writes experiments/results/claim/
    python -m experiments.claim --set train.steps=100    # a shorter budget for every row
    python -m experiments.claim --only l2,adv-gdl-0.05   # some rows
    python -m experiments.claim --collect                # only the table and picture, of existing experiments

Each experiment stays in the repository as ``claim-<row>``. The table gives the paper's measures
(PSNR, SSIM, sharpness difference on the moving region) beside those that tell blur from sharpness
on the union of the futures' moving regions (the gradient-energy ratio to the truth's, the share of
predictions that commit to one future, the PSNR of the clip-averaged squared error), the noise
rows' best-of-N PSNR and coverage, FID and KID of the moving patches through the shipped extractor
(:mod:`pyext.evaluation.fid`), the Inception Score of the squares around them through the shipped
object classifier, the probe discriminator's accuracy, the run's own D measure and the training
seconds; and the futures' mean, the squared error's optimum, as the blurred reference.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from experiments import runner, zoo
from experiments.zoo import cell, measures_cell
from experiments.runner import Row, Study, show
from pyext.config import load_params
from pyext.presets import overrides, read_preset

# What `beyondmse claim` says of itself in `beyondmse --help`.
HELP = "the paper's claim on uncertain futures: l2, l1, GDL and adversarial rows, then the table"

BASE = Path("configs/stochastic.yaml")
_L1_GDL = ("loss.p=1", "loss.gdl=1.0")
# The rows, in order: name and settings over the base preset.
ROWS = (
    ("l2", ("loss.adv=0", "loss.p=2", "loss.gdl=0")),
    ("l1", ("loss.adv=0", "loss.p=1", "loss.gdl=0")),  # its optimum is the per-pixel median
    ("gdl-l1", ("loss.adv=0", *_L1_GDL)),
    ("adv-gdl-0.05", ("loss.adv=0.05", *_L1_GDL)),  # the paper's weight
    ("adv-gdl-0.2", ("loss.adv=0.2", *_L1_GDL)),
    ("adv-gdl-1", ("loss.adv=1.0", *_L1_GDL)),
    # The preset's D against the demo's (one update a step at 5e-4): with it, D lags the generator.
    ("adv-gdl-1-demo-d", ("loss.adv=1.0", *_L1_GDL, "loss.adversarial.d_steps=1", "train.lr_d=0.0005",
                          "train.lr_d_final=0.0005")),
    ("adv-gdl-noise", ("loss.adv=0.05", *_L1_GDL, "model.multiscale.noise=8")),
    ("gdl-l1-noise", ("loss.adv=0", *_L1_GDL, "model.multiscale.noise=8")),  # the latent without D
    # The remedy where the generator ignores its latent: the best of 4 samples' reconstruction per clip.
    ("adv-gdl-noise-bom", ("loss.adv=0.05", *_L1_GDL, "model.multiscale.noise=8", "loss.best_of=4")),
    # Two other objectives, each at its paper's optimiser: LSGAN's Adam (2e-4, beta1 0.5), the hinge
    # loss at SN-GAN's (2e-4, betas 0 and 0.9).
    ("lsgan", ("loss.adversarial.kind=lsgan", "loss.adv=0.05", *_L1_GDL, "train.betas=[0.5,0.999]",
               "train.lr_g=0.0002", "train.lr_g_final=0.0002", "train.lr_d=0.0002", "train.lr_d_final=0.0002")),
    ("hinge", ("loss.adversarial.kind=hinge", "loss.adv=0.05", *_L1_GDL, "train.betas=[0.0,0.9]",
               "train.lr_g=0.0002", "train.lr_g_final=0.0002", "train.lr_d=0.0002", "train.lr_d_final=0.0002")),
)
SEEDED = ("l2", "gdl-l1", "adv-gdl-0.05")  # run again with the next train.seed: the noise floors


def rows(params_path: str = "params.yaml") -> list[Row]:
    """Every row of :data:`ROWS` over :data:`BASE`, then :data:`SEEDED` with the next ``train.seed``."""
    p = load_params(params_path)
    base = tuple(overrides(read_preset(BASE, params_path)))
    out = [Row(name, _over(base, settings)) for name, settings in ROWS]
    seed = p.train.seed + 1
    return out + [Row(f"{r.name}-seed{seed}", (*r.settings, f"train.seed={seed}")) for r in out if r.name in SEEDED]


def _over(base: tuple[str, ...], settings: tuple[str, ...]) -> tuple[str, ...]:
    """``base``'s ``key=value`` settings but those ``settings`` give again, then ``settings``."""
    given = {setting.split("=", 1)[0] for setting in settings}
    return tuple(b for b in base if b.split("=", 1)[0] not in given) + settings


def table(results: list[dict]) -> str:
    """The markdown table at step 1: the blurred reference and the baselines once (from the first
    experiment: every experiment evaluates the same test clips), then one line per experiment."""
    head = ("| run | PSNR | SSIM | sharpness | PSNR pooled (union) | gradient ratio (union) | commit share "
            "| best-of-N PSNR | coverage | diversity | FID | KID x 10^3 | IS | probe D | D's measure (mean, 2nd half) "
            "| train s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")

    def line(label: str, metrics: dict, method: str, result: dict | None = None) -> str:
        paper = metrics.get(method, {}).get("step1", {})  # the futures' mean has only the futures' figures
        futures = metrics.get("futures", {}).get("step1", {}).get(method, {})
        sampled = metrics.get("samples", {}).get("step1", {}) if result else {}
        probe = metrics.get("probe", {}) if result else {}
        fid = metrics.get("fid", {}).get("step1", {}).get(method)
        kid = metrics.get("kid", {}).get("step1", {}).get(method, {}).get("mean")
        score = metrics.get("inception_score", {}).get("step1", {}).get(method, {}).get("mean")
        return (f"| {label} | {cell(paper.get('psnr'))} | {cell(paper.get('ssim'), 3)} "
                f"| {cell(paper.get('sharpness'))} | {cell(futures.get('psnr_pooled'))} "
                f"| {cell(futures.get('gradient_ratio'), 3)} | {cell(futures.get('commit_share'), 3)} "
                f"| {cell(sampled.get('best_psnr'))} | {cell(sampled.get('coverage'), 3)} "
                f"| {cell(sampled.get('diversity'))} "
                f"| {cell(fid)} | {cell(None if kid is None else kid * 1000)} | {cell(score)} "
                f"| {cell(probe.get('accuracy'), 3)} | {measures_cell(result['d_measures']) if result else ''} "
                f"| {cell(result['train_seconds'], 0) if result else ''} |\n")

    first = results[0]["metrics"]
    references = [("futures' mean (reference)", "mean_of_futures"), ("last frame", "last_frame"),
                  ("optical flow", "optical_flow")]
    if "inception_score" in first:  # the true frames' score, the classifier's ceiling on this set
        references.insert(1, ("the future that happened", "truth"))
    body = "".join(line(name, first, method) for name, method in references)
    for r in results:
        body += line(f"`{r['row']}`", r["metrics"], "model", r)
    return head + body


def document(record: dict) -> str:
    """``claim.md`` of a record: what was run, on what, and the table."""
    results = record["results"]
    first = results[0]["metrics"]
    steps = sorted({yaml.safe_load(show(r["ref"], "params.yaml"))["train"]["steps"] for r in results})
    return (f"# The claim on uncertain futures\n\nMeasured on the {record['data']['source']} set ({first['clips']} "
            f"full-frame test clips; {first.get('futures', {}).get('branches', '?')} possible futures each), on "
            f"{record['machine']}; {' or '.join(map(str, steps))} training steps a row. Step 1; the paper's measures "
            "on the moving region of the future that happened, the others on the union of the futures' moving "
            "regions.\n\n" + table(results))


STUDY = Study(name="claim", description=__doc__.split("\n\n")[0], rows=lambda args: rows(), collect=zoo.collect,
              document=document, label=lambda result: result["row"])


def main(argv: list[str] | None = None, prog: str = "python -m experiments.claim") -> None:
    """``python -m experiments.claim [--only ROWS] [--set KEY=VALUE] [--collect]`` (``argv``: the
    arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
