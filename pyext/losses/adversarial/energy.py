"""Energy-based objectives: the discriminator is an autoencoder
(:class:`pyext.models.autoencoder.AutoencoderDiscriminator`: ``pyext.config.OBJECTIVES``) and
a clip's energy per scale is its judged frames' reconstruction error, low for clips D takes as real.

- ``ebgan`` (Zhao, Mathieu & LeCun 2017): energy ``E`` = the per-clip mean squared reconstruction
  error (a per-pixel mean, so ``margin`` is in those units: the paper's ``||Dec(Enc(v)) - v||`` is
  ``sqrt(E * N)`` for N values per clip, and its margin m corresponds to ``m^2 / N`` here).
  ``L_D = mean E(real) + mean relu(margin - E(fake))``; ``L_G = mean E(fake) + pt_weight * PT``
  with the pull-away term ``PT = sum_{i != j} cos^2(s_i, s_j) / (N (N - 1))`` over the encoder
  codes ``s`` of the generated batch (per scale). Under DistributedDataParallel the pairs are
  those of each process's share of the batch.
- ``began`` (Berthelot, Schumm & Metz 2017): ``L`` = the per-clip mean absolute reconstruction
  error; ``L_D = L(real) - k_t L(fake)``, ``L_G = L(fake)`` per scale; one ``k_t`` for the run
  (energies summed over scales), updated after both players' updates,
  ``k_{t+1} = clip(k_t + lambda_k (gamma L(real) - L(fake)), 0, 1)`` with ``L(real)`` from the
  discriminator's update and ``L(fake)`` from the generator's (the paper's z_D and z_G), each
  first averaged over the processes of a distributed run so that every replica keeps the same
  ``k_t``. Logged: ``k`` and the convergence measure ``M = L(real) + |gamma L(real) - L(fake)|``.
  ``k_t`` is in the checkpoint (:meth:`state_dict`).

Energies are computed in float32 whatever the autocast dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .base import AdversarialObjective, DiscriminatorLoss, judge_together, register


@dataclass
class EnergyLoss(DiscriminatorLoss):
    """An energy-based discriminator's loss: ``real_logits`` and ``fake_logits`` hold the per-clip
    energies ``(B,)`` per scale (no decision threshold), so it measures the mean energies of real
    and generated clips, summed over scales."""

    def measures(self) -> dict[str, torch.Tensor]:
        return {"energy_real": torch.stack([e.mean() for e in self.real_logits]).sum(),
                "energy_fake": torch.stack([e.mean() for e in self.fake_logits]).sum()}


def pull_away(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pull-away term of codes ``(N, c)``: the mean squared cosine similarity over the
    ordered pairs ``i != j`` (0 for fewer than 2 codes)."""
    n = len(codes)
    if n < 2:
        return codes.new_zeros((), dtype=torch.float32)
    s = F.normalize(codes.float().flatten(1), dim=1)
    similarity = (s @ s.T).square()
    return (similarity.sum() - similarity.diagonal().sum()) / (n * (n - 1))


class _Autoencoder(AdversarialObjective):
    """Energies ``mean |D(v) - v|^power`` per clip and scale, judged in one call of D (an
    autoencoder: ``pyext.config.OBJECTIVES`` names it for these objectives)."""

    power = 2

    def energies(self, outputs, judged) -> list[torch.Tensor]:
        """Per scale, the ``(B,)`` energies of the judged frames from D's ``(reconstruction, code)``."""
        return [(rec.float() - y.float()).abs().pow(self.power).flatten(1).mean(1)
                for (rec, _), y in zip(outputs, judged)]

    def _real_and_fake(self, D, real, fake, condition) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outputs, judged = judge_together(D, condition, real, fake)
        energies = self.energies(outputs, judged)
        b = len(real[0])
        return [e[:b] for e in energies], [e[b:] for e in energies]


@register("ebgan")
class EBGANObjective(_Autoencoder):
    def __init__(self, params):
        super().__init__(params)
        self.margin, self.pt_weight = params.ebgan.margin, params.ebgan.pt_weight

    def discriminator_loss(self, D, real, fake, condition=None):
        e_real, e_fake = self._real_and_fake(D, real, fake, condition)
        per_scale = [r.mean() + F.relu(self.margin - f).mean() for r, f in zip(e_real, e_fake)]
        return EnergyLoss(per_scale, e_real, e_fake)

    def generator_loss(self, D, fake, condition=None):
        outputs = D(fake, condition)
        return [e.mean() + self.pt_weight * pull_away(code)
                for e, (_, code) in zip(self.energies(outputs, fake), outputs)]


@register("began")
class BEGANObjective(_Autoencoder):
    power = 1

    def __init__(self, params):
        super().__init__(params)
        self.gamma, self.lambda_k = params.began.gamma, params.began.lambda_k
        self.k = torch.zeros(())  # k_0 = 0
        # This step's L(real) (the discriminator's update) and L(fake) (the generator's), summed
        # over scales, detached.
        self._real: torch.Tensor | None = None
        self._fake: torch.Tensor | None = None

    def discriminator_loss(self, D, real, fake, condition=None):
        e_real, e_fake = self._real_and_fake(D, real, fake, condition)
        k = self.k.to(real[0].device)
        per_scale = [r.mean() - k * f.mean() for r, f in zip(e_real, e_fake)]
        self._real = torch.stack([r.mean() for r in e_real]).sum().detach()
        return EnergyLoss(per_scale, e_real, e_fake)

    def generator_loss(self, D, fake, condition=None):
        per_scale = [e.mean() for e in self.energies(D(fake, condition), fake)]
        self._fake = torch.stack(per_scale).sum().detach()
        return per_scale

    def after_generator_step(self):
        if self._real is None or self._fake is None:
            raise RuntimeError("BEGAN's k_t update needs a discriminator and a generator update first")
        energies = torch.stack([self._real, self._fake])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(energies)  # every replica updates k_t from the whole batch's energies
            energies = energies / dist.get_world_size()
        real, fake = energies
        balance = self.gamma * real - fake
        self.k = (self.k.to(real.device) + self.lambda_k * balance).clamp(0, 1)
        self._real = self._fake = None
        return {"k": self.k, "convergence": real + balance.abs()}

    def state_dict(self):
        return {"k": self.k.detach().cpu().clone()}

    def load_state_dict(self, state):
        self.k = state["k"].clone()
