"""What a model family provides, the registries of families and discriminators, and the clip
helpers the networks share.

- A *family* (``model.family``) is a :class:`Model` class, built from the params by
  :meth:`Model.from_params` and rebuilt from a saved generator file by its ``config()``. Most are
  predictors, frames in, frames out (:class:`Predictor`): evaluation and prediction use only that
  interface. GAIA (:mod:`.gaia`) is an autoencoder pair that predicts nothing. A generator from
  noise (:class:`NoiseGenerator`: DCGAN, :mod:`.dcgan`; LAPGAN, :mod:`.lapgan`; VAE-GAN's decoder,
  :mod:`.vaegan`; IcGAN's cGAN and its encoders, :mod:`.icgan`) makes images from latents alone.
  DeePSiM's inverter (:mod:`.inversion`) decodes a fixed network's features of a real image: neither.
  A translator (:class:`Translator`: CycleGAN, DiscoGAN, DualGAN, :mod:`.translation`) maps frames of
  one set of videos (domain A) to the look of another (domain B) and back.
- A *discriminator* family is chosen by the adversarial objective (its ``discriminator``
  attribute): Table 1's classifier (``multiscale``), or an autoencoder (``autoencoder``: EBGAN,
  BEGAN).

Clips are ``(B, T, 3, H, W)`` in [-1, 1]; a network folds time into channels (``(B, 3T, H, W)``).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import ops
from ..config import DISCRIMINATORS as _DISCRIMINATOR_TABLE
from ..config import FAMILIES as _FAMILY_TABLE
from ..registry import Registry

__all__ = ["DISCRIMINATORS", "FAMILIES", "DIRECTIONS", "Model", "NoiseGenerator", "Predictor", "Translator", "clip_pyramid", "draw_latents",
           "register_discriminator", "register_family", "seeded_generator", "draw_classes", "latent_stream",
           "truncated_normal"]


class Model(nn.Module):
    """What every model family is: built from the params, saved as its ``config()`` (the
    constructor's keyword arguments) beside its weights. Subclasses define :meth:`from_params` and
    :meth:`config` and are registered under their ``model.family`` name with :func:`register_family`.
    """

    family: str = ""  # the registered name (set by register_family)
    trains: str = ""  # what its family trains, in words (the commands' refusals of the wrong kind of model)

    @classmethod
    def from_params(cls, params: Any) -> Model:
        """The untrained model the validated params describe."""
        raise NotImplementedError

    def config(self) -> dict:
        raise NotImplementedError


class Predictor(Model):
    """A video predictor: ``m`` input frames in, ``n`` predicted frames out.

    Subclasses set ``input_frames`` and ``output_frames``, define :meth:`forward`, and
    :attr:`size_multiple`, besides :class:`Model`'s. A class-conditioned predictor sets
    ``classes`` (its number of classes; 0: none) and needs each clip's class to predict it. A
    stochastic predictor sets ``noise``, the size of the latent ``z`` ``(B, noise)`` it takes per
    clip (0: none; without ``z`` it predicts at the latent's mean, 0).
    """

    trains = "a video predictor"
    input_frames: int
    output_frames: int
    classes: int = 0
    noise: int = 0

    @property
    def size_multiple(self) -> int:
        """Heights and widths the predictor accepts are multiples of this."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, z: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``(B, m, 3, H, W)`` (of classes ``labels`` ``(B,)``, where conditioned; with latents ``z``
        ``(B, noise)``, where stochastic) -> the prediction ``(B, n, 3, H, W)``."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, x: torch.Tensor, steps: int, labels: torch.Tensor | None = None,
                z: torch.Tensor | None = None) -> torch.Tensor:
        """Recursive prediction: ``steps`` rounds of predicting ``n`` frames and feeding them back
        as the newest inputs.

        Args:
            x: ``(B, m, 3, H, W)``.
            labels: the clips' classes ``(B,)``, for a class-conditioned predictor.
            z: a stochastic predictor's latents ``(B, noise)``, one future per clip: the same at
                every step (None: the latent's mean).
        Returns:
            ``(B, steps * n, 3, H, W)`` in [-1, 1].
        """
        out, window = [], x
        for _ in range(steps):
            # Clamped: what a viewer sees, and inputs stay in the training range. A family without
            # noise need not take z: it is passed only where given.
            y = (self(window, labels) if z is None else self(window, labels, z)).clamp(-1, 1)
            out.append(y)
            window = torch.cat([window, y], dim=1)[:, -self.input_frames:]
        return torch.cat(out, dim=1)


