"""The feature-space loss (DeePSiM: Dosovitskiy & Brox 2016; VAE-GAN's learned similarity: Larsen
et al. 2016): ``L_feat = sum over the chosen layers of mean (C(G(x)) - C(y))^2``, the comparator C's
features of the generated frames against those of the true frames (``loss.feature`` weighs it).

Of VAE-GAN only this learned similarity is taken (its encoder and KL term are not: the models here
are not variational). The comparators, registered by ``loss.comparator.kind``:

- ``discriminator``: the discriminator's own hidden layers (its convolutions, at every scale; GAIA:
  its discriminator encoder's), the layers VAE-GAN compares through. They keep training as D, but
  this loss gives them no gradient: the trainer holds D's weights fixed during G's update.
- ``file``: a frozen TorchScript module of the user's (e.g. an exported pretrained network): frames
  ``(N, 3, H, W)`` RGB float32 in [0, 1] in, a tensor or a list or tuple of tensors out (``layers`` picks
  among them). It sees the full-size frames (the predictor's finest scale), one frame at a time.

The true frames' features are constants (computed without a graph): the loss moves G only.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import COMPARATORS as _COMPARATOR_TABLE
from ..config import ComparatorParams, ParamsError
from ..models.blocks import pick_layers
from ..registry import Registry
from ..scripted import first_line, load_scripted

# The comparators by name (pyext.config.COMPARATORS: each entry's module registers it).
COMPARATORS: Registry[type[Comparator]] = Registry("feature comparator", _COMPARATOR_TABLE, lambda facts: facts.module)


def register_comparator(kind: str):
    """Class decorator: the comparator of ``loss.comparator.kind: kind``."""
    return COMPARATORS.register(kind)


def _bad_layers(exc: ValueError) -> ParamsError:
    return ParamsError("params.yaml", "loss.comparator.layers", str(exc))


class Comparator:
    """C: judged samples -> a list of feature tensors. ``features(judged, condition)`` takes what
    the family's discriminator judges: the samples (the predictor: its frames per scale, coarsest
    first; GAIA: samples ``(B, T, 3, P, P)``) and what they are judged given (the predictor: its
    input frames; GAIA: None).

    Args:
        params: ``loss.comparator``.
        network: the family's discriminator (with ``hidden(judged, condition, layers)`` and
            ``hidden_counts()``).
        patch: the training patch's side (the frames' size during training).
        device: where the features are computed.
    """

    def __init__(self, params: ComparatorParams, network: nn.Module, patch: int, device: torch.device):
        raise NotImplementedError

    def features(self, judged, condition=None, network=None) -> list[torch.Tensor]:
        raise NotImplementedError

    def __call__(self, fake, real, condition: torch.Tensor | None = None, network=None) -> torch.Tensor:
        """``L_feat``: the features of the generated samples ``fake`` against those of the real ones
        (no gradient to them), both judged given ``condition``. ``network``: the discriminator to
        look through this time (one bound to the batch's classes,
        :class:`pyext.losses.conditioning.Judge`); None: the one the comparator was built with."""
        with torch.no_grad():
            targets = self.features(real, condition, network=network)
        fakes = self.features(fake, condition, network=network)
        return torch.stack([(a.float() - b.float()).pow(2).mean() for a, b in zip(fakes, targets)]).sum()


@register_comparator("discriminator")
class DiscriminatorComparator(Comparator):
    """The discriminator's hidden layers, ``loss.comparator.layers`` of every scale."""

    def __init__(self, params: ComparatorParams, network: nn.Module, patch: int, device: torch.device):
        if network is None:
            raise ParamsError("params.yaml", "loss.comparator.kind",
                              "file where no discriminator trains (loss.adv: 0), got discriminator")
        for k, count in enumerate(network.hidden_counts()):
            try:
                pick_layers(count, params.layers, f"the discriminator's scale {k + 1}")
            except ValueError as exc:
                raise _bad_layers(exc) from None
        self.network, self.layers = network, params.layers

    def features(self, judged, condition=None, network=None) -> list[torch.Tensor]:
        return (self.network if network is None else network).hidden(judged, condition, self.layers)


@register_comparator("file")
class FileComparator(Comparator):
    """A frozen TorchScript module (the module docstring), loaded from ``loss.comparator.file`` and
    checked on two frames of the patch size, a blank one and a textured one: the chosen outputs
    must be finite floating-point features that tell the two apart (a constant, an integer or a NaN
    would train "fine" with a zero loss, or stop with advice about the learning rates)."""

    def __init__(self, params: ComparatorParams, network: nn.Module, patch: int, device: torch.device):
        path = Path(params.file)
        self.module = load_scripted(path, "loss.comparator.file", device)
        blank = torch.zeros(1, 3, patch, patch, device=device)
        ramp = torch.linspace(0, 1, patch * patch, device=device).view(1, 1, patch, patch).expand(1, 3, -1, -1)
        try:
            with torch.no_grad():
                on_blank, on_ramp = self._outputs(blank), self._outputs(ramp)
        except Exception as exc:
            raise ParamsError("params.yaml", "loss.comparator.file",
                              f"{path} fails on frames (1, 3, {patch}, {patch}) in [0, 1]: {first_line(exc)}") from None
        try:
            self.chosen = pick_layers(len(on_blank), params.layers, f"{path.name}'s output")
        except ValueError as exc:
            raise _bad_layers(exc) from None
        for i in self.chosen:
            a, b = on_blank[i], on_ramp[i]
            problem = ("holds integers" if not a.is_floating_point() else
                       "is not finite (NaN or inf)" if not (torch.isfinite(a).all() and torch.isfinite(b).all()) else
                       "is the same for a blank frame and a textured one" if torch.equal(a, b) else None)
            if problem is not None:
                raise ParamsError("params.yaml", "loss.comparator.file",
                                  f"{path}: its output {i + 1} {problem}: the features must be finite floating-point "
                                  f"numbers that depend on the frames")

    def _outputs(self, frames: torch.Tensor) -> list[torch.Tensor]:
        out = self.module(frames)
        outputs = list(out) if isinstance(out, (list, tuple)) else [out]
        if not all(isinstance(t, torch.Tensor) for t in outputs):
            raise TypeError("it must return a tensor or a list or tuple of tensors")
        return outputs

    def features(self, judged, condition=None, network=None) -> list[torch.Tensor]:
        frames = judged
        if not isinstance(frames, torch.Tensor):
            frames = frames[-1]  # a pyramid, coarsest first: the full-size frames
        outputs = self._outputs(frames.flatten(0, -4).float().add(1).div(2))  # (N, 3, H, W) float32 in [0, 1]
        return [outputs[i] for i in self.chosen]


def make_comparator(params: ComparatorParams, network: nn.Module | None, patch: int,
                    device: torch.device) -> Comparator:
    """The comparator ``params.kind`` names (see :class:`Comparator`)."""
    return COMPARATORS[params.kind](params, network, patch, device)


__all__ = ["COMPARATORS", "Comparator", "make_comparator", "register_comparator"]
