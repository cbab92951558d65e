"""The networks of unpaired translation between two domains of frames, A and B: each
family trains two generators, A -> B and B -> A, held to each other's inverse by a reconstruction
(cycle) loss (:mod:`pyext.losses.translation`), and one discriminator per domain. All take and give
frames ``(B, 3, S, S)``, float in [-1, 1], of a square patch of side S in :data:`SIZES`.

- CycleGAN (Zhu, Park, Isola & Efros 2017, arXiv 1703.10593; its appendix 7.2 and the authors'
  ``models/networks.py``): :class:`ResidualGenerator`, the paper's ``c7s1-k, d2k, d4k, R4k x n,
  u2k, uk, c7s1-3`` with reflection padding and instance norm; :class:`PatchDiscriminator`, the
  PatchGAN of per-patch logits, its stride-2 layers chosen so that its receptive field
  (:func:`receptive_field`) fits the patch: the paper's 70x70 field is larger than a 32x32 patch.
- DiscoGAN (Kim, Cha, Kim, Lee & Kim 2017, arXiv 1703.05192; the authors' ``discogan/model.py``):
  :class:`DiscoGANGenerator`, an encoder of strided convolutions and a decoder of fractionally
  strided ones; :class:`DiscoGANDiscriminator`, the encoder with a logit head and its hidden
  features for the published code's feature matching.
- DualGAN (Yi, Zhang, Tan & Gong 2017, arXiv 1704.02510; the authors' ``model.py``):
  :class:`UNetGenerator`, pix2pix's U-shaped net down to 1x1 with skip connections between mirrored
  layers; :class:`DualGANDiscriminator`, the PatchGAN layout with 5x5 kernels and no sigmoid (a
  critic under the paper's Wasserstein objective).

Normalisation (:data:`NORMS`): ``instance`` is CycleGAN's (no learned scale and shift);
``instance_affine`` is DualGAN's: its code's ``batch_norm`` takes each image's own statistics
(moments over the positions of one image) and learns a scale and a shift per map; ``batch`` is
DiscoGAN's. A convolution followed by a norm has no bias, since the norm subtracts each map's mean
and would cancel it (the CycleGAN code keeps one under instance norm, where it does nothing).

Initialisation as each family's code: CycleGAN's and DualGAN's weights from N(0, 0.02), biases 0,
learned norm scales from N(1, 0.02) (DualGAN's TensorFlow code truncates its convolutions' normal at
two standard deviations; not here); DiscoGAN's code leaves PyTorch's defaults, and so do its
networks here (the PyTorch of 2017 drew batch norm's scales from U(0, 1); today's sets them to 1).

The families (``model.family``: ``cyclegan``, ``discogan``, ``dualgan``) are :class:`CycleGAN`,
:class:`DiscoGAN` and :class:`DualGAN`: two generators, ``G: A -> B`` and ``F: B -> A``, as a
:class:`~.base.Translator`. A generator checks that it is given training patches, ``size`` x ``size``;
the translator's mappings take whole frames, of any side that is a multiple of the generator's
:attr:`~_Generator.multiple` (its convolutions halve the side that many times over). The
discriminators belong to the training step (:mod:`pyext.training.steps.translation`), not to the
saved model.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import DIRECTIONS, Translator, register_family, scaled
from .blocks import tapped
from .dcgan import init_weights, strided_layers

SIZES = (32, 64)  # the patch sides the networks are laid out for (clip.patch); DCGAN's sides too
NORMS = ("instance", "instance_affine", "batch", "none")
_MAPS = 64  # maps of the first layer at width 1, every paper's
_MOST = 8  # maps stop doubling at 8 x the first layer's (the PatchGAN's and U-Net's C512)


def _levels(size: object, smallest: int) -> int:
    """The stride-2 layers between a ``size`` side and a ``smallest`` side."""
    if isinstance(size, bool) or size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}, got {size!r}")
    return size.bit_length() - smallest.bit_length()


def _maps(width: float, count: int) -> list[int]:
    """The map counts of ``count`` layers that double from 64 x ``width`` up to 8 times that."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ValueError(f"width must be a number > 0, got {width!r}")
    return [scaled(_MAPS * min(2 ** i, _MOST), width) for i in range(count)]


