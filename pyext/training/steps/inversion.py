"""DeePSiM's inversion's training step (``model.family: inversion``; Dosovitskiy & Brox 2016;
networks: :mod:`pyext.models.inversion`; terms: :mod:`pyext.losses.inversion`).

It is DCGAN's step (:class:`~.dcgan.DCGANStep`: one frame ``x`` of each training patch per batch,
drawn from ``(train.seed, step, batch)``; ``critic_steps`` D updates, then one G update;
``model.inversion``'s optimiser at constant rates) with G decoding the fixed network's features
``phi(x)`` instead of noise:

- D: the objective's loss (``loss.adversarial``) of the real frames against their inversions
  ``G(phi(x))`` (judging images alone; the paper's discriminator also reads the features);
- G, on the last D batch: ``feature_weight * ||C(G(phi(x))) - C(x)||^2 + adversarial_weight * L_adv
  + image_weight * ||G(phi(x)) - x||^2``, a weight of 0 leaving its term uncomputed.

phi and C are the fixed network's layers: in eval mode, no weight of theirs takes a gradient, and G's
optimiser holds G's weights alone. A distributed run is refused.
"""
from __future__ import annotations

import numpy as np
import torch

from ...config import Params
from ...losses.adversarial import DiscriminatorLoss
from ...losses.inversion import feature_loss, image_loss
from ...models.inversion import InversionDiscriminator, Inverter
from ..optim import make_optimizer
from .base import register_step
from .dcgan import DCGANStep, frame_of_each


@register_step("inversion")
class InversionStep(DCGANStep):
    """The inversion's G (with its fixed network) and D, their optimisers and one step (arguments:
    :class:`~.base.TrainingStep`'s)."""

    model: Inverter
    undistributed = "the inversion's networks are not wrapped for one yet"
    conditioned = False  # G takes no class

    def __init__(self, params: Params, device: torch.device, **kwargs):
        super().__init__(params, device, **kwargs)
        # G's optimiser over the decoder alone: the fixed network is no parameter of its.
        self.opt_g = make_optimizer(self.d, self.model.decoder.parameters(), self.d.lr_g)

    @property
    def generator(self) -> None:
        """No generator from noise: the loop measures no FID of samples during training."""
        return None

    @staticmethod
    def section(params: Params):
        return params.model.inversion

    @staticmethod
    def networks(params: Params):
        return Inverter.from_params(params), InversionDiscriminator.from_params(params)

    def wrap(self, device: torch.device, distributed: bool, compile: bool) -> None:
        """G's and D's callables (compiled with ``compile``)."""
        self.g_forward = torch.compile(self.model) if compile else self.model
        self.d_forward = self.d_judge = torch.compile(self.D) if compile else self.D

    def _frames(self, clips: torch.Tensor, step: int, batch: int) -> torch.Tensor:
        return frame_of_each(clips, (self.tp.seed, step, batch), self.offset, self.tp.batch_size)

    def discriminator_loss(self, clips: torch.Tensor, step: int, batch: int, labels=None) -> DiscriminatorLoss:
        """The real frames against their inversions (``labels``: not read, the family takes no class)."""
        x = self._frames(clips, step, batch)
        with torch.no_grad():
            fake = self.g_forward(self.model.features(x))
        return self.objective.discriminator_loss(self.d_forward, [x], [fake])

    def generator_update(self, clips: torch.Tensor, step: int, batch: int) -> dict[str, torch.Tensor]:
        """G's update on the last D batch (``clips``, batch ``batch - 1``): the module docstring.
        Returns the logged values: ``loss_g`` and each weighed term."""
        v = self.d
        x = self._frames(clips, step, batch - 1)
        with self.autocast:
            fake = self.g_forward(self.model.features(x))
            terms = {}
            if v.feature_weight:
                with torch.no_grad():
                    target = self.model.compared(x)
                terms["feature"] = (v.feature_weight, feature_loss(self.model.compared(fake), target))
            if v.adversarial_weight:
                terms["adversarial"] = (v.adversarial_weight,
                                        torch.stack(self.objective.generator_loss(self.d_judge, [fake])).sum())
            if v.image_weight:
                terms["image"] = (v.image_weight, image_loss(fake, x))
            loss = sum(weight * term for weight, term in terms.values())
        self._update(self.opt_g, loss)
        return {"loss_g": loss.detach(), **{name: term.detach() for name, (_, term) in terms.items()}}

    def pictures(self, batch) -> dict[str, np.ndarray]:
        """``inversions``: a row of real frames (the first of each of the batch's first clips) above
        their inversions, G in eval mode."""
        return {"inversions": self.rebuilt_picture(batch, self.model.invert)}


__all__ = ["InversionStep"]
