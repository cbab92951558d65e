"""The one typed loader of ``params.yaml``: every pipeline stage reads its numbers through
:func:`load_params`, so a typo, a wrong type or an inconsistent combination stops the run before any
work, with one line naming the file and the key at fault (:class:`ParamsError`).

Every key is required: the YAML file is the single source of the values, none has a default here.

Each section is a frozen pydantic dataclass whose fields' types declare their rule (``_int(1)``,
``_choice(...)``); pydantic checks them (:func:`_first_problem` words its first error), and
:func:`_cross_checks` holds the rules that span keys. A new section (model, loss, ...) is a
``@_section`` dataclass plus a field of :class:`Params` (or of the section that holds it).

Example:
    >>> params = parse_params({
    ...     "clip": {"input_frames": 4, "output_frames": 1, "patch": 32, "test_steps": 2},
    ...     "data": {"source": "demo", "root": "data/demo", "split": 1},
    ...     "demo": {"classes": 6, "groups": 7, "test_groups": 2, "clips_per_group": 2, "frames": 40,
    ...              "seed": 0},
    ...     "photos": {"classes": 4, "groups": 4, "test_groups": 1, "clips_per_group": 1, "frames": 40,
    ...                "seed": 0},
    ...     "extract": {"workers": 2, "frame_size": [240, 320], "clip_stride": 4, "crops_per_clip": 4,
    ...                 "max_clips_per_video": 0, "test_clips_per_video": 1, "seed": 0},
    ...     "filter": {"min_motion": 8, "min_kept": 1000, "val_fraction": 0.1, "max_per_video": 0, "seed": 0},
    ...     "model": {"family": "multiscale", "d_norm": "none", "attention": False, "condition": "none",
    ...               "embedding": 8,
    ...               "multiscale": {"scales": 4, "width": 0.25, "skip": "last_frame",
    ...                                          "d_leak": 0.0},
    ...               "gaia": {"frames": "clip", "latent": 128, "width": 0.25, "lr": 1e-4, "betas": [0.9, 0.999],
    ...                        "adam_eps": 1e-8, "slope": 20.0, "structure_weight": 5e-5,
    ...                        "interpolation": [0.5, 0.25]}},
    ...     "loss": {"adversarial": {"kind": "bce", "d_steps": 1, "d_pause": 0.0, "fgan": {"divergence": "js"},
    ...                              "wgan": {"clip": 0.01, "critic_steps": 5},
    ...                              "wgan_gp": {"gp_weight": 10.0, "critic_steps": 5},
    ...                              "ebgan": {"margin": 0.1, "pt_weight": 0.1},
    ...                              "began": {"gamma": 0.5, "lambda_k": 0.001}},
    ...              "adv": 0.05, "lp": 1, "p": 2, "gdl": 1, "alpha": 1, "feature": 0.0, "class_weight": 1.0,
    ...              "class_d": "both",
    ...              "comparator": {"kind": "discriminator", "layers": [-1], "file": ""}},
    ...     "train": {"steps": 800, "batch_size": 8, "optimizer": "sgd", "betas": [0.5, 0.999], "lr_g": 0.04,
    ...               "lr_g_final": 0.005, "lr_d": 0.02, "lr_d_final": 0.02, "seed": 0, "device": "auto",
    ...               "compile": False, "workers": 2, "checkpoint_every": 100, "log_every": 10, "val_every": 100,
    ...               "val_batches": 8, "image_every": 200, "augment": ["flip", "rotate"], "colour_jitter": 0.1,
    ...               "keep": "best"},
    ...     "evaluate": {"protocol": "all", "max_clips": 0, "flow_threshold": 1.0, "pictures": 4,
    ...                  "patches": 256, "features": "", "classifier": "", "kid_subsets": 100, "kid_subset_size": 1000,
    ...                  "measure": "moving_mean"}, "finetune": {"patch": 0, "steps": 200}})
    >>> params.clip.train_frames, params.extract.frame_size, params.filter.min_motion
    (5, (240, 320), 8.0)
"""
from __future__ import annotations

import functools
import itertools
import os
import reprlib
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

import yaml
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

__all__ = [
    "DEMO_MAX_CLASSES",
    "DATA_SOURCES",
    "GENERATED_SOURCES",
    "PHOTOS_MAX_CLASSES",
    "ParamsError",
    "ClipParams",
    "DataParams",
    "DemoParams",
    "PhotosParams",
    "ExtractParams",
    "FilterParams",
    "FinetuneParams",
    "Params",
    "finetune_params",
    "load_params",
    "parse_params",
]

# The demo generator knows six motion kinds, one per class; the photo set five.
DEMO_MAX_CLASSES = 6
PHOTOS_MAX_CLASSES = 5
# The generated sources come first: prepare renders them into data/<source>/.
GENERATED_SOURCES = ("demo", "photos")
DATA_SOURCES = (*GENERATED_SOURCES, "ucf101", "sports1m", "folder")


