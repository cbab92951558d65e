"""Class conditioning (``model.condition``): what each kind adds to the networks and to the losses,
registered by name.

- ``none``: nothing (the paper).
- ``concat`` (cGAN, Mirza & Osindero 2014): G and D each get a learned embedding of the clip's
  class as ``model.embedding`` extra input channels at every scale
  (:class:`pyext.models.blocks.ClassChannels`); the losses are unchanged.
- ``projection`` (Miyato & Koyama 2018; BigGAN's, ``model.family: biggan``): G takes the class (a
  shared embedding in its batch norms), D the labels, whose embedding it projects its features on;
  the losses are unchanged.
- ``acgan`` (ACGAN, Odena et al. 2017): G gets the class as cGAN's G does (ACGAN's generator takes
  its class), D no class input but a class head at every scale: its last layer gives the class
  logits after the real/generated logit. The class term ``L_C``, a cross-entropy against the
  clip's class summed over scales, is added to both players' losses: D's ``+ class_weight * L_C``
  on real clips and, with ``loss.class_d: both`` (the ACGAN paper), on generated ones too; with
  ``class_d: real`` on real clips only (StudioGAN's "ACGAN-Mod": its default auxiliary classifier,
  ``aux_cls_type`` other than ADC/TAC, adds the class loss of real images alone to D's loss, in
  ``src/worker.py``). G adds ``adv * class_weight * L_C`` of its generated clips, the class term
  weighed as its adversarial term is.

A generator from noise (``model.family: dcgan``, :mod:`pyext.training.steps.dcgan`) takes the same
conditionings with one "scale", its images: G the embedding beside z, D (``concat``) the embedding
over the image, its generated images' classes drawn apart from the real images' (so the
:class:`Judge` takes labels per kind), its class term weighed by ``class_weight`` alone (it has no
``loss.adv``).

The adversarial objectives stay unaware of classes: the step hands them a :class:`Judge`, D bound
to the batch's labels, which passes them to D's class input and takes the class logits off D's
outputs (recording them for the class term), so every objective is conditioned alike.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import CONDITIONS as _CONDITION_TABLE
from ..config import Params, ParamsError
from ..data.manifest import read_manifest
from ..registry import Registry

# The conditionings by name (pyext.config.CONDITIONS: each entry's module registers it).
CONDITIONS: Registry[type[Condition]] = Registry("class conditioning", _CONDITION_TABLE, lambda facts: facts.module)


def register_condition(name: str):
    """Class decorator: the conditioning of ``model.condition: name``."""
    return CONDITIONS.register(name)


class Judge:
    """D as an adversarial objective calls it, ``(ys, x) -> outputs per scale`` (judged frames per
    scale, what they are judged given: a predictor's input frames, or None), for a batch of ``B``
    clips or images of classes ``labels``: an objective may judge several kinds in one call (real,
    generated, ...: ``k * B`` rows per scale, each kind in the batch's order). ``labels`` is one
    ``(B,)`` that every kind shares (a predictor's real and predicted clips are of one class), or one
    ``(B,)`` per kind (a generator from noise draws its images' classes apart from the real ones'):
    a kind past those given takes the first's (WGAN-GP's interpolates of real and generated images
    are judged as the real ones' class, as conditional WGAN-GP implementations do). With
    ``class_input`` the labels go to D; with ``class_head`` the class logits are split off D's
    outputs (the objective sees the ``(N, 1)`` logits alone) and recorded in :attr:`class_logits`,
    one list per scale for each call.
    """

    def __init__(self, D, labels: torch.Tensor | Sequence[torch.Tensor], class_input: bool, class_head: bool):
        self.kinds = [labels] if isinstance(labels, torch.Tensor) else list(labels)
        self.D, self.labels, self.class_input, self.class_head = D, self.kinds[0], class_input, class_head
        self.class_logits: list[list[torch.Tensor]] = []

    def rows(self, n: int) -> torch.Tensor:
        """The labels ``(n,)`` of ``n = k * B`` judged rows (the class docstring)."""
        return torch.cat([self.kinds[i] if i < len(self.kinds) else self.labels for i in range(n // len(self.labels))])

    def __call__(self, ys: Sequence[torch.Tensor], x: torch.Tensor | None) -> list[torch.Tensor]:
        labels = self.rows(len(ys[0]) if x is None else len(x))  # a generator from noise judges given nothing
        outputs = self.D(ys, x, labels) if self.class_input else self.D(ys, x)
        if not self.class_head:
            return outputs
        self.class_logits.append([z[:, 1:] for z in outputs])
        return [z[:, :1] for z in outputs]

    def hidden(self, ys, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """D's hidden layers (the feature loss's comparator), with the labels where D takes them."""
        return self.D.hidden(ys, x, layers, self.labels) if self.class_input else self.D.hidden(ys, x, layers)


def class_loss(logits: Sequence[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """``L_C``: the mean cross-entropy of each scale's class logits ``(B, C)`` against ``labels``
    ``(B,)``, summed over the scales."""
    return torch.stack([F.cross_entropy(z.float(), labels) for z in logits]).sum()


class Condition:
    """What one ``model.condition`` adds: the class knobs of the generator and of the discriminator
    (keyword arguments of their ``from_params``), the :class:`Judge` the objectives call, and the
    class terms of both players' losses.

    Args:
        params: the validated params.
        classes: the number of classes (:func:`manifest_classes`; 0 where none is needed).
    """

    needs_classes = True  # whether training reads the number of classes from the manifest
    class_head = False  # whether D has a class head (its weights are then saved with the generator)

    def __init__(self, params: Params, classes: int):
        self.params, self.classes = params, classes
        self.generator: dict = {"classes": classes, "embedding": params.model.embedding}
        self.discriminator: dict = {}

    def judge(self, D, labels: torch.Tensor | Sequence[torch.Tensor] | None):
        """What the objectives call in place of ``D`` for clips of classes ``labels`` (one ``(B,)``,
        or one per kind of judged clips: :class:`Judge`)."""
        return Judge(D, labels, "embedding" in self.discriminator, self.class_head)

    def discriminator_loss(self, judge, labels: torch.Tensor, generated: torch.Tensor | None = None
                           ) -> tuple[torch.Tensor | None, dict[str, torch.Tensor]]:
        """D's class term (None: none) after an objective's discriminator loss was computed
        through ``judge`` on real clips of classes ``labels`` ``(B,)`` then generated ones of classes
        ``generated`` ``(B,)`` (None: ``labels``), and the measures to log."""
        return None, {}

    def generator_loss(self, judge, labels: torch.Tensor) -> torch.Tensor | None:
        """G's ``L_C`` (unweighted; None: none) after its adversarial term was computed through ``judge``."""
        return None


@register_condition("none")
class Unconditioned(Condition):
    """The paper's networks: no class anywhere; the objectives call D itself."""

    needs_classes = False

    def __init__(self, params: Params, classes: int):
        # No class key is read (model.embedding): a run without classes does not depend on them.
        self.params, self.classes = params, classes
        self.generator, self.discriminator = {}, {}

    def judge(self, D, labels):
        return D


@register_condition("concat")
class Concat(Condition):
    """cGAN: the class embedding as extra input channels of G and of D at every scale."""

    def __init__(self, params: Params, classes: int):
        super().__init__(params, classes)
        self.discriminator = {"classes": classes, "embedding": params.model.embedding}


@register_condition("acgan")
class ACGAN(Condition):
    """ACGAN: G takes the class; D a class head per scale; ``L_C`` in both players' losses."""

    class_head = True

    def __init__(self, params: Params, classes: int):
        super().__init__(params, classes)
        self.discriminator = {"classes": classes, "class_head": True}
        self.weight, self.on_generated = params.loss.class_weight, params.loss.class_d == "both"

    def discriminator_loss(self, judge, labels, generated=None):
        # The objective's first call judged the real clips, then the generated ones (judge_together).
        logits = judge.class_logits[0]
        b = len(labels)
        real = class_loss([z[:b] for z in logits], labels)
        if self.on_generated:
            total = real + class_loss([z[b:2 * b] for z in logits], labels if generated is None else generated)
        else:
            total = real
        right = torch.stack([(z[:b].argmax(1) == labels).float().mean() for z in logits]).mean()
        return self.weight * total, {"d_class": real.detach(), "d_class_accuracy": right.detach()}

    def generator_loss(self, judge, labels):
        return class_loss(judge.class_logits[0], labels)


@register_condition("projection")
class Projection(Condition):
    """The projection discriminator (Miyato & Koyama 2018; BigGAN's): G takes the class (its batch
    norms, through a shared embedding), D the labels, projecting its pooled features on a class
    embedding added to its logit; the losses are unchanged."""

    def __init__(self, params: Params, classes: int):
        super().__init__(params, classes)
        self.discriminator = {"classes": classes, "projection": True}

    def judge(self, D, labels):
        return Judge(D, labels, class_input=True, class_head=False)


def make_condition(params: Params, classes: int) -> Condition:
    """The conditioning ``model.condition`` names, for ``classes`` classes."""
    return CONDITIONS[params.model.condition](params, classes)


def manifest_classes(path: Path) -> list[str]:
    """The class names the manifest (``data/manifest.json``) lists, whose number a class-conditioned
    model is built with.

    Raises:
        ParamsError: no such file, or no classes in it (naming ``model.condition``).
        ManifestError: an unreadable manifest.
    """
    if not Path(path).is_file():
        raise ParamsError("params.yaml", "model.condition", f"none where there is no manifest: a class-conditioned "
                          f"model reads the number of classes from {path}, which is missing (run prepare)")
    names = read_manifest(path).classes
    if not names:
        raise ParamsError("params.yaml", "model.condition", f"none where the data have no classes ({path} lists none)")
    return names


__all__ = ["CONDITIONS", "Condition", "Judge", "class_loss", "make_condition", "manifest_classes", "register_condition"]
