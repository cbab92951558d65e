"""DeePSiM's terms of the inversion (Dosovitskiy & Brox 2016, arXiv 1602.02644, section 3: ``L =
lambda_feat L_feat + lambda_adv L_adv + lambda_img L_img``; the family ``inversion``,
:mod:`pyext.training.steps.inversion`). ``L_adv`` is the adversarial objective's generator loss
(:mod:`pyext.losses.adversarial`; the paper's ``-log D(G(y))`` is ``bce``'s).

The paper sums the squared distances over the batch; here each is a mean over the batch and the
elements, so that a weight means the same whatever the batch, layer or image size.
"""
from __future__ import annotations

import torch


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The mean squared difference of ``a`` and ``b`` (one shape), in float32.

    Example:
        >>> squared_distance(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
        tensor(2.5000)
    """
    if a.shape != b.shape:
        raise ValueError(f"the two sides must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a.float() - b.float()).square().mean()


def feature_loss(compared_fake: torch.Tensor, compared_real: torch.Tensor) -> torch.Tensor:
    """``L_feat = ||C(G(phi(x))) - C(x)||^2``: the comparator's features of the inversions against
    those of the images (a constant: no gradient reaches them), as :func:`squared_distance`."""
    return squared_distance(compared_fake, compared_real.detach())


def image_loss(inverted: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``L_img = ||G(phi(x)) - x||^2`` of the inversions against the images, as :func:`squared_distance`."""
    return squared_distance(inverted, x.detach())


__all__ = ["feature_loss", "image_loss", "squared_distance"]