class ParamsError(ValueError):
    """A params file that cannot be used, as one line ``<file>: <dotted key>: <problem>``.

    Example:
        >>> raise ParamsError("params.yaml", "extract.workers", "expected an int >= 1, got 'two'")
        Traceback (most recent call last):
        ...
        pyext.config.ParamsError: params.yaml: extract.workers: expected an int >= 1, got 'two'
    """

    def __init__(self, source: str, key: str | None, problem: str):
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"{source}: {key}: {problem}" if key else f"{source}: {problem}")

    def __reduce__(self):
        # Keeps the error picklable (it may cross from a worker process) despite the 3-argument init.
        return type(self), (self.source, self.key, self.problem)


# ------------------------------------------------------------------------------------------ rules
#
# Each key's type says what it accepts, as pydantic v2 checks it: numbers, booleans and names are
# strict (YAML's `yes` is not 1, "40" is not 40, 32.0 is not an int; an int is a number), lists may
# stand for tuples, and a string for a path. The _Expect beside each type is the error message's
# "expected ..." for that key, so that a wrong value reads the same whatever pydantic found wrong.


@dataclass(frozen=True)
class _Expect:
    """What a key accepts, in words: completes "expected ..." in errors."""

    text: str


def _list(value: Any) -> Any:
    # Lax tuples would take any sequence (a set, a generator); params hold lists (tuples from code).
    if not isinstance(value, (list, tuple)):
        raise ValueError("not a list")
    return value


def _distinct(value: tuple) -> tuple:
    if len(set(value)) != len(value):
        raise ValueError("names repeat")
    return value


def _non_empty(value: Any) -> Any:
    if not (isinstance(value, Path) or (isinstance(value, str) and value.strip())):
        raise ValueError("not a non-empty string")
    return value


def _int(low: int, high: int | None = None) -> Any:
    expected = f"an int >= {low}" if high is None else f"an int in {low}..{high}"
    return Annotated[int, Strict(), Field(ge=low, le=high), _Expect(expected)]


def _float(low: float, below: float | None = None) -> Any:
    """A finite number (an int is accepted and converted) in [low, below)."""
    expected = f"a number >= {low:g}" if below is None else f"a number in [{low:g}, {below:g})"
    return Annotated[float, Strict(), Field(ge=low, lt=below, allow_inf_nan=False), _Expect(expected)]


def _choice(*names: str) -> Any:
    return Annotated[Literal[names], _Expect(f"one of {', '.join(names)}")]


def _subset(*names: str) -> Any:
    """A list of distinct names out of ``names`` (empty allowed), as a tuple."""
    return Annotated[tuple[Literal[names], ...], BeforeValidator(_list), AfterValidator(_distinct),
                     _Expect(f"a list of distinct names out of {', '.join(names)} (or [])")]


def _no_zero(value: tuple) -> tuple:
    if not value or 0 in value:
        raise ValueError("empty, or a 0")
    return value


# Indices of layers, 1-based from the first or negative from the last, as Python counts from the end.
_Layers = Annotated[tuple[Annotated[int, Strict()], ...], BeforeValidator(_list), AfterValidator(_no_zero),
                    AfterValidator(_distinct),
                    _Expect("a non-empty list of distinct non-zero ints (1: the first layer, -1: the last)")]
# A path that may be empty ('' for none); a relative one is resolved against the params file's folder.
_OptionalPath = Annotated[str, Strict(), _Expect("a path, or '' for none")]
# Relative paths are resolved later, against the params file's folder (see parse_params).
_Path = Annotated[Path, BeforeValidator(_non_empty), AfterValidator(Path.expanduser),
                  _Expect("a path (a non-empty string)")]
_Bool = Annotated[bool, Strict(), _Expect("true or false")]
_Count = _int(1)
_Cap = _int(0)  # 0 means no cap
_Seed = _int(0)
# Pairs: errors quote the outer _Expect (the items' own are not read).
_IntPair = Annotated[tuple[_Count, _Count], BeforeValidator(_list),
                     _Expect("a list of two ints [height, width], each >= 1")]
_Betas = Annotated[tuple[_float(0, 1), _float(0, 1)], BeforeValidator(_list),
                   _Expect("a list of two numbers [beta1, beta2], each in [0, 1)")]
# A section: frozen, every key required (none has a default), unknown keys refused.
_section = pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid"))


# --------------------------------------------------------------------------------------- sections


