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

    def __init__(self, n: int, batch: int, seed: int, position: int, rank: int = 0, world: int = 1,
                 stream: int | None = None):
        super().__init__()
        if n < 1:
            raise ValueError("no training clips")
        self.n, self.batch, self.seed, self.position = n, batch, seed, position
        self.stream = () if stream is None else (stream,)  # another order of the same seed (a domain's)
        self.share = batch // world
        self.offset = rank * self.share
        self._epoch, self._order = -1, np.empty(0, np.int64)

    def _index(self, position: int) -> int:
        epoch, i = divmod(position, self.n)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch, *self.stream]).permutation(self.n)
        return int(self._order[i])

    def __iter__(self) -> Iterator[list[int]]:
        position = self.position
        while True:
            start = position + self.offset
            yield [self._index(p) for p in range(start, start + self.share)]
            position += self.batch


class DomainBatches(torch.utils.data.Sampler):
    """Endless unpaired batches of two domains for one process: each global batch holds ``batch``
    clips of domain A then ``batch`` of domain B (``domains``: each clip's, 0 or 1), each domain's
    drawn in the order :class:`ClipBatches` draws a set's, from a stream of its own (``(seed, e,
    domain)``), so that which A clip meets which B clip changes from epoch to epoch. ``position``
    counts each domain's clips consumed; process ``rank`` takes its ``batch / world`` share of both.
    """

    def __init__(self, domains: np.ndarray, batch: int, seed: int, position: int, rank: int = 0, world: int = 1):
        super().__init__()
        self.members = [np.flatnonzero(np.asarray(domains) == d) for d in (0, 1)]
        if not all(len(m) for m in self.members):
            raise ValueError(f"no training clips of domain {'AB'[0 if not len(self.members[0]) else 1]}")
        self.orders = [ClipBatches(len(m), batch, seed, position, rank, world, stream=d)
                       for d, m in enumerate(self.members)]

    def __iter__(self) -> Iterator[list[int]]:
        for a, b in zip(*self.orders):
            yield self.members[0][a].tolist() + self.members[1][b].tolist()


def split(clips: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch ``(B, m + n, 3, P, P)`` -> inputs ``(B, m, ...)`` and targets ``(B, n, ...)``."""
    return clips[:, :m], clips[:, m:]
