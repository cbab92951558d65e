"""The generator's and the discriminator's losses.

- :mod:`.reconstruction`: ``L_p`` (``L_gdl`` is the fused op :func:`pyext.gdl_loss`).
- :mod:`.generator`: ``L_G``, the weighted sum of the terms over scales.
- :mod:`.adversarial`: the adversarial objectives, one module per family, registered by name in
  :data:`ADVERSARIAL` (``loss.adversarial.kind``).
"""
from .adversarial import ADVERSARIAL, AdversarialObjective, DiscriminatorLoss, make_objective
from .generator import GeneratorLoss, generator_loss
from .reconstruction import lp_loss

__all__ = ["ADVERSARIAL", "AdversarialObjective", "DiscriminatorLoss", "GeneratorLoss", "generator_loss",
           "lp_loss", "make_objective"]
