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

from .base import CriticLoss, LogitObjective, judge_together, register


class _Critic(LogitObjective):
    """The Wasserstein terms per clip: ``d_real = -r``, ``d_fake = f``, ``g = -f``; the critic's
    section of the params gives ``critic_steps``."""

    result = CriticLoss

    def __init__(self, params, section):
        super().__init__(params)
        self.critic_steps = section.critic_steps

    def d_real(self, r):
        return -r

    def d_fake(self, f):
        return f

    def g(self, f):
        return -f


@register("wgan")
class WGANObjective(_Critic):
    def __init__(self, params):
        super().__init__(params, params.wgan)
        self.clip = params.wgan.clip

    @torch.no_grad()
    def after_discriminator_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


@register("wgan_gp")
class WGANGPObjective(_Critic):
    def __init__(self, params):
        super().__init__(params, params.wgan_gp)
        self.gp_weight = params.wgan_gp.gp_weight

    def discriminator_loss(self, D, real, fake, condition=None):
        # One mixing coefficient per clip, for every scale; drawn for the whole batch (see rows).
        b = len(real[0])
        first, total = self.rows or (0, b)
        e = torch.rand(total, device=real[0].device)[first:first + b]
        mixed = []
        for r, f in zip(real, fake):
            w = e.to(r.dtype).view(-1, *([1] * (r.dim() - 1)))
            mixed.append((w * r + (1 - w) * f.detach()).requires_grad_(True))
        outputs, _ = judge_together(D, condition, real, fake, mixed)
        r_out, f_out, m_out = ([z.chunk(3)[i] for z in outputs] for i in range(3))
        # d(sum of D's outputs on the interpolates) / d(interpolates): per clip, each clip's own
        # gradient (the clips of a batch do not interact in D); with respect to the judged frames only.
        grads = torch.autograd.grad(torch.stack([m.sum() for m in m_out]).sum(), mixed, create_graph=True)
        per_scale = []
        for r, f, g in zip(r_out, f_out, grads):
            norms = g.flatten(1).norm(dim=1)  # one norm per clip, over all its other dimensions
            penalty = self.gp_weight * (norms - 1).square().mean()
            per_scale.append(self.d_real(r).mean() + self.d_fake(f).mean() + penalty)
        return CriticLoss(per_scale, r_out, f_out)
