"""The losses: ``loss`` with the adversarial objective's section and the feature loss's comparator,
and the tables of their registries: adversarial objectives (:data:`OBJECTIVES`), comparators
(:data:`COMPARATORS`) and f-GAN's divergences (:data:`FGAN_DIVERGENCES`).

A new objective is its module (:mod:`pyext.losses.adversarial`) plus one entry in
:data:`OBJECTIVES`, and a section of :class:`AdversarialParams` under its name if it has knobs.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .model import CONDITIONS, DISCRIMINATORS, FAMILIES, _no_rules
from .rules import Rule, _choice, _float, _int, _Layers, _OptionalPath, _Count, named, section

__all__ = ["OBJECTIVES", "COMPARATORS", "FGAN_DIVERGENCES", "Objective", "ComparatorFacts", "FGANParams",
           "WGANParams", "WGANGPParams", "EBGANParams", "BEGANParams", "AdversarialParams", "ComparatorParams",
           "LossParams", "rules"]


@dataclass(frozen=True)
class Objective:
    """An adversarial objective's facts (``loss.adversarial.kind``).

    Attributes:
        module: the module that registers it under its name (:mod:`pyext.losses.adversarial`).
        discriminator: the discriminator it trains (:data:`pyext.config.model.DISCRIMINATORS`).
        pause: whether DeePSiM's pause of D applies: it reads the ratio of D's loss to G's
            adversarial loss, which needs both positive.
        per_clip: whether its loss needs D's answer for each clip to depend on that clip alone
            (WGAN-GP's per-clip gradient penalty): a discriminator of its own family (DCGAN's)
            then replaces batch norm.
        rules: what it refuses of its own, given the params.
    """

    module: str
    discriminator: str = "multiscale"
    pause: bool = False
    per_clip: bool = False
    rules: Callable[..., Iterator[Rule]] = _no_rules


@dataclass(frozen=True)
class ComparatorFacts:
    """What a feature loss's comparator (``loss.comparator.kind``) compares through.

    Attributes:
        module: the module that registers it under its name (:mod:`pyext.losses.feature`).
        file: whether it loads ``loss.comparator.file`` (its contents are then part of a run's identity).
        discriminator: whether it looks through the trained discriminator's layers.
    """

    module: str
    file: bool = False
    discriminator: bool = False


def _per_clip_penalty(p) -> Iterator[Rule]:
    yield Rule("model.d_norm", p.model.d_norm != "batch",
               "none or spectral with loss.adversarial.kind: wgan_gp (its gradient penalty is per clip, and batch "
               "norm makes D's answer for a clip depend on the rest of its batch)", p.model.d_norm)


_ADVERSARIAL = "pyext.losses.adversarial"
OBJECTIVES: dict[str, Objective] = {
    "bce": Objective(f"{_ADVERSARIAL}.bce", pause=True),  # the paper's
    "minimax": Objective(f"{_ADVERSARIAL}.bce", pause=True),
    "lsgan": Objective(f"{_ADVERSARIAL}.lsgan", pause=True),
    "hinge": Objective(f"{_ADVERSARIAL}.hinge"),
    "fgan": Objective(f"{_ADVERSARIAL}.fgan"),
    "wgan": Objective(f"{_ADVERSARIAL}.wasserstein"),
    "wgan_gp": Objective(f"{_ADVERSARIAL}.wasserstein", per_clip=True, rules=_per_clip_penalty),
    "ebgan": Objective(f"{_ADVERSARIAL}.energy", discriminator="autoencoder"),
    "began": Objective(f"{_ADVERSARIAL}.energy", discriminator="autoencoder"),
}
# The f-divergences of f-GAN (pyext.losses.adversarial.fgan.DIVERGENCES implements them).
FGAN_DIVERGENCES = ("kl", "reverse_kl", "pearson", "hellinger", "js", "gan")
COMPARATORS: dict[str, ComparatorFacts] = {
    "discriminator": ComparatorFacts("pyext.losses.feature", discriminator=True),
    "file": ComparatorFacts("pyext.losses.feature", file=True),
}


@section
class FGANParams:
    """f-GAN (``kind: fgan``).

    Attributes:
        divergence: the f-divergence (:data:`FGAN_DIVERGENCES`).
    """

    divergence: _choice(*FGAN_DIVERGENCES)


@section
class WGANParams:
    """WGAN with weight clipping (``kind: wgan``).

    Attributes:
        clip: every critic weight is clipped to ``[-clip, clip]`` after each update.
        critic_steps: critic updates per generator update, each on a batch of its own.
    """

    clip: _float(1e-9)
    critic_steps: _Count


@section
class WGANGPParams:
    """WGAN with a gradient penalty (``kind: wgan_gp``).

    Attributes:
        gp_weight: lambda, the weight of the gradient penalty.
        critic_steps: critic updates per generator update, each on a batch of its own.
    """

    gp_weight: _float(0)
    critic_steps: _Count


@section
class EBGANParams:
    """EBGAN (``kind: ebgan``).

    Attributes:
        margin: m, the energy above which a generated clip no longer adds to D's loss; energies
            are per-pixel mean squared reconstruction errors (:mod:`pyext.losses.adversarial.energy`).
        pt_weight: the weight of the pull-away term in G's loss.
    """

    margin: _float(1e-9)
    pt_weight: _float(0)


@section
class BEGANParams:
    """BEGAN (``kind: began``).

    Attributes:
        gamma: the diversity ratio, the equilibrium ``L(fake) = gamma L(real)`` k_t steers to.
        lambda_k: the gain of k_t's update.
    """

    gamma: _float(0)
    lambda_k: _float(0)


@section
class AdversarialParams:
    """The adversarial objective (:mod:`pyext.losses.adversarial`): one key picks it; an objective
    with knobs of its own reads them from a section under its name beside ``kind``.

    Attributes:
        kind: the objective (:data:`OBJECTIVES`): ``bce`` (the paper's), ``minimax``,
            ``lsgan``, ``hinge``, ``fgan``, ``wgan``, ``wgan_gp``, ``ebgan``, ``began``.
        d_steps: discriminator updates per generator update, each on a batch of its own (the
            paper's 1); ``wgan`` and ``wgan_gp`` use their sections' ``critic_steps`` instead.
        d_pause: DeePSiM's rule (Dosovitskiy & Brox 2016, training details): D's updates are
            skipped while the ratio of D's loss to G's adversarial loss, as measured at the step
            before, is below this (the paper: 0.1); 0 never skips. Only with the objectives whose
            two losses are positive (:attr:`Objective.pause`).
        fgan, wgan, wgan_gp, ebgan, began: the knobs of those objectives.
    """

    kind: named(OBJECTIVES)
    d_steps: _Count
    d_pause: _float(0)
    fgan: FGANParams
    wgan: WGANParams
    wgan_gp: WGANGPParams
    ebgan: EBGANParams
    began: BEGANParams


@section
class ComparatorParams:
    """What the feature-space loss compares through (:mod:`pyext.losses.feature`).

    Attributes:
        kind: ``discriminator`` (the discriminator's own hidden layers at every scale: VAE-GAN's
            learned similarity, nothing to download) or ``file`` (a frozen TorchScript module).
        layers: which of its outputs are compared: the discriminator's convolution layers (per
            scale; GAIA: its encoder's), or the file module's returned tensors; 1 is the first,
            -1 the last.
        file: the TorchScript file (``kind: file``; '' otherwise), relative to the params file. It
            takes frames ``(N, 3, H, W)``, RGB in [0, 1], at the patch size during training, and
            returns a tensor or a list or tuple of them.
    """

    kind: named(COMPARATORS)
    layers: _Layers
    file: _OptionalPath


@section
class LossParams:
    """The generator's loss ``adv * L_adv + lp * L_p + gdl * L_gdl``, each summed over scales.

    Attributes:
        adversarial: the adversarial objective and its knobs (:class:`AdversarialParams`).
        adv: lambda_adv; 0 turns adversarial training off (no discriminator is trained).
        lp: lambda_lp, weight of the mean ``|Y - T|^p``.
        p: 1 or 2.
        gdl: lambda_gdl, weight of the gradient difference loss.
        alpha: the GDL exponent (>= 1).
        feature: lambda_feat, weight of the feature-space loss ``mean ||C(G(x)) - C(y)||^2`` over
            the comparator's chosen layers (DeePSiM; VAE-GAN's learned similarity); 0: none. GAIA
            adds it to its generator's loss too (G's reconstructions against the samples).
        comparator: what the feature-space loss compares through.
        class_weight: ``model.condition: acgan``: the weight of the class term beside the adversarial
            one in both players' losses (ACGAN's 1): D adds ``class_weight * CE``, G adds
            ``adv * class_weight * CE`` of its clips.
        class_d: which clips D's class head learns from: ``both`` real and generated (the ACGAN
            paper) or ``real`` only (StudioGAN's ACGAN-Mod).
        best_of: a generator with noise (``model.multiscale.noise``) predicts each training clip from
            this many latents and its ``L_p`` and ``L_gdl`` count only the best of them per clip
            (Bhattacharyya et al. 2018's best-of-many sample objective: a sample need only match
            one possible future, so the latent is worth using); ``L_adv`` judges every sample. 1:
            the paper's loss.
    """

    adversarial: AdversarialParams
    adv: _float(0)
    lp: _float(0)
    p: _int(1, 2)
    gdl: _float(0)
    alpha: _float(1)
    feature: _float(0)
    comparator: ComparatorParams
    class_weight: _float(0)
    class_d: _choice("both", "real")
    best_of: _Count


def _others(table: dict, holds) -> str:
    """The names of ``table``'s entries whose facts ``holds``, as "a or b"."""
    return " or ".join(name for name, facts in table.items() if holds(facts))


def rules(p) -> Iterator[Rule]:
    """For every family, the comparator's file; where the family trains the objective's
    discriminator, the objective's and its discriminator's refusals and patch sizes, the pause, and
    the conditioning's and the comparator's needs of a trained discriminator."""
    model, loss = p.model, p.loss
    kind, adversarial = loss.adversarial.kind, loss.adversarial
    comparator = COMPARATORS[loss.comparator.kind]
    yield Rule("loss.comparator.file", not comparator.file or loss.comparator.file != "",
               f"a TorchScript file with loss.comparator.kind: {loss.comparator.kind}", loss.comparator.file)
    if loss.best_of > 1:  # the samples differ by their latents alone; the other terms take one sample a clip
        yield Rule("loss.best_of", model.family == "multiscale" and model.multiscale.noise > 0,
                   "1 unless model.family is multiscale with model.multiscale.noise > 0 (the samples differ by "
                   "their latents alone)", loss.best_of)
        yield Rule("loss.best_of", loss.feature == 0 and model.condition == "none",
                   "1 with loss.feature > 0 or a model.condition", loss.best_of)
    if not FAMILIES[model.family].objective:
        return
    objective = OBJECTIVES[kind]
    discriminator = DISCRIMINATORS[objective.discriminator]
    yield from objective.rules(p)
    yield from discriminator.rules(p, f"loss.adversarial.kind: {kind}")
    if loss.adv > 0:  # a discriminator is built, for every patch it judges
        for key, patch in (("clip.patch", p.clip.patch), ("finetune.patch", p.finetune.patch)):
            if patch:
                holds, expected = discriminator.patch(p, patch)
                yield Rule(key, holds, expected, patch)
    pausing = _others(OBJECTIVES, lambda o: o.pause).replace(" or ", ", ")
    yield Rule("loss.adversarial.d_pause", adversarial.d_pause == 0 or objective.pause,
               f"0 with loss.adversarial.kind: {kind} (the pause reads a ratio of two positive losses: {pausing})",
               adversarial.d_pause)
    needs = CONDITIONS[model.condition].discriminator
    yield Rule("model.condition", not needs or loss.adv > 0,
               f"{_others(CONDITIONS, lambda c: not c.discriminator)} with loss.adv: 0 ({needs}, and none trains)",
               model.condition)
    yield Rule("loss.adversarial.d_pause", adversarial.d_pause == 0 or loss.adv > 0,
               "0 with loss.adv: 0 (no discriminator trains)", adversarial.d_pause)
    blind = _others(COMPARATORS, lambda c: not c.discriminator)
    yield Rule("loss.comparator.kind", loss.feature == 0 or not comparator.discriminator or loss.adv > 0,
               f"{blind} with loss.adv: 0 and loss.feature > 0 (no discriminator trains, so its layers would "
               "stay random)", loss.comparator.kind)
