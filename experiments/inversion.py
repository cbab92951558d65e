"""DeePSiM against pixel-loss-only inversion (Dosovitskiy & Brox 2016, the paper's comparison): the
``inversion`` family on the pipeline's data (the demo set as shipped), at each layer of
:data:`LAYERS`, once with DeePSiM's three terms (its preset's weights) and once with the image term
alone; one DVC experiment a row, one at a time; then a table and a picture.

Every experiment runs as :mod:`experiments.runner` runs them, over ``configs/inversion.yaml`` (batch
64, ``train.steps`` updates). Each stays in the repository as ``inversion-<row>``.

    python -m experiments.inversion                       # every row; writes experiments/results/inversion/
    python -m experiments.inversion --only deepsim-l3     # some rows
    python -m experiments.inversion --collect             # only the table and picture, of existing experiments

The table (``inversion.md``): per layer the untrained inverter, then each row's PSNR and
gradient-energy ratio of the inversions against their real frames (1: as sharp as the real frames;
below: blurrier), FID, KID, precision and recall through the project's feature extractor (not the
inverted network) and the training seconds. ``inversion.png``: per layer, real frames over their
inversions by each row.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments import generation, runner
from experiments.runner import Row, Study
from experiments.zoo import cell
from pyext.config import BUILTIN
from pyext.models.inversion import network_file
from pyext.presets import overrides, read_preset

# What `beyondmse inversion` says of itself in `beyondmse --help`.
HELP = "DeePSiM against pixel-loss-only inversion of the fixed network's layers, then the table and picture"

PRESET = Path("configs/inversion.yaml")
# The layers inverted (model.inversion.layer): 3, the builtin network's 128 maps at 8x8, which still
# place every feature; 5, its pooled 128 features, where where-things-are is mostly gone (the paper's
# fully connected layers, whose pixel-loss inversions it shows blurred).
LAYERS = (3, 5)
# The pixel-loss-only reference: the preset with the feature and adversarial weights at 0.
PIXEL = ("model.inversion.feature_weight=0", "model.inversion.adversarial_weight=0")


def rows(params_path: str = "params.yaml") -> list[Row]:
    """Per layer of :data:`LAYERS`: ``deepsim-l<layer>`` (the preset's weights) and ``pixel-l<layer>``
    (:data:`PIXEL`)."""
    base = tuple(overrides(read_preset(PRESET, params_path)))
    out = []
    for layer in LAYERS:
        at = (*base, f"model.inversion.layer={layer}")
        out += [Row(f"deepsim-l{layer}", at), Row(f"pixel-l{layer}", (*at, *PIXEL))]
    return out


def _loss(metrics: dict) -> str:
    weights = metrics["weights"]
    return " + ".join(f"{weights[term]:g} {term}" for term in ("feature", "adversarial", "image") if weights[term])


def table(results: list[dict]) -> str:
    """The markdown table: the real frames distorted (the references, from the first row's evaluation),
    then per layer its untrained inverter once and its rows."""
    head = ("| run | layer | loss | PSNR dB | gradient-energy ratio | FID | KID | precision | recall | train s |\n"
            + "|---" * 10 + "|\n")

    def distances(m: dict, name: str) -> list[str]:
        return [cell(generation.value(m, "fid", name)), cell(generation.value(m, "kid", name), 4),
                *(cell(generation.value(m, pair, name), 3) for pair in ("precision", "recall"))]

    def line(label: str, m: dict, name: str, loss: str, seconds=None) -> str:
        scores = m["inversion"][name]
        figures = [cell(scores["psnr"]), cell(scores["gradient_ratio"], 3), *distances(m, name)]
        return f"| {label} | {m['network']['layer']} | {loss} | {' | '.join(figures)} | {cell(seconds, 0)} |\n"

    first = results[0]["metrics"]  # every row is measured against the same real frames
    body, layers = "", set()
    for name in first.get("references", {}):
        body += f"| real, {name} | - | - | - | - | {' | '.join(distances(first, name))} | - |\n"
    for r in results:
        m = r["metrics"]
        if m["network"]["layer"] not in layers:
            layers.add(m["network"]["layer"])
            body += line("untrained", m, "untrained", "-")
        body += line(f"`{r['row']}`", m, "generator", _loss(m), r["train_seconds"])
    return head + body


def _network(file: str) -> str:
    return f"the builtin network ({network_file(BUILTIN).name})" if file == BUILTIN else Path(file).name


def caption(record: dict) -> str:
    """What the table measured: the budget, the images, the networks."""
    results = record["results"]
    first = results[0]["metrics"]
    steps = sorted({r["metrics"]["step"] for r in results})
    return (f"{' or '.join(map(str, steps))} updates a row, {first['samples']} frames of moving test patches inverted "
            f"from the layers of {_network(first['network']['file'])} (comparator layer "
            f"{first['network']['comparator_layer']}), FID through the feature extractor "
            f"{first.get('feature_extractor', {}).get('extractor_file', '(none)')}.")


def comparison(results: list[dict]) -> list[str]:
    """Per layer with both rows, a sentence setting DeePSiM's figures beside pixel-loss-only's."""
    lines = []
    for layer in dict.fromkeys(r["metrics"]["network"]["layer"] for r in results):
        rows = {r["row"].split("-")[0]: r["metrics"] for r in results if r["metrics"]["network"]["layer"] == layer}
        if {"deepsim", "pixel"} <= rows.keys():
            d, p = rows["deepsim"], rows["pixel"]
            lines.append(f"Layer {layer}: DeePSiM against the image loss alone, PSNR "
                         f"{cell(d['inversion']['generator']['psnr'])} against {cell(p['inversion']['generator']['psnr'])}"
                         f" dB, gradient-energy ratio {cell(d['inversion']['generator']['gradient_ratio'], 3)} against "
                         f"{cell(p['inversion']['generator']['gradient_ratio'], 3)}, FID "
                         f"{cell(generation.value(d, 'fid', 'generator'))} against "
                         f"{cell(generation.value(p, 'fid', 'generator'))}.")
    return lines


def document(record: dict) -> str:
    """The table under a caption (the machine, then :func:`caption`), then :func:`comparison`."""
    return (f"Inversion on {record['machine']}: {caption(record)}\n\n" + table(record["results"])
            + "".join(f"\n{line}\n" for line in comparison(record["results"])))


def _strips(ref: str) -> tuple[np.ndarray, np.ndarray]:
    """The real frames' strip and the inversions' strip of an evaluation's ``inversions.png`` (rows:
    real, trained, untrained; equal heights), RGB."""
    image = runner.read_picture(ref, "eval/pictures/inversions.png")
    height = image.shape[0] // 3
    return image[:height], image[height:2 * height]


def picture(record: dict) -> np.ndarray:
    """Per layer: its real frames, then each row's inversions of them, labelled. RGB uint8."""
    cells = []
    for layer in dict.fromkeys(r["metrics"]["network"]["layer"] for r in record["results"]):
        results = [r for r in record["results"] if r["metrics"]["network"]["layer"] == layer]
        decoded = {r["row"]: _strips(r["ref"]) for r in results}
        strips = [runner.label(decoded[results[0]["row"]][0], f"layer {layer}: real frames")]
        strips += [runner.label(decoded[r["row"]][1], f"{r['row']}: PSNR {cell(r['metrics']['inversion']['generator']['psnr'], 1)} "
                                f"dB, FID {cell(generation.value(r['metrics'], 'fid', 'generator'), 1)}")
                   for r in results]
        cells.append(np.concatenate(strips))
    return runner.tile(cells, 1)


STUDY = Study(name="inversion", description=__doc__.split("\n\n")[0], rows=lambda args: rows(),
              collect=generation.collect, document=document, label=lambda result: result["row"], picture=picture)


def main(argv: list[str] | None = None, prog: str = "python -m experiments.inversion") -> None:
    """``python -m experiments.inversion [--only ROWS] [--set KEY=VALUE] [--collect]`` (``argv``: the
    arguments, None: the command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
