"""The adversarial objective zoo: one DVC experiment per registered objective on the pipeline's data
(the demo set as shipped), each with the same step budget, one at a time; then a table and a
picture of one test clip predicted by each.

Every experiment runs as :mod:`experiments.runner` runs them. The rows: every
``loss.adversarial.kind`` (f-GAN with the divergence ``params.yaml`` names), ``loss.adv: 0`` (no
discriminator: the reconstruction losses alone), the shipped objective with a second
``train.seed`` (the noise floor), and the shipped objective with each option of
:data:`OPTION_ROWS` (feature loss, spectral norm with attention, batch norm, D's pause, cGAN's and
ACGAN's class conditioning). Each experiment
stays in the repository under its name (``zoo-<row>``): ``dvc exp show`` lists them, ``dvc exp
apply zoo-hinge`` brings one into the workspace. A row with the params of the workspace's commit
is not retrained: DVC reuses that commit's run.

    python -m experiments.zoo                        # every row; writes experiments/results/zoo/
    python -m experiments.zoo --only hinge,wgan_gp   # some rows
    python -m experiments.zoo --set train.steps=100  # a shorter budget for every row
    python -m experiments.zoo --collect              # only the table and picture, of existing experiments

Writes ``experiments/results/zoo/zoo.md`` (moving-region PSNR / SSIM / sharpness at the two predicted steps,
D's measure over the second half of the run, training seconds), ``zoo.json`` and ``zoo.png`` beside it;
``experiments/logs/zoo/<row>.log`` holds each experiment's output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments import runner
from experiments.runner import Row, Study, git, show
from pyext.config import OBJECTIVES, load_params

# What `beyondmse zoo` says of itself in `beyondmse --help`.
HELP = "the adversarial objective zoo: every objective as a DVC experiment, then its table and picture"

# What the training log holds beside D's measures (pyext.training.steps): the zoo reports every
# other train/ curve as "how D is doing", whatever the objective names it.
_NOT_MEASURES = ("loss_", "lr_", "seconds")


# The options of the shipped objective, each a row: the feature-space loss through D's last layers
# (DeePSiM / VAE-GAN), SN-GAN's spectral norm with SAGAN's attention (SAGAN's pairing), DCGAN's
# batch norm, and DeePSiM's pause of D at the paper's threshold.
OPTION_ROWS = (
    Row("feature", ("loss.feature=100",)),  # L_feat is ~1e-3 at D's last layers, L_p ~0.1 (demo set)
    Row("sn-attention", ("model.d_norm=spectral", "model.attention=true")),
    Row("batchnorm", ("model.d_norm=batch",)),
    Row("pause", ("loss.adversarial.d_pause=0.1",)),
    Row("concat", ("model.condition=concat",)),
    Row("acgan", ("model.condition=acgan",)),
    Row("acgan-mod", ("model.condition=acgan", "loss.class_d=real")),
)


def rows(params_path: str = "params.yaml") -> list[Row]:
    """Every registered objective, then ``adv: 0``, a second seed of the shipped objective and the
    options of :data:`OPTION_ROWS`."""
    p = load_params(params_path)
    out = [Row(kind, (f"loss.adversarial.kind={kind}",)) for kind in OBJECTIVES]
    out.append(Row("adv0", ("loss.adv=0",)))
    out.append(Row(f"{p.loss.adversarial.kind}-seed{p.train.seed + 1}", (f"train.seed={p.train.seed + 1}",)))
    return out + list(OPTION_ROWS)


def _curve(ref: str, path: str) -> np.ndarray:
    """A dvclive curve ``(steps, values)`` from a tsv of the experiment."""
    lines = show(ref, path).splitlines()[1:]
    return np.array([[float(v) for v in line.split("\t")[:2]] for line in lines]).reshape(-1, 2)


def d_measures(ref: str) -> dict[str, float]:
    """D's measures of an experiment (git ref ``ref``): each train/ curve but the losses, rates and
    seconds, averaged over the second half of training."""
    folder = "dvclive/plots/metrics/train/"
    measures = {}
    for name in git("ls-tree", "--name-only", ref, folder).split():
        stem = Path(name).name.removesuffix(".tsv")
        if name.endswith(".tsv") and not stem.startswith(_NOT_MEASURES):
            curve = _curve(ref, name)
            half = curve[curve[:, 0] > curve[-1, 0] / 2, 1]
            measures[stem] = float(half.mean())
    return measures


def collect(row: Row, ref: str) -> dict:
    """The figures of the row's experiment (git ref ``ref``): its evaluation, D's measures averaged
    over the second half of training, the training seconds and the best validation PSNR."""
    metrics = json.loads(show(ref, "eval/metrics.json"))
    live = json.loads(show(ref, "dvclive/metrics.json"))
    return {"metrics": metrics, "d_measures": d_measures(ref), "train_seconds": live["train"].get("seconds"),
            "val_psnr": live["val"]["psnr"]}


def cell(value: float | None, digits: int = 2) -> str:
    """A table cell of a figure: ``digits`` decimals, ``-`` where there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def measures_cell(measures: dict[str, float]) -> str:
    """A table cell of D's measures (name and value), ``(no D)`` where the run trains none."""
    return ", ".join(f"{k} {v:.3f}" for k, v in sorted(measures.items())) or "(no D)"


