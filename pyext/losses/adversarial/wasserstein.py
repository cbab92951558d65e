"""Wasserstein GANs: a critic scores clips, ``L_D = mean f - mean r`` estimates minus the
Wasserstein-1 distance between real and generated clips, and G minimises ``-mean f``; the critic
must stay 1-Lipschitz.

- ``wgan`` (Arjovsky, Chintala & Bottou 2017): every critic weight clipped to ``[-clip, clip]``
  after each update; ``critic_steps`` critic updates per generator update; the paper trains with
  RMSProp at 5e-5 (``train.optimizer: rmsprop``).
- ``wgan_gp`` (Gulrajani et al. 2017): no clipping; ``gp_weight * (||grad_yhat D(x, yhat)||_2 - 1)^2``
  at random interpolates ``yhat = e * real + (1 - e) * generated``: one ``e`` per clip, shared by all
  scales; the gradient taken with respect to the judged frames only (not the input frames D is
  conditioned on); its norm taken per clip over all its other dimensions; the penalties of the
  scales summed. The paper trains with Adam at 1e-4, ``betas: [0.0, 0.9]``.

Each critic update judges real, generated (and interpolated) clips in one call of D, as
DistributedDataParallel allows one forward per backward.
"""
from __future__ import annotations

import torch

from .base import AdversarialObjective, CriticLoss, register


def _thirds(outputs: list[torch.Tensor], parts: int) -> list[list[torch.Tensor]]:
    """Per-scale outputs of ``parts`` stacked batches, split back: ``parts`` lists per scale."""
    return [[z.chunk(parts)[i] for z in outputs] for i in range(parts)]


@register("wgan")
class WGANObjective(AdversarialObjective):
    def __init__(self, params):
        super().__init__(params)
        self.clip, self.critic_steps = params.wgan.clip, params.wgan.critic_steps

    def discriminator_loss(self, D, x, real, fake):
        r_out, f_out = _thirds(D(torch.cat([x, x]), [torch.cat([r, f]) for r, f in zip(real, fake)]), 2)
        return CriticLoss([f.mean() - r.mean() for r, f in zip(r_out, f_out)], r_out, f_out)

    def generator_loss(self, D, x, fake):
        return [-f.mean() for f in D(x, fake)]

    @torch.no_grad()
    def after_discriminator_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


@register("wgan_gp")
class WGANGPObjective(WGANObjective):
    def __init__(self, params):
        AdversarialObjective.__init__(self, params)
        self.gp_weight, self.critic_steps = params.wgan_gp.gp_weight, params.wgan_gp.critic_steps

    def discriminator_loss(self, D, x, real, fake):
        # One mixing coefficient per clip, for every scale; drawn for the whole batch (see rows).
        first, total = self.rows or (0, len(x))
        e = torch.rand(total, device=x.device)[first:first + len(x)]
        mixed = []
        for r, f in zip(real, fake):
            w = e.to(r.dtype).view(-1, *([1] * (r.dim() - 1)))
            mixed.append((w * r + (1 - w) * f.detach()).requires_grad_(True))
        outputs = D(torch.cat([x, x, x]), [torch.cat([r, f, m]) for r, f, m in zip(real, fake, mixed)])
        r_out, f_out, m_out = _thirds(outputs, 3)
        # d(sum of D's outputs on the interpolates) / d(interpolates): per clip, each clip's own
        # gradient (the clips of a batch do not interact in D); with respect to the judged frames only.
        grads = torch.autograd.grad(torch.stack([m.sum() for m in m_out]).sum(), mixed, create_graph=True)
        per_scale = []
        for r, f, g in zip(r_out, f_out, grads):
            norms = g.flatten(1).norm(dim=1)  # one norm per clip, over all its other dimensions
            per_scale.append(f.mean() - r.mean() + self.gp_weight * (norms - 1).square().mean())
        return CriticLoss(per_scale, r_out, f_out)

    def after_discriminator_step(self, D):
        pass  # the penalty, not clipping, keeps the critic near 1-Lipschitz