@_section
class ClipParams:
    """Clip geometry shared by every stage (data, model, evaluation).

    Attributes:
        input_frames: frames the predictor sees.
        output_frames: frames predicted jointly in one step (the paper's 8 -> 8 sets both to 8).
        patch: side of the square training patches, in pixels.
        test_steps: recursive prediction steps stored per full-frame test clip.
    """

    input_frames: _Count
    output_frames: _Count
    patch: _int(4)
    test_steps: _Count

    @property
    def train_frames(self) -> int:
        """Frames of a training clip: the inputs and one step of outputs.

        >>> ClipParams(input_frames=4, output_frames=1, patch=32, test_steps=2).train_frames
        5
        """
        return self.input_frames + self.output_frames

    @property
    def test_frames(self) -> int:
        """Frames of a test clip: the inputs and ``test_steps`` recursive steps of outputs.

        >>> ClipParams(input_frames=4, output_frames=1, patch=32, test_steps=2).test_frames
        6
        """
        return self.input_frames + self.test_steps * self.output_frames


@_section
class DataParams:
    """Where the videos come from.

    Attributes:
        source: ``demo`` or ``photos`` (generated), ``ucf101``, ``sports1m`` or ``folder`` (any videos).
        root: the user's videos, absolute (resolved against the params file's folder); unused by
            the generated sources, which write into ``data/<source>/``.
        split: UCF101 official train/test split, 1..3 (the generated sets have split 1 only).
    """

    source: _choice(*DATA_SOURCES)
    root: _Path
    split: _int(1, 3)


@_section
class DemoParams:
    """The generated demo set (``data.source: demo``), laid out like UCF101.

    Attributes:
        classes: motion kinds, one class each (at most ``DEMO_MAX_CLASSES``).
        groups: groups ``g01..gNN`` per class.
        test_groups: groups ``1..test_groups`` are test videos, never seen in training.
        clips_per_group: videos per group.
        frames: frames per video.
        seed: random seed of the generator.
    """

    classes: _int(1, DEMO_MAX_CLASSES)
    groups: _Count
    test_groups: _Count
    clips_per_group: _Count
    frames: _Count
    seed: _Seed


@_section
class PhotosParams(DemoParams):
    """The photo set (``data.source: photos``): videos rendered from real photographs under camera
    and object motion (:mod:`pyext.data.photos`), laid out like UCF101; the keys of the demo's.

    Attributes:
        classes: motion kinds, one class each (at most ``PHOTOS_MAX_CLASSES``).
    """

    classes: _int(1, PHOTOS_MAX_CLASSES)


@_section
class ExtractParams:
    """Decoding videos into training clips, patch crops and full-frame test clips.

    Attributes:
        workers: decoding processes.
        frame_size: working ``(height, width)`` in pixels; larger frames are downscaled to fit
            (aspect kept). Each side is at least ``clip.patch``.
        clip_stride: frames between the starts of consecutive training clips of a video.
        crops_per_clip: random patch crops per training clip.
        max_clips_per_video: cap on the training clips per video; 0: every clip.
        test_clips_per_video: full-frame test clips per test video.
        seed: random seed of the crops and clip choices.
    """

    workers: _Count
    frame_size: _IntPair
    clip_stride: _Count
    crops_per_clip: _Count
    max_clips_per_video: _Cap
    test_clips_per_video: _Count
    seed: _Seed


@_section
class FilterParams:
    """Motion filtering of the patches and the validation hold-out.

    Attributes:
        min_motion: keep patches whose motion score (RMS frame difference on the 0..255 scale) is
            at least this...
        min_kept: ...or, where that keeps fewer patches than this, the ``min_kept`` most moving ones
            (:func:`pyext.data.filter.threshold`); 0: ``min_motion`` alone.
        val_fraction: fraction of whole training videos held out as the validation set, in [0, 1).
        max_per_video: cap on the patches kept per video; 0: no cap.
        seed: random seed of the validation split and the per-video cap.
    """

    min_motion: _float(0)
    min_kept: _Cap
    val_fraction: _float(0, 1)
    max_per_video: _Cap
    seed: _Seed


# Transformations of training clips (pyext.augment applies them).
AUGMENTATIONS = ("flip", "rotate", "reverse", "colour")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
# The generator's forms (pyext.models.MultiScaleGenerator's skip).
SKIPS = ("none", "last_frame")