def blur_measures(metrics: dict, method: str) -> list[str]:
    """The cells of the measures that tell blur from sharpness, at step 1, of ``method`` in one
    evaluation's ``metrics``: the gradient-energy ratio on the moving region and FID (``-`` where the
    evaluation has none: records made before they were measured)."""
    ratio = metrics.get(method, {}).get("step1", {}).get("gradient_ratio")
    return [cell(ratio, 3), cell(metrics.get("fid", {}).get("step1", {}).get(method))]


def has_blur_measures(results: list[dict]) -> bool:
    """Whether any result's evaluation has :func:`blur_measures` (older records do not)."""
    return any("gradient_ratio" in r["metrics"]["model"]["step1"] for r in results)


def table(results: list[dict]) -> str:
    """The markdown table: the baselines once (from the first experiment's evaluation; every
    experiment evaluates the same test clips), then one line per experiment; with the gradient-energy
    ratio and FID at step 1 where the evaluations have them."""
    extra = has_blur_measures(results)
    head = ("| run | PSNR 1 | PSNR 2 | SSIM 1 | SSIM 2 | sharpness 1 | sharpness 2 "
            + ("| gradient ratio 1 | FID 1 " if extra else "") + "| D's measure (mean, 2nd half) | train s |\n"
            + "|---" * (9 + 2 * extra) + "|\n")

    def line(label: str, metrics: dict, method: str, measure: str = "", seconds: float | None = None) -> str:
        s1, s2 = metrics[method]["step1"], metrics[method]["step2"]
        blur = "".join(f"{c} | " for c in blur_measures(metrics, method)) if extra else ""
        return (f"| {label} | {cell(s1['psnr'])} | {cell(s2['psnr'])} | {cell(s1['ssim'], 3)} | "
                f"{cell(s2['ssim'], 3)} | {cell(s1['sharpness'])} | {cell(s2['sharpness'])} | {blur}{measure} | "
                f"{cell(seconds, 0)} |\n")

    first = results[0]["metrics"]
    body = line("last frame", first, "last_frame") + line("optical flow", first, "optical_flow")
    for r in results:
        measure = measures_cell(r["d_measures"])
        body += line(f"`{r['row']}`", r["metrics"], "model", measure, r["train_seconds"])
    return head + body


STUDY = Study(name="zoo", description=__doc__.split("\n\n")[0], rows=lambda args: rows(), collect=collect,
              document=lambda record: table(record["results"]), label=lambda result: result["row"])


def main(argv: list[str] | None = None, prog: str = "python -m experiments.zoo") -> None:
    """``python -m experiments.zoo [--only ROWS] [--set KEY=VALUE] [--collect]`` (``argv``: the
    arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