class NoiseGenerator(Model):
    """A generator of images from noise: latents ``z`` ``(B, latent)`` (and, where conditioned,
    classes) in, square RGB images ``(B, 3, size, size)`` in [-1, 1] out. Nothing goes in from a
    real sample, so it predicts no frames.

    Subclasses set ``latent`` and ``size`` and define :meth:`forward`, besides :class:`Model`'s; a
    class-conditioned one sets ``classes`` (0: none). ``truncatable`` says whether the truncation
    trick (:func:`truncated_normal`) applies to its latents: True where ``z`` is all its noise, one
    standard normal vector per image (a family drawing noise of its own inside :meth:`forward` would
    set it False: truncating ``z`` alone would leave the rest of its noise untouched).
    """

    trains = "a generator of images from noise"
    latent: int
    size: int
    classes: int = 0
    truncatable: bool = True

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``(B, latent)`` (of classes ``labels`` ``(B,)``, where conditioned) -> images
        ``(B, 3, size, size)`` in [-1, 1]."""
        raise NotImplementedError

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor | None:
        """A generator that also encodes (VAE-GAN's) gives its reconstructions of real images
        ``(B, 3, size, size)`` in [-1, 1] (the same shape); one that does not, None."""
        return None

    def invert(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """A conditioned generator with encoders of its inputs (IcGAN's) gives the latents ``(B, latent)``
        and classes ``(B,)`` it reads from real images ``(B, 3, size, size)`` in [-1, 1], which it
        rebuilds them from (an edit: the same latents, another class); one without, None."""
        return None

    def canvases(self, z: torch.Tensor) -> torch.Tensor | None:
        """A generator that draws in steps (GRAN's) gives its images of latents ``z`` ``(B, latent)``
        after each step, ``(T, B, 3, size, size)`` in [-1, 1] (the last its images); one that does
        not, None."""
        return None

    def latents(self, n: int, generator: torch.Generator | None = None,
                truncation: float | None = None) -> torch.Tensor:
        """``n`` latents ``(n, latent)`` float32 on the CPU, standard normal (with ``truncation``:
        :func:`truncated_normal` at that threshold), drawn with ``generator`` (a seeded one,
        :func:`seeded_generator`, draws the same latents wherever the model lives; None: torch's
        global generator). Truncated latents keep the untruncated ones' values that lie inside.

        Raises:
            ValueError: ``n`` < 1, or a truncation the family does not take (``truncatable``).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1, got {n!r}")
        if truncation is None:
            return torch.randn(n, self.latent, generator=generator)
        if not self.truncatable:
            raise ValueError(f"the {self.family} generator takes no truncation: not all its noise is in its latents")
        return truncated_normal((n, self.latent), truncation, generator)

    def check_labels(self, labels: torch.Tensor | None, n: int) -> None:
        """Checks the classes ``labels`` given for ``n`` images: None, or, for a class-conditioned
        generator, integers ``(n,)`` in ``0..classes-1``.

        Raises:
            ValueError: labels for a generator that takes no class, or labels out of its classes.
        """
        if labels is None:
            return
        if not self.classes:
            raise ValueError(f"the {self.family} generator takes no class (model.family: {self.family} "
                             f"is not class-conditioned)")
        if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or labels.dtype not in _INTEGERS:
            given = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must be ({n},) integer classes, got {given}")
        if n and not (0 <= int(labels.min()) and int(labels.max()) < self.classes):
            raise ValueError(f"labels must be classes of the generator's 0..{self.classes - 1}, "
                             f"got {int(labels.min())}..{int(labels.max())}")

    @torch.no_grad()
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, batch_size: int | None = None
               ) -> torch.Tensor:
        """Images ``(B, 3, size, size)`` in [-1, 1] on the model's device, of latents ``z``
        ``(B, latent)`` (on any device; and classes ``labels`` ``(B,)``, where conditioned:
        :meth:`check_labels`), ``batch_size`` at a time (None: all at once), in the model's current
        mode (in eval mode, each image is a function of its own latent alone, whatever the batches)."""
        self.check_labels(labels, len(z))
        weight = next(self.parameters())
        step = batch_size or len(z)
        return torch.cat([self(z[i:i + step].to(weight.device, weight.dtype),
                               None if labels is None else labels[i:i + step].to(weight.device))
                          for i in range(0, len(z), step)])

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               truncation: float | None = None) -> torch.Tensor:
        """``n`` images ``(n, 3, size, size)`` in [-1, 1] on the model's device: :meth:`decode` of
        :meth:`latents` ``(n, latent)`` (drawn with ``generator``; with ``truncation``, the
        truncation trick at that threshold), of classes ``labels`` ``(n,)`` where conditioned.

        Example:
            >>> from pyext.models.dcgan import DCGAN
            >>> DCGAN(size=32, latent=8, width=0.05).eval().sample(2, generator=seeded_generator([0])).shape
            torch.Size([2, 3, 32, 32])
        """
        return self.decode(self.latents(n, generator, truncation), labels)


DIRECTIONS = ("ab", "ba")  # a translator's two mappings: domain A to B, and B to A


class Translator(Model):
    """Two mappings learnt from unpaired frames of two domains: ``G: A -> B`` and ``F: B -> A``, each
    frames ``(N, 3, H, W)`` in [-1, 1] -> frames of the same shape in [-1, 1].

    Subclasses set ``size`` (the patch side it trained on) and define :meth:`mapping`, besides
    :class:`Model`'s. The mappings are convolutional: they take frames of any side that is a
    multiple of :attr:`size_multiple` (a whole video frame, as the translate command gives them),
    not only the training patch.
    """

    trains = "a translator between two sets of frames (domain A to B and back)"
    size: int

    @property
    def size_multiple(self) -> int:
        """The frame sides the mappings take are multiples of this."""
        raise NotImplementedError

    def mapping(self, direction: str) -> nn.Module:
        """The network of ``direction`` (:data:`DIRECTIONS`): ``ab`` is G, ``ba`` is F."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, direction: str = "ab") -> torch.Tensor:
        """Frames ``(N, 3, H, W)`` of the source domain -> ``(N, 3, H, W)`` of the target's."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        return self.mapping(direction)(x)

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "ab", batch_size: int | None = None) -> torch.Tensor:
        """:meth:`forward` in the model's current mode, ``batch_size`` frames at a time (None: all),
        on frames on any device; the result is on the model's device, clamped to [-1, 1]."""
        weight = next(self.parameters())
        step = batch_size or max(1, len(x))
        parts = [self(x[i:i + step].to(weight.device, weight.dtype), direction).clamp(-1, 1)
                 for i in range(0, len(x), step)]
        return torch.cat(parts) if parts else x.to(weight.device, weight.dtype)


