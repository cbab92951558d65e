"""The training clips' order: endless batches, the same for a run and its resumption."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class ClipBatches(torch.utils.data.Sampler):
    """Endless batches of dataset indices for one process: epoch e visits the clips in the order of
    a permutation seeded by ``(seed, e)``; global batch j holds the clips at positions
    ``position + j * batch .. + batch`` of that endless sequence, and process ``rank`` takes its
    ``batch / world`` share. Restarting at a saved position continues the same sequence.
    """

    def __init__(self, n: int, batch: int, seed: int, position: int, rank: int = 0, world: int = 1):
        super().__init__()
        if n < 1:
            raise ValueError("no training clips")
        self.n, self.batch, self.seed, self.position = n, batch, seed, position
        self.share = batch // world
        self.offset = rank * self.share
        self._epoch, self._order = -1, np.empty(0, np.int64)

    def _index(self, position: int) -> int:
        epoch, i = divmod(position, self.n)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._order[i])

    def __iter__(self) -> Iterator[list[int]]:
        position = self.position
        while True:
            start = position + self.offset
            yield [self._index(p) for p in range(start, start + self.share)]
            position += self.batch


def split(clips: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch ``(B, m + n, 3, P, P)`` -> inputs ``(B, m, ...)`` and targets ``(B, n, ...)``."""
    return clips[:, :m], clips[:, m:]
