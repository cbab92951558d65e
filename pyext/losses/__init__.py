"""The generator's and the discriminator's losses.

- :mod:`.reconstruction`: ``L_p`` (``L_gdl`` is the fused op :func:`pyext.gdl_loss`).
- :mod:`.generator`: ``L_G``, the weighted sum of the terms over scales.
- :mod:`.adversarial`: the adversarial objectives, one module per family, registered by name in
  :data:`ADVERSARIAL` (``loss.adversarial.kind``).
- :mod:`.feature`: the feature-space loss and its comparators, registered by name in
  :data:`COMPARATORS` (``loss.comparator.kind``).
- :mod:`.conditioning`: class conditioning (cGAN, ACGAN, the projection discriminator), registered by name in
  :data:`CONDITIONS` (``model.condition``).
- :mod:`.gaia`: GAIA's errors, balancing and losses.
- :mod:`.vaegan`, :mod:`.biggan`, :mod:`.icgan`, :mod:`.inversion`: VAE-GAN's, BigGAN's, IcGAN's and
  DeePSiM's inversion's own terms.
- :mod:`.translation`: unpaired translation's terms (cycle, identity, reconstruction, feature matching,
  D's halved loss, CycleGAN's rate schedule).
"""
from .adversarial import ADVERSARIAL, AdversarialObjective, DiscriminatorLoss, make_objective
from .conditioning import CONDITIONS, Condition, make_condition
from .feature import COMPARATORS, Comparator, make_comparator
from .generator import GeneratorLoss, generator_loss
from .reconstruction import lp_loss

__all__ = ["ADVERSARIAL", "COMPARATORS", "CONDITIONS", "AdversarialObjective", "Comparator", "Condition",
           "DiscriminatorLoss", "GeneratorLoss", "generator_loss", "lp_loss", "make_comparator", "make_condition",
           "make_objective"]
