"""IcGAN's encoder losses (Perarnau, van de Weijer, Raducanu & Alvarez 2016, arXiv 1611.06355,
section 3.1; the family ``icgan``, :mod:`pyext.training.steps.icgan`). The cGAN's losses are the
adversarial objective's (:mod:`pyext.losses.adversarial`), conditioned as DCGAN's are.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def latent_loss(z: torch.Tensor, recovered: torch.Tensor) -> torch.Tensor:
    """``L_ez = E ||z - E_z(G(z, y'))||_2^2`` (the paper's): the squared error of the codes
    ``recovered`` ``(B, latent)`` that ``E_z`` reads from generated images against the latents ``z``
    ``(B, latent)`` they were drawn from, summed over the latent, averaged over the batch (the
    authors' ``MSECriterion`` averages over the latent too: a constant factor ``1 / latent``).

    Example:
        >>> latent_loss(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
        tensor(3.)
    """
    if z.shape != recovered.shape:
        raise ValueError(f"z and the recovered codes must have one shape, got {tuple(z.shape)} and "
                         f"{tuple(recovered.shape)}")
    return (recovered.float() - z.float()).square().sum(dim=1).mean()


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_ey``: the cross-entropy of ``E_y``'s class logits ``(B, classes)`` of real images against
    their classes ``labels`` ``(B,)``, averaged over the batch. The paper's ``E ||y - E_y(x)||_2^2``
    regresses vectors of binary attributes (CelebA's); a class here is one of several exclusive
    categories, one-hot, whose likelihood under ``E_y``'s softmax is what the cross-entropy measures.

    Example:
        >>> round(float(class_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))), 4)  # log 2
        0.6931
    """
    return F.cross_entropy(logits.float(), labels)


__all__ = ["class_loss", "latent_loss"]
