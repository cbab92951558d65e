"""The model: ``model`` and its families' sections, with the tables of the registries the model
draws on: model families (:data:`FAMILIES`), discriminators (:data:`DISCRIMINATORS`) and class
conditionings (:data:`CONDITIONS`).

A table holds each registered piece's facts, torch-free: where its implementation is (the module
that registers it under its name, imported when the name is first used: :mod:`pyext.registry`),
and what the validation needs to know of it (what it reads, refuses, and its own rules). A new
family is its modules plus one entry here; nothing else names it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Strict

from .data import NONE, SOURCES
from .rules import BUILTIN, Expect, Rule, _Betas, _Bool, _choice, _Count, _float, _int, _list, named, section

__all__ = ["FAMILIES", "DISCRIMINATORS", "CONDITIONS", "D_NORMS", "SKIPS", "MODEL_MAX_SCALES", "TABLE1_DISCRIMINATOR",
           "Family",
           "DiscriminatorFacts", "ConditionFacts", "MultiScaleParams", "GAIAParams", "ImageGANOptimiser", "DCGANParams",
           "LAPGANParams", "VAEGANParams", "BigGANParams", "GRANParams", "ICGANParams", "InversionParams",
           "CycleGANParams", "DiscoGANParams", "DualGANParams", "ModelParams",
           "DCGAN_SIZES", "LAPGAN_COARSEST", "INVERTED_LAYERS", "rules"]

MODEL_MAX_SCALES = 4  # Table 1 of the paper describes four scales
# The image sides DCGAN's networks are built for (clip.patch): CIFAR-10's 32 and the paper's 64.
DCGAN_SIZES = (32, 64)
# The side of LAPGAN's coarsest level is at least this (Denton et al. 2015 start CIFAR-10 at 8x8).
LAPGAN_COARSEST = 8
# Normalisations of the discriminator's layers (pyext.models.blocks): the paper's none, SN-GAN's
# spectral, DCGAN's batch.
D_NORMS = ("none", "spectral", "batch")
# The generator's forms (pyext.models.MultiScaleGenerator's skip).
SKIPS = ("none", "last_frame")

# The layers of the shipped inverted network (pyext.evaluation.extractor's inverted.pt): its trunk's
# four blocks and its pooled features.
INVERTED_LAYERS = 5

# A rule on a patch side (clip.patch, finetune.patch): (holds, what is expected) for the params.
PatchRule = Callable[[Any, int], tuple[bool, str]]

# Table 1's discriminator (pyext.models.multiscale builds it), finest scale last; a model with S
# scales uses the S finest: per scale its convolution maps, their kernels (unpadded: each takes
# kernel - 1 pixels off the side), the max-pool after them (1: none) and its hidden FC sizes.
TABLE1_DISCRIMINATOR = (
    ((64,), (3,), 1, (512, 256)),
    ((64, 128, 128), (3, 3, 3), 1, (1024, 512)),
    ((128, 256, 256), (5, 5, 5), 1, (1024, 512)),
    ((128, 256, 512, 128), (7, 7, 5, 5), 2, (1024, 512)),
)


def _table1_left(patch: int, scales: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """Per scale of Table 1's discriminator, coarsest first: the side it sees, the side its
    convolutions and pool leave, and its kernels."""
    out = []
    for k, (_, kernels, pool, _) in enumerate(TABLE1_DISCRIMINATOR[MODEL_MAX_SCALES - scales:]):
        side = patch // 2 ** (scales - 1 - k)
        out.append((side, (side - sum(kernel - 1 for kernel in kernels)) // pool, kernels))
    return out


def _table1_takes(p, patch: int) -> tuple[bool, str]:
    """Table 1's discriminator takes the patch where every scale's convolutions leave something."""
    scales = p.model.multiscale.scales
    step = 2 ** (scales - 1)
    smallest = next(n for n in range(step, 2 ** 12, step) if all(left >= 1 for _, left, _ in _table1_left(n, scales)))
    short = [(k, side, kernels) for k, (side, left, kernels) in enumerate(_table1_left(patch, scales)) if left < 1]
    if not short:
        return True, ""
    k, side, kernels = short[0]
    return False, (f"at least {smallest} with model.multiscale.scales: {scales} (Table 1's discriminator sees "
                   f"{side}x{side} at its scale {k + 1}, which its convolutions, kernels {list(kernels)}, leave "
                   f"nothing of)")


def _no_rules(p, *_) -> Iterator[Rule]:
    return iter(())


@dataclass(frozen=True)
class Family:
    """A model family's facts (``model.family``).

    Attributes:
        model, step, evaluation: the modules that register its model (:mod:`pyext.models`), its
            training step (:mod:`pyext.training.steps`) and its evaluation (:mod:`pyext.evaluation`)
            under the family's name.
        reads: the params its run depends on, as sections or dotted keys: a checkpoint's identity
            hashes these alone (less ``train``'s operational keys), so editing a key that only
            another family reads keeps a finished run valid.
        patch: the rule its networks put on a patch side (training and fine-tuning patches).
        objective: whether it trains the adversarial objective's discriminator (``loss.adversarial``)
            where ``loss.adv > 0``, under that discriminator's and the objective's rules; a family
            with a discriminator of its own (GAIA's; DCGAN's, judged by the objective's losses) has
            its own rules instead.
        finetune: why it cannot go on learning on larger patches; '' where it can.
        rules: its own rules that span keys, given the params.
        files: the dotted keys of files its run reads besides the data (``builtin``: the shipped
            file, part of the code): each resolved relative to the params file, refused where it
            does not exist, and its contents part of a checkpoint's identity (DVC does not track a
            user's file: a replaced one starts afresh).
        domains: whether it learns from two domains of videos, ``data.source``'s (A) and
            ``data.translate.source``'s (B): the translators; every other family refuses a domain B.
    """

    model: str
    step: str
    evaluation: str
    reads: tuple[str, ...]
    patch: PatchRule
    objective: bool = True
    finetune: str = ""
    rules: Callable[[Any], Iterator[Rule]] = _no_rules
    files: tuple[str, ...] = ()
    domains: bool = False


@dataclass(frozen=True)
class DiscriminatorFacts:
    """A discriminator's facts (the objective picks it, :data:`pyext.config.loss.OBJECTIVES`).

    Attributes:
        module: the module that registers its class under its name (:mod:`pyext.models`).
        rules: what it refuses, given the params and the key that chose it (e.g.
            ``loss.adversarial.kind: ebgan``).
        patch: the rule its networks put on a patch side (the training and fine-tuning patches).
    """

    module: str
    rules: Callable[[Any, str], Iterator[Rule]] = _no_rules
    patch: PatchRule = lambda p, patch: (True, "")


@dataclass(frozen=True)
class ConditionFacts:
    """A class conditioning's facts (``model.condition``).

    Attributes:
        module: the module that registers it under its name (:mod:`pyext.losses.conditioning`).
        discriminator: why it needs a trained discriminator; '' where it needs none.
        families: the model families whose networks take it (empty: every family; a family's own
            rules may still refuse a class).
    """

    module: str
    discriminator: str = ""
    families: tuple[str, ...] = ()


def _halvable(p, patch: int) -> tuple[bool, str]:
    step = 2 ** (p.model.multiscale.scales - 1)
    return patch % step == 0, f"a multiple of 2^(model.multiscale.scales - 1) = {step}, so that every scale halves it"


def _gaia_patch(p, patch: int) -> tuple[bool, str]:
    return (patch >= 8 and patch & (patch - 1) == 0,
            "a power of two >= 8 with model.family: gaia (its autoencoders halve the patch down to 4x4)")


def _gaia_rules(p) -> Iterator[Rule]:
    model = p.model
    yield Rule("model.condition", model.condition == "none",
               "none with model.family: gaia (its autoencoders take no class)", model.condition)
    yield Rule("model.d_norm", model.d_norm != "batch",
               "none or spectral with model.family: gaia (its balancing reads per-batch errors)", model.d_norm)
    yield Rule("model.attention", not model.attention,
               "false with model.family: gaia (its autoencoders have no attention block)", model.attention)
    yield Rule("train.batch_size", p.train.batch_size % 2 == 0,
               "an even number with model.family: gaia (codes are interpolated between the batch's halves)",
               p.train.batch_size)


def _autoencoder_refusals(p, chosen_by: str) -> Iterator[Rule]:
    model = p.model
    yield Rule("model.d_norm", model.d_norm != "batch",
               f"none or spectral with {chosen_by} (its autoencoder discriminator has no batch norm)", model.d_norm)
    yield Rule("model.attention", not model.attention,
               f"false with {chosen_by} (the attention block is in Table 1's discriminator; its autoencoder "
               "discriminator has none)", model.attention)
    yield Rule("model.condition", model.condition == "none" or p.loss.adv == 0,
               f"none with {chosen_by} (its autoencoder discriminator has no class input or head)", model.condition)


def _dcgan_sizes(family: str) -> PatchRule:
    """The rule on the patch of a family built on DCGAN's networks: one of their sizes."""
    def rule(p, patch: int) -> tuple[bool, str]:
        return (patch in DCGAN_SIZES,
                f"{' or '.join(map(str, DCGAN_SIZES))} with model.family: {family} (its networks' sizes, as DCGAN's)")
    return rule


def _image_gan(name: str, reads: tuple[str, ...], rules: Callable[[Any], Iterator[Rule]],
               evaluation: str = "pyext.evaluation.generation", files: tuple[str, ...] = ()) -> Family:
    """The facts of a family of image networks at DCGAN's sizes, trained by its own losses (not the
    objective's discriminator), its modules ``pyext.models.<name>`` and ``pyext.training.steps.<name>``."""
    return Family(model=f"pyext.models.{name}", step=f"pyext.training.steps.{name}", evaluation=evaluation,
                  reads=("clip", *reads, *_IMAGE_RUN), patch=_dcgan_sizes(name), objective=False,
                  finetune="its networks' sizes are fixed by clip.patch", rules=rules, files=files)


def _vaegan_rules(p) -> Iterator[Rule]:
    yield from _image_gan_rules("vaegan", "VAE-GAN", "its discriminator is a classifier",
                                "VAE-GAN's discriminator normalises as DCGAN's: model.vaegan.batch_norm")(p)
    layers = max(1, p.clip.patch.bit_length() - 3)  # its discriminator's hidden layers: the side halved down to 4x4
    yield Rule("model.vaegan.layer", p.model.vaegan.layer <= layers,
               f"at most {layers} with clip.patch: {p.clip.patch} (the discriminator's hidden layers)",
               p.model.vaegan.layer)


def _biggan_rules(p) -> Iterator[Rule]:
    yield from _image_gan_rules("biggan", "BigGAN", "its discriminator is a classifier",
                                "BigGAN's networks are spectrally normalised throughout", conditioned=True)(p)
    b = p.model.biggan
    blocks = max(1, p.clip.patch.bit_length() - 3)  # G's up-blocks: 4x4 doubled to the patch
    yield Rule("model.biggan.latent", not b.hierarchical or b.latent % (blocks + 1) == 0,
               f"a multiple of {blocks + 1} with model.biggan.hierarchical and clip.patch: {p.clip.patch} (z in equal "
               f"chunks: one for the first map, one per block)", b.latent)


def _image_gan_rules(family: str, paper: str, discriminator: str, d_norm: str,
                     conditioned: bool = False) -> Callable[[Any], Iterator[Rule]]:
    """The rules of a family that trains a generator from noise against discriminators of its own,
    classifiers of images judged by the objective's losses: ``paper`` names it in the refusals,
    ``discriminator`` says what its discriminators are, ``d_norm`` how they normalise instead of
    ``model.d_norm``; ``conditioned``: whether its networks take a class (``model.condition``), on a
    source whose classes one frame shows."""
    def rules(p) -> Iterator[Rule]:
        from .loss import OBJECTIVES  # loss's table imports this module's

        model, adversarial = p.model, p.loss.adversarial
        # A classifier of images: the objectives that judge through one apply.
        judging = [name for name, facts in OBJECTIVES.items() if facts.discriminator == "multiscale"]
        yield Rule("loss.adversarial.kind", adversarial.kind in judging,
                   f"one of {', '.join(judging)} with model.family: {family} ({discriminator}; "
                   f"{adversarial.kind} trains an autoencoder)", adversarial.kind)
        yield Rule("loss.adversarial.d_pause", adversarial.d_pause == 0,
                   f"0 with model.family: {family} ({paper} updates D every step)", adversarial.d_pause)
        if not conditioned:
            yield Rule("model.condition", model.condition == "none",
                       f"none with model.family: {family} (its generator takes no class)", model.condition)
        else:
            # The generator learns a class from single images: a class one frame cannot show (a
            # motion) would be a label it cannot draw. data.test.source is the same source here
            # (rules() refuses another with a condition).
            visible = [name for name, source in SOURCES.items() if source.classes_in_one_frame]
            yield Rule("model.condition", model.condition == "none" or SOURCES[p.data.source].classes_in_one_frame,
                       f"none with model.family: {family} on data.source: {p.data.source} (a generator of single "
                       f"images learns a class only where one frame shows it: the demo's classes are motions, the "
                       f"photo set's camera motions; a class-conditioned {paper} needs data.source: "
                       f"{' or '.join(visible)})", model.condition)
        yield Rule("model.d_norm", model.d_norm == "none",
                   f"none with model.family: {family} ({d_norm})", model.d_norm)
        yield Rule("model.attention", not model.attention,
                   f"false with model.family: {family} ({paper}'s networks have no attention block)", model.attention)
    return rules


def _icgan_rules(p) -> Iterator[Rule]:
    # The source first: a cGAN of single images learns a class only where one frame shows it.
    visible = [name for name, source in SOURCES.items() if source.classes_in_one_frame]
    yield Rule("data.source", SOURCES[p.data.source].classes_in_one_frame,
               f"{' or '.join(visible)} with model.family: icgan (IcGAN's cGAN and its class encoder learn a class "
               f"from single images: the demo's classes are motions, the photo set's camera motions)", p.data.source)
    yield Rule("model.condition", p.model.condition == "concat",
               "concat with model.family: icgan (IcGAN's cGAN: G takes the class beside z, D over the image)",
               p.model.condition)
    yield from _image_gan_rules("icgan", "IcGAN", "its discriminator is a classifier",
                                "IcGAN's discriminator normalises as DCGAN's: model.icgan.batch_norm",
                                conditioned=True)(p)
    yield Rule("model.icgan.encoder_from", p.model.icgan.encoder_from < p.train.steps,
               f"less than train.steps: {p.train.steps} (the cGAN trains for the updates before it, the encoders "
               f"from it to train.steps)", p.model.icgan.encoder_from)


def _inversion_rules(p) -> Iterator[Rule]:
    v = p.model.inversion
    yield Rule("model.inversion.image_weight", v.feature_weight + v.adversarial_weight + v.image_weight > 0,
               "> 0 where model.inversion.feature_weight and adversarial_weight are 0 (G learns from no term)",
               v.image_weight)
    yield from _image_gan_rules("inversion", "the inversion", "its discriminator is a classifier",
                                "its discriminator normalises as DCGAN's: model.inversion.batch_norm")(p)
    if v.network == BUILTIN:  # a user's file's layers are counted when it is loaded
        for key in ("layer", "comparator_layer"):
            yield Rule(f"model.inversion.{key}", getattr(v, key) <= INVERTED_LAYERS,
                       f"at most {INVERTED_LAYERS} with model.inversion.network: builtin (its trunk's four blocks, "
                       f"then its pooled features)", getattr(v, key))


def _translator_rules(family: str, paper: str, kernel: int) -> Callable[[Any], Iterator[Rule]]:
    """The rules of a translation family (``paper`` names it): its discriminators are classifiers of
    frames judged by the objective's losses and normalise as its paper says; its PatchGAN's
    ``receptive`` field (kernels ``kernel`` x ``kernel``; DiscoGAN's discriminator has none) is 0 or
    from the field of no stride-2 layer to the patch side."""
    def rules(p) -> Iterator[Rule]:
        yield from _image_gan_rules(family, paper, "its discriminators are classifiers",
                                    f"{paper}'s networks normalise as its paper says")(p)
        section = getattr(p.model, family)
        if hasattr(section, "receptive"):
            least = 1 + 2 * (kernel - 1)  # a stride-1 layer and the logit layer
            yield Rule(f"model.{family}.receptive", section.receptive == 0 or least <= section.receptive <= p.clip.patch,
                       f"0 (the patch side) or {least} (the field of no stride-2 layer) to clip.patch: {p.clip.patch}",
                       section.receptive)
    return rules


def _discogan_rules(p) -> Iterator[Rule]:
    yield from _translator_rules("discogan", "DiscoGAN", 4)(p)
    if p.model.discogan.recipe == "code":
        adversarial = p.loss.adversarial
        yield Rule("loss.adversarial.kind", adversarial.kind == "bce",
                   "bce with model.discogan.recipe: code (the published code's halved cross-entropy and feature "
                   "matching)", adversarial.kind)
        yield Rule("loss.adversarial.d_steps", adversarial.d_steps == 1,
                   "1 with model.discogan.recipe: code (its D updates on every third step instead)", adversarial.d_steps)


def _translator(name: str, rules: Callable[[Any], Iterator[Rule]]) -> Family:
    """The facts of an unpaired translation family (domain A: ``data.source``'s videos; B:
    ``data.translate.source``'s): its model in :mod:`pyext.models.translation`, its step in
    :mod:`pyext.training.steps.translation`, its own discriminators judged by the objective's losses."""
    return Family(model="pyext.models.translation", step="pyext.training.steps.translation",
                  evaluation="pyext.evaluation.translation",
                  reads=("clip", f"model.{name}", "loss.adversarial", *_IMAGE_RUN), patch=_dcgan_sizes(name),
                  objective=False, finetune="its networks' sizes are fixed by clip.patch", rules=rules, domains=True)


def _lapgan_patch(p, patch: int) -> tuple[bool, str]:
    levels = p.model.lapgan.levels
    step = 2 ** (levels - 1)
    return (patch % step == 0 and patch // step >= LAPGAN_COARSEST,
            f"a multiple of 2^(model.lapgan.levels - 1) = {step} of at least {LAPGAN_COARSEST * step} with "
            f"model.family: lapgan (every level halves it, the coarsest at least {LAPGAN_COARSEST}x{LAPGAN_COARSEST})")


# The keys of train a run reads are the same for every family of the paper's optimisers; GAIA's own
# rates and Adam settings are in its section.
_TRAINING_RUN = ("train.steps", "train.batch_size", "train.seed", "train.augment", "train.colour_jitter",
                 "train.precision", "train.channels_last")

# The keys of train a generator from noise's run reads (its rates and optimiser are its own section's).
_IMAGE_RUN = ("train.steps", "train.batch_size", "train.seed", "train.precision", "train.channels_last")

FAMILIES: dict[str, Family] = {
    # The paper's multi-scale predictor (Table 1), trained by Algorithm 1.
    "multiscale": Family(
        model="pyext.models.multiscale", step="pyext.training.steps.multiscale",
        evaluation="pyext.evaluation.multiscale",
        reads=("clip", "model.d_norm", "model.attention", "model.condition", "model.embedding", "model.multiscale",
               "loss", "train"),
        patch=_halvable),
    # GAIA's interpolating autoencoder pair (Sainburg et al. 2018).
    "gaia": Family(
        model="pyext.models.gaia", step="pyext.training.steps.gaia", evaluation="pyext.evaluation.gaia",
        reads=("clip", "model.d_norm", "model.gaia", "loss.feature", "loss.comparator", *_TRAINING_RUN),
        patch=_gaia_patch, objective=False, finetune="its autoencoders' sizes are fixed", rules=_gaia_rules),
    # DCGAN (Radford et al. 2016): a generator of images from noise, trained on the patches' frames
    # with the objective's losses alone (its discriminator is its own, not Table 1's).
    "dcgan": _image_gan("dcgan", ("model.dcgan", "model.condition", "model.embedding", "loss.adversarial",
                                  "loss.class_weight", "loss.class_d"),
                        _image_gan_rules("dcgan", "DCGAN", "its discriminator is a classifier",
                                         "DCGAN's discriminator normalises as its guidelines say: model.dcgan.batch_norm",
                                         conditioned=True)),
    # LAPGAN (Denton et al. 2015): a Laplacian pyramid of conditional GANs, one per level, trained
    # independently on the real pyramid's levels with the objective's losses.
    "lapgan": Family(
        model="pyext.models.lapgan", step="pyext.training.steps.lapgan", evaluation="pyext.evaluation.generation",
        reads=("clip", "model.lapgan", "loss.adversarial", *_IMAGE_RUN),
        patch=_lapgan_patch, objective=False, finetune="its levels' sizes are fixed by clip.patch",
        rules=_image_gan_rules("lapgan", "LAPGAN", "each level's discriminator is a classifier",
                               "LAPGAN's discriminators have no normalisation layers")),
    # VAE-GAN (Larsen et al. 2016): a VAE whose decoder is the generator (DCGAN's), its
    # reconstructions measured in a hidden layer of the discriminator, with the objective's GAN term.
    "vaegan": _image_gan("vaegan", ("model.vaegan", "loss.adversarial"), _vaegan_rules),
    # BigGAN's techniques (Brock et al. 2019) at CPU scale: residual networks spectrally normalised
    # throughout, class-conditional batch norm with hierarchical latents, a projection discriminator
    # (model.condition: projection), orthogonal regularisation, an EMA of G's weights.
    "biggan": _image_gan("biggan", ("model.biggan", "model.condition", "model.embedding", "loss.adversarial"),
                         _biggan_rules),
    # GRAN (Im et al. 2016): a recurrent generator drawing on a canvas over model.gran.steps steps,
    # against DCGAN's discriminator.
    "gran": _image_gan("gran", ("model.gran", "loss.adversarial"),
                       _image_gan_rules("gran", "GRAN", "its discriminator is a classifier",
                                        "GRAN's discriminator normalises as DCGAN's: model.gran.batch_norm")),
    # IcGAN (Perarnau et al. 2016): DCGAN's cGAN (model.condition: concat), then, the GAN frozen, an
    # encoder of z trained on generated images and one of the class trained on real ones.
    "icgan": _image_gan("icgan", ("model.icgan", "model.condition", "model.embedding", "loss.adversarial"),
                        _icgan_rules),
    # DeePSiM's inversion (Dosovitskiy & Brox 2016): a decoder of a fixed network's features back to
    # the image, by a feature loss in a fixed comparator, the objective's adversarial term and an image loss.
    "inversion": _image_gan("inversion", ("model.inversion", "loss.adversarial"), _inversion_rules,
                            evaluation="pyext.evaluation.inversion", files=("model.inversion.network",)),
    # Unpaired translation between domain A (data.source) and B (data.translate.source): two
    # generators, A -> B and B -> A, held to each other's inverse, and a discriminator per domain.
    # CycleGAN (Zhu et al. 2017): residual generators, PatchGANs, cycle and identity losses, a pool.
    "cyclegan": _translator("cyclegan", _translator_rules("cyclegan", "CycleGAN", 4)),
    # DiscoGAN (Kim et al. 2017): encoder-decoder generators, DCGAN's discriminators, squared reconstruction.
    "discogan": _translator("discogan", _discogan_rules),
    # DualGAN (Yi et al. 2017): U-Net generators, PatchGAN critics, L1 reconstruction.
    "dualgan": _translator("dualgan", _translator_rules("dualgan", "DualGAN", 5)),
}

DISCRIMINATORS: dict[str, DiscriminatorFacts] = {
    "multiscale": DiscriminatorFacts("pyext.models.multiscale", patch=_table1_takes),  # Table 1's classifier
    "autoencoder": DiscriminatorFacts("pyext.models.autoencoder", _autoencoder_refusals),  # EBGAN's, BEGAN's
}

CONDITIONS: dict[str, ConditionFacts] = {
    "none": ConditionFacts("pyext.losses.conditioning"),
    "concat": ConditionFacts("pyext.losses.conditioning", families=("multiscale", "dcgan", "icgan")),
    "acgan": ConditionFacts("pyext.losses.conditioning", discriminator="the class head is the discriminator's",
                            families=("multiscale", "dcgan")),
    # The projection discriminator (Miyato & Koyama 2018): BigGAN's.
    "projection": ConditionFacts("pyext.losses.conditioning", families=("biggan",)),
}


@section
class MultiScaleParams:
    """The paper's multi-scale networks (``model.family: multiscale``; their frame counts and patch
    come from ``clip``). The discriminators of every objective follow the same scales and width.

    Attributes:
        scales: pyramid levels of the generator and the discriminator, 1..4 (the paper: 4); with S
            scales the model uses the S finest of Table 1, the coarsest at ``clip.patch / 2^(S-1)``.
        width: multiplies every channel count of Table 1 (the paper: 1.0).
        skip: ``none`` (the paper) or ``last_frame``: the generator predicts a change to the last
            input frame (:class:`pyext.models.MultiScaleGenerator`).
        d_leak: the negative slope of Table 1's discriminator's activations, in [0, 1): 0 is the
            paper's ReLU, 0.2 DCGAN's LeakyReLU.
        noise: the size of the generator's per-clip latent, broadcast over space and given to every
            scale (0: none, the paper's final model); drawn from ``(train.seed, step)``.
    """

    scales: _int(1, MODEL_MAX_SCALES)
    width: _float(1e-3)
    skip: _choice(*SKIPS)
    d_leak: _float(0, 1)
    noise: _int(0)


@section
class GAIAParams:
    """GAIA's autoencoders and their training (``model.family: gaia``; Sainburg et al. 2018,
    :mod:`pyext.models.gaia`, :mod:`pyext.losses.gaia`). GAIA trains with these rates and Adam's
    settings, not ``train.optimizer``/``lr_*``/``betas``; ``train.batch_size`` must be even.

    Attributes:
        frames: ``clip`` (a sample is a training clip, its frames stacked on channels) or
            ``single`` (each frame its own sample: the paper's image setting).
        latent: the code's size.
        width: multiplies every map count of both autoencoders.
        lr: the learning rate both networks share, balanced by ``slope`` (the authors' 1e-4).
        betas: Adam's ``(beta1, beta2)`` (the authors': TensorFlow's [0.9, 0.999]).
        adam_eps: Adam's epsilon (the authors' example: 1e-8).
        slope: b of the sigmoid balancing (the authors' 20).
        structure_weight: w of the structure loss (the authors: lr / 2).
        interpolation: ``[mean, std]`` of the normal the interpolation coefficients are drawn from
            (the authors' [0.5, 0.25]).
    """

    frames: _choice("clip", "single")
    latent: _Count
    width: _float(1e-3)
    lr: _float(0)
    betas: _Betas
    adam_eps: _float(0)
    slope: _float(0)
    structure_weight: _float(0)
    interpolation: Annotated[tuple[_float(-10), _float(0)], BeforeValidator(_list),
                             Expect("a list of two numbers [mean, std], std >= 0")]


@section
class ImageGANOptimiser:
    """The optimiser keys of a family that trains a generator from noise with its own optimiser
    and constant rates, not ``train.optimizer``/``lr_*``/``betas`` (DCGAN, LAPGAN, VAE-GAN).

    Attributes:
        optimizer: ``adam`` (DCGAN's) or ``rmsprop`` (WGAN's, VAE-GAN's), for every network.
        lr_g, lr_d: the generator's (and an encoder's) and the discriminator's learning rates.
        betas: Adam's ``(beta1, beta2)``.
    """

    optimizer: _choice("adam", "rmsprop")
    lr_g: _float(0)
    lr_d: _float(0)
    betas: _Betas


@section
class DCGANParams(ImageGANOptimiser):
    """DCGAN's networks and optimisers (``model.family: dcgan``; Radford et al. 2016,
    :mod:`pyext.models.dcgan`, :mod:`pyext.training.steps.dcgan`). It trains with these rates and
    optimiser (:class:`ImageGANOptimiser`: the paper's Adam 2e-4, betas [0.5, 0.999]), not
    ``train.optimizer``/``lr_*``/``betas``, at constant rates; its losses are the objective's alone
    (``loss.adversarial``: not ``loss.adv``, ``lp``, ``gdl`` or ``feature``, which are the
    predictor's), on one frame of each training patch, without ``train.augment``. With
    ``model.condition`` (``data.source: stochastic``: its classes show in one frame) G and D take
    the image's class as :mod:`pyext.losses.conditioning` says, with ``model.embedding`` and, for
    ``acgan``, ``loss.class_weight`` and ``loss.class_d``.

    Attributes:
        latent: the size of the noise z (the paper's 100).
        width: multiplies every map count (1: 64 maps at the layer next to the image, doubling per
            halving of the side; the paper's 64x64 generator has 128 there).
        batch_norm: batch norm in G and D but G's output and D's input layers (the guidelines);
            under an objective whose loss is per clip (WGAN-GP) D takes layer norm instead.
    """

    latent: _Count
    width: _float(1e-3)
    batch_norm: _Bool


@section
class LAPGANParams(ImageGANOptimiser):
    """LAPGAN's pyramid of GANs and their optimisers (``model.family: lapgan``; Denton et al. 2015,
    :mod:`pyext.models.lapgan`, :mod:`pyext.training.steps.lapgan`), trained as DCGAN is (one frame
    of each training patch, the objective's losses alone, these rates and optimiser:
    :class:`ImageGANOptimiser`).

    Attributes:
        levels: pyramid levels, >= 1: a plain GAN at the coarsest (``clip.patch / 2^(levels-1)``,
            at least 8x8) and a conditional GAN per finer level (the paper's CIFAR-10 model: 3
            levels, 8x8 to 32x32).
        latent: the size of the coarsest level's noise vector (the paper's 100); each finer level
            takes a noise plane of its own side instead.
        width: multiplies every layer's size (1: the paper's 1200/600 units of the coarsest G/D,
            128 maps in the finer levels' convolutions).
    """

    levels: _int(1, 6)
    latent: _Count
    width: _float(1e-3)


@section
class VAEGANParams(ImageGANOptimiser):
    """VAE-GAN's networks, terms and optimisers (``model.family: vaegan``; Larsen et al. 2016,
    :mod:`pyext.models.vaegan`, :mod:`pyext.training.steps.vaegan`), trained on one frame of each
    training patch as DCGAN is, with these rates and optimiser (:class:`ImageGANOptimiser`; the
    encoder's and decoder's ``lr_g``; the paper's RMSProp 3e-4).

    Attributes:
        latent: the code's size.
        width: multiplies every map count of the encoder, decoder (DCGAN's generator) and discriminator.
        batch_norm: batch norm in all three as DCGAN's guidelines place it (layer norm in D under an
            objective whose loss is per image).
        layer: the discriminator's hidden layer ``l`` where reconstructions are measured (1-based,
            at most ``log2(clip.patch / 4)``).
        gamma: the weight of the likelihood against the GAN term in the decoder's loss.
        kl_weight: the weight of the KL term in the encoder's loss (the paper's 1).
    """

    latent: _Count
    width: _float(1e-3)
    batch_norm: _Bool
    layer: _Count
    gamma: _float(0)
    kl_weight: _float(0)


@section
class BigGANParams(ImageGANOptimiser):
    """BigGAN's networks, its own terms and optimisers (``model.family: biggan``; Brock et al. 2019,
    :mod:`pyext.models.biggan`, :mod:`pyext.training.steps.biggan`), trained on one frame of each
    training patch as DCGAN is, with these rates and optimiser (:class:`ImageGANOptimiser`; the
    authors' Adam with betas [0, 0.999]). Its objective and D steps are ``loss.adversarial``'s (the
    paper's hinge and 2 D steps: ``configs/biggan.yaml``). With ``model.condition: projection``
    (``data.source: stochastic``) G's batch norms take a shared class embedding of
    ``model.embedding`` numbers and D the projection term.

    Attributes:
        latent: the size of the noise z (the authors' 128 at 32x32).
        width: multiplies every map count (1: the authors' ch = 64).
        hierarchical: z split into chunks, one for G's first map and one per block's batch norms.
        ortho: the strength beta of the orthogonal regularisation of G's weights (the paper's 1e-4;
            0: none).
        ema_decay: the decay of the exponential moving average of G's weights that is evaluated,
            sampled and saved (the paper's 0.9999 over 100k+ iterations).
        ema_start: the update from which the average decays; before it, it copies G (the paper's 20k;
            at or beyond ``train.steps``: no average, G itself is evaluated).
        standing: batches of noise the averaged generator's batch-norm statistics are accumulated over
            before it is evaluated or saved (standing statistics; the authors' 16).
    """

    latent: _Count
    width: _float(1e-3)
    hierarchical: _Bool
    ortho: _float(0)
    ema_decay: _float(0, 1)
    ema_start: _int(0)
    standing: _Count


@section
class GRANParams(ImageGANOptimiser):
    """GRAN's recurrent generator, its discriminator and optimisers (``model.family: gran``; Im et al.
    2016, :mod:`pyext.models.gran`, :mod:`pyext.training.steps.gran`), trained on one frame of each
    training patch as DCGAN is, with these rates and optimiser (:class:`ImageGANOptimiser`: Adam at
    DCGAN's 2e-4 and beta1 0.5 for both; at the authors' 1e-4 for G and 4e-5 for D, G outran D on the
    demo set).

    Attributes:
        latent: the size of one step's noise and of the hidden code (the authors' 100).
        steps: the drawing steps T (the authors' CIFAR-10 script: 5; their last version: 3).
        noise: ``each`` (a fresh noise per step, the paper's text) or ``once`` (one noise for every
            step, the authors' code).
        width: multiplies every map count of the decoder, encoder and discriminator (as
            ``model.dcgan.width``).
        batch_norm: batch norm where DCGAN's guidelines put it (layer norm in D under an objective
            whose loss is per image) and after the noise's projection.
    """

    latent: _Count
    steps: _Count
    noise: _choice("each", "once")
    width: _float(1e-3)
    batch_norm: _Bool


@section
class ICGANParams(DCGANParams):
    """IcGAN's cGAN, its two encoders and their optimisers (``model.family: icgan``; Perarnau, van de
    Weijer, Raducanu & Alvarez 2016, :mod:`pyext.models.icgan`, :mod:`pyext.training.steps.icgan`).
    The cGAN is DCGAN's conditioned by ``model.condition: concat`` (these sizes, rates and optimiser:
    :class:`DCGANParams`) and trains for the updates before ``encoder_from``; from it to
    ``train.steps`` the GAN is frozen and the encoders train, E_z on generated images, E_y on real
    labelled ones (the paper's procedure in one run).

    Attributes:
        encoder_from: the update from which the encoders train and the GAN is frozen (>= 1, below
            ``train.steps``).
        lr_e: both encoders' learning rate, constant (the authors' 1e-4).
        betas_e: the encoders' Adam ``(beta1, beta2)`` (the authors' 0.1 and 0.999).
    """

    encoder_from: _Count
    lr_e: _float(0)
    betas_e: _Betas


@section
class InversionParams(ImageGANOptimiser):
    """DeePSiM's inversion of a fixed network (``model.family: inversion``; Dosovitskiy & Brox 2016,
    :mod:`pyext.models.inversion`, :mod:`pyext.training.steps.inversion`): G decodes the features
    phi(x) of one layer of a fixed network back to x, trained on one frame of each training patch as
    DCGAN is, with these rates and optimiser (:class:`ImageGANOptimiser`), by
    ``feature_weight * ||C(G(phi(x))) - C(x)||^2 + adversarial_weight * L_adv + image_weight *
    ||G(phi(x)) - x||^2`` (C: the same fixed network at ``comparator_layer``; L_adv: the objective's
    generator loss, ``loss.adversarial``, D in DCGAN's layout judging images). Pixel-loss-only
    inversion, the paper's blurry reference: ``feature_weight`` and ``adversarial_weight`` 0.

    Attributes:
        network: the fixed network phi and C are layers of: ``builtin`` (``inverted.pt``, the
            project's second extractor, trained as ``features.pt`` is with another seed, so that FID's
            network is not the loss's) or a TorchScript file: frames ``(N, 3, H, W)`` RGB in [0, 1] ->
            a list of layers' outputs (maps ``(N, c, s, s)`` or vectors ``(N, d)``), never trained.
        layer: the layer of the network inverted, 1-based (``builtin``: 1..4 its trunk's blocks,
            32x32 to 8x8; 5 its pooled features).
        comparator_layer: the layer C compares in, 1-based (as ``layer``).
        feature_weight, adversarial_weight, image_weight: lambda_feat, lambda_adv and lambda_img,
            >= 0, not all 0.
        width: multiplies every map count of G and D (as ``model.dcgan.width``).
        batch_norm: batch norm where DCGAN's guidelines put it, in G and D (layer norm in D under an
            objective whose loss is per image).
    """

    network: Annotated[str, Strict(), Expect(f"{BUILTIN} or a path to a TorchScript file")]
    layer: _Count
    comparator_layer: _Count
    feature_weight: _float(0)
    adversarial_weight: _float(0)
    image_weight: _float(0)
    width: _float(1e-3)
    batch_norm: _Bool


@section
class CycleGANParams(ImageGANOptimiser):
    """CycleGAN's networks, terms and optimisers (``model.family: cyclegan``; Zhu, Park, Isola & Efros
    2017, :mod:`pyext.models.translation`, :mod:`pyext.training.steps.translation`): generators
    ``G: A -> B`` and ``F: B -> A`` (residual, instance norm), a PatchGAN per domain, trained on one
    frame of each clip of ``train.batch_size`` clips per domain by the objective's GAN terms
    (``loss.adversarial``; the paper's LSGAN: ``configs/cyclegan.yaml``) with D's loss halved (the
    ``lsgan`` objective's is already) and, for G, ``cycle_weight`` times the cycle loss and
    ``identity_share * cycle_weight`` times the identity loss; D learns from a pool of G's last images
    (:class:`pyext.training.pool.ImagePool`). The optimisers (:class:`ImageGANOptimiser`; the paper's
    Adam 2e-4, betas [0.5, 0.999]) keep their rates for the first half of ``train.steps``, then decay
    them linearly to 0 (``decay``).

    Attributes:
        blocks: G's residual blocks (the paper's 6 at 128x128, 9 at 256x256).
        width: multiplies every map count of G and D (1: the paper's 64 first maps).
        receptive: the largest receptive field, in pixels, of a logit of D, which takes the most
            stride-2 layers that keep within it (0: the patch side; the paper's 70x70 is larger than
            a 32x32 patch).
        cycle_weight: lambda of the cycle loss, each way (the paper's 10).
        identity_share: the identity loss's weight as a share of lambda (the paper's 0.5; 0: none).
        pool: generated images per domain the pool holds for D's updates (the paper's 50; 0: none).
        decay: the rates constant for the first half of the run, then linearly to 0 (the paper's
            schedule); false: constant.
    """

    blocks: _int(0)
    width: _float(1e-3)
    receptive: _int(0)
    cycle_weight: _float(0)
    identity_share: _float(0)
    pool: _int(0)
    decay: _Bool


@section
class DiscoGANParams(ImageGANOptimiser):
    """DiscoGAN's networks, terms and optimisers (``model.family: discogan``; Kim, Cha, Kim, Lee & Kim
    2017, :mod:`pyext.models.translation`, :mod:`pyext.training.steps.translation`): encoder-decoder
    generators ``G_AB`` and ``G_BA`` and DCGAN's discriminator per domain (batch norm, real and
    generated frames normalised apart), trained on one frame of each clip of ``train.batch_size``
    clips per domain by the objective's GAN terms (the paper's cross-entropy: ``bce``) and the squared
    reconstruction loss, with these rates and optimiser (:class:`ImageGANOptimiser`; the code's Adam
    2e-4, betas [0.5, 0.999]).

    The published code (``discogan/image_translation.py``) differs from the paper; ``recipe`` picks:

    - ``paper``: each generator's loss ``L_GAN + L_CONST`` (weights 1), D's the sum of its two
      domains' terms; D and G updated every step; no weight decay.
    - ``code``: each generator's loss ``(0.1 L_GAN + 0.9 L_FM)(1 - rate) + rate L_CONST``, with the
      feature matching ``L_FM`` in D's hidden layers and ``rate`` = ``starting_rate`` for the first
      ``curriculum`` steps, then ``default_rate``; D's cross-entropy halved; one forward a step, D
      updated on every third step and G on the others; Adam's weight decay 1e-5.

    Attributes:
        width: multiplies every map count of G and D (1: the paper's 64 first maps).
        recipe: ``paper`` or ``code`` (above).
        curriculum: ``code``: the steps of the strong GAN loss (the code's 10000).
        starting_rate, default_rate: ``code``: the reconstruction's rate during and after the
            curriculum (the code's 0.01 and 0.5).
    """

    width: _float(1e-3)
    recipe: _choice("paper", "code")
    curriculum: _int(0)
    starting_rate: _float(0, 1)
    default_rate: _float(0, 1)


@section
class DualGANParams(ImageGANOptimiser):
    """DualGAN's networks, terms and optimisers (``model.family: dualgan``; Yi, Zhang, Tan & Gong 2017,
    :mod:`pyext.models.translation`, :mod:`pyext.training.steps.translation`): U-Net generators
    ``G_A: U -> V`` and ``G_B: V -> U`` and a PatchGAN critic per domain, trained on one frame of each
    clip of ``train.batch_size`` clips per domain by the objective's terms and the L1 reconstruction
    loss weighed by ``cycle_weight``, with these rates and optimiser (:class:`ImageGANOptimiser`).

    The paper's objective is the Wasserstein one with clipped critics (``loss.adversarial.kind:
    wgan``; its Algorithm 1's clipping c is ``wgan.clip`` and n_critic ``wgan.critic_steps``, which
    its section 4 sets to 0.01 to 0.1 and 2 to 4) under RMSProp at 5e-5, with batches of 1 to 4 and
    lambda 100 to 1000: ``configs/dualgan.yaml``, followed here. Its released code switched to the
    original GAN loss (``kind: bce``, no clipping), which the family also takes.

    Attributes:
        width: multiplies every map count of G and D (1: the paper's 64 first maps).
        receptive: the largest receptive field of a critic's score, in pixels (0: the patch side; as
            ``model.cyclegan.receptive``, with 5x5 kernels).
        dropout: dropout in G's three innermost decoder layers (the 2017 code's 0.5; 0: deterministic).
        cycle_weight: lambda_U = lambda_V of the reconstruction loss (the paper's range: 100 to 1000).
    """

    width: _float(1e-3)
    receptive: _int(0)
    dropout: _float(0, 1)
    cycle_weight: _float(0)


@section
class ModelParams:
    """The model: one key picks the family (:data:`FAMILIES`, :mod:`pyext.models`); each family
    reads its knobs from the section under its name.

    Attributes:
        family: the model family: ``multiscale`` (the paper's predictor), ``gaia``, or a generator
            from noise: ``dcgan``, ``lapgan``, ``vaegan``, ``biggan``, ``gran`` or ``icgan``; or
            ``inversion`` (a decoder of a fixed network's features); or a translator between domain A
            (``data.source``) and B (``data.translate.source``): ``cyclegan``, ``discogan`` or ``dualgan``.
        d_norm: the discriminator's normalisation (:data:`D_NORMS`, :mod:`pyext.models.blocks`):
            ``none`` (the paper), ``spectral`` (SN-GAN, Miyato et al. 2018: every weight divided
            by its largest singular value) or ``batch`` (DCGAN: batch norm after every convolution
            but the first, real and generated clips normalised apart). GAIA: ``none`` or ``spectral``;
            DCGAN: ``none`` (its discriminator normalises by its guidelines, ``model.dcgan.batch_norm``).
        attention: a self-attention block (SAGAN, Zhang et al. 2018) in the discriminator at every
            scale and in the generator at its coarse scales (the multi-scale family, Table 1's
            discriminator).
        condition: class conditioning (:data:`CONDITIONS`, :mod:`pyext.losses.conditioning`): ``none``,
            ``concat`` (cGAN: a learned class embedding as extra input channels of G and of D at
            every scale) or ``acgan`` (G's as cGAN's, a class head on D at every scale; ACGAN). The
            multi-scale family with Table 1's discriminator, and ``dcgan`` on a source whose classes
            one frame shows (``stochastic``: G's embedding beside z, D's over the image; ``icgan``'s
            cGAN, ``concat`` only); or
            ``projection`` (``biggan``: G's batch norms take a shared class embedding, D projects
            its features on a class embedding; Miyato & Koyama 2018).
        embedding: ``concat``, ``acgan``: the class embedding's size (the channels it adds to G's
            input; with ``concat`` to D's too); ``projection``: G's shared embedding's.
        multiscale: the knobs of the paper's networks.
        gaia: the knobs of GAIA's autoencoders and their training.
        dcgan: the knobs of DCGAN's networks and their training.
        lapgan: the knobs of LAPGAN's pyramid of GANs and their training.
        vaegan: the knobs of VAE-GAN's networks, terms and training.
        biggan: the knobs of BigGAN's networks, terms and training.
        gran: the knobs of GRAN's recurrent generator and its training.
        icgan: the knobs of IcGAN's cGAN, its encoders and their training.
        inversion: the knobs of DeePSiM's inversion of a fixed network, its terms and training.
        cyclegan: the knobs of CycleGAN's networks, terms and training.
        discogan: the knobs of DiscoGAN's networks, terms and training (the paper's or its code's).
        dualgan: the knobs of DualGAN's networks, terms and training.
    """

    family: named(FAMILIES)
    d_norm: _choice(*D_NORMS)
    attention: _Bool
    condition: named(CONDITIONS)
    embedding: _Count
    multiscale: MultiScaleParams
    gaia: GAIAParams
    dcgan: DCGANParams
    lapgan: LAPGANParams
    vaegan: VAEGANParams
    biggan: BigGANParams
    gran: GRANParams
    icgan: ICGANParams
    inversion: InversionParams
    cyclegan: CycleGANParams
    discogan: DiscoGANParams
    dualgan: DualGANParams


def rules(p) -> Iterator[Rule]:
    """The family's rule on the training patch, then its own rules."""
    family = FAMILIES[p.model.family]
    holds, expected = family.patch(p, p.clip.patch)
    yield Rule("clip.patch", holds, expected, p.clip.patch)
    # A class the model learnt from is a training source's: another source's test videos have none.
    yield Rule("model.condition", p.model.condition == "none" or p.data.test_source == p.data.source,
               f"none with data.test.source: {p.data.test_source} (the test videos' classes are not the training "
               f"videos' {p.data.source} classes)", p.model.condition)
    domain_b = p.data.translate.source
    translators = [name for name, facts in FAMILIES.items() if facts.domains]
    yield Rule("data.translate.source", (domain_b != NONE) == family.domains,
               f"a data source with model.family: {p.model.family} (its domain B; domain A is data.source's)"
               if family.domains else f"none with model.family: {p.model.family} (domain B is read by "
               f"{', '.join(translators) or 'the translation families'} alone)", domain_b)
    yield from family.rules(p)
    takes = CONDITIONS[p.model.condition].families
    taken = [name for name, facts in CONDITIONS.items() if not facts.families or p.model.family in facts.families]
    yield Rule("model.condition", not takes or p.model.family in takes,
               f"one of {', '.join(taken)} with model.family: {p.model.family} ({p.model.condition} is the "
               f"conditioning of {' and '.join(takes)})", p.model.condition)