def truncated_normal(shape: Sequence[int], threshold: float, generator: torch.Generator | None = None
                     ) -> torch.Tensor:
    """Standard normal draws ``shape`` float32 on the CPU, each beyond ``threshold`` in absolute
    value drawn again from the standard normal until it falls inside: the truncation trick by
    resampling (Brock, Donahue & Simonyan 2019, BigGAN, section 3.1), which trades a sample's
    variety for its fidelity as ``threshold`` falls. The result is the standard normal truncated to
    ``[-threshold, threshold]``; draws already inside are those of ``torch.randn(shape, generator)``.
    Each round brings a fraction ``2 Phi(threshold) - 1`` (about ``0.8 threshold`` when small) of the
    draws still outside inside, so tiny thresholds take many rounds.

    Example:
        >>> z = truncated_normal((4, 100), 0.5, seeded_generator([0]))
        >>> bool(z.abs().max() <= 0.5), z.shape
        (True, torch.Size([4, 100]))
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"the truncation threshold must be a number > 0, got {threshold!r}")
    z = torch.randn(tuple(shape), generator=generator)
    outside = z.abs() > threshold
    while outside.any():  # redraw only what is still outside, in the same order each time: seeded runs repeat
        z[outside] = torch.randn(int(outside.sum()), generator=generator)
        outside = z.abs() > threshold
    return z


def seeded_generator(seed: Sequence[int]) -> torch.Generator:
    """A CPU random generator that is a function of the non-negative ints ``seed`` alone (through
    NumPy's SeedSequence), whatever the global random state: what a resumed run or another process
    draws again exactly."""
    state = np.random.SeedSequence(list(seed)).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def draw_latents(seed: Sequence[int], size: int, total: int, rows: slice | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal latents ``(total, size)`` float32 (or their ``rows``: a process's share of a
    distributed batch), a function of ``seed`` alone (e.g. ``(train.seed, step, batch)``): a resumed
    run and every process of a distributed one draw the same, whatever the global random state."""
    z = torch.randn(total, size, generator=latent_stream(seed))
    return (z if rows is None else z[rows]).to(device)


def latent_stream(seed: Sequence[int]) -> torch.Generator:
    """The seeded generator :func:`draw_latents` draws ``seed``'s latents from: drawn again (e.g. by
    :meth:`NoiseGenerator.latents` with a truncation), it gives the same values, those inside the
    threshold kept."""
    return seeded_generator([*seed, _LATENT_STREAM])


_INTEGERS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)  # what class labels may be
_LATENT_STREAM = 0x6E6F6973  # "nois": apart from the augmentations' draws of the same (seed, step, batch)


