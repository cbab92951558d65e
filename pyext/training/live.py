"""The dvclive logging of a run."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class Live:
    """dvclive on process 0 (metrics under ``dir/plots/metrics``, pictures under
    ``dir/plots/images``); nothing elsewhere. The pipeline's dvc.yaml declares what it writes."""

    def __init__(self, directory: Path | None, resume: bool):
        self.live = None
        if directory is not None:
            from dvclive import Live
            self.live = Live(str(directory), resume=resume, save_dvc_exp=False, dvcyaml=None)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        if self.live is not None:
            self.live.step = step
            for name, value in values.items():
                self.live.log_metric(name, value)

    def image(self, name: str, picture: np.ndarray) -> None:
        if self.live is not None:
            self.live.log_image(name, picture)

    def end(self) -> None:
        if self.live is not None:
            self.live.make_summary()
            self.live.end()