# Names of the adversarial objectives (pyext.losses.adversarial registers them; it checks the two agree).
ADVERSARIAL_OBJECTIVES = ("bce", "minimax", "lsgan", "hinge", "fgan", "wgan", "wgan_gp", "ebgan", "began")
# The f-divergences of f-GAN (pyext.losses.adversarial.fgan.DIVERGENCES, the same names).
FGAN_DIVERGENCES = ("kl", "reverse_kl", "pearson", "hellinger", "js", "gan")
MODEL_MAX_SCALES = 4  # Table 1 of the paper describes four scales
MAX_STEPS = 10**9  # more training steps than any run takes (years at 0.1 s a step): a typo
# Names of the model families (pyext.models registers them; it checks the two agree).
MODEL_FAMILIES = ("multiscale", "gaia")
# Normalisations of the discriminator's layers (pyext.models.blocks): the paper's none, SN-GAN's
# spectral, DCGAN's batch.
D_NORMS = ("none", "spectral", "batch")
# The objectives that train an autoencoder discriminator (pyext.models.autoencoder): it has no batch
# norm or attention block.
AUTOENCODER_OBJECTIVES = ("ebgan", "began")
# The evaluation's measures (pyext.evaluate): this project's moving-region means; the authors'
# released script's whole-frame measure of masked frames (pyext.metrics.authors_scores).
MEASURES = ("moving_mean", "authors")
# Class conditioning (pyext.losses.conditioning registers them; it checks the two agree): none, cGAN's
# class embedding as input channels (Mirza & Osindero 2014), ACGAN's class head on D (Odena et al. 2017).
CONDITIONS = ("none", "concat", "acgan")
# What the feature-space loss compares through (pyext.losses.feature).
COMPARATORS = ("discriminator", "file")
# The objectives whose D loss and G adversarial loss are positive, so that DeePSiM's ratio of the
# two reads as in its paper (the pause of D's updates).
PAUSE_OBJECTIVES = ("bce", "minimax", "lsgan")


