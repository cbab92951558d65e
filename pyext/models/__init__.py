"""The networks, one module per family, each registering its classes by name.

- :mod:`.base`: the :class:`Model` and :class:`Predictor` interfaces (what evaluation and prediction use), the
  registries :data:`FAMILIES` (``model.family``) and :data:`DISCRIMINATORS` (chosen by the
  adversarial objective), and the clip helpers.
- :mod:`.multiscale`: the paper's generator and discriminator (Table 1).
- :mod:`.autoencoder`: the autoencoder discriminator of the energy-based objectives.
- :mod:`.gaia`: GAIA's two autoencoders (Sainburg et al. 2018), a family that predicts nothing.
- :mod:`.files`: the saved generator file.

Every module of this package is imported here, so a new family is one new file: a
:class:`Model` (usually :class:`Predictor`) subclass with :func:`register_family`, plus its name and params section in
:mod:`pyext.config`, and its training step in :mod:`pyext.training.steps`.
"""
import importlib
import pkgutil

from ..config import MODEL_FAMILIES
from .base import DISCRIMINATORS, FAMILIES, Model, Predictor, clip_pyramid, register_discriminator, register_family
from .files import FINETUNE_DIR, GENERATOR_FORMAT, evaluated_generator, generator_file, load_generator, load_predictor
from .multiscale import MultiScaleDiscriminator, MultiScaleGenerator

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
assert sorted(FAMILIES) == sorted(MODEL_FAMILIES), \
    f"pyext.config.MODEL_FAMILIES {MODEL_FAMILIES} must name the registered {tuple(FAMILIES)}"


__all__ = ["DISCRIMINATORS", "FAMILIES", "FINETUNE_DIR", "GENERATOR_FORMAT", "Model", "MultiScaleDiscriminator",
           "MultiScaleGenerator", "Predictor", "clip_pyramid", "evaluated_generator", "generator_file", "load_generator", "load_predictor",
           "register_discriminator", "register_family"]
