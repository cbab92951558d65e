"""The terms of unpaired translation (the networks: :mod:`pyext.models.translation`): two
generators ``G: A -> B`` and ``F: B -> A`` held to each other's inverse, and what each family's
training adds to its adversarial objective (:mod:`pyext.losses.adversarial`).

- CycleGAN (Zhu et al. 2017): the cycle loss (:func:`cycle_loss`, eq. 2, weighted by lambda in
  eq. 3), the identity loss (:func:`identity_loss`), D's objective halved
  (:func:`halved_discriminator_loss`; :func:`papers_factors`: where an objective is halved already)
  and the rates' schedule (:func:`linear_decay_factor`).
- DiscoGAN (Kim et al. 2017): the reconstruction loss by squared distance
  (:func:`discogan_reconstruction_loss`); its published code's feature matching
  (:func:`feature_matching_loss`) and weights (:func:`discogan_code_weights`).
- DualGAN (Yi et al. 2017): the L1 reconstruction (:func:`dualgan_reconstruction_loss`); its
  critics' weight clipping is the ``wgan`` objective's (:mod:`pyext.losses.adversarial.wasserstein`).

A norm ``||x||_1`` or ``||x||^2`` of the papers is a mean over the batch and the elements here (as in
the authors' code: ``nn.L1Loss``, ``nn.MSELoss``, ``tf.reduce_mean``), so that a weight means the
same whatever the batch or the patch size.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from .adversarial import AdversarialObjective, DiscriminatorLoss
from .reconstruction import lp_loss


def cycle_loss(a: torch.Tensor, a_cycled: torch.Tensor, b: torch.Tensor, b_cycled: torch.Tensor,
               weight: float = 10.0, weight_b: float | None = None, p: int = 1) -> torch.Tensor:
    """CycleGAN's cycle-consistency term, ``lambda L_cyc(G, F)`` (eq. 2 and 3 of Zhu et al.)::

        lambda_A ||F(G(a)) - a||_1 + lambda_B ||G(F(b)) - b||_1

    each norm a mean over the batch and the elements (:func:`~.reconstruction.lp_loss`).

    Args:
        a, b: real frames of each domain ``(B, 3, S, S)``.
        a_cycled, b_cycled: ``F(G(a))`` and ``G(F(b))``, their shapes (the gradient goes through them).
        weight: lambda_A, the forward cycle's weight (the paper's 10).
        weight_b: lambda_B, the backward cycle's (None: ``weight``; the authors' code allows two).
        p: 1, the L1 distance of CycleGAN and DualGAN; 2, the squared distance of DiscoGAN.

    Example:
        >>> a, b = torch.tensor([[0.0, 1.0]]), torch.tensor([[2.0]])
        >>> cycle_loss(a, torch.tensor([[0.5, 0.5]]), b, torch.tensor([[1.0]]))  # 10 (0.5 + 1)
        tensor(15.)
    """
    for name, (real, cycled) in {"a": (a, a_cycled), "b": (b, b_cycled)}.items():
        if real.shape != cycled.shape:
            raise ValueError(f"{name} and its reconstruction must have one shape, got {tuple(real.shape)} "
                             f"and {tuple(cycled.shape)}")
    weight_b = weight if weight_b is None else weight_b
    return weight * lp_loss(a_cycled, a.detach(), p) + weight_b * lp_loss(b_cycled, b.detach(), p)


def identity_loss(a: torch.Tensor, f_of_a: torch.Tensor, b: torch.Tensor, g_of_b: torch.Tensor,
                  weight: float = 10.0, share: float = 0.5) -> torch.Tensor:
    """CycleGAN's identity-mapping term (Zhu et al., section 5.2, after Taigman et al. 2017): each
    generator given a frame of its own target domain should leave it unchanged::

        share * lambda * (||G(b) - b||_1 + ||F(a) - a||_1)

    The paper weighs it 0.5 lambda, the authors' code ``lambda_identity * lambda`` with
    ``lambda_identity`` 0.5 (``share``; ``weight``: lambda). It keeps a painting's colours in
    photos; on frames, it keeps a translation from changing what it need not.

    Args:
        a, b: real frames of each domain ``(B, 3, S, S)``.
        f_of_a: ``F(a)``, A's frames through B -> A; ``g_of_b``: ``G(b)``, B's through A -> B.

    Example:
        >>> a, b = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, 0.5]])
        >>> identity_loss(a, torch.tensor([[0.0, -1.0]]), b, torch.tensor([[0.0, 0.0]]))  # 5 (0.5 + 0.25)
        tensor(3.7500)
    """
    return cycle_loss(a, f_of_a, b, g_of_b, share * weight)


def halved_discriminator_loss(loss: torch.Tensor | DiscriminatorLoss) -> torch.Tensor | DiscriminatorLoss:
    """D's objective divided by 2 (Zhu et al., section 4: it slows D's learning relative to G's;
    the authors' code: ``(loss_D_real + loss_D_fake) * 0.5``).

    ``loss``: a tensor, or an objective's :class:`~.adversarial.DiscriminatorLoss`, whose terms per
    scale are halved and whose outputs (and so its accuracy) are kept.

    Note that the project's ``lsgan`` objective already writes D's loss with the halves,
    ``0.5 (r - 1)^2 + 0.5 f^2``: that is the code's halved D loss; halving it again would quarter it.
    (Its G loss, ``0.5 (f - 1)^2``, is half the code's ``(f - 1)^2``.)
    """
    if isinstance(loss, DiscriminatorLoss):
        return dataclasses.replace(loss, per_scale=[0.5 * term for term in loss.per_scale])
    return 0.5 * loss


def papers_factors(objective: AdversarialObjective) -> tuple[float, float]:
    """The factors of D's and of G's adversarial loss that make an objective's losses those of
    CycleGAN's code (and DiscoGAN's, whose cross-entropy D loss is halved too): D's halved
    (:func:`halved_discriminator_loss`), G's whole. For an objective whose losses are written halved
    already (its ``halved``: ``lsgan``, whose G term ``0.5 (f - 1)^2`` is half the paper's
    ``(f - 1)^2``), ``(1, 2)``; for any other, ``(0.5, 1)``. So lambda weighs the cycle loss against
    the GAN loss as it does in the paper (eq. 3)."""
    return (1.0, 2.0) if objective.halved else (0.5, 1.0)


def linear_decay_factor(step: int, steps: int) -> float:
    """CycleGAN's learning-rate schedule as a multiplier of the initial rate: 1 for the first half
    of a run of ``steps`` steps, then linearly to 0 at its last step, ``steps - 1``::

        min(1, (steps - 1 - step) / ((steps - 1) / 2))

    (0 past the end). The paper keeps the rate for 100 epochs and decays it linearly to zero over
    the next 100; its code decays once per epoch and ends at 1/101 of the rate, not 0; this decays
    every step. A run of one step keeps the full rate. For
    ``torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_decay_factor(s, steps))``, stepped
    once after every optimiser step, so that step ``s`` trains at the rate times ``factor(s)``.

    Example:
        >>> [linear_decay_factor(s, 101) for s in (0, 50, 75, 100)]
        [1.0, 1.0, 0.5, 0.0]
    """
    for name, value, least in (("step", step, 0), ("steps", steps, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if steps == 1:
        return 1.0
    return max(0.0, min(1.0, 2 * (steps - 1 - step) / (steps - 1)))


def discogan_reconstruction_loss(a: torch.Tensor, a_cycled: torch.Tensor, b: torch.Tensor,
                                 b_cycled: torch.Tensor) -> torch.Tensor:
    """DiscoGAN's reconstruction terms (Kim et al., section 3), ``L_CONST_A + L_CONST_B`` with the
    distance ``d`` the squared (MSE) one, as the paper's experiments and code use::

        ||G_BA(G_AB(a)) - a||^2 + ||G_AB(G_BA(b)) - b||^2

    The paper adds them to the GAN losses with weight 1: ``L_G = L_GAN_B + L_CONST_A + L_GAN_A +
    L_CONST_B``. Its published code weighs them otherwise (:func:`discogan_code_weights`) and adds
    feature matching (:func:`feature_matching_loss`). Arguments as :func:`cycle_loss`'s.
    """
    return cycle_loss(a, a_cycled, b, b_cycled, 1.0, p=2)


def feature_matching_loss(real_features: Sequence[torch.Tensor], fake_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """DiscoGAN's published code's feature matching (not in the paper; Salimans et al. 2016): for
    each of D's hidden layers (:meth:`pyext.models.translation.DiscoGANDiscriminator.judge`), the mean
    over its elements of the squared difference of the batch means of the real and the generated
    frames' features, summed over the layers (the code's ``HingeEmbeddingLoss`` of those squares
    with targets 1 is their mean). The real frames' features are a target: no gradient reaches them.

    Example:
        >>> real, fake = [torch.tensor([[1.0, 2.0], [3.0, 2.0]])], [torch.tensor([[0.0, 2.0], [0.0, 0.0]])]
        >>> feature_matching_loss(real, fake)  # means (2, 2) and (0, 1): ((2 - 0)^2 + (2 - 1)^2) / 2
        tensor(2.5000)
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError(f"one or more layers' features of each kind, as many real as generated, got "
                         f"{len(real_features)} and {len(fake_features)}")
    terms = [(r.detach().float().mean(0) - f.float().mean(0)).square().mean() for r, f in
             zip(real_features, fake_features)]
    return torch.stack(terms).sum()


