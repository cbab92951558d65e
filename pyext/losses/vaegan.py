"""VAE-GAN's own terms (Larsen, Sønderby, Larochelle & Winther 2016, arXiv 1512.09300; the family
``vaegan``, :mod:`pyext.training.steps.vaegan`): the prior's KL term of the encoder and the
reconstruction's likelihood measured in a hidden layer of the discriminator. (The GAN term is the
adversarial objective's, :mod:`pyext.losses.adversarial`; the predictor's feature loss,
:mod:`pyext.losses.feature`, is another use of the same idea and stays as it is.)
"""
from __future__ import annotations

import torch


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``L_prior = D_KL(q(z|x) || p(z))``, ``p(z) = N(0, I)`` (Larsen et al.'s prior term), in closed
    form for a diagonal Gaussian ``q(z|x) = N(mu, diag(exp(logvar)))`` (Kingma & Welling 2014,
    appendix B): ``-1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))``, summed over the latent,
    averaged over the batch.

    Args:
        mu, logvar: ``(B, latent)``, the encoder's outputs.
    Returns:
        A scalar.

    Example:
        >>> kl_divergence(torch.ones(2, 3), torch.zeros(2, 3))  # -1/2 (1 + 0 - 1 - 1) per entry, 3 entries
        tensor(1.5000)
    """
    return -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(dim=1).mean()


def feature_likelihood(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``L_llike^Dis_l = -E log p(Dis_l(x) | z)`` (Larsen et al.'s learned similarity): the negative log-likelihood
    of the real sample's hidden representation ``Dis_l(x)`` under a Gaussian of identity covariance
    centred on the reconstruction's ``Dis_l(x~)``, its constant dropped:
    ``1/2 ||Dis_l(x~) - Dis_l(x)||^2``, summed over the layer's elements, averaged over the batch.

    Args:
        fake: ``Dis_l(x~)`` ``(B, ...)``, the reconstructions' features (the gradient goes through them).
        real: ``Dis_l(x)`` ``(B, ...)``, the real samples' features (a target: computed without a graph).
    Returns:
        A scalar.

    Example:
        >>> feature_likelihood(torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 0.0]]))
        tensor(2.)
    """
    if fake.shape != real.shape:
        raise ValueError(f"fake and real features must have one shape, got {tuple(fake.shape)} and {tuple(real.shape)}")
    return 0.5 * (fake.float() - real.float()).square().flatten(1).sum(dim=1).mean()


__all__ = ["feature_likelihood", "kl_divergence"]
