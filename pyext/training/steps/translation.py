"""The training steps of unpaired translation (``model.family``: ``cyclegan``, ``discogan``,
``dualgan``; networks: :mod:`pyext.models.translation`; terms: :mod:`pyext.losses.translation`).

Each step's batches are clips ``(2B, T, 3, P, P)``, ``B = train.batch_size``: rows ``:B`` of domain A
(``data.source``'s videos), rows ``B:`` of domain B (``data.translate.source``'s), unpaired. One
frame of each clip is used, drawn as DCGAN's step draws it (:func:`~.dcgan.frame_of_each`, from
``(train.seed, step, batch)``): ``a`` ``(B, 3, P, P)`` and ``b``. A step takes ``critic_steps`` batches
(the objective's ``loss.adversarial.d_steps``, or a Wasserstein critic's own: DualGAN's n_critic):

- on each batch but the last, both discriminators' update on ``a``, ``b`` and ``F(b)``, ``G(a)``;
- on the last, the generators' update: the objective's G terms for ``G(a)`` judged by ``D_B`` and
  ``F(b)`` by ``D_A``, plus the family's reconstruction terms of ``F(G(a))`` and ``G(F(b))`` (and
  CycleGAN's identity term); then both discriminators' update on the images G's update made, as
  CycleGAN's code orders them (it saves a forward of the generators).

A discriminator's loss is the objective's (``real``: the domain's frames; ``fake``: the other
generator's images, through CycleGAN's pool where it has one), both domains' summed, times a
family's factor (:func:`~pyext.losses.translation.papers_factors`). The objective's
``after_discriminator_step`` follows every D update, for each discriminator: the ``wgan``
objective's weight clipping of DualGAN's critics is that one place.

Checkpoints hold both generators (the model), both discriminators, both optimisers, the objective's
state and both pools (images and random state); the rates are a function of the step: a resumed run
continues bit for bit. A distributed run is refused.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...config import Params, ParamsError
from ...losses import make_objective
from ...losses.reconstruction import lp_loss
from ...losses.translation import (cycle_loss, discogan_code_weights, discogan_reconstruction_loss,
                                   dualgan_reconstruction_loss, feature_matching_loss, identity_loss,
                                   linear_decay_factor, papers_factors)
from ...models.base import seeded_generator
from ...models.blocks import set_batch_groups
from ...models.translation import (CycleGAN, DiscoGAN, DiscoGANDiscriminator, DualGAN, DualGANDiscriminator,
                                   PatchDiscriminator)
from ...pictures import frame_grid
from ..arithmetic import to_memory_format, training_autocast
from ..optim import make_optimizer
from ..pool import ImagePool
from .base import TrainingStep, register_step
from .dcgan import PICTURE_SAMPLES, frame_of_each

_POOL_STREAM = 0x706F6F6C  # "pool": the pools' seeds, apart from every other draw of train.seed
DISCOGAN_CODE_INTERVAL = 3  # DiscoGAN's code updates D on every third step, G on the others
DISCOGAN_CODE_WEIGHT_DECAY = 1e-5  # and gives both Adams this weight decay


def judged_by(network: nn.Module):
    """A network of frames as the objectives call a discriminator (:mod:`pyext.losses.adversarial`):
    ``D([frames (N, 3, P, P)], None)`` -> ``[outputs]`` (logits ``(N, 1)`` or ``(N, 1, h, w)``)."""
    def judge(judged, condition=None):
        return [network(judged[0])]
    return judge


class TranslationStep(TrainingStep):
    """Two generators (the model), two discriminators, their optimisers and one step (arguments:
    :class:`~.base.TrainingStep`'s; ``classes``: not read). A family sets :attr:`translator` and
    defines :meth:`discriminator` and :meth:`reconstruction`, and may change :meth:`factors`,
    :meth:`updates`, :meth:`adversarial_terms`, :meth:`rates` and :attr:`pool_size`."""

    adversarial = True
    validates = False  # no validation PSNR: a translation has no ground truth
    generator = None  # not a generator from noise: no FID of samples during training
    predictor = None
    translator: type[CycleGAN | DiscoGAN | DualGAN]

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1, classes: int = 0):
        family = params.model.family
        if distributed:
            raise ParamsError("params.yaml", "model.family", f"expected a family that is not a translator in a "
                              f"distributed run (the translators' networks are not wrapped for one yet), got {family!r}")
        self.s, self.tp, self.device = getattr(params.model, family), params.train, device
        self.objective = make_objective(params.loss.adversarial)
        torch.manual_seed(self.tp.seed)  # G, F, then D_A, D_B: the evaluation rebuilds the untrained model this way
        self.model = self.translator.from_params(params).to(device)
        self.D_a, self.D_b = (self.discriminator(params).to(device) for _ in range(2))
        for D in (self.D_a, self.D_b):
            set_batch_groups(D, self.tp.batch_size)  # real and generated frames normalised apart (DiscoGAN's)
        to_memory_format(self.tp.channels_last, self.model, self.D_a, self.D_b)
        self.opt_g = make_optimizer(self.s, self.model.parameters(), self.s.lr_g)
        self.opt_d = make_optimizer(self.s, [*self.D_a.parameters(), *self.D_b.parameters()], self.s.lr_d)
        # The pools of generated A frames (F(b)) and B frames (G(a)), seeded apart from every other draw.
        self.pools = [ImagePool(self.pool_size, seed=seeded_generator([self.tp.seed, _POOL_STREAM, k]).initial_seed())
                      for k in range(2)]
        self.G, self.F = (torch.compile(g) if compile else g for g in (self.model.G, self.model.F))
        self.dtype, self.autocast = training_autocast(self.tp.precision, device)
        self.d_factor, self.g_factor = self.factors()
        self.d_measures: list[str] = []
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)

    # -------------------------------------------------------------------------- what a family sets

    @property
    def pool_size(self) -> int:
        """Generated images per domain the discriminators learn from (0: none, their latest)."""
        return 0

    def discriminator(self, params: Params) -> nn.Module:
        """One domain's untrained discriminator."""
        raise NotImplementedError

    def factors(self) -> tuple[float, float]:
        """The factors of D's loss and of G's adversarial terms (1, 1: the objective's as they are)."""
        return 1.0, 1.0

    def updates(self, step: int) -> tuple[bool, bool]:
        """Whether update ``step`` steps G's optimiser, and D's on the last batch (both, but in
        DiscoGAN's code)."""
        return True, True

    def rates(self, step: int) -> float:
        """The learning rates of update ``step`` as a factor of ``lr_g`` and ``lr_d`` (1: constant)."""
        return 1.0

    def adversarial_terms(self, a, b, fake_a, fake_b, step: int) -> dict[str, torch.Tensor]:
        """G's adversarial terms, weighed: ``G(a)`` = ``fake_b`` judged by ``D_B``, ``F(b)`` by
        ``D_A``, each the objective's G loss."""
        terms = [self.objective.generator_loss(judged_by(D), [fake]) for D, fake in
                 ((self.D_b, fake_b), (self.D_a, fake_a))]
        return {"adversarial": self.g_factor * torch.stack([t for scales in terms for t in scales]).sum()}

    def reconstruction(self, a, b, rec_a, rec_b, step: int) -> tuple[dict[str, torch.Tensor], int]:
        """The family's weighed terms of the reconstructions ``F(G(a))`` and ``G(F(b))``, and the
        ``p`` of their distance (logged per direction)."""
        raise NotImplementedError

    def identity(self, a, b) -> dict[str, torch.Tensor]:
        """A family's identity terms of ``F(a)`` and ``G(b)`` (none but CycleGAN's)."""
        return {}

    # ------------------------------------------------------------------------------------ the step

    @property
    def batches_per_step(self) -> int:
        return self.objective.critic_steps

    def _frames(self, clips: torch.Tensor, step: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One frame of each clip of batch ``batch`` of update ``step``: A's ``(B, 3, P, P)``, B's."""
        B = self.tp.batch_size
        if clips.dim() != 5 or clips.shape[0] != 2 * B:
            raise ValueError(f"a translator's batch is (2 x train.batch_size = {2 * B}, T, 3, P, P) clips, domain "
                             f"A's then B's, got {tuple(clips.shape)}")
        frames = frame_of_each(clips, (self.tp.seed, step, batch), 0, 2 * B)
        return frames[:B], frames[B:]

    def step(self, step: int, batches: list[torch.Tensor], labels: list[torch.Tensor] | None = None
             ) -> dict[str, torch.Tensor]:
        """Update ``step`` (0-based) on ``batches`` (``critic_steps`` batches of clips, rows ``:B``
        domain A's and ``B:`` domain B's; ``labels``, their domains, are not read: the rows say them)."""
        factor = self.rates(step)
        for optimizer, rate in ((self.opt_g, self.s.lr_g), (self.opt_d, self.s.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = rate * factor
        for j, clips in enumerate(batches[:-1]):
            a, b = self._frames(clips, step, j)
            with torch.no_grad(), self.autocast:
                fake_a, fake_b = self.F(b), self.G(a)
            self._discriminator_update(a, b, fake_a, fake_b, True)
        a, b = self._frames(batches[-1], step, len(batches) - 1)
        update_g, update_d = self.updates(step)
        for D in (self.D_a, self.D_b):
            D.requires_grad_(False)  # G's update reaches D's input, not its weights
        try:
            with self.autocast:
                fake_b, fake_a = self.G(a), self.F(b)
                rec_a, rec_b = self.F(fake_b), self.G(fake_a)
                terms = self.adversarial_terms(a, b, fake_a, fake_b, step)
                weighed, p = self.reconstruction(a, b, rec_a, rec_b, step)
                terms |= weighed | self.identity(a, b)
                loss_g = torch.stack(list(terms.values())).sum()
            self._update(self.opt_g, loss_g, update_g)
        finally:
            for D in (self.D_a, self.D_b):
                D.requires_grad_(True)
        d_loss, measures = self._discriminator_update(a, b, fake_a.detach(), fake_b.detach(), update_d)
        with torch.no_grad():  # each direction's cycle, unweighed
            cycles = {"cycle_a": lp_loss(rec_a, a, p), "cycle_b": lp_loss(rec_b, b, p)}
        measures |= self.objective.after_generator_step()
        self.d_measures = list(measures)
        logged = {"loss_d": d_loss, "loss_g": loss_g} | terms | cycles | measures
        return {f"train/{name}": value.detach() for name, value in logged.items()}

    def _discriminator_update(self, a, b, fake_a, fake_b, update: bool) -> tuple[torch.Tensor, dict]:
        """Both discriminators' loss on the real frames ``a``, ``b`` against the generated ``fake_a``
        ``= F(b)`` and ``fake_b = G(a)`` (through the pools), and their update where ``update``.
        Returns the loss and D's measures per domain (``<measure>_a``, ``<measure>_b``)."""
        seen_a, seen_b = self.pools[0].query(fake_a), self.pools[1].query(fake_b)
        with self.autocast:
            losses = {"a": self.objective.discriminator_loss(judged_by(self.D_a), [a], [seen_a]),
                      "b": self.objective.discriminator_loss(judged_by(self.D_b), [b], [seen_b])}
            loss = self.d_factor * (losses["a"].total + losses["b"].total)
        self._update(self.opt_d, loss, update)
        if update:
            for D in (self.D_a, self.D_b):
                self.objective.after_discriminator_step(D)
        return loss, {f"{name}_{k}": value for k, dl in losses.items() for name, value in dl.measures().items()}

    def _update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, update: bool) -> None:
        self.nonfinite |= ~torch.isfinite(loss.detach())
        if update:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    # ---------------------------------------------------------------------- pictures and the state

    @torch.no_grad()
    def pictures(self, batch) -> dict[str, np.ndarray]:
        """``translations``, from a batch ``(clips (2B, T, 3, P, P), domains (2B,))``: rows ``a``,
        ``G(a)``, ``F(G(a))``, then ``b``, ``F(b)``, ``G(F(b))``, of the first frame of the first clips of
        each domain (domains None, or of one domain alone: the batch's halves), the generators in eval mode."""
        clips, domains = batch
        frames = clips[:, 0].to(self.device)
        a, b = frames.chunk(2)
        if domains is not None and len(set(domains.tolist())) == 2:
            a, b = frames[domains.to(self.device) == 0], frames[domains.to(self.device) == 1]
        n = min(len(a), len(b), PICTURE_SAMPLES)
        a, b = a[:n], b[:n]
        self.model.eval()
        try:
            g_a, f_b = self.model.translate(a, "ab"), self.model.translate(b, "ba")
            rows = [a, g_a, self.model.translate(g_a, "ba"), b, f_b, self.model.translate(f_b, "ab")]
        finally:
            self.model.train()
        return {"translations": frame_grid(torch.stack([row.float() for row in rows]), zoom=2)}

    def state(self) -> dict:
        return {"generator": self.model.state_dict(), "discriminator_a": self.D_a.state_dict(),
                "discriminator_b": self.D_b.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "objective": self.objective.state_dict(),
                "pool_a": self.pools[0].state_dict(), "pool_b": self.pools[1].state_dict()}

    def load_state(self, saved: dict) -> None:
        self.model.load_state_dict(saved["generator"])
        self.D_a.load_state_dict(saved["discriminator_a"])
        self.D_b.load_state_dict(saved["discriminator_b"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
        self.objective.load_state_dict(saved["objective"])
        self.pools[0].load_state_dict(saved["pool_a"])
        self.pools[1].load_state_dict(saved["pool_b"])


@register_step("cyclegan")
class CycleGANStep(TranslationStep):
    """CycleGAN's step (``model.cyclegan``): PatchGANs whose field fits ``receptive``; D's loss halved
    and G's adversarial terms whole (:func:`~pyext.losses.translation.papers_factors`: the ``lsgan``
    objective's D loss is halved already, its G terms doubled); G's loss adds ``cycle_weight`` times
    the cycle loss and ``identity_share * cycle_weight`` times the identity loss; a pool of ``pool``
    images per domain; the rates decay linearly to 0 over the second half of ``train.steps``."""

    translator = CycleGAN

    @property
    def pool_size(self) -> int:
        return self.s.pool

    def discriminator(self, params: Params) -> nn.Module:
        return PatchDiscriminator(params.clip.patch, receptive=self.s.receptive or None, width=self.s.width)

    def factors(self) -> tuple[float, float]:
        return papers_factors(self.objective)

    def rates(self, step: int) -> float:
        return linear_decay_factor(step, self.tp.steps) if self.s.decay else 1.0

    def reconstruction(self, a, b, rec_a, rec_b, step):
        return {"cycle": cycle_loss(a, rec_a, b, rec_b, self.s.cycle_weight)}, 1

    def identity(self, a, b):
        if not self.s.identity_share:
            return {}
        return {"identity": identity_loss(a, self.F(a), b, self.G(b), self.s.cycle_weight, self.s.identity_share)}


@register_step("discogan")
class DiscoGANStep(TranslationStep):
    """DiscoGAN's step (``model.discogan``): DCGAN's discriminators with batch norm (real and
    generated frames judged in one call, normalised apart); ``recipe: paper``: G's loss the GAN terms
    plus the squared reconstructions, D and G every step; ``recipe: code``: the published code's
    (the section's docstring): feature matching, the weights of
    :func:`~pyext.losses.translation.discogan_code_weights`, D's cross-entropy halved, D updated on
    every :data:`DISCOGAN_CODE_INTERVAL`-th step and G on the others, Adam's weight decay."""

    translator = DiscoGAN

    def __init__(self, params: Params, device: torch.device, **kwargs):
        super().__init__(params, device, **kwargs)
        self.code = self.s.recipe == "code"
        if self.code:
            for optimizer in (self.opt_g, self.opt_d):
                for group in optimizer.param_groups:
                    group["weight_decay"] = DISCOGAN_CODE_WEIGHT_DECAY

    def discriminator(self, params: Params) -> nn.Module:
        return DiscoGANDiscriminator(params.clip.patch, self.s.width)

    def factors(self) -> tuple[float, float]:
        return papers_factors(self.objective) if self.s.recipe == "code" else (1.0, 1.0)  # the paper: L_DA + L_DB

    def updates(self, step: int) -> tuple[bool, bool]:
        if not self.code:
            return True, True
        d_turn = step % DISCOGAN_CODE_INTERVAL == 0
        return not d_turn, d_turn

    def _weights(self, step: int) -> tuple[float, float, float]:
        """(GAN, feature matching, reconstruction) weights of update ``step``."""
        if not self.code:
            return 1.0, 0.0, 1.0
        return discogan_code_weights(step, self.s.curriculum, self.s.starting_rate, self.s.default_rate)

    def adversarial_terms(self, a, b, fake_a, fake_b, step):
        gan, matching, _ = self._weights(step)
        if not matching:
            return {"adversarial": gan * super().adversarial_terms(a, b, fake_a, fake_b, step)["adversarial"]}
        adversarial, features = [], []
        for D, real, fake in ((self.D_b, b, fake_b), (self.D_a, a, fake_a)):
            logits, fake_features = D.judge(fake)  # judged once: its answer for the objective, its features
            with torch.no_grad():
                _, real_features = D.judge(real)
            adversarial += self.objective.generator_loss(lambda judged, condition=None: [logits], [fake])
            features.append(feature_matching_loss(real_features, fake_features))
        return {"adversarial": gan * self.g_factor * torch.stack(adversarial).sum(),
                "feature_matching": matching * torch.stack(features).sum()}

    def reconstruction(self, a, b, rec_a, rec_b, step):
        return {"reconstruction": self._weights(step)[2] * discogan_reconstruction_loss(a, rec_a, b, rec_b)}, 2


@register_step("dualgan")
class DualGANStep(TranslationStep):
    """DualGAN's step (``model.dualgan``): PatchGAN critics of 5x5 kernels, judged by the objective
    as it is (the paper's ``wgan``: its weight clipping after every critic update, ``critic_steps``
    critic updates per generator update); G's loss adds ``cycle_weight`` times the L1 reconstructions."""

    translator = DualGAN

    def discriminator(self, params: Params) -> nn.Module:
        return DualGANDiscriminator(params.clip.patch, receptive=self.s.receptive or None, width=self.s.width)

    def reconstruction(self, a, b, rec_a, rec_b, step):
        return {"reconstruction": dualgan_reconstruction_loss(a, rec_a, b, rec_b, self.s.cycle_weight)}, 1


__all__ = ["CycleGANStep", "DiscoGANStep", "DualGANStep", "TranslationStep", "judged_by"]
