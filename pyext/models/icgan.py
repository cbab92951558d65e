"""IcGAN (Perarnau, van de Weijer, Raducanu & Alvarez 2016, "Invertible Conditional GANs for image
editing", arXiv 1611.06355), the ``icgan`` family: a conditional GAN whose generator is inverted by
two encoders, so that a real image can be rebuilt and edited.

- The cGAN (the paper's section 3.2) is DCGAN's conditioned by ``model.condition: concat``
  (:class:`pyext.models.dcgan.DCGAN`: a learned class embedding beside z; its discriminator takes
  the embedding over the image): ``x' = G(z, y')``.
- The encoders (section 3.1; the paper's IND layout, two independent encoders, which it found best)
  are DCGAN's discriminator layout (:func:`~.dcgan.strided_layers`) with ``latent`` outputs, ``E_z``
  (trained on generated images to give back their z), and ``classes`` outputs, ``E_y`` (the class
  logits, trained on real labelled images). The authors' encoders (their ``trainEncoder.lua``) are
  of VAE-GAN's kind, 5x5 strided convolutions then a fully connected layer; DCGAN's layout is used
  here, as for VAE-GAN's encoder (:mod:`.vaegan`), so that the encoders read images as D does.
- Reconstruction: ``x_bar = G(E_z(x), E_y(x))``; editing: ``G(E_z(x), y')`` for another class
  ``y'``, the same code ``E_z(x)`` (section 3.3). The paper's attributes are binary, thresholded
  into ``y``; here a class is one of ``classes`` categories, the arg max of ``E_y``'s logits.

As a :class:`~.base.NoiseGenerator` the model is the cGAN's generator (its samples, what ``beyondmse
sample`` draws), holding both encoders beside it (:meth:`ICGAN.invert`, :meth:`ICGAN.reconstruct`),
so that ``models/generator.pt`` keeps all three networks.

Training: :mod:`pyext.training.steps.icgan`; evaluation: :mod:`pyext.evaluation.generation`.
"""
from __future__ import annotations

from typing import Any

import torch

from .base import NoiseGenerator, register_family
from .dcgan import DCGAN, strided_layers


@register_family("icgan")
class ICGAN(NoiseGenerator):
    """IcGAN's generator and encoders (the module docstring); as a generator from noise, its cGAN's G:
    z ``(B, latent)`` and classes ``(B,)`` -> images ``(B, 3, size, size)`` in [-1, 1].

    Args:
        size: the image side, 32 or 64 (``clip.patch``).
        latent: z's size.
        width: multiplies every map count of G and both encoders.
        batch_norm: batch norm where DCGAN's guidelines put it, in G and both encoders.
        classes, embedding: the classes (>= 1) and G's class embedding's size (>= 1).
    """

    def __init__(self, size: int = 32, latent: int = 100, width: float = 0.5, batch_norm: bool = True,
                 classes: int = 1, embedding: int = 8):
        super().__init__()
        if isinstance(embedding, bool) or not isinstance(embedding, int) or embedding < 1:
            raise ValueError(f"an IcGAN generator is class-conditioned: embedding must be an int >= 1, "
                             f"got {embedding!r}")
        # G first: the evaluation's untrained generator is built as the training step built it.
        self.generator = DCGAN(size, latent, width, batch_norm, classes, embedding)
        norm = "batch" if batch_norm else "none"
        self.encoder_z = strided_layers(size, width, norm, outputs=latent)
        self.encoder_y = strided_layers(size, width, norm, outputs=classes)
        self.size, self.latent, self.width, self.batch_norm = size, latent, width, bool(batch_norm)
        self.classes, self.embedding = classes, embedding

    @classmethod
    def from_params(cls, params: Any, **conditioning: int) -> ICGAN:
        """The model of the params; ``conditioning``: ``classes`` and ``embedding`` (a
        :class:`pyext.losses.conditioning.Condition`'s ``generator``)."""
        s = params.model.icgan
        return cls(size=params.clip.patch, latent=s.latent, width=s.width, batch_norm=s.batch_norm, **conditioning)

    def config(self) -> dict:
        return {"size": self.size, "latent": self.latent, "width": self.width, "batch_norm": self.batch_norm,
                "classes": self.classes, "embedding": self.embedding}

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G: ``(B, latent)`` of classes ``labels`` ``(B,)`` -> ``(B, 3, size, size)`` in [-1, 1]."""
        return self.generator(z, labels)

    def invert(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(E_z(x), arg max E_y(x))`` of images ``(B, 3, size, size)``: their codes ``(B, latent)``
        and classes ``(B,)`` int64."""
        return self.encoder_z(images), self.encoder_y(images).argmax(dim=1)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """``G(E_z(x), E_y(x))`` of images ``(B, 3, size, size)``: the same shape."""
        return self.generator(*self.invert(images))


__all__ = ["ICGAN"]
