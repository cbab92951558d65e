"""Training: ``train`` and ``finetune``."""
from __future__ import annotations

from collections.abc import Iterator

from .model import FAMILIES
from .rules import (MAX_STEPS, Rule, _Betas, _Bool, _Cap, _choice, _Count, _float, _int, _InitPath, _OptionalPath,
                    _Seed, _subset, section)

__all__ = ["AUGMENTATIONS", "OPTIMIZERS", "OPERATIONAL", "TrainParams", "FinetuneParams", "rules"]

# Transformations of training clips (pyext.augment applies them).
AUGMENTATIONS = ("flip", "rotate", "reverse", "colour")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
# train's keys that change how a run is watched or where it runs, not what it computes: a
# checkpoint stays valid when they change.
OPERATIONAL = ("device", "compile", "workers", "checkpoint_every", "log_every", "val_every", "val_batches",
               "val_clips", "image_every", "keep")


@section
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
        precision: what the networks compute in: ``float32``, ``bfloat16`` (autocast; the losses'
            ops accumulate in float32) or ``auto``: bfloat16 where the device multiplies it
            natively (CUDA, a CPU with AVX512-BF16 or AMX), float32 elsewhere, where bfloat16 is
            emulated and slower (:mod:`pyext.training.arithmetic`, bench/RESULTS.md).
        channels_last: store the networks' convolution weights, and so their activations,
            channels-last (oneDNN's and cuDNN's faster layout); it changes the last bits.
        workers: DataLoader processes.
        checkpoint_every: steps between checkpoints (``models/checkpoint.pt``).
        log_every: steps between logged losses.
        val_every: steps between validation PSNRs on ``data/val.h5``.
        val_batches: batches of ``data/val.h5`` a validation uses (0: all).
        val_clips: full-frame clips of the first validation videos (``data/val_frames.h5``, cut as the
            test clips are) a validation also predicts, scored as the test scores (moving regions and
            whole frames, step 1); 0: the patches alone.
        image_every: steps between pictures of predicted vs true validation patches.
        augment: transformations of the training clips (:data:`AUGMENTATIONS`, :mod:`pyext.augment`);
            ``[]``: none (the paper).
        colour_jitter: strength of the ``colour`` transformation, in [0, 1).
        keep: the generator written at the end: ``last`` (the paper) or ``best``, the one of the
            highest validation PSNR among the validations (every ``val_every`` steps and the last).
        init: a generator file (another run's ``models/generator.pt``; relative to the params
            file), or ``pretrained`` (the shipped pretrained predictor, :data:`pyext.files.PRETRAINED`),
            whose weights the generator starts from, as the paper's fine-tuned rows start from a
            trained model; the discriminator starts afresh. It must be of the params'
            architecture. Its SHA-256 is part of the run's identity: a checkpoint is never resumed
            against another file. ``''``: ``seed``'s random weights.
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
    precision: _choice("auto", "float32", "bfloat16")
    channels_last: _Bool
    workers: _int(0)
    checkpoint_every: _Count
    log_every: _Count
    val_every: _Count
    val_batches: _Cap
    val_clips: _Cap
    image_every: _Count
    augment: _subset(*AUGMENTATIONS)
    colour_jitter: _float(0, 1)
    keep: _choice("last", "best")
    init: _InitPath


@section
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


def rules(p) -> Iterator[Rule]:
    """A starting generator only for a family that can start from one; the fine-tuning patch:
    larger than the training patch, one the family's networks take, cut from the working frames; a
    family that cannot fine-tune refuses it."""
    tune, clip = p.finetune.patch, p.clip
    family = FAMILIES[p.model.family]
    if p.train.init:
        yield Rule("train.init", not family.finetune, f"'' with model.family: {p.model.family} ({family.finetune})",
                   p.train.init)
    if not tune:
        return
    yield Rule("finetune.patch", tune > clip.patch, f"0 or > clip.patch ({clip.patch})", tune)
    yield Rule("finetune.patch", not family.finetune,
               f"0 with model.family: {p.model.family} ({family.finetune})", tune)
    holds, expected = family.patch(p, tune)
    yield Rule("finetune.patch", holds, f"0 or {expected}", tune)
    yield Rule("finetune.patch", tune <= min(p.extract.frame_size),
               f"0 or at most the smaller side of extract.frame_size ({min(p.extract.frame_size)})", tune)