def draw_classes(seed: Sequence[int], classes: int, total: int, rows: slice | None = None,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Classes ``(total,)`` int64 drawn uniformly from ``0 .. classes - 1`` (or their ``rows``), a
    function of ``seed`` alone as :func:`draw_latents`'s latents are, from a stream of their own: the
    classes a conditioned generator from noise is asked for beside the latents of the same ``seed``."""
    labels = torch.randint(classes, (total,), generator=seeded_generator([*seed, _CLASS_STREAM]))
    return (labels if rows is None else labels[rows]).to(device)


_CLASS_STREAM = 0x636C6173  # "clas": apart from the latents' and the frames' draws of the same (seed, step, batch)


# The model classes by family (pyext.config.FAMILIES: each entry's ``model`` module registers it).
FAMILIES: Registry[type[Model]] = Registry("model family", _FAMILY_TABLE, lambda facts: facts.model)
# Discriminator classes by name; each has ``from_params(params)``. Which one trains is the
# adversarial objective's choice (pyext.config.OBJECTIVES: its ``discriminator``).
DISCRIMINATORS: Registry[type[nn.Module]] = Registry("discriminator", _DISCRIMINATOR_TABLE, lambda facts: facts.module)


def register_family(name: str):
    """Class decorator: the model under ``model.family: name``."""
    def add(cls: type[Model]) -> type[Model]:
        cls.family = name
        return FAMILIES.register(name)(cls)
    return add


def register_discriminator(name: str):
    """Class decorator: the discriminator of that name in :data:`pyext.config.DISCRIMINATORS`."""
    return DISCRIMINATORS.register(name)


# ------------------------------------------------------------------------------------ clip helpers


def scaled(channels: int, width: float) -> int:
    """A channel count of a layout multiplied by ``width``, at least 1."""
    return max(1, round(channels * width))


def check_sizes(input_frames: int, output_frames: int, scales: int, width: float, max_scales: int) -> None:
    for name, value in (("input_frames", input_frames), ("output_frames", output_frames)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(scales, bool) or not isinstance(scales, int) or not 1 <= scales <= max_scales:
        raise ValueError(f"scales must be an int in 1..{max_scales}, got {scales!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")


def fold(clip: torch.Tensor) -> torch.Tensor:
    """``(B, T, 3, H, W)`` -> ``(B, 3T, H, W)``."""
    return clip.flatten(1, 2)


def unfold(x: torch.Tensor, frames: int) -> torch.Tensor:
    """``(B, 3T, H, W)`` -> ``(B, T, 3, H, W)``."""
    return x.unflatten(1, (frames, x.shape[1] // frames))


def clip_pyramid(clip: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """Gaussian pyramid of a clip ``(B, T, 3, H, W)``, coarsest first: ``scales`` clips, scale k of
    size ``H / 2^(scales - k)``."""
    return ops.gaussian_pyramid(clip, scales)[::-1]


def check_patch(patch: object, scales: int) -> None:
    step = 2 ** (scales - 1)
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < step or patch % step:
        raise ValueError(f"patch must be a multiple of 2^(scales-1) = {step}, got {patch!r}")


def check_clip(clip: object, name: str, frames: int, scales: int) -> None:
    if not isinstance(clip, torch.Tensor) or clip.dim() != 5 or clip.shape[1] != frames or clip.shape[2] != 3:
        shape = tuple(clip.shape) if isinstance(clip, torch.Tensor) else type(clip).__name__
        raise ValueError(f"{name} must be a clip (B, {frames}, 3, H, W), got {shape}")
    step = 2 ** (scales - 1)
    if clip.shape[-2] % step or clip.shape[-1] % step:
        raise ValueError(f"{name}: height and width must be multiples of 2^(scales-1) = {step}, "
                         f"got {clip.shape[-2]}x{clip.shape[-1]}")


def judged_pyramid(x: torch.Tensor, ys, input_frames: int, output_frames: int, scales: int,
                   patch: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The checked pyramids a multi-scale discriminator judges: of the input frames ``x``
    ``(B, m, 3, P, P)`` and of the judged frames ``ys`` (a list per scale, coarsest first, as a
    generator's ``forward_scales`` gives, or one full-size tensor ``(B, n, 3, P, P)``)."""
    check_clip(x, "x", input_frames, scales)
    if x.shape[-1] != patch or x.shape[-2] != patch:
        raise ValueError(f"x must be {patch}x{patch} patches (the discriminator's patch), "
                         f"got {x.shape[-2]}x{x.shape[-1]}")
    if isinstance(ys, torch.Tensor):
        check_clip(ys, "ys", output_frames, scales)
        ys = clip_pyramid(ys, scales)
    ys = list(ys)
    if len(ys) != scales:
        raise ValueError(f"ys must hold {scales} scales, got {len(ys)}")
    xs = clip_pyramid(x, scales)
    for k, (x_k, y_k) in enumerate(zip(xs, ys)):
        if y_k.shape[0] != x_k.shape[0] or y_k.shape[1:] != (output_frames, 3, *x_k.shape[-2:]):
            raise ValueError(f"ys[{k}] must be (B, {output_frames}, 3, {x_k.shape[-2]}, {x_k.shape[-1]}) "
                             f"for that scale, got {tuple(y_k.shape)}")
    return xs, ys
