"""The FID and KID of a generator from noise during training (``model.family`` dcgan, lapgan,
vaegan, which have no validation PSNR): at step 0 (the untrained generator), every
``train.val_every`` steps and at the last, logged as ``val/fid`` and ``val/kid`` (dvclive:
``dvclive/plots/metrics/val/``, drawn by ``dvc plots show``).

Real images: one frame of each validation patch the loop reads (``data/val.h5``'s first
``train.val_batches`` batches, in file order), at most ``evaluate.patches`` of them, each frame
drawn from ``(train.seed, VAL_KEY)`` (:func:`pyext.evaluation.samples.one_frame_each`, as the
evaluate stage draws its test frames); their features are computed once per run. Generated: as
many images from latents drawn from ``(train.seed, VAL_KEY)``, the same at every measurement (the
curve follows one set of samples learning), apart from every training draw and the evaluation's;
the generator in eval mode (batch norm's running statistics, as the evaluate stage samples it),
then back in its mode.

Measured through the evaluation's extractor (``evaluate.features``; '': nothing is measured, said
once) by :func:`pyext.evaluation.fid.distances`, with its rules: FID only where N > 2d (else KID
alone, said once), KID's ``evaluate.kid_subsets`` seeded subsets of at most
``evaluate.kid_subset_size``. The reals are validation frames, not the test set's moving patches:
the curve is for watching a run; the evaluate stage measures the written generator on the test set.

A measurement draws from no training stream and leaves torch's global random state as it found it,
so a resumed run trains exactly as an uninterrupted one.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..config import Params
from ..data.dataset import to_uint8
from ..evaluation.fid import FrameFeatures, distances, feature_extractor
from ..evaluation.samples import BATCH, generated, one_frame_each
from ..models import NoiseGenerator, draw_latents

# "vald": the validation frames and latents measured in training, (train.seed, this): apart from every other draw
VAL_KEY = 0x76616C64
_REAL, _GENERATED = "real", "generated"  # the extractor's sets


class GeneratorDistances:
    """The FID and KID of a generator's images from fixed latents against fixed real images (the
    module docstring).

    Args:
        extractor: the feature extractor (``evaluate.features``); the real images' features are
            added to it here, once.
        real: uint8 real images ``(N, S, S, 3)``, N >= 2.
        latents: ``(N, latent)`` on the device the generator lives on.
        subsets, subset_size: KID's (``evaluate.kid_subsets``, ``evaluate.kid_subset_size``).
        labels: where the generator is class-conditioned, the class of each latent's image ``(N,)``
            (the real images' own, so that both sets hold the classes alike); None: none.
    """

    def __init__(self, extractor: FrameFeatures, real: np.ndarray, latents: torch.Tensor, subsets: int,
                 subset_size: int, labels: torch.Tensor | None = None):
        self.extractor, self.latents, self.subsets, self.subset_size = extractor, latents, subsets, subset_size
        self.labels = labels
        extractor.add_in_parts(_REAL, real, BATCH)
        self.count = len(real)
        # The extractor's sample-size rule (pyext.evaluation.fid.distances): FID wants N > 2d.
        self.with_fid = self.count > 2 * extractor.dimension
        self.last: tuple[int, dict[str, float]] | None = None  # the latest measurement's step and values

    def measure(self, step: int, generator: NoiseGenerator) -> dict[str, float]:
        """``{"val/fid": .., "val/kid": ..}`` of ``generator``'s images at ``step`` (``val/fid``
        only where N > 2d; KID's mean over its subsets). The generator is left in the mode it was
        in, torch's random state (CPU, and the device's) as it was."""
        device = self.latents.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            was_training = generator.training
            generator.eval()
            try:
                images = generated(generator, self.latents, self.labels)
            finally:
                generator.train(was_training)
            self.extractor.forget(_GENERATED)
            self.extractor.add_in_parts(_GENERATED, images, BATCH)
            measured = distances(self.extractor, _REAL, [_GENERATED], self.subsets, self.subset_size)
        values = {"val/fid": measured["fid"][_GENERATED]} if "fid" in measured else {}
        values["val/kid"] = measured["kid"][_GENERATED]["mean"]
        self.last = step, values
        return values

    def said(self, stage: str) -> str:
        """The end of a run's line on the latest measurement."""
        if self.last is None:
            return f"{stage}: the generator's FID and KID were not measured in this part of the run"
        step, values = self.last
        shown = ", ".join(f"{name.removeprefix('val/').upper()} {value:.4g}" for name, value in values.items())
        return (f"{stage}: at step {step}, {shown} of {self.count} generated images against as many frames of "
                f"validation patches through {self.extractor.path.name} (val/fid, val/kid in dvclive); "
                f"the evaluate stage measures the generator on the test set")


def generator_distances(params: Params, generator: NoiseGenerator, batches: list[tuple[torch.Tensor, torch.Tensor]],
                        device: torch.device, say: Callable[[str], None], stage: str = "train"
                        ) -> GeneratorDistances | None:
    """The measurement of ``generator``'s FID and KID on the validation ``batches`` (the loop's:
    clips ``(B, T, 3, P, P)`` in [-1, 1] and their classes ``(B,)``), the real features computed now;
    None where nothing can be measured (``evaluate.features`` is '', fewer than 2 validation
    patches), said in one line, as is FID's refusal where there are too few images for it."""
    extractor = feature_extractor(params, device)
    if extractor is None:
        say(f"{stage}: evaluate.features is '': the generator's FID and KID are not measured during training")
        return None
    ev, seed = params.evaluate, params.train.seed
    clips = [c for c, _ in batches]
    count = min(sum(len(c) for c in clips), ev.patches)
    if count < 2:
        say(f"{stage}: {count} validation patches: the generator's FID and KID, which need 2, are "
            f"not measured during training")
        return None
    stored = to_uint8(torch.cat(clips)[:count])  # (N, T, P, P, 3): the validation set's uint8 frames again
    real = one_frame_each(stored, [seed, VAL_KEY])
    latents = draw_latents((seed, VAL_KEY), generator.latent, count, device=device)
    # A class-conditioned generator draws image i of real frame i's class, as the evaluate stage does.
    labels = torch.cat([y for _, y in batches])[:count].to(device) if generator.classes else None
    measurement = GeneratorDistances(extractor, real, latents, ev.kid_subsets, ev.kid_subset_size, labels)
    if not measurement.with_fid:
        say(f"{stage}: {count} validation frames <= 2 x {extractor.dimension} feature dimensions: the generator's "
            f"FID is not measured during training, its KID alone (the frames: at most train.val_batches x "
            f"train.batch_size validation patches and evaluate.patches)")
    return measurement


__all__ = ["VAL_KEY", "GeneratorDistances", "generator_distances"]
