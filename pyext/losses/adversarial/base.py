"""What an adversarial objective is, and the registry of them by name (``loss.adversarial.kind``).

An objective judges through a discriminator called as ``D(judged, condition)``: ``judged`` is a list
per scale (coarsest first) of the frames or images judged, ``B`` of them; ``condition`` what they
are judged given, ``B`` rows too (a predictor's input frames; a class; or None, for a generator from
noise), so every objective serves every family. D answers one output per scale.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ...config import OBJECTIVES, AdversarialParams
from ...registry import Registry

# D(judged per scale, condition or None) -> its outputs per scale.
Discriminator = Callable[[Sequence[torch.Tensor], "torch.Tensor | None"], list]


@dataclass
class DiscriminatorLoss:
    """One discriminator update's loss per scale (coarsest first) and the outputs it saw, each
    ``(B, 1)`` per scale; ``threshold`` is the objective's decision boundary between its answers
    "real" (above) and "generated" (below)."""

    per_scale: list[torch.Tensor]
    real_logits: list[torch.Tensor]
    fake_logits: list[torch.Tensor]
    threshold: float = 0.0

    @property
    def total(self) -> torch.Tensor:
        return torch.stack(self.per_scale).sum()

    def accuracy(self) -> torch.Tensor:
        """Fraction of clips, real and generated, over all scales, the discriminator gets right."""
        t = self.threshold
        right = [(r > t).float().mean() + (f < t).float().mean() for r, f in zip(self.real_logits, self.fake_logits)]
        return torch.stack(right).mean() / 2

    def measures(self) -> dict[str, torch.Tensor]:
        """How the discriminator is doing, by name (logged as ``train/<name>``): its accuracy at
        the objective's threshold."""
        return {"d_accuracy": self.accuracy()}


@dataclass
class CriticLoss(DiscriminatorLoss):
    """A Wasserstein critic's loss: its outputs are scores with no decision threshold, so what it
    measures is the distance estimate ``mean r - mean f`` (summed over scales)."""

    def measures(self) -> dict[str, torch.Tensor]:
        gaps = [r.mean() - f.mean() for r, f in zip(self.real_logits, self.fake_logits)]
        return {"critic_distance": torch.stack(gaps).sum()}


def judge_together(D: Discriminator, condition: torch.Tensor | None, *kinds: Sequence[torch.Tensor]):
    """One call of ``D`` on several kinds of judged samples (each a list per scale of ``B``:
    real, generated, ...), every one under the same ``condition`` (``B`` rows, or None):
    DistributedDataParallel allows one forward per backward. Returns D's outputs per scale on the
    ``len(kinds) * B`` samples (the kinds in order) and the judged samples per scale it saw."""
    judged = [torch.cat(scale) for scale in zip(*kinds)]
    return D(judged, None if condition is None else torch.cat([condition] * len(kinds))), judged


class AdversarialObjective:
    """What an adversarial objective provides. It calls ``D`` once per update (a distributed
    discriminator allows one forward per backward): several kinds of samples go in one batch.

    ``real`` and ``fake`` are lists per scale, coarsest first, of ``B`` real and generated samples
    (the predictor's: the true frames' pyramid and the generator's outputs ``(B, n, 3, p_k, p_k)``);
    ``condition`` is what they are judged given (the predictor's input frames ``(B, m, 3, P, P)``),
    or None. An objective is built from the ``loss.adversarial`` params (its own section among them);
    the discriminator it trains is its table entry's (:data:`pyext.config.OBJECTIVES`). One that
    keeps state across steps (BEGAN's k_t) returns it from :meth:`state_dict`: checkpoints hold it,
    so a resumed run continues exactly.
    """

    # Whether its losses are written with a factor 1/2 (LSGAN's, as Mao et al. write them): its D loss
    # is then the halved one of CycleGAN's and DiscoGAN's code, its G loss half of theirs
    # (pyext.losses.translation.papers_factors reads it).
    halved = False

    def __init__(self, params: AdversarialParams):
        self.params = params
        # Discriminator updates per generator update, each on a batch of its own.
        self.critic_steps = params.d_steps
        # This process's rows of each whole batch, (first row, whole batch size): an objective that
        # draws random numbers per clip draws them for the whole batch and takes its rows, so a
        # distributed run draws what one process would (set by the trainer; None: all rows).
        self.rows: tuple[int, int] | None = None

    def after_discriminator_step(self, D: torch.nn.Module) -> None:
        """Called after every discriminator update (e.g. WGAN's weight clipping)."""

    def after_generator_step(self) -> dict[str, torch.Tensor]:
        """Called after every generator update, the end of a training step (e.g. BEGAN's k_t
        update); returns measures of the discriminator to log as ``train/<name>``."""
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The state a resumed run needs (plain tensors, on the CPU)."""
        return {}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def discriminator_loss(self, D: Discriminator, real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor],
                           condition: torch.Tensor | None = None) -> DiscriminatorLoss:
        raise NotImplementedError

    def generator_loss(self, D: Discriminator, fake: Sequence[torch.Tensor],
                       condition: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``L_adv`` per scale; its gradient must reach the generator through ``fake``."""
        raise NotImplementedError


class LogitObjective(AdversarialObjective):
    """An objective written as per-clip functions of the discriminator's outputs ``r`` (real clips)
    and ``f`` (generated ones), each averaged over the batch per scale:
    ``L_D = mean d_real(r) + mean d_fake(f)``, ``L_adv = mean g(f)``."""

    threshold = 0.0  # the output that separates the answers "real" (above) and "generated"
    result = DiscriminatorLoss  # what discriminator_loss returns (a critic's: CriticLoss)

    def d_real(self, r: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_fake(self, f: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g(self, f: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def discriminator_loss(self, D, real, fake, condition=None):
        outputs, _ = judge_together(D, condition, real, fake)
        b = len(real[0])
        real_out, fake_out = [z[:b] for z in outputs], [z[b:] for z in outputs]
        per_scale = [self.d_real(r).mean() + self.d_fake(f).mean() for r, f in zip(real_out, fake_out)]
        return self.result(per_scale, real_out, fake_out, self.threshold)

    def generator_loss(self, D, fake, condition=None):
        return [self.g(f).mean() for f in D(fake, condition)]


# The objective classes by name (pyext.config.OBJECTIVES: each entry's module registers it).
ADVERSARIAL: Registry[type[AdversarialObjective]] = Registry("adversarial objective", OBJECTIVES,
                                                               lambda facts: facts.module)


def register(name: str):
    """Class decorator: the objective under ``loss.adversarial.kind: name`` (an entry of
    :data:`pyext.config.OBJECTIVES`)."""
    return ADVERSARIAL.register(name)