def discogan_code_weights(step: int, curriculum: int = 10_000, start: float = 0.01,
                          after: float = 0.5) -> tuple[float, float, float]:
    """The weights of a DiscoGAN generator's terms at ``step`` in the authors' published code:
    ``(gan, feature matching, reconstruction)``, each generator's loss being::

        (0.1 L_GAN + 0.9 L_FM) (1 - rate) + rate L_CONST,  rate = start before curriculum steps, then after

    (``--gan_curriculum 10000 --starting_rate 0.01 --default_rate 0.5``): a strong GAN loss first,
    then the reconstruction weighed as much as the rest. The paper's are ``(1, 0, 1)`` throughout.
    (The code also updates D on every third step and G on the two others.)

    Example:
        >>> discogan_code_weights(0), discogan_code_weights(10_000)
        ((0.099, 0.891, 0.01), (0.05, 0.45, 0.5))
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    rate = start if step < curriculum else after
    return round(0.1 * (1 - rate), 12), round(0.9 * (1 - rate), 12), rate


def dualgan_reconstruction_loss(u: torch.Tensor, u_cycled: torch.Tensor, v: torch.Tensor, v_cycled: torch.Tensor,
                                weight_u: float, weight_v: float | None = None) -> torch.Tensor:
    """DualGAN's reconstruction terms of the generators' loss (Yi et al., section 3)::

        lambda_U ||u - G_B(G_A(u))||_1 + lambda_V ||v - G_A(G_B(v))||_1

    (``weight_v`` None: ``weight_u``; the code's ``--lambda_A``/``--lambda_B``, whose defaults have
    been 200, 20 and 500 across its versions). The paper pairs it with its Wasserstein objective:
    the critics' losses ``D(G(u)) - D(v)``, the generators' ``-D(G(u))``, clipped critics (the
    ``wgan`` objective's ``loss.adversarial.wgan.clip``) and RMSProp. The released code switched in August 2017 to the original
    GAN loss (sigmoid cross-entropy, no clipping, G updated twice per D update), and in 2020 made the
    loss an option defaulting to WGAN-GP. Arguments as :func:`cycle_loss`'s.
    """
    return cycle_loss(u, u_cycled, v, v_cycled, weight_u, weight_v, p=1)


__all__ = ["cycle_loss", "discogan_code_weights", "discogan_reconstruction_loss",
           "dualgan_reconstruction_loss", "feature_matching_loss", "halved_discriminator_loss", "identity_loss",
           "linear_decay_factor", "papers_factors"]
