"""The networks, one module per family, each registering its classes by name.

- :mod:`.base`: the :class:`Model` and :class:`Predictor` interfaces (what evaluation and prediction use), the
  registries :data:`FAMILIES` (``model.family``) and :data:`DISCRIMINATORS` (chosen by the
  adversarial objective), and the clip helpers.
- :mod:`.multiscale`: the paper's generator and discriminator (Table 1).
- :mod:`.autoencoder`: the autoencoder discriminator of the energy-based objectives.
- :mod:`.gaia`: GAIA's two autoencoders (Sainburg et al. 2018), a family that predicts nothing.
- :mod:`.dcgan`: DCGAN's generator from noise and discriminator (Radford et al. 2016).
- :mod:`.lapgan`: LAPGAN's pyramid of generators and discriminators (Denton et al. 2015).
- :mod:`.vaegan`: VAE-GAN's encoder, decoder (the generator) and discriminator (Larsen et al. 2016).
- :mod:`.biggan`: BigGAN's residual generator and projection discriminator (Brock et al. 2019).
- :mod:`.gran`: GRAN's recurrent generator drawing on a canvas (Im et al. 2016).
- :mod:`.icgan`: IcGAN's cGAN and the encoders that invert it (Perarnau et al. 2016).
- :mod:`.inversion`: DeePSiM's decoder of a fixed network's features (Dosovitskiy & Brox 2016), a family
  that predicts and samples nothing.
- :mod:`.translation`: unpaired translation between two domains: CycleGAN's, DiscoGAN's and DualGAN's
  generators and discriminators, and the three families (:class:`Translator`: G from A to B, F back).
- :mod:`.files`: the saved generator file.

A new family is its modules (a :class:`Model`, usually :class:`Predictor`, subclass with
:func:`register_family`; its training step, :mod:`pyext.training.steps`; its evaluation,
:mod:`pyext.evaluation`) plus one entry of :data:`pyext.config.FAMILIES` naming them (and its params
section); the registries import a family's modules when its name is first used.
"""
from .base import (DIRECTIONS, DISCRIMINATORS, FAMILIES, Model, NoiseGenerator, Predictor, Translator, clip_pyramid,
                   draw_latents, register_discriminator, register_family)
from .files import (GENERATOR_FORMAT, evaluated_generator, families_of, generator_file, load_generator,
                    load_noise_generator, load_predictor, load_translator, noise_families)
from .multiscale import MultiScaleDiscriminator, MultiScaleGenerator


__all__ = ["DIRECTIONS", "DISCRIMINATORS", "FAMILIES", "GENERATOR_FORMAT", "Model", "MultiScaleDiscriminator",
           "MultiScaleGenerator", "NoiseGenerator", "Predictor", "Translator", "clip_pyramid", "draw_latents", "evaluated_generator",
           "families_of", "generator_file", "load_generator", "load_noise_generator", "load_predictor", "load_translator",
           "noise_families",
           "register_discriminator", "register_family"]