def _norm(norm: str, maps: int) -> list[nn.Module]:
    """The layers of a norm of :data:`NORMS` over ``maps`` maps (none for ``none``)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    if norm == "batch":
        return [nn.BatchNorm2d(maps)]
    if norm == "none":
        return []
    return [nn.InstanceNorm2d(maps, affine=norm == "instance_affine")]


def init_normal(network: nn.Module) -> nn.Module:
    """CycleGAN's and DualGAN's initialisation, in place: DCGAN's (:func:`~.dcgan.init_weights`:
    convolutions from N(0, 0.02), biases 0, batch norm's scales from N(1, 0.02)), and an instance
    norm's learned scales from N(1, 0.02) as DualGAN's norm's. Returns ``network``."""
    init_weights(network)
    for module in network.modules():
        if isinstance(module, nn.InstanceNorm2d) and module.affine:
            nn.init.normal_(module.weight, 1.0, 0.02)
            nn.init.zeros_(module.bias)
    return network


def check_images(x: object, size: int, name: str = "images") -> torch.Tensor:
    """``x`` if it is a batch of frames ``(B, 3, size, size)``, else a ValueError naming ``name``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1:] != (3, size, size):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be (B, 3, {size}, {size}), got {shape}")
    return x


class _Translator(nn.Module):
    """A network of frames ``(B, 3, size, size)``: checks its input and remembers its arguments."""

    def __init__(self, size: int, **arguments):
        super().__init__()
        self.size = size
        self._arguments = {"size": size, **arguments}

    def config(self) -> dict:
        """The constructor's arguments: ``type(self)(**config())`` builds the same network."""
        return dict(self._arguments)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(check_images(x, self.size))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """The network on checked frames ``(B, 3, H, W)``."""
        return self.net(x)


class _Generator(_Translator):
    """A generator of frames: besides the training patches (:meth:`forward`), whole frames
    (:meth:`frames`) of sides that are multiples of :attr:`multiple` (set by the subclass)."""

    multiple: int  # the frame sides it takes are multiples of this: 2 ** (its stride-2 layers)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """Frames ``(N, 3, H, W)``, ``H`` and ``W`` multiples of :attr:`multiple` -> ``(N, 3, H, W)``."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3 or x.shape[2] % self.multiple \
                or x.shape[3] % self.multiple or not x.shape[2] or not x.shape[3]:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"frames must be (N, 3, H, W) with H and W multiples of {self.multiple}, got {shape}")
        return self.body(x)


# ------------------------------------------------------------------------------------------- CycleGAN


class ResidualBlock(nn.Module):
    """CycleGAN's ``Rk`` (from Johnson et al. 2016): ``x + (pad, conv 3x3, norm, ReLU, pad, conv
    3x3, norm)(x)``, reflection padding so that the borders see mirrored content, not zeros (the
    paper's remedy for artifacts). ``(B, k, H, W) -> (B, k, H, W)``."""

    def __init__(self, maps: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(maps, maps, 3, bias=False), *_norm(norm, maps), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(maps, maps, 3, bias=False), *_norm(norm, maps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGenerator(_Generator):
    """CycleGAN's generator: frames ``(B, 3, size, size)`` -> ``(B, 3, size, size)`` in [-1, 1].

    ``c7s1-k`` (7x7 convolution, stride 1, reflection padding), ``d2k``, ``d4k`` (3x3, stride 2),
    ``blocks`` residual blocks ``R4k`` at a quarter of the side, ``u2k``, ``uk`` (3x3 fractionally
    strided, stride 1/2), ``c7s1-3`` and tanh; instance norm and ReLU after every layer but the last;
    ``k = 64 * width``.

    Args:
        size: the patch side, 32 or 64.
        blocks: residual blocks. The paper has 6 for 128x128 images and 9 for 256x256; 6 here by
            default: at 32x32 the blocks work on an 8x8 map, which two blocks' receptive field
            already covers (each adds 4 positions of that map, 16 pixels), so more blocks add depth,
            not context, and the smaller configuration of the paper is the one for small images.
        width: multiplies every map count (1: the paper's ``k = 64``).
    """

    def __init__(self, size: int = 32, blocks: int = 6, width: float = 1.0):
        super().__init__(size, blocks=blocks, width=width)
        _levels(size, 4)
        if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
            raise ValueError(f"blocks must be an int >= 0, got {blocks!r}")
        k, k2, k4 = _maps(width, 3)
        self.multiple = 4  # d2k and d4k halve the side
        self.net = init_normal(nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, k, 7, bias=False), *_norm("instance", k), nn.ReLU(),
            *_down(k, k2), *_down(k2, k4),
            *(ResidualBlock(k4) for _ in range(blocks)),
            *_up(k4, k2), *_up(k2, k),
            nn.ReflectionPad2d(3), nn.Conv2d(k, 3, 7), nn.Tanh()))


