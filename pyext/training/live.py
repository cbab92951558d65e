"""The dvclive logging of a run."""
from __future__ import annotations

import numpy as np

from ..files import RunFiles
from ..tables import write_series


# The val/ metrics that are not PSNRs (a generator from noise's, pyext.training.distances): lower is
# better, on scales of their own, so dvclive draws each alone and the PSNR table leaves them out.
DISTANCES = ("fid", "kid")


class Live:
    """dvclive on process 0 (metrics in ``run.live_metrics``, pictures in ``run.live_images``);
    nothing elsewhere, nor where ``run.live`` is None. The pipeline's dvc.yaml declares what it writes."""

    def __init__(self, run: RunFiles | None, resume_step: int = 0):
        """``resume_step``: the checkpoint's step a resumed run goes on from (0: a new run)."""
        self.live, self.run = None, run
        if run is not None and run.live is not None:
            from dvclive import Live
            if resume_step:
                _forget_after(run, resume_step)
            self.live = Live(str(run.live), resume=resume_step > 0, save_dvc_exp=False, dvcyaml=None)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        if self.live is not None:
            self.live.step = step
            for name, value in values.items():
                self.live.log_metric(name, value)

    def validation_table(self) -> None:
        """Rewrites ``run.validation_table`` from the ``val/*`` metrics logged so far (their
        tables, which a resumed run has already cut back): x ``step``, one series per metric
        (``psnr``, ``psnr_last_frame``, ...). The validation PSNRs as one series table, drawn by
        the "series" template: dvclive draws each metric on its own, and the model beside its
        baseline is the point. (:data:`DISTANCES` are left out.)"""
        if self.live is None:
            return
        rows: dict[str, dict[int, float]] = {}
        for table in sorted((self.run.live_metrics / "val").glob("*.tsv")):
            if table.stem in DISTANCES:
                continue
            _, *lines = table.read_text().splitlines()
            rows[table.stem] = {int(step): float(value) for step, value in (line.split("\t") for line in lines)}
        steps = sorted({step for values in rows.values() for step in values})
        write_series(self.run.validation_table, "step", steps,
                     {name: [values.get(step, float("nan")) for step in steps] for name, values in rows.items()})

    def summary(self, key: str, value: object) -> None:
        """Puts ``value`` (JSON) into the run's summary (``run.live_summary``) under ``key``."""
        if self.live is not None:
            self.live.summary[key] = value

    def image(self, name: str, picture: np.ndarray) -> None:
        if self.live is not None:
            self.live.log_image(name, picture)

    def end(self) -> None:
        if self.live is not None:
            self.live.make_summary()
            self.live.end()


def _forget_after(run: RunFiles, step: int) -> None:
    """Drops what an interrupted run logged after its last checkpoint (``step``): the resumed run
    logs those steps again, and its curves must not hold them twice."""
    for table in run.live_metrics.rglob("*.tsv"):
        head, *rows = table.read_text().splitlines(keepends=True)
        kept = [row for row in rows if int(row.split("\t", 1)[0]) <= step]
        if len(kept) < len(rows):
            table.write_text("".join([head, *kept]))
    for picture in run.live_images.rglob("step*.png"):
        if picture.stem[4:].isdigit() and int(picture.stem[4:]) > step:
            picture.unlink()
