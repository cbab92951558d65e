"""GAIA's training step (``model.family: gaia``; Sainburg et al. 2018; losses:
:mod:`pyext.losses.gaia`).

As in the authors' code, both players update from one forward pass of one batch: G encodes and
reconstructs the samples and decodes interpolations of their codes, D reconstructs the samples, G's
reconstructions and the interpolations; D's loss updates D's weights only and G's loss G's only
(each backward pass is limited to its own network's weights). The learning rates are set every
step from the balancing: ``lr_D = lr s(b (real - fake))``, ``lr_G = lr - lr_D``.

With ``loss.feature > 0`` G's loss adds ``loss.feature`` times the feature-space term between G's
reconstructions and the samples (:mod:`pyext.losses.feature`; the comparator ``discriminator`` is
D's encoder), outside the authors' clipping, which would otherwise cut its gradient.

In a distributed run the three errors the balancing reads are averaged over the processes before
balancing, so every replica uses the same rates and weights, and the gradients are averaged after
the backward passes. The structure loss and the interpolation pairs stay within each process's
share of the batch.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from ...augment import augment_clips
from ...config import Params, ParamsError
from ...data.dataset import to_uint8
from ...losses import gaia as losses
from ...losses import make_comparator
from ...evaluation.metrics import psnr_per_clip
from ...models.gaia import GAIA
from ...pictures import patch_grid
from ..arithmetic import to_memory_format, training_autocast
from .base import TrainingStep, register_step


def _average(tensors: list[torch.Tensor], world: int) -> None:
    """Averages same-shaped tensors over the processes in place, in one all-reduce."""
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


@register_step("gaia")
class GAIAStep(TrainingStep):
    """GAIA's two autoencoders, their Adam optimisers and one balanced step (arguments:
    :class:`TrainingStep`'s; ``compile`` runs both autoencoders through ``torch.compile``)."""

    adversarial = True

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1, classes: int = 0):
        self.g, self.tp, self.device, self.world = params.model.gaia, params.train, device, world
        share = self.tp.batch_size // world
        if share % 2:
            raise ParamsError("params.yaml", "train.batch_size",
                              f"expected an even share per process with model.family: gaia, got {share} "
                              f"({self.tp.batch_size} over {world} processes)")
        self.offset = rank * share
        torch.manual_seed(self.tp.seed)
        self.model = GAIA.from_params(params).to(device)
        to_memory_format(self.tp.channels_last, self.model)
        self.dtype, self.autocast = training_autocast(self.tp.precision, device)
        self.encode, self.decode, self.judge = self.model.encode, self.model.decode, self.model.judge
        if compile:
            self.encode, self.decode, self.judge = (torch.compile(f) for f in (self.encode, self.decode, self.judge))
        self.g_params = list(self.model.generator.parameters())
        self.d_params = list(self.model.discriminator.parameters())
        self.opt_g, self.opt_d = (torch.optim.Adam(p, lr=self.g.lr, betas=self.g.betas, eps=self.g.adam_eps)
                                  for p in (self.g_params, self.d_params))
        self.distributed = distributed
        self.feature_weight = params.loss.feature
        self.comparator = (make_comparator(params.loss.comparator, self.model, params.clip.patch, device)
                           if self.feature_weight > 0 else None)
        self.d_measures = ["M"]  # the authors' "M global": real + fake reconstruction error
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)

    @property
    def batches_per_step(self) -> int:
        return 1

    def errors(self, x: torch.Tensor) -> losses.GAIAErrors:
        """The errors of samples ``x`` ``(B, T, 3, P, P)`` (B even)."""
        with self.autocast:
            return self._errors(x)

    def _errors(self, x: torch.Tensor) -> losses.GAIAErrors:
        z = self.encode(x)
        recon = self.decode(z)
        t = losses.interpolation_weights(x.shape[0] // 2, *self.g.interpolation, device=x.device)
        interp = self.decode(losses.interpolate(z, t))
        return losses.GAIAErrors(real=losses.l1(x, self.judge(x)), recon=losses.l1(x, self.judge(recon)),
                                 interp=losses.l1(interp, self.judge(interp)),
                                 structure=losses.structure(x, z), reconstruction=recon)

    def step(self, step: int, batches: list[torch.Tensor], labels=None) -> dict[str, torch.Tensor]:
        """One balanced update of both autoencoders on ``batches[0]`` (clips ``(B, T, 3, P, P)``,
        transformed by ``train.augment``; their classes ``labels`` are not used)."""
        tp = self.tp
        clips = augment_clips(batches[0], tp.augment, tp.colour_jitter, (tp.seed, step, 0), self.offset,
                              tp.batch_size)
        x = self.model.samples(clips)
        errors = self.errors(x)
        balancing = torch.stack([errors.real, errors.recon, errors.interp]).detach()
        if self.distributed:
            _average([balancing], self.world)
        balance = losses.GAIABalance.of(*balancing, self.g.slope)
        d_loss = losses.discriminator_loss(errors, balance)
        g_loss = losses.generator_loss(errors, balance, self.g.structure_weight)
        feature = self.comparator(errors.reconstruction, x) if self.comparator is not None else None
        if feature is not None:
            g_loss = g_loss + self.feature_weight * feature
        self.opt_d.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        d_loss.backward(inputs=self.d_params, retain_graph=True)
        g_loss.backward(inputs=self.g_params)
        if self.distributed:
            _average([p.grad for p in self.d_params + self.g_params], self.world)
        # The rates are floats for the optimisers: one host sync a step, as the authors' feed_dict.
        lr_d = self.g.lr * float(balance.d_share)
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        for group in self.opt_g.param_groups:
            group["lr"] = self.g.lr - lr_d
        self.opt_d.step()
        self.opt_g.step()
        self.nonfinite |= ~(torch.isfinite(d_loss.detach()) & torch.isfinite(g_loss.detach()))
        real, recon, interp = balancing
        return {"train/loss_d": d_loss.detach(), "train/loss_g": g_loss.detach(),
                "train/gaia/real": real, "train/gaia/recon": recon, "train/gaia/interp": interp,
                "train/gaia/structure": errors.structure.detach(), "train/M": real + (recon + interp) / 2,
                "train/lr_d": torch.tensor(lr_d), "train/lr_g": torch.tensor(self.g.lr - lr_d),
                "train/gaia/p_fake": balance.p_fake, "train/gaia/p_interp": balance.p_interp,
                **({"train/feature": feature.detach()} if feature is not None else {})}

    @torch.no_grad()
    def validate(self, batches) -> float:
        """Mean PSNR of G's reconstructions of the validation samples, on uint8 frames."""
        values = []
        for clips, _ in batches:
            x = self.model.samples(clips.to(self.device))
            values.append(psnr_per_clip(to_uint8(self.model(x)), to_uint8(x)))
        return float(np.concatenate(values).mean()) if values else float("nan")

    def baseline(self, batches) -> float | None:
        return None  # nothing to copy: a reconstruction has no last-frame baseline

    @torch.no_grad()
    def pictures(self, batch) -> dict[str, np.ndarray]:
        """``predictions``: one row per sample, its frames, then G's reconstruction of them."""
        clips = batch[0]
        x = self.model.samples(clips.to(self.device))[:clips.shape[0]]
        t = x.shape[1]
        columns = [f"frame {j + 1}" for j in range(t)] + [f"reconstructed {j + 1}" for j in range(t)]
        return {"predictions": patch_grid(torch.cat([x, self.model(x)], dim=1), columns)}

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state(self, saved: dict) -> None:
        self.model.load_state_dict(saved["model"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
