"""GAIA's losses and balancing (Sainburg, Thielk, Theilman, Migliori & Gentner 2018, "Generative
adversarial interpolative autoencoding", arXiv 1807.06650; its authors' code, timsainb/GAIA,
network.py), for :class:`pyext.training.steps.gaia.GAIAStep`.

The generator G and the discriminator D are autoencoders. Every error is the mean absolute pixel
error on pixels scaled to [0, 1] (``(x + 1) / 2``), as in the authors' code, so that the slope, the
clipping and the 0.9 cap below keep their meaning:

- ``real = |x - D(x)|``, ``recon = |x - D(G(x))|``, ``interp = |G(z_i) - D(G(z_i))|`` with ``z_i``
  interpolations of the batch's codes (:func:`interpolate`); ``fake = (recon + interp) / 2``;
- learning rates ``lr_D = lr s(b (real - fake))``, ``lr_G = lr - lr_D`` (``s`` the logistic
  sigmoid, ``b`` the slope);
- ``L_D = clip(real - p_fake fake, -1, 1)``, ``p_fake = clip(s(b (0.5 interp - real)), 0, 0.9)``;
- ``L_G = clip(p_s interp + (1 - p_s) recon + w structure, -1, 1)``, ``p_s = s(b (interp - recon))``,
  ``structure`` = :func:`pyext.structure_loss` between the inputs and their codes.

The balancing weights and rates are constants of the step here (computed from detached errors):
the authors' graph does not detach them, so there ``L_D`` and ``L_G`` also push on the weights
through ``p_fake`` and ``p_s``. Clipping a loss to [-1, 1] as they do gives it a zero gradient
outside that range (``torch.clamp``'s, like ``tf.clip_by_value``'s): a step whose loss is beyond it
changes nothing. The errors stay within [0, 1] on [0, 1] pixels, so only a large structure term
or ``p_fake fake`` far above ``real`` reaches the clip.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import ops

# The authors' constants: D weighs the interpolations' error at half against the real one when
# deciding how hard to push fakes away (their sigma), and never more than 0.9 of the fake error.
INTERP_WEIGHT, P_FAKE_CAP = 0.5, 0.9


def unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], the scale of every GAIA error."""
    return (x + 1) / 2


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of two [-1, 1] tensors on the [0, 1] scale."""
    return (unit(a) - unit(b)).abs().mean()


def interpolation_weights(half: int, mean: float, std: float, device: torch.device | str = "cpu",
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """``(2, half)`` interpolation coefficients drawn from N(mean, std) (the authors: 0.5, 0.25, so
    about 2% fall outside [0, 1]: extrapolations)."""
    return mean + std * torch.randn(2, half, device=device, generator=generator)


def interpolate(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Codes between pairs of the batch's codes, as the authors' ``get_midpoints``.

    The first half of the batch ``a`` is paired with the second half ``b`` twice, the second time
    with ``a`` reversed: ``a + t[0] (b - a)`` then ``a' + t[1] (b - a')``, ``a'`` = ``a`` reversed.

    Args:
        z: ``(B, d)`` codes, B even.
        t: ``(2, B / 2)`` coefficients (:func:`interpolation_weights`).
    Returns:
        ``(B, d)`` interpolated codes.
    """
    if z.dim() != 2 or z.shape[0] % 2:
        raise ValueError(f"z must be (B, d) codes with B even, got {tuple(z.shape)}")
    half = z.shape[0] // 2
    if t.shape != (2, half):
        raise ValueError(f"t must be (2, {half}), got {tuple(t.shape)}")
    a, b = z[:half], z[half:]
    first = a + t[0, :, None] * (b - a)
    a = a.flip(0)
    return torch.cat([first, a + t[1, :, None] * (b - a)])


@dataclass
class GAIAErrors:
    """The reconstruction errors of one batch (scalars; ``structure`` carries G's gradient), and
    G's reconstructions of the batch ``(B, T, 3, P, P)`` (for the feature term, where it is on)."""

    real: torch.Tensor
    recon: torch.Tensor
    interp: torch.Tensor
    structure: torch.Tensor
    reconstruction: torch.Tensor | None = None

    @property
    def fake(self) -> torch.Tensor:
        return (self.recon + self.interp) / 2


@dataclass
class GAIABalance:
    """The step's balancing, from detached errors: D's share of the learning rate, the weight of
    the fake error in D's loss and of the interpolations' in G's."""

    d_share: torch.Tensor  # lr_D / lr
    p_fake: torch.Tensor
    p_interp: torch.Tensor

    @classmethod
    def of(cls, real: torch.Tensor, recon: torch.Tensor, interp: torch.Tensor, slope: float) -> GAIABalance:
        """From the batch's errors (averaged over processes in a distributed run, so that every
        replica balances alike); any autograd history is dropped."""
        real, recon, interp = real.detach(), recon.detach(), interp.detach()
        fake = (recon + interp) / 2
        return cls(d_share=torch.sigmoid(slope * (real - fake)),
                   p_fake=torch.sigmoid(slope * (INTERP_WEIGHT * interp - real)).clamp(0, P_FAKE_CAP),
                   p_interp=torch.sigmoid(slope * (interp - recon)))


def discriminator_loss(errors: GAIAErrors, balance: GAIABalance) -> torch.Tensor:
    """``clip(real - p_fake fake, -1, 1)``: reconstruct real clips, fail on generated ones."""
    return (errors.real - balance.p_fake * errors.fake).clamp(-1, 1)


def generator_loss(errors: GAIAErrors, balance: GAIABalance, structure_weight: float) -> torch.Tensor:
    """``clip(p_s interp + (1 - p_s) recon + w structure, -1, 1)``: generate what D reconstructs,
    with codes that keep the inputs' pairwise distances."""
    return (balance.p_interp * errors.interp + (1 - balance.p_interp) * errors.recon
            + structure_weight * errors.structure).clamp(-1, 1)


def structure(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """:func:`pyext.structure_loss` between samples ``x`` ``(B, ...)`` and codes ``z`` ``(B, d)``.
    Its distances are normalised by their mean, so the pixel scale does not matter; ``eps`` floors
    that mean, for a batch of identical samples (whose loss is then 0, not NaN)."""
    return ops.structure_loss(x, z, eps=eps)
