"""Blocks from the GAN literature that the networks take as options (``model.d_norm``,
``model.attention``, ``model.condition``).

- :class:`SelfAttention`: SAGAN's block (Zhang et al. 2018).
- :func:`spectral_norm_all`: SN-GAN's spectral normalisation (Miyato et al. 2018) of every
  convolution and linear layer of a network.
- :class:`SplitBatchNorm2d`: DCGAN's batch norm in D (Radford et al. 2016), with real and generated
  clips normalised apart although they pass through D in one call; :func:`synchronised` makes a
  network's batch norms synchronised over a distributed run's processes.
- :class:`ClassChannels`: cGAN's class input (Mirza & Osindero 2014), a learned embedding of the
  class broadcast as extra channels of a feature map.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrizations


class SelfAttention(nn.Module):
    """SAGAN's self-attention over the positions of a feature map ``(B, C, H, W) -> (B, C, H, W)``::

        f, g = W_f x, W_g x  (C/8 maps),  h = W_h x  (C/2 maps)
        beta = softmax over positions j of f_i . g_j,  o = W_v (sum_j beta_ij h_j),  y = x + gamma o

    with 1x1 convolutions W and ``gamma`` a learned scalar started at 0, as in the paper, so the
    block begins as the identity and the network learns how much to attend. The attention matrix
    is ``(B, HW, HW)``: memory grows with the fourth power of the side, which is why the generator
    has the block only at its coarse scales. (SAGAN's later code also max-pools g and h; not here.)
    """

    def __init__(self, channels: int):
        super().__init__()
        inner, value = max(1, channels // 8), max(1, channels // 2)
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1, bias=False)
        self.h = nn.Conv2d(channels, value, 1, bias=False)
        self.v = nn.Conv2d(value, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, height, width = x.shape
        f, g, h = self.f(x).flatten(2), self.g(x).flatten(2), self.h(x).flatten(2)  # (B, C', HW)
        beta = torch.softmax(f.transpose(1, 2) @ g, dim=-1)  # (B, HW_i, HW_j), rows sum to 1
        o = (h @ beta.transpose(1, 2)).view(b, -1, height, width)  # o_i = sum_j beta_ij h_j
        return x + self.gamma * self.v(o)


def spectral_norm_all(network: nn.Module) -> nn.Module:
    """Every ``Conv2d`` and ``Linear`` of ``network`` with its weight divided by an estimate of its
    largest singular value (one power iteration per training forward, PyTorch's
    ``parametrizations.spectral_norm``); returns ``network``, changed in place."""
    for module in list(network.modules()):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            parametrizations.spectral_norm(module)
    return network


def _in_groups(norm: nn.Module, normalise, x: torch.Tensor) -> torch.Tensor:
    """``normalise`` (a batch norm's own forward) applied to each run of ``norm.group`` samples of
    ``x`` apart in training (the whole batch where ``group`` is None or covers it, and in eval)."""
    if not norm.training or norm.group is None or x.shape[0] <= norm.group:
        return normalise(x)
    if x.shape[0] % norm.group:
        raise ValueError(f"batch norm groups of {norm.group} samples, got a batch of {x.shape[0]}")
    return torch.cat([normalise(part) for part in x.split(norm.group)])


class SplitBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics are taken over each run of ``group`` consecutive
    samples apart: D judges real and generated clips in one call (a distributed D allows one forward
    per backward), and DCGAN normalises each kind with its own statistics, as separate forwards do.
    The running statistics are updated once per group, as they would be by separate forwards.

    ``group`` is set by :func:`set_batch_groups` (None: the whole batch, plain batch norm). In a
    distributed run each process normalises with its own statistics (not synchronised), unless
    :func:`synchronised` made it a :class:`SyncSplitBatchNorm`.
    """

    group: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _in_groups(self, super().forward, x)


class SyncSplitBatchNorm(nn.SyncBatchNorm):
    """:class:`SplitBatchNorm2d` with each group's statistics taken over that group's rows on every
    process of a distributed run (SyncBatchNorm: every process normalises the same groups in the same
    order, so the synchronised calls pair up). PyTorch synchronises on GPUs only; outside a
    distributed run it is :class:`SplitBatchNorm2d`."""

    group: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _in_groups(self, super().forward, x)


def synchronised(network: nn.Module) -> nn.Module:
    """``network`` with every ``BatchNorm2d`` synchronised over the processes of a distributed run:
    a plain one as ``nn.SyncBatchNorm``, a :class:`SplitBatchNorm2d` as a :class:`SyncSplitBatchNorm`
    of the same groups; weights, running statistics and devices kept. Changed in place, returned."""
    for name, child in network.named_children():
        if isinstance(child, nn.BatchNorm2d):
            kind = SyncSplitBatchNorm if isinstance(child, SplitBatchNorm2d) else nn.SyncBatchNorm
            sync = kind(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            state = child.state_dict()
            sync.load_state_dict(state)
            sync.group = getattr(child, "group", None)
            if state:  # where its weights and statistics live
                sync.to(next(iter(state.values())).device)
            setattr(network, name, sync.train(child.training))
        else:
            synchronised(child)
    return network


def set_batch_groups(network: nn.Module, group: int) -> None:
    """Sets the group size of every :class:`SplitBatchNorm2d` (and :class:`SyncSplitBatchNorm`) of
    ``network``: the batch of one kind of clips (this process's share of ``train.batch_size``)."""
    for module in network.modules():
        if isinstance(module, (SplitBatchNorm2d, SyncSplitBatchNorm)):
            module.group = group


def tapped(layers: nn.Sequential, x: torch.Tensor, taps: Sequence[int]) -> list[torch.Tensor]:
    """The outputs of ``layers[i]`` for ``i`` in ``taps`` (in that order) when ``x`` runs through
    ``layers``; stops after the last tap."""
    outputs, wanted = {}, set(taps)
    for i, layer in enumerate(layers[:max(taps) + 1]):
        x = layer(x)
        if i in wanted:
            outputs[i] = x
    return [outputs[i] for i in taps]


def pick_layers(count: int, layers: Sequence[int], what: str) -> list[int]:
    """0-based positions of ``layers`` (1-based, or negative from the last) among ``count``, each
    once.

    Raises:
        ValueError: a layer ``what`` does not have.
    """
    for layer in layers:
        if not (1 <= layer <= count or -count <= layer <= -1):
            raise ValueError(f"{what} has {count} layers (1..{count}, or -{count}..-1), asked for {layer}")
    # A layer named twice (1 and -1 of a one-layer scale) counts once.
    return list(dict.fromkeys(layer - 1 if layer > 0 else count + layer for layer in layers))


def check_labels(labels: object, classes: int, batch: int) -> torch.Tensor:
    """``labels`` as a long tensor ``(batch,)``. (Their range is checked where they come in, by
    :func:`pyext.data.dataset.check_classes` and the commands: here it would cost a device sync
    every forward.)

    Raises:
        ValueError: None, a float tensor or the wrong shape (a network of ``classes`` classes).
    """
    if not isinstance(labels, torch.Tensor) or labels.shape != (batch,) or labels.is_floating_point():
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be {batch} class indices (a network of {classes} classes), got {shape}")
    return labels.long()


class ClassChannels(nn.Module):
    """A learned embedding of ``classes`` classes into ``size`` numbers, broadcast over a feature
    map's positions: labels ``(B,)`` and a map ``(B, C, H, W)`` -> ``(B, C + size, H, W)``, the
    embedding after the map's channels (cGAN's class input, given at every scale).

    The embedding starts at zero, so a conditioned network starts class-blind and learns how much
    each class shifts it (as SAGAN's gate starts at 0): started at PyTorch's N(0, 1), eight
    channels of unit constants cost the demo's predictor 0.8 dB against the unconditioned model,
    two seeds alike; started at zero, 0.45 dB (README, "Class conditioning").
    """

    def __init__(self, classes: int, size: int):
        super().__init__()
        self.classes, self.size = classes, size
        self.embed = nn.Embedding(classes, size)
        nn.init.zeros_(self.embed.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = check_labels(labels, self.classes, x.shape[0])
        e = self.embed(labels).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        return torch.cat([x, e], dim=1)


__all__ = ["ClassChannels", "SelfAttention", "SplitBatchNorm2d", "SyncSplitBatchNorm", "check_labels", "pick_layers",
           "set_batch_groups", "spectral_norm_all", "synchronised", "tapped"]