def _down(c_in: int, c_out: int) -> list[nn.Module]:
    """CycleGAN's ``dk``: 3x3 convolution of stride 2, instance norm, ReLU (halves the side)."""
    return [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), *_norm("instance", c_out), nn.ReLU()]


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    """CycleGAN's ``uk``: 3x3 fractionally strided convolution of stride 1/2 (its output padding
    makes the side exactly twice), instance norm, ReLU."""
    return [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=False), *_norm("instance", c_out),
            nn.ReLU()]


def _patch_layout(layers: int, kernel: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each convolution of a PatchGAN with ``layers`` stride-2 convolutions:
    those, then one of stride 1 that doubles the maps once more, then the stride-1 logit layer."""
    return [(kernel, 2)] * layers + [(kernel, 1)] * 2


def receptive_field(layers: int, kernel: int = 4) -> int:
    """The side, in pixels, of the input square that one logit of a :class:`PatchDiscriminator`
    with ``layers`` stride-2 convolutions of ``kernel`` x ``kernel`` sees. Layer by layer, a
    kernel ``k`` widens the field by ``(k - 1)`` times the product of the strides before it::

        r = 1 + (k - 1) * (1 + 2 + ... + 2^(n-1) + 2^n + 2^n) = 1 + (k - 1) (3 * 2^n - 1)

    The paper's discriminator (``layers = 3``, 4x4 kernels) sees 70x70 pixels; with one stride-2
    layer 16, with two 34. (The paper's appendix lists C512 as stride 2, which would see 94: its
    70x70 is the layout of the authors' code, C512 at stride 1, which this follows.)

    Example:
        >>> receptive_field(3), receptive_field(1), receptive_field(3, kernel=5)
        (70, 16, 93)
    """
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
        raise ValueError(f"layers must be an int >= 0, got {layers!r}")
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1:
        raise ValueError(f"kernel must be an int >= 1, got {kernel!r}")
    field, jump = 1, 1
    for k, stride in _patch_layout(layers, kernel):
        field += (k - 1) * jump
        jump *= stride
    return field


def fitting_layers(size: int, receptive: int | None = None, kernel: int = 4) -> int:
    """The most stride-2 layers whose :func:`receptive_field` is at most ``receptive`` pixels (None:
    the patch side ``size``; never more than it) and whose logit map keeps at least one position.

    Example:
        >>> fitting_layers(32), fitting_layers(64), fitting_layers(64, 20), fitting_layers(256, 70)
        (1, 2, 1, 3)
    """
    target, least = size if receptive is None else receptive, receptive_field(0, kernel)
    if isinstance(target, bool) or not isinstance(target, int) or not least <= target <= size:
        raise ValueError(f"receptive must be an int from {least} (the field of no stride-2 layer) to the patch "
                         f"side {size}, got {target!r}")
    layers = 0
    while receptive_field(layers + 1, kernel) <= target and size >> (layers + 1) > 2:
        layers += 1
    return layers


class PatchDiscriminator(_Translator):
    """CycleGAN's PatchGAN (pix2pix's ``NLayerDiscriminator``): frames ``(B, 3, size, size)`` ->
    logits ``(B, 1, h, w)``, one per overlapping square of :func:`receptive_field` pixels, each
    judging whether its square is real; the objective averages them.

    ``C64`` (no norm), then ``layers - 1`` more stride-2 convolutions doubling the maps, one of
    stride 1 doubling them once more (up to 8 times the first layer's), each with a norm and
    LeakyReLU of slope 0.2, and a stride-1 convolution to one map; kernels ``kernel`` x ``kernel``
    with ``(kernel - 1) // 2`` zero padding. No sigmoid: the objectives take logits or scores.

    Args:
        size: the patch side, 32 or 64.
        layers: the stride-2 convolutions; or None, and then ``receptive`` chooses them
            (:func:`fitting_layers`).
        receptive: with ``layers`` None, the largest receptive field wanted (None: the patch side).
            At 32x32 that gives 1 layer (16x16 squares), at 64x64 2 (34x34).
        width: multiplies every map count (1: the paper's 64 first maps).
        kernel: the kernels' side (4 in CycleGAN; 5 in :class:`DualGANDiscriminator`).
        norm: one of :data:`NORMS` (CycleGAN's: ``instance``).
    """

    def __init__(self, size: int = 32, layers: int | None = None, receptive: int | None = None, width: float = 1.0,
                 kernel: int = 4, norm: str = "instance"):
        super().__init__(size, layers=layers, receptive=receptive, width=width, kernel=kernel, norm=norm)
        if layers is not None and receptive is not None:
            raise ValueError(f"give layers or receptive, not both (got {layers!r} and {receptive!r})")
        _levels(size, 4)
        self.layers = fitting_layers(size, receptive, kernel) if layers is None else layers
        self.receptive_field = receptive_field(self.layers, kernel)
        if self.receptive_field > size:
            raise ValueError(f"{self.layers} stride-2 layers see {self.receptive_field}x{self.receptive_field} "
                             f"pixels, more than a {size}x{size} patch")
        maps = _maps(width, self.layers + 1)
        pad = (kernel - 1) // 2
        body: list[nn.Module] = []
        for i, (k, stride) in enumerate(_patch_layout(self.layers, kernel)[:-1]):
            c_in = 3 if i == 0 else maps[i - 1]
            norms = _norm(norm, maps[i]) if i else []  # no norm on the input layer (the paper's C64)
            body += [nn.Conv2d(c_in, maps[i], k, stride, pad, bias=not norms), *norms, nn.LeakyReLU(0.2)]
        self.net = init_normal(nn.Sequential(*body, nn.Conv2d(maps[-1], 1, kernel, 1, pad)))


# ------------------------------------------------------------------------------------------- DiscoGAN


def _pytorch_defaults(network: nn.Module) -> nn.Module:
    """Every layer of ``network`` reset to PyTorch's own initialisation (DiscoGAN's code sets none)."""
    for module in network.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return network


class DiscoGANGenerator(_Generator):
    """DiscoGAN's generator: frames ``(B, 3, size, size)`` -> ``(B, 3, size, size)`` in [-1, 1].

    An encoder of 4x4 convolutions of stride 2 (``64 * 2^j * width`` maps, batch norm on all but the
    first, LeakyReLU 0.2) down to a 4x4 map (the paper's 64x64 images: four layers; 32x32: three),
    then a decoder of 4x4 fractionally strided convolutions mirroring it (batch norm, ReLU) back to
    the side, and tanh: the authors' code ends in a sigmoid for images in [0, 1]; the project's
    frames are in [-1, 1].
    """

    def __init__(self, size: int = 64, width: float = 1.0):
        super().__init__(size, width=width)
        self.multiple = 2 ** _levels(size, 4)  # its encoder halves the side down to 4x4
        encoder = strided_layers(size, width, "batch")[:-2]  # DCGAN's discriminator without its head
        maps = [m.out_channels for m in encoder if isinstance(m, nn.Conv2d)]
        decoder: list[nn.Module] = []
        for c_in, c_out in zip(maps[:0:-1], maps[-2::-1]):
            decoder += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        decoder += [nn.ConvTranspose2d(maps[0], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = _pytorch_defaults(nn.Sequential(*encoder, *decoder))


class DiscoGANDiscriminator(_Translator):
    """DiscoGAN's discriminator: frames ``(B, 3, size, size)`` -> logits ``(B, 1)``; its hidden
    features for feature matching from :meth:`judge`.

    The generator's encoder (:class:`DiscoGANGenerator`) and a 4x4 convolution of the 4x4 map to
    one number: DCGAN's discriminator (:func:`~.dcgan.strided_layers`), with PyTorch's
    initialisation as the authors' code. The paper ends in a sigmoid; here the head gives the logit
    (the objectives, :mod:`pyext.losses.adversarial`, apply it). Its batch norms normalise real
    and generated frames judged in one call apart (:func:`~.blocks.set_batch_groups`), as the
    code's separate calls do.
    """

    def __init__(self, size: int = 64, width: float = 1.0):
        super().__init__(size, width=width)
        _levels(size, 4)
        self.net = _pytorch_defaults(strided_layers(size, width, "batch"))
        # The code's features: the outputs of every LeakyReLU after a batch-normed convolution.
        activations = [i for i, m in enumerate(self.net) if isinstance(m, nn.LeakyReLU)]
        self.taps = activations[1:]

    def judge(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Frames ``(B, 3, size, size)`` -> logits ``(B, 1)`` and the hidden features
        ``[(B, 128 w, size/4, size/4), ..., (B, 64 * 2^(L-1) w, 4, 4)]`` (L stride-2 layers)."""
        *features, logits = tapped(self.net, check_images(x, self.size), [*self.taps, len(self.net) - 1])
        return logits, features


# -------------------------------------------------------------------------------------------- DualGAN


class UNetGenerator(_Generator):
    """DualGAN's generator (pix2pix's U-Net): frames ``(B, 3, size, size)`` -> ``(B, 3, size, size)``
    in [-1, 1].

    An encoder of 5x5 convolutions of stride 2 down to a 1x1 map (the paper's 256x256: eight layers;
    32x32: five; 64x64: six), ``64 * min(2^i, 8) * width`` maps, each but the first after a
    LeakyReLU 0.2 and before a norm; a decoder of 5x5 fractionally strided convolutions, each after
    a ReLU, whose output is joined (channels concatenated) with the encoder's output of the same
    side, the skip connections that carry the frame's detail past the bottleneck; the last gives 3
    maps and tanh. Norms as DualGAN's code (``instance_affine``), except on the 1x1 bottleneck, where
    an image's own statistics are those of one number and would erase it (DualGAN's code normalises
    it anyway; pix2pix does not). Kernels 5x5 throughout as DualGAN's code of 2017 (its code of 2020
    keeps 5x5 at the first and last layers only, 3x3 between).

    Args:
        size: the patch side, 32 or 64.
        width: multiplies every map count (1: the paper's 64 first maps).
        dropout: dropout after the norm of the three innermost decoder layers, pix2pix's noise z.
            DualGAN's code of 2017 has 0.5; its later code makes it an option, 0 by default, as here:
            at 0 the generator is deterministic and a resumed run needs no dropout state.
    """

    def __init__(self, size: int = 32, width: float = 1.0, dropout: float = 0.0):
        super().__init__(size, width=width, dropout=dropout)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        maps = _maps(width, _levels(size, 1))
        self.multiple = size  # its encoder halves the side down to 1x1 (a larger frame: a larger bottleneck)
        down: list[nn.Module] = [nn.Conv2d(3, maps[0], 5, 2, 2)]
        for i in range(1, len(maps)):
            norms = _norm("instance_affine", maps[i]) if i < len(maps) - 1 else []  # not on the 1x1 map
            down.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(maps[i - 1], maps[i], 5, 2, 2, bias=not norms),
                                      *norms))
        up: list[nn.Module] = []
        for j, i in enumerate(range(len(maps) - 1, 0, -1)):  # from the bottleneck out
            c_in = maps[i] * (1 if j == 0 else 2)  # below the bottleneck: the decoder's and the skip's maps
            up.append(nn.Sequential(
                nn.ReLU(), nn.ConvTranspose2d(c_in, maps[i - 1], 5, 2, 2, output_padding=1, bias=False),
                *_norm("instance_affine", maps[i - 1]), *([nn.Dropout(dropout)] if j < 3 and dropout else [])))
        up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * maps[0], 3, 5, 2, 2, output_padding=1), nn.Tanh()))
        self.down, self.up = init_normal(nn.ModuleList(down)), init_normal(nn.ModuleList(up))

    def body(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for layer in self.down:
            h = layer(h)
            skips.append(h)
        skips.pop()  # the bottleneck: h itself
        for layer in self.up[:-1]:
            h = torch.cat([layer(h), skips.pop()], dim=1)
        return self.up[-1](h)


class DualGANDiscriminator(PatchDiscriminator):
    """DualGAN's discriminator: the :class:`PatchDiscriminator` layout with DualGAN's 5x5 kernels
    ("same" padding, so the stride-1 layers keep the side) and its per-image norm with a learned
    scale and shift: frames ``(B, 3, size, size)`` -> scores ``(B, 1, h, w)``. No sigmoid: under the
    paper's Wasserstein objective it is a critic whose weights are clipped
    (the ``wgan`` objective's clipping). Its code of August 2017 judges patches so; its
    first release and later default judge the whole image through a linear layer instead.

    With 5x5 kernels one stride-2 layer sees 21x21 pixels, two 45x45, the code's three 93x93.
    """

    def __init__(self, size: int = 32, layers: int | None = None, receptive: int | None = None, width: float = 1.0):
        super().__init__(size, layers, receptive, width, kernel=5, norm="instance_affine")
        self._arguments = {"size": size, "layers": layers, "receptive": receptive, "width": width}


# ------------------------------------------------------------------------------------------ the families


class _FrameMapping(nn.Module):
    """A generator applied to whole frames (:meth:`_Generator.frames`): what a translator's
    :meth:`~.base.Translator.mapping` gives, while the generator itself, on the training path, keeps
    its check of training patches. ``(N, 3, H, W)`` -> ``(N, 3, H, W)``."""

    def __init__(self, generator: _Generator):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.frames(x)


class _GeneratorPair(Translator):
    """Two generators of the class :attr:`generator`, ``G: A -> B`` (``ab``) and ``F: B -> A``
    (``ba``), each ``generator(size=size, **arguments)`` (the arguments :attr:`knobs` names, read from
    the family's params section by :meth:`from_params`); G is built first, so that a seeded run draws
    G's weights, then F's."""

    generator: type[_Generator]
    knobs: tuple[str, ...]  # the generator's arguments besides size, keys of the section model.<family>

    def __init__(self, size: int = 32, **arguments):
        super().__init__()
        self.size, self._arguments = size, {"size": size, **arguments}
        self.G = self.generator(size=size, **arguments)
        self.F = self.generator(size=size, **arguments)

    @classmethod
    def from_params(cls, params) -> _GeneratorPair:
        section = getattr(params.model, cls.family)
        return cls(size=params.clip.patch, **{knob: getattr(section, knob) for knob in cls.knobs})

    def config(self) -> dict:
        return dict(self._arguments)

    @property
    def size_multiple(self) -> int:
        return self.G.multiple

    def mapping(self, direction: str) -> nn.Module:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        return _FrameMapping(self.G if direction == DIRECTIONS[0] else self.F)


@register_family("cyclegan")
class CycleGAN(_GeneratorPair):
    """CycleGAN's two :class:`ResidualGenerator` (arguments: its ``size``, ``blocks``, ``width``)."""

    generator, knobs = ResidualGenerator, ("blocks", "width")


@register_family("discogan")
class DiscoGAN(_GeneratorPair):
    """DiscoGAN's two :class:`DiscoGANGenerator` (arguments: its ``size``, ``width``). In eval mode
    their batch norms use the running statistics of training, so that a frame's translation does not
    depend on the others translated with it."""

    generator, knobs = DiscoGANGenerator, ("width",)


@register_family("dualgan")
class DualGAN(_GeneratorPair):
    """DualGAN's two :class:`UNetGenerator` (arguments: its ``size``, ``width``, ``dropout``); a whole
    frame goes down to a bottleneck of ``(H / size) x (W / size)`` positions."""

    generator, knobs = UNetGenerator, ("width", "dropout")


__all__ = ["NORMS", "SIZES", "CycleGAN", "DiscoGAN", "DualGAN", "DiscoGANDiscriminator", "DiscoGANGenerator",
           "DualGANDiscriminator",
           "PatchDiscriminator", "ResidualBlock", "ResidualGenerator", "UNetGenerator", "check_images",
           "fitting_layers", "init_normal", "receptive_field"]
