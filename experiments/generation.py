"""The generation zoo: the generators from noise on the pipeline's data (the demo set as shipped),
DCGAN under every adversarial objective that applies to it, each at its paper's optimiser, beside
LAPGAN, VAE-GAN, BigGAN and GRAN; one DVC experiment a row, one at a time, the same number of generator updates
a row; then a table and a picture of each row's samples.

Every experiment runs as :mod:`experiments.runner` runs them, over its family's preset
(``configs/<family>.yaml``: batch 64, ``train.steps`` generator updates). The rows: ``dcgan`` with
every ``loss.adversarial.kind`` whose discriminator is a classifier of images (an autoencoder's,
EBGAN's and BEGAN's, is refused by the family), each with the optimiser of :data:`OPTIMISERS`; the
preset's objective again with the next ``train.seed`` (the noise floor); ``lapgan``, ``vaegan``,
``biggan`` (the hinge loss, 2 D steps, its moving average evaluated) and ``gran`` at their presets. Each stays in the repository as ``generation-<row>``.

    python -m experiments.generation                         # every row; writes experiments/results/generation/
    python -m experiments.generation --only bce,wgan_gp      # some rows
    python -m experiments.generation --set train.steps=300   # a shorter budget for every row
    python -m experiments.generation --collect               # only the table and picture, of existing experiments

The table (``generation.md``): per row FID, KID, precision, recall, density, coverage (and the
Inception Score where a classifier applies) of its samples against frames of moving test patches
through the project's feature extractor, D's measures over the second half of training and the
training seconds; the blurred and noisy real references and each family's untrained generator once. ``generation.png``: real frames,
the untrained generator's samples and each row's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from experiments import runner
from experiments.runner import Row, Study, show
from experiments.zoo import cell, d_measures, measures_cell
from pyext.config import OBJECTIVES, load_params
from pyext.presets import overrides, read_preset

# What `beyondmse generation` says of itself in `beyondmse --help`.
HELP = "the generation zoo: DCGAN under every objective, LAPGAN, VAE-GAN, BigGAN and GRAN, then the table and picture"

FAMILIES = ("lapgan", "vaegan", "biggan", "gran")  # the rows of the other families, each at its preset
PRESETS = {family: Path(f"configs/{family}.yaml") for family in ("dcgan", *FAMILIES)}

# Each objective's optimiser as its paper trained it (model.dcgan's; the preset's, DCGAN's Adam 2e-4
# with betas (0.5, 0.999), where none is given): f-GAN and LSGAN trained with DCGAN's; the hinge loss at
# SN-GAN's Adam (2e-4, betas 0 and 0.9) as the claim's row; WGAN's RMSProp at 5e-5 with its clipping and
# 5 critic steps (loss.adversarial.wgan); WGAN-GP's Adam 1e-4, betas (0, 0.9), 5 critic steps.
OPTIMISERS: dict[str, tuple[str, ...]] = {
    "hinge": ("model.dcgan.betas=[0.0,0.9]",),
    "wgan": ("model.dcgan.optimizer=rmsprop", "model.dcgan.lr_g=5e-05", "model.dcgan.lr_d=5e-05"),
    "wgan_gp": ("model.dcgan.lr_g=0.0001", "model.dcgan.lr_d=0.0001", "model.dcgan.betas=[0.0,0.9]"),
}
PICTURED = 4  # each row's picture: the first PICTURED x PICTURED images of its evaluation's grid


def applicable() -> list[str]:
    """The objectives a generator from noise trains with: those whose discriminator is a classifier
    of images (pyext.config.model's rule for the families refuses the others)."""
    return [name for name, facts in OBJECTIVES.items() if facts.discriminator == "multiscale"]


def rows(params_path: str = "params.yaml") -> list[Row]:
    """``dcgan`` under every :func:`applicable` objective, the preset's again with the next seed,
    then ``lapgan``, ``vaegan``, ``biggan`` and ``gran``; every row over its family's preset."""
    base = {family: tuple(overrides(read_preset(path, params_path))) for family, path in PRESETS.items()}
    dcgan = load_params(params_path)  # the preset's objective and seed: params.yaml's
    out = [Row(kind, (*base["dcgan"], f"loss.adversarial.kind={kind}", *OPTIMISERS.get(kind, ())))
           for kind in applicable()]
    default = next(r for r in out if r.name == dcgan.loss.adversarial.kind)
    seed = dcgan.train.seed + 1
    out.append(Row(f"{default.name}-seed{seed}", (*default.settings, f"train.seed={seed}")))
    return out + [Row(family, base[family]) for family in FAMILIES]


def collect(row: Row, ref: str) -> dict:
    """The figures of the row's experiment (git ref ``ref``): its evaluation, D's measures averaged
    over the second half of training (:func:`experiments.zoo.d_measures`) and the training seconds
    (a generator from noise has no validation PSNR)."""
    live = json.loads(show(ref, "dvclive/metrics.json"))
    return {"metrics": json.loads(show(ref, "eval/metrics.json")), "d_measures": d_measures(ref),
            "train_seconds": live["train"].get("seconds")}


def value(metrics: dict, measure: str, name: str) -> float | None:
    """The figure of set ``name`` by ``measure`` in an evaluation's ``metrics`` (a KID's mean), or None."""
    figure = metrics.get(measure, {}).get(name)
    return figure["mean"] if isinstance(figure, dict) else figure


def table(results: list[dict]) -> str:
    """The markdown table: the references once (from the first row's evaluation: every row is
    measured against the same real frames), then a line per row."""
    scored = any("inception_score" in r["metrics"] for r in results)
    head = ("| run | FID | KID | precision | recall | density | coverage | " + ("IS | " if scored else "")
            + "D's measure (mean, 2nd half) | train s |\n" + "|---" * (9 + scored) + "|\n")

    def line(label: str, metrics: dict, name: str, measure: str = "", seconds=None) -> str:
        figures = [cell(value(metrics, "fid", name)), cell(value(metrics, "kid", name), 4)]
        figures += [cell(value(metrics, pair, name), 3) for pair in ("precision", "recall", "density", "coverage")]
        if scored:
            figures.append(cell(value(metrics, "inception_score", name)))
        return f"| {label} | {' | '.join(figures)} | {measure} | {cell(seconds, 0)} |\n"

    first = results[0]["metrics"]
    body = "".join(line(f"real, {name}", first, name) for name in first.get("references", {}))
    families = {}  # the untrained generator of each family (every row of a family starts from the same weights)
    for r in results:
        families.setdefault(r["metrics"]["family"], r["metrics"])
    body += "".join(line(f"untrained {family}", m, "untrained") for family, m in families.items())
    for r in results:
        m = r["metrics"]
        body += line(f"`{r['row']}` ({m['family']})", m, "generator", measures_cell(r["d_measures"]), r["train_seconds"])
    return head + body


def caption(record: dict) -> str:
    """What the table measured: the budget, the images, the extractor, the k-NN sizes."""
    results = record["results"]
    first = results[0]["metrics"]
    extractor = first.get("feature_extractor", {})
    steps = sorted({r["metrics"]["step"] for r in results})
    return (f"{' or '.join(map(str, steps))} generator updates a row, {first['samples']} generated images against "
            f"{first['samples']} frames of moving test patches through the feature extractor "
            f"{extractor.get('extractor_file', '(none)')} (precision and recall: k = "
            f"{extractor.get('pr_neighbours', '-')}; density and coverage: k = {extractor.get('dc_neighbours', '-')}).")


def document(record: dict) -> str:
    """The table under a caption: the machine, then :func:`caption`."""
    return f"Generation zoo on {record['machine']}: {caption(record)}\n\n" + table(record["results"])


def _grid(ref: str, picture: str) -> np.ndarray:
    """The first PICTURED x PICTURED images of an evaluation's picture ``eval/pictures/<picture>.png``
    (a grid of GRID columns at zoom 2), RGB."""
    image = runner.read_picture(ref, f"eval/pictures/{picture}.png")
    side = image.shape[1] // 8 * PICTURED  # the evaluation's grids are 8 columns wide (GRID)
    return image[:side, :side]


def picture(record: dict, per_row: int = 6) -> np.ndarray:
    """Real frames, the untrained generator's samples (both from the first row's evaluation) and
    each row's samples, labelled with the row and its FID. RGB uint8."""
    results = record["results"]
    first = results[0]
    cells = [runner.label(_grid(first["ref"], "real"), "real frames"),
             runner.label(_grid(first["ref"], "untrained"), f"untrained {cell(value(first['metrics'], 'fid', 'untrained'), 1)}")]
    cells += [runner.label(_grid(r["ref"], "samples"), f"{r['row']} {cell(value(r['metrics'], 'fid', 'generator'), 1)}")
              for r in results]
    return runner.tile(cells, per_row)


STUDY = Study(name="generation", description=__doc__.split("\n\n")[0], rows=lambda args: rows(), collect=collect,
              document=document, label=lambda result: result["row"], picture=picture)


def main(argv: list[str] | None = None, prog: str = "python -m experiments.generation") -> None:
    """``python -m experiments.generation [--only ROWS] [--set KEY=VALUE] [--collect]`` (``argv``: the
    arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
