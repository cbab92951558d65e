"""BigGAN's own term (Brock, Donahue & Simonyan 2019, arXiv 1809.11096, section 3.1; the family
``biggan``, :mod:`pyext.training.steps.biggan`): the off-diagonal orthogonal regularisation of the
generator's weights. (The hinge loss is the adversarial objective's, :mod:`pyext.losses.adversarial`.)
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def orthogonal_regularisation(parameters: Iterable[nn.Parameter], strength: float,
                              exempt: Iterable[nn.Parameter] = ()) -> torch.Tensor:
    """``R_beta(W) = beta ||W^T W * (1 - I)||_F^2`` summed over the weights (the paper's eq. 3): each
    weight of two or more dimensions as a matrix ``W`` ``(fan_in, outputs)`` whose columns are its
    filters (``weight.view(outputs, -1)`` transposed), so that the term pushes different filters
    towards orthogonality and leaves their norms alone. Biases and batch-norm scales (one dimension)
    and the ``exempt`` weights (the shared class embedding, as the authors leave it out) are not
    regularised.

    Its gradient is ``4 beta W (W^T W * (1 - I))``. (The authors' code adds ``2 beta`` times that
    product to the gradient directly, ``utils.ortho``: half the formula's, so its strength 1e-4 is
    the formula's 5e-5. This term follows the paper's formula and its strength 1e-4.)

    Args:
        parameters: the network's parameters (a spectrally normalised layer's raw weight, as the
            authors regularise the weight before its normalisation).
        strength: ``beta`` (the paper's 1e-4).
        exempt: parameters left out.
    Returns:
        A scalar (0 where nothing is regularised).

    Example:
        >>> w = nn.Parameter(torch.tensor([[1.0, 1.0], [0.0, 1.0]]))  # filters (1, 1) and (0, 1): dot 1
        >>> orthogonal_regularisation([w], 0.5)  # 0.5 * (1^2 + 1^2), both off-diagonal entries
        tensor(1., grad_fn=<MulBackward0>)
    """
    skip = {id(p) for p in exempt}
    total = None
    for p in parameters:
        if p.dim() < 2 or id(p) in skip:
            continue
        w = p.reshape(p.shape[0], -1)  # (outputs, fan_in): rows are filters, W^T W = w w^T
        gram = w @ w.T
        off = gram - torch.diag_embed(gram.diagonal())
        term = off.square().sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return strength * total


__all__ = ["orthogonal_regularisation"]