@_section
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
    """

    scales: _int(1, MODEL_MAX_SCALES)
    width: _float(1e-3)
    skip: _choice(*SKIPS)
    d_leak: _float(0, 1)


@_section
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
                             _Expect("a list of two numbers [mean, std], std >= 0")]


@_section
class ModelParams:
    """The model: one key picks the family (:data:`MODEL_FAMILIES`, :mod:`pyext.models`); each
    family reads its knobs from the section under its name.

    Attributes:
        family: the model family: ``multiscale`` (the paper's predictor) or ``gaia``.
        d_norm: the discriminator's normalisation (:data:`D_NORMS`, :mod:`pyext.models.blocks`):
            ``none`` (the paper), ``spectral`` (SN-GAN, Miyato et al. 2018: every weight divided
            by its largest singular value) or ``batch`` (DCGAN: batch norm after every convolution
            but the first, real and generated clips normalised apart). GAIA: ``none`` or ``spectral``.
        attention: a self-attention block (SAGAN, Zhang et al. 2018) in the discriminator at every
            scale and in the generator at its coarse scales (the multi-scale family, Table 1's
            discriminator).
        condition: class conditioning (:data:`CONDITIONS`, :mod:`pyext.losses.conditioning`): ``none``,
            ``concat`` (cGAN: a learned class embedding as extra input channels of G and of D at
            every scale) or ``acgan`` (a class head on D at every scale; ACGAN). The multi-scale
            family with Table 1's discriminator only.
        embedding: ``concat``: the class embedding's size (the channels it adds).
        multiscale: the knobs of the paper's networks.
        gaia: the knobs of GAIA's autoencoders and their training.
    """

    family: _choice(*MODEL_FAMILIES)
    d_norm: _choice(*D_NORMS)
    attention: _Bool
    condition: _choice(*CONDITIONS)
    embedding: _Count
    multiscale: MultiScaleParams
    gaia: GAIAParams


@_section
class FGANParams:
    """f-GAN (``kind: fgan``).

    Attributes:
        divergence: the f-divergence (:data:`FGAN_DIVERGENCES`).
    """

    divergence: _choice(*FGAN_DIVERGENCES)


@_section
class WGANParams:
    """WGAN with weight clipping (``kind: wgan``).

    Attributes:
        clip: every critic weight is clipped to ``[-clip, clip]`` after each update.
        critic_steps: critic updates per generator update, each on a batch of its own.
    """

    clip: _float(1e-9)
    critic_steps: _Count


@_section
class WGANGPParams:
    """WGAN with a gradient penalty (``kind: wgan_gp``).

    Attributes:
        gp_weight: lambda, the weight of the gradient penalty.
        critic_steps: critic updates per generator update, each on a batch of its own.
    """

    gp_weight: _float(0)
    critic_steps: _Count


@_section
class EBGANParams:
    """EBGAN (``kind: ebgan``).

    Attributes:
        margin: m, the energy above which a generated clip no longer adds to D's loss; energies
            are per-pixel mean squared reconstruction errors (:mod:`pyext.losses.adversarial.energy`).
        pt_weight: the weight of the pull-away term in G's loss.
    """

    margin: _float(1e-9)
    pt_weight: _float(0)


@_section
class BEGANParams:
    """BEGAN (``kind: began``).

    Attributes:
        gamma: the diversity ratio, the equilibrium ``L(fake) = gamma L(real)`` k_t steers to.
        lambda_k: the gain of k_t's update.
    """

    gamma: _float(0)
    lambda_k: _float(0)


@_section
class AdversarialParams:
    """The adversarial objective (:mod:`pyext.losses.adversarial`): one key picks it; an objective
    with knobs of its own reads them from a section under its name beside ``kind``.

    Attributes:
        kind: the objective (:data:`ADVERSARIAL_OBJECTIVES`): ``bce`` (the paper's), ``minimax``,
            ``lsgan``, ``hinge``, ``fgan``, ``wgan``, ``wgan_gp``, ``ebgan``, ``began``.
        d_steps: discriminator updates per generator update, each on a batch of its own (the
            paper's 1); ``wgan`` and ``wgan_gp`` use their sections' ``critic_steps`` instead.
        d_pause: DeePSiM's rule (Dosovitskiy & Brox 2016, training details): D's updates are
            skipped while the ratio of D's loss to G's adversarial loss, as measured at the step
            before, is below this (the paper: 0.1); 0 never skips. Only with the objectives whose
            two losses are positive (:data:`PAUSE_OBJECTIVES`).
        fgan, wgan, wgan_gp, ebgan, began: the knobs of those objectives.
    """

    kind: _choice(*ADVERSARIAL_OBJECTIVES)
    d_steps: _Count
    d_pause: _float(0)
    fgan: FGANParams
    wgan: WGANParams
    wgan_gp: WGANGPParams
    ebgan: EBGANParams
    began: BEGANParams


@_section
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

    kind: _choice(*COMPARATORS)
    layers: _Layers
    file: _OptionalPath


@_section
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


@_section
class TrainParams:
    """The training run.

    Attributes:
        steps: generator updates (each preceded by a discriminator update when ``loss.adv > 0``).
        batch_size: clips per update, over all processes of a distributed run.
        optimizer: ``sgd`` (the paper), ``adam`` or ``rmsprop`` (the WGAN paper's), for both networks.
        betas: Adam's ``(beta1, beta2)``, e.g. ``(0.5, 0.999)`` (DCGAN) or ``(0.0, 0.9)`` (WGAN-GP);
            unused by the other optimizers.
        lr_g, lr_g_final: the generator's learning rate at the first step, decreasing linearly to
            the second at the last.
        lr_d, lr_d_final: the same for the discriminator.
        seed: random seed of the weights and of the order of the training clips.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        compile: run the networks through ``torch.compile``.
        workers: DataLoader processes.
        checkpoint_every: steps between checkpoints (``models/checkpoint.pt``).
        log_every: steps between logged losses.
        val_every: steps between validation PSNRs on ``data/val.h5``.
        val_batches: batches of ``data/val.h5`` a validation uses (0: all).
        image_every: steps between pictures of predicted vs true validation patches.
        augment: transformations of the training clips (:data:`AUGMENTATIONS`, :mod:`pyext.augment`);
            ``[]``: none (the paper).
        colour_jitter: strength of the ``colour`` transformation, in [0, 1).
        keep: the generator written at the end: ``last`` (the paper) or ``best``, the one of the
            highest validation PSNR among the validations (every ``val_every`` steps and the last).
    """

    steps: _int(1, MAX_STEPS)
    batch_size: _Count
    optimizer: _choice(*OPTIMIZERS)
    betas: _Betas
    lr_g: _float(0)
    lr_g_final: _float(0)
    lr_d: _float(0)
    lr_d_final: _float(0)
    seed: _Seed
    device: _choice("auto", "cpu", "cuda")
    compile: _Bool
    workers: _int(0)
    checkpoint_every: _Count
    log_every: _Count
    val_every: _Count
    val_batches: _Cap
    image_every: _Count
    augment: _subset(*AUGMENTATIONS)
    colour_jitter: _float(0, 1)
    keep: _choice("last", "best")


@_section
class FinetuneParams:
    """The fine-tuning on larger patches after training (the paper's Table 2 rows marked *, on
    64x64): the train stage's generator goes on learning on ``patch``-square patches of the same
    videos, cut and filtered as the training patches are; the discriminator is built afresh for
    them (its fully connected layers fix its patch size; the generator is fully convolutional).

    Attributes:
        patch: side of the fine-tuning patches; 0: no fine-tuning (the train stage's generator is
            the one evaluated).
        steps: generator updates on them, at the train stage's final rates (``train.lr_g_final``,
            ``train.lr_d_final``) throughout; every other key of ``train`` as it is.
    """

    patch: _int(0)
    steps: _int(1, MAX_STEPS)


@_section
class EvaluateParams:
    """The evaluation on the full-frame test clips.

    Attributes:
        protocol: ``all`` (every test clip of ``data/test.h5``) or ``paper`` (the clips of every
            10th test video in list order: with UCF101, 4 inputs and 2 recursive steps on 240x320
            frames, the paper's Table 2 protocol).
        max_clips: at most this many clips; 0: no cap.
        flow_threshold: a target pixel moves when the optical-flow magnitude from the frame before
            exceeds this many pixels.
        pictures: test clips drawn as PNG grids and GIFs (GAIA: samples and interpolated pairs).
        patches: GAIA's evaluation samples: moving patches cut from the test clips
            (:mod:`pyext.evaluation.gaia`).
        features: a TorchScript feature extractor (frames ``(N, 3, H, W)`` RGB float32 in [0, 1]
            -> ``(N, d)``), relative to the params file, for FID and KID of the predicted frames
            (:mod:`pyext.fid`); '' computes neither.
        classifier: a TorchScript classifier (frames as ``features`` takes them -> class logits
            ``(N, C)``), relative to the params file, for the Inception Score of the predicted and
            the true frames (:func:`pyext.fid.inception_score`); '' computes none.
        kid_subsets: random subsets KID averages over.
        kid_subset_size: frames per KID subset (at most the frames there are).
        measure: the measure the stage reports and plots (``eval/metrics.json`` holds both):
            ``moving_mean`` (this project's: means over the moving pixels) or ``authors`` (the
            authors' released script's, which Table 2's figures come from:
            :func:`pyext.metrics.authors_scores`).
    """

    protocol: _choice("all", "paper")
    max_clips: _Cap
    flow_threshold: _float(0)
    pictures: _int(0)
    patches: _int(2)
    features: _OptionalPath
    classifier: _OptionalPath
    kid_subsets: _Count
    kid_subset_size: _int(2)
    measure: _choice(*MEASURES)


@_section
class Params:
    """All of ``params.yaml``, one field per section. Build it with :func:`load_params` or
    :func:`parse_params`: the constructor checks each key's own rule, but not the rules that span
    keys, nor resolves ``data.root``."""

    clip: ClipParams
    data: DataParams
    demo: DemoParams
    photos: PhotosParams
    extract: ExtractParams
    filter: FilterParams
    model: ModelParams
    loss: LossParams
    train: TrainParams
    finetune: FinetuneParams
    evaluate: EvaluateParams

    def section(self, name: str) -> dict[str, Any]:
        """The validated values of one section as plain YAML/JSON types (tuples as lists, paths as
        absolute strings, floats as floats), to record the params used in an output file."""
        if name not in _SECTIONS:
            raise ValueError(f"unknown params section {name!r} (known: {', '.join(_SECTIONS)})")
        values = getattr(self, name)
        return {f.name: _plain(getattr(values, f.name)) for f in fields(values)}


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# Section name -> its dataclass, in file order. get_type_hints, since annotations are strings here.
_SECTIONS: dict[str, type] = get_type_hints(Params)
_VALIDATOR = TypeAdapter(Params)


# ------------------------------------------------------------------------------------- validation


def _show(value: Any) -> str:
    """A value for an error message: its repr (so 'two' shows as a string), short and on one line."""
    return "nothing (an empty value)" if value is None else reprlib.repr(value)


def _owner(names: list[str]) -> type:
    """The section dataclass at a dotted path of section names ([] is :class:`Params`)."""
    cls = Params
    for name in names:
        cls = get_type_hints(cls)[name]
    return cls


def _first_problem(exc: ValidationError, raw: Mapping, source: str) -> ParamsError:
    """pydantic's first error (an unknown key before all else: a misspelt key is also a missing
    one, and the unknown key's message lists the known ones) as one line naming the dotted key."""
    errors = exc.errors(include_url=False)
    error = next((e for e in errors if e["type"] == "unexpected_keyword_argument"), errors[0])
    # The key: the names of the path; a number in it indexes a list value, reported as the whole key.
    names = list(itertools.takewhile(lambda part: isinstance(part, str), error["loc"]))
    key, whole = ".".join(names), len(names) == len(error["loc"])
    if error["type"] == "unexpected_keyword_argument":
        known = list(get_type_hints(_owner(names[:-1])))
        if len(names) == 1:
            return ParamsError(source, key, f"unknown section (known: {', '.join(known)})")
        return ParamsError(source, key, f"unknown key (known: {', '.join(sorted(known))})")
    if error["type"] == "missing" and whole:
        return ParamsError(source, key, "missing section" if len(names) == 1 else "missing key")
    value = functools.reduce(lambda mapping, name: mapping[name], names, raw)
    if error["type"] in ("dataclass_type", "dataclass_args_type"):
        return ParamsError(source, key, f"expected a mapping of keys, got {_show(value)}")
    hint = get_type_hints(_owner(names[:-1]), include_extras=True)[names[-1]]
    expected = next(m.text for m in hint.__metadata__ if isinstance(m, _Expect))
    return ParamsError(source, key, f"expected {expected}, got {_show(value)}")


def _cross_checks(p: Params) -> Iterator[tuple[str, bool, str, Any]]:
    """The rules that span keys, as (key at fault, holds, expected, found); each expected names the
    other keys. Lazy, so a rule only runs once the ones before it hold."""
    clip, data = p.clip, p.data
    for name in GENERATED_SOURCES:
        generated = getattr(p, name)
        yield (f"{name}.test_groups", generated.test_groups < generated.groups,
               f"< {name}.groups ({generated.groups}), so that training keeps at least one group",
               generated.test_groups)
        # test_frames >= train_frames since test_steps >= 1: this also covers the training clips.
        yield (f"{name}.frames", generated.frames >= clip.test_frames,
               f">= clip.input_frames + clip.test_steps * clip.output_frames ({clip.test_frames})", generated.frames)
    yield ("data.split", data.source not in GENERATED_SOURCES or data.split == 1,
           f"1 with data.source: {data.source} (a generated set has split 1 only)", data.split)
    yield ("extract.frame_size", min(p.extract.frame_size) >= clip.patch,
           f"[height, width] each >= clip.patch ({clip.patch})", list(p.extract.frame_size))
    step = 2 ** (p.model.multiscale.scales - 1)
    yield ("evaluate.protocol", p.evaluate.protocol != "paper" or (
        clip.input_frames == 4 and clip.output_frames == 1 and clip.test_steps >= 2),
        "all unless clip.input_frames is 4, clip.output_frames 1 and clip.test_steps >= 2 (the paper's protocol)",
        p.evaluate.protocol)
    yield ("clip.patch", clip.patch % step == 0,
           f"a multiple of 2^(model.multiscale.scales - 1) = {step}, so that every scale halves it", clip.patch)
    tune = p.finetune.patch
    if tune:
        yield ("finetune.patch", tune > clip.patch, f"0 or > clip.patch ({clip.patch})", tune)
        yield ("finetune.patch", tune % step == 0,
               f"0 or a multiple of 2^(model.multiscale.scales - 1) = {step}, so that every scale halves it", tune)
        yield ("finetune.patch", tune <= min(p.extract.frame_size),
               f"0 or at most the smaller side of extract.frame_size ({min(p.extract.frame_size)})", tune)
        yield ("finetune.patch", p.model.family == "multiscale",
               f"0 with model.family: {p.model.family} (its autoencoders' sizes are fixed)", tune)
    model, loss = p.model, p.loss
    kind = loss.adversarial.kind
    yield ("model.d_norm", model.d_norm != "batch" or kind != "wgan_gp",
           "none or spectral with loss.adversarial.kind: wgan_gp (its gradient penalty is per clip, and batch "
           "norm makes D's answer for a clip depend on the rest of its batch)", model.d_norm)
    yield ("model.d_norm", model.d_norm != "batch" or kind not in AUTOENCODER_OBJECTIVES,
           f"none or spectral with loss.adversarial.kind: {kind} (its autoencoder discriminator has no batch norm)",
           model.d_norm)
    yield ("model.attention", not model.attention or kind not in AUTOENCODER_OBJECTIVES,
           f"false with loss.adversarial.kind: {kind} (the attention block is in Table 1's discriminator; "
           "its autoencoder discriminator has none)", model.attention)
    yield ("loss.adversarial.d_pause", loss.adversarial.d_pause == 0 or kind in PAUSE_OBJECTIVES,
           f"0 with loss.adversarial.kind: {kind} (the pause reads a ratio of two positive losses: "
           f"{', '.join(PAUSE_OBJECTIVES)})", loss.adversarial.d_pause)
    yield ("model.condition", model.condition == "none" or model.family == "multiscale",
           f"none with model.family: {model.family} (its autoencoders take no class)", model.condition)
    yield ("model.condition", model.condition == "none" or kind not in AUTOENCODER_OBJECTIVES or loss.adv == 0,
           f"none with loss.adversarial.kind: {kind} (its autoencoder discriminator has no class input or head)",
           model.condition)
    yield ("model.condition", model.condition != "acgan" or loss.adv > 0,
           "none or concat with loss.adv: 0 (the class head is the discriminator's, and none trains)",
           model.condition)
    yield ("loss.comparator.file", loss.comparator.kind != "file" or loss.comparator.file != "",
           "a TorchScript file with loss.comparator.kind: file", loss.comparator.file)
    if model.family == "multiscale":
        yield ("loss.adversarial.d_pause", loss.adversarial.d_pause == 0 or loss.adv > 0,
               "0 with loss.adv: 0 (no discriminator trains)", loss.adversarial.d_pause)
        yield ("loss.comparator.kind", loss.feature == 0 or loss.comparator.kind != "discriminator" or loss.adv > 0,
               "file with loss.adv: 0 and loss.feature > 0 (no discriminator trains, so its layers would stay "
               "random)", loss.comparator.kind)
    if model.family == "gaia":
        yield ("model.d_norm", model.d_norm != "batch",
               "none or spectral with model.family: gaia (its balancing reads per-batch errors)", model.d_norm)
        yield ("model.attention", not model.attention,
               "false with model.family: gaia (its autoencoders have no attention block)", model.attention)
        yield ("train.batch_size", p.train.batch_size % 2 == 0,
               "an even number with model.family: gaia (codes are interpolated between the batch's halves)",
               p.train.batch_size)
        yield ("clip.patch", clip.patch >= 8 and clip.patch & (clip.patch - 1) == 0,
               "a power of two >= 8 with model.family: gaia (its autoencoders halve the patch down to 4x4)",
               clip.patch)


def parse_params(raw: Any, source: str | os.PathLike = "params.yaml") -> Params:
    """Validates parsed YAML (a dict of sections) and builds :class:`Params`.

    Args:
        raw: the parsed file, ``{section: {key: value}}``; every section and key is required.
        source: the file it came from: named in errors, and relative ``data.root`` paths are resolved
            against its folder (``params.yaml``: the working directory).
    Raises:
        ParamsError: the first problem found: an unknown or missing section or key, a wrong type, a
            value out of range, an inconsistent combination of keys, or a missing ``data.root``.
    """
    source = str(source)
    if not isinstance(raw, Mapping):
        raise ParamsError(source, None, f"expected a mapping of sections, got {_show(raw)}")
    try:
        params = _VALIDATOR.validate_python(raw)
    except ValidationError as exc:
        raise _first_problem(exc, raw, source) from None

    # Relative to the params file, not the working directory: a stage run from elsewhere reads the
    # same videos. An absolute root stays as it is (Path's / keeps the right side).
    root = (Path(source).parent / params.data.root).resolve()
    params = replace(params, data=replace(params.data, root=root))

    # The optional paths, relative to the params file like data.root.
    comparator, evaluation = params.loss.comparator, params.evaluate
    if comparator.file:
        params = replace(params, loss=replace(params.loss, comparator=replace(
            comparator, file=_resolved(source, comparator.file))))
    for key in ("features", "classifier"):
        if getattr(evaluation, key):
            evaluation = replace(evaluation, **{key: _resolved(source, getattr(evaluation, key))})
    params = replace(params, evaluate=evaluation)

    for key, holds, expected, found in _cross_checks(params):
        if not holds:
            raise ParamsError(source, key, f"expected {expected}, got {_show(found)}")
    if params.loss.comparator.kind == "file" and not Path(params.loss.comparator.file).is_file():
        raise ParamsError(source, "loss.comparator.file", f"no such file: {params.loss.comparator.file}")
    for key in ("features", "classifier"):
        path = getattr(params.evaluate, key)
        if path and not Path(path).is_file():
            raise ParamsError(source, f"evaluate.{key}", f"no such file: {path}")
    if params.data.source not in GENERATED_SOURCES and not root.is_dir():
        problem = "not a directory" if root.exists() else "path does not exist"
        raise ParamsError(source, "data.root",
                          f"{problem}: {root} (data.source: {params.data.source} reads its videos there)")
    return params


def finetune_params(params: Params) -> Params:
    """The params the fine-tuning stage trains with (``finetune.patch`` > 0) and its generator is
    evaluated with: ``clip.patch`` is ``finetune.patch``, ``train.steps`` is ``finetune.steps``,
    and the rates stay at the train stage's final ones throughout.

    >>> p = load_params("tests/params.yaml")
    >>> q = finetune_params(replace(p, finetune=replace(p.finetune, patch=64, steps=50)))
    >>> q.clip.patch, q.train.steps, q.train.lr_g == p.train.lr_g_final == q.train.lr_g_final
    (64, 50, True)
    """
    tune, train = params.finetune, params.train
    return replace(params, clip=replace(params.clip, patch=tune.patch),
                   train=replace(train, steps=tune.steps, lr_g=train.lr_g_final, lr_d=train.lr_d_final))


def _resolved(source: str, path: str) -> str:
    return str((Path(source).parent / Path(path).expanduser()).resolve())


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys: plain YAML keeps the last one silently, so a second
    ``min_motion:`` further down would override the first unnoticed."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, Hashable):  # an unhashable key is SafeLoader's error to report
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                        key_node.start_mark)
            seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_params(path: str | os.PathLike = "params.yaml") -> Params:
    """Reads and validates a params file (:func:`parse_params`); relative paths in it are relative
    to its folder.

    Args:
        path: the YAML file; the default is relative to the working directory (the repository root
            when run by ``dvc repro``).
    Raises:
        ParamsError: the file is missing, unreadable or not YAML, or its contents are invalid.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(source, None, f"no such file: {Path(path).resolve()}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(source, None, f"cannot read the file: {exc}") from None
    try:
        raw = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ParamsError(source, None, " ".join(f"not valid YAML: {problem}{where}".split())) from None
    return parse_params(raw, source)
