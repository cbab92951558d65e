"""IcGAN's training step (``model.family: icgan``; Perarnau et al. 2016; networks:
:mod:`pyext.models.icgan`; the encoders' losses: :mod:`pyext.losses.icgan`).

The paper trains the cGAN first, then the encoders on the trained GAN; one run does both, so that
``dvc repro`` trains everything, by the update ``step`` (0-based):

- ``step < model.icgan.encoder_from``: the cGAN's update, DCGAN's conditioned step
  (:class:`~.dcgan.DCGANStep` with ``model.condition: concat``: one frame of each training patch per
  batch, of its patch's class; generated images of classes drawn uniformly beside their latents from
  ``(train.seed, step, batch)``; the objective's losses; ``model.icgan``'s optimiser for G and D);
- ``step >= encoder_from``: the encoders' update, the GAN frozen (G in eval mode, so that neither its
  weights nor its batch norms' statistics move, and its images are those the evaluation decodes; D
  not called). On the first of the step's batches, ``E_z`` is trained on generated images,
  ``L_ez = ||z - E_z(G(z, y'))||^2`` for the batch's latents ``z`` and uniform classes ``y'`` (G
  outside the graph: no gradient reaches it), and ``E_y`` on the real frames,
  ``L_ey = CE(E_y(x), y)`` of their classes; one optimiser (``lr_e``, ``betas_e``) over both
  encoders, updated by ``L_ez + L_ey`` (disjoint weights: each encoder gets its own loss's gradient).

The authors generate a fixed set of images once (``generateEncoderDataset.lua``) and train each
encoder for epochs over it; here each update draws fresh latents, as the GAN's updates do. The
data's position stays ``critic_steps`` batches an update in both phases (a resumed run reads what an
uninterrupted one does), the encoders using the first. Checkpoints hold the encoders (in the
model's weights) and their optimiser, so a run resumes exactly on either side of the switch. A
distributed run is refused.
"""
from __future__ import annotations

import numpy as np
import torch

from ...config import Params
from ...losses.icgan import class_loss, latent_loss
from ...models.dcgan import DCGANDiscriminator, discriminator_norm
from ...models.icgan import ICGAN
from ..optim import make_optimizer
from .base import register_step
from .dcgan import DCGANStep, frame_of_each

ENCODER_MEASURES = ["loss_ez", "loss_ey", "ey_accuracy"]  # what an encoder update logs, train/<name>


@register_step("icgan")
class ICGANStep(DCGANStep):
    """IcGAN's cGAN and encoders, their optimisers and one step of either phase (arguments:
    :class:`~.base.TrainingStep`'s; ``classes``: the data's)."""

    model: ICGAN
    undistributed = "IcGAN's encoders are not wrapped for one yet"

    def __init__(self, params: Params, device: torch.device, **kwargs):
        super().__init__(params, device, **kwargs)
        # G's optimiser over G alone (DCGAN's step gives it the whole model); the encoders have theirs.
        self.opt_g = make_optimizer(self.d, self.model.generator.parameters(), self.d.lr_g)
        encoders = [*self.model.encoder_z.parameters(), *self.model.encoder_y.parameters()]
        self.opt_e = make_optimizer(self.d, encoders, self.d.lr_e, self.d.betas_e)

    @staticmethod
    def section(params: Params):
        return params.model.icgan

    def networks(self, params: Params):
        s = params.model.icgan
        return (ICGAN.from_params(params, **self.condition.generator),
                DCGANDiscriminator(size=params.clip.patch, width=s.width, norm=discriminator_norm(params, s),
                                   **self.condition.discriminator))

    def step(self, step: int, batches: list[torch.Tensor], labels: list[torch.Tensor] | None = None
             ) -> dict[str, torch.Tensor]:
        """Update ``step``: the cGAN's before ``model.icgan.encoder_from``, the encoders' from it
        (the module docstring); ``labels``: the batches' classes, needed in both."""
        if step < self.d.encoder_from:
            return super().step(step, batches, labels)
        if labels is None:
            raise ValueError(f"model.condition: {self.condition_name} trains on the images' classes: labels are needed")
        return self.encoder_update(batches[0], labels[0], step)

    def encoder_update(self, clips: torch.Tensor, labels: torch.Tensor, step: int) -> dict[str, torch.Tensor]:
        """Both encoders' update on batch 0 of update ``step`` (the module docstring): ``L_ez`` on G's
        images of the batch's latents and classes, ``L_ey`` on one frame of each of ``clips`` of
        classes ``labels`` ``(B,)``. Returns the logged values (:data:`ENCODER_MEASURES`)."""
        real = frame_of_each(clips, (self.tp.seed, step, 0), self.offset, self.tp.batch_size)
        z, asked = self._latents(step, 0), self._classes(step, 0)
        self.model.generator.eval()  # frozen: weights and running statistics (the loop's pictures set train mode)
        with self.autocast:
            with torch.no_grad():
                fake = self.model.generator(z, asked)
            ez = latent_loss(z, self.model.encoder_z(fake))
            logits = self.model.encoder_y(real)
            ey = class_loss(logits, labels)
        self._update(self.opt_e, ez + ey)
        self.d_measures = list(ENCODER_MEASURES)  # what the progress bar shows: no G or D loss in this phase
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return {f"train/{name}": value.detach() for name, value in zip(ENCODER_MEASURES, (ez, ey, accuracy))}

    @torch.no_grad()
    def pictures(self, batch) -> dict[str, np.ndarray]:
        """DCGAN's ``samples``, and ``reconstructions``: a row of real frames (the first of each of the
        batch's first clips) above ``G(E_z(x), E_y(x))``, the model in eval mode."""
        return super().pictures(batch) | {"reconstructions": self.rebuilt_picture(batch, self.model.reconstruct)}

    def state(self) -> dict:
        return super().state() | {"opt_e": self.opt_e.state_dict()}

    def load_state(self, saved: dict) -> None:
        super().load_state(saved)
        self.opt_e.load_state_dict(saved["opt_e"])


__all__ = ["ENCODER_MEASURES", "ICGANStep"]
