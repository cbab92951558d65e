"""IcGAN's reconstruction and editing (Perarnau et al. 2016): the ``icgan`` family at its preset
(``configs/icgan.yaml``: the cGAN on the uncertain-futures set, whose classes one frame shows, then
its two encoders with the GAN frozen), one DVC experiment, then a table and the picture of its edits.

The experiment runs as :mod:`experiments.runner` runs them and stays in the repository as
``editing-icgan``.

    python -m experiments.editing                    # the run; writes experiments/results/editing/
    python -m experiments.editing --collect          # only the table and picture, of the existing experiment

The document (``editing.md``): the cGAN measured as every generator from noise is
(:func:`experiments.generation.table`), then each row's reconstructions of real test frames
``G(E_z(x), E_y(x))`` (PSNR, SSIM), E_y's class accuracy and the edits' class accuracy (or why none
is measured). ``editing.png``: the evaluation's ``edits.png`` (real frames, their reconstructions,
their edit to each class).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments import generation, runner
from experiments.runner import Row, Study
from pyext.evaluation.editing import inversion_line
from pyext.presets import overrides, read_preset

# What `beyondmse editing` says of itself in `beyondmse --help`.
HELP = "IcGAN's encoders: reconstruction and class edits of real frames, then the table and picture"

PRESET = Path("configs/icgan.yaml")


def rows(params_path: str = "params.yaml") -> list[Row]:
    """The one row, ``icgan``, at its preset."""
    return [Row("icgan", tuple(overrides(read_preset(PRESET, params_path))))]


def measured(result: dict) -> str:
    """A row's reconstructions and edits, one sentence."""
    return f"`{result['row']}`: {inversion_line(result['metrics']['inversion']).removeprefix('evaluate: ')}."


def document(record: dict) -> str:
    """The generation table, then each row's reconstruction and edits (:func:`measured`), under a caption."""
    return (f"IcGAN on {record['machine']}: {generation.caption(record)}\n\n" + generation.table(record["results"])
            + "".join(f"\n{measured(r)}\n" for r in record["results"]))


def picture(record: dict) -> np.ndarray:
    """The first row's ``edits.png``, labelled. RGB uint8."""
    r = record["results"][0]
    image = runner.read_picture(r["ref"], "eval/pictures/edits.png")
    return runner.label(image, f"{r['row']}: real frames, reconstructions, then an edit to each class a row")


STUDY = Study(name="editing", description=__doc__.split("\n\n")[0], rows=lambda args: rows(),
              collect=generation.collect, document=document, label=lambda result: result["row"], picture=picture)


def main(argv: list[str] | None = None, prog: str = "python -m experiments.editing") -> None:
    """``python -m experiments.editing [--set KEY=VALUE] [--collect]`` (``argv``: the arguments, None: the
    command line's)."""
    runner.main(STUDY, argv, prog)


if __name__ == "__main__":
    main()
