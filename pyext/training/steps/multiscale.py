"""Algorithm 1 of Mathieu et al. (2016), the ``multiscale`` family's training step.

Every step updates the discriminator on one batch of training clips (when ``loss.adv > 0``; the
objective's ``critic_steps`` updates, each on a batch of its own), then the generator on the next
batch, as the paper's algorithm draws new samples for each player. Learning rates fall linearly
from ``train.lr_*`` to ``train.lr_*_final`` over the run (the paper: rho_G from 0.04 to 0.005; it
gives rho_D = 0.02 and says only that rates are reduced over time, so the discriminator's schedule
is a param too, constant by default). The discriminator family is the objective's choice (Table 1's
classifier, or the energy-based objectives' autoencoder).

With ``loss.feature > 0`` G's loss adds the feature-space term (:mod:`pyext.losses.feature`); the
class conditioning (``model.condition``, :mod:`pyext.losses.conditioning`) gives the networks their
class input or head, hands the objective D bound to each batch's classes, and adds its class terms
to both losses; with
``loss.adversarial.d_pause > 0`` D's updates are skipped while DeePSiM's ratio ``L_D / L_adv``,
measured at the step before (averaged over the processes of a distributed run, so every replica
decides alike), is below it; a skipped update still measures ``L_D``, without a graph, so the ratio
can recover.
"""
from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import nn

from ...augment import augment_clips
from ...config import OBJECTIVES, Params
from ...losses import generator_loss, make_comparator, make_condition, make_objective
from ...models import DISCRIMINATORS, MultiScaleGenerator, clip_pyramid, draw_latents
from ...models.blocks import set_batch_groups
from ..data import split
from ..arithmetic import to_memory_format, training_autocast
from ..optim import linear_lr, make_optimizer
from ..validation import prediction_pictures, validation_psnr
from .base import TrainingStep, register_step


class _AllScales(nn.Module):
    """The generator with :meth:`~MultiScaleGenerator.forward_scales` as its forward, so that
    DistributedDataParallel and torch.compile see the whole multi-scale output."""

    def __init__(self, generator: MultiScaleGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, z: torch.Tensor | None = None
                ) -> list[torch.Tensor]:
        return self.generator.forward_scales(x, labels, z)


@register_step("multiscale")
class MultiScaleStep(TrainingStep):
    """The paper's generator, the objective's discriminator, their optimisers and one step of
    Algorithm 1 (arguments: :class:`TrainingStep`'s)."""

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1, classes: int = 0):
        self.loss, self.tp = params.loss, params.train
        self.offset = rank * (self.tp.batch_size // world)
        self.m, self.scales, self.device = params.clip.input_frames, params.model.multiscale.scales, device
        self.objective = make_objective(self.loss.adversarial)
        self.objective.rows = (self.offset, self.tp.batch_size)
        self.condition, self.condition_name = make_condition(params, classes), params.model.condition
        torch.manual_seed(self.tp.seed)
        self.G = MultiScaleGenerator.from_params(params, **self.condition.generator).to(device)
        self.model = self.predictor = self.G
        self.adversarial = self.loss.adv > 0
        self.D = (DISCRIMINATORS[OBJECTIVES[self.loss.adversarial.kind].discriminator]
                  .from_params(params, **self.condition.discriminator)
                  .to(device) if self.adversarial else None)
        if self.D is not None:  # batch norm (model.d_norm: batch) normalises each kind of clips apart
            set_batch_groups(self.D, self.tp.batch_size // world)
        self.comparator = (make_comparator(self.loss.comparator, self.D, params.clip.patch, device)
                           if self.loss.feature > 0 else None)
        # DeePSiM's pause: L_D / L_adv at the last step (inf: none yet, D trains).
        self.pause, self.ratio, self.distributed = self.loss.adversarial.d_pause, math.inf, distributed
        to_memory_format(self.tp.channels_last, self.G, self.D)
        self.opt_g = make_optimizer(self.tp, self.G.parameters(), self.tp.lr_g)
        self.opt_d = make_optimizer(self.tp, self.D.parameters(), self.tp.lr_d) if self.adversarial else None
        # What the updates call: G's whole pyramid and D's update through DDP (which averages the
        # gradients); the generator's adversarial term judges through the plain D, whose weights
        # it does not update.
        self.g_forward: nn.Module = _AllScales(self.G)
        self.d_forward, self.d_judge = self.D, self.D
        if distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.g_forward = nn.parallel.DistributedDataParallel(self.g_forward, device_ids=ids)
            if self.adversarial:
                self.d_forward = nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        if compile:
            self.g_forward = torch.compile(self.g_forward)
            if self.adversarial:
                self.d_forward, self.d_judge = torch.compile(self.d_forward), torch.compile(self.D)
        self.d_measures: list[str] = []  # the names of what D's updates log about it
        self.dtype, self.autocast = training_autocast(self.tp.precision, device)
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # set by a NaN/inf loss

    @property
    def batches_per_step(self) -> int:
        """Batches one step consumes: one per discriminator update (the objective's
        ``critic_steps``, when D is trained), then the generator's."""
        return self.objective.critic_steps + 1 if self.adversarial else 1

    def step(self, step: int, batches: list[torch.Tensor],
             labels: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Update ``step`` (0-based) on ``batches`` (``batches_per_step`` clips ``(B, m + n, 3, P, P)``
        on the device), transformed by ``train.augment``, of classes ``labels`` (one ``(B,)`` per
        batch; needed by a class-conditioned model). Returns the logged values as detached tensors
        (no host sync)."""
        tp, logged = self.tp, {}
        if labels is None:
            if self.condition.needs_classes:
                raise ValueError(f"model.condition: {self.condition_name} trains on the clips' classes: "
                                 f"labels are needed")
            labels = [None] * len(batches)
        batches = [augment_clips(b, tp.augment, tp.colour_jitter, (tp.seed, step, j), self.offset, tp.batch_size)
                   for j, b in enumerate(batches)]
        lr_g = linear_lr(tp.lr_g, tp.lr_g_final, step, tp.steps)
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        logged["train/lr_g"] = torch.tensor(lr_g)
        if self.adversarial:
            for group in self.opt_d.param_groups:
                group["lr"] = linear_lr(tp.lr_d, tp.lr_d_final, step, tp.steps)
            paused = self.ratio < self.pause
            for j, (batch, classes) in enumerate(zip(batches[:-1], labels)):  # critic_steps updates, each on its own batch
                x, y = split(batch, self.m)
                with torch.no_grad(), self.autocast:
                    fake = self.G.forward_scales(x, classes, self._latents(step, j, x))
                if paused:  # measured only: the plain D, no graph, no update
                    with torch.no_grad(), self.autocast:
                        judge = self.condition.judge(self.D, classes)
                        d_loss = self.objective.discriminator_loss(judge, clip_pyramid(y, self.scales), fake, x)
                        _, class_measures = self.condition.discriminator_loss(judge, classes)
                    continue
                with self.autocast:
                    judge = self.condition.judge(self.d_forward, classes)
                    d_loss = self.objective.discriminator_loss(judge, clip_pyramid(y, self.scales), fake, x)
                    class_term, class_measures = self.condition.discriminator_loss(judge, classes)
                total = d_loss.total if class_term is None else d_loss.total + class_term
                self.opt_d.zero_grad(set_to_none=True)
                total.backward()
                self.opt_d.step()
                self.objective.after_discriminator_step(self.D)
                self.nonfinite |= ~torch.isfinite(total.detach())
            if self.pause:
                logged["train/d_paused"] = torch.tensor(float(paused))
            # The last update's values.
            logged["train/loss_d"] = d_loss.total.detach()
            measures = d_loss.measures() | class_measures
            for k, v in enumerate(d_loss.per_scale):
                logged[f"train/d/scale{k + 1}"] = v.detach()

        x, y = split(batches[-1], self.m)
        classes = labels[-1]
        if self.adversarial:
            self.D.requires_grad_(False)  # the generator's update reaches D's input, not its weights
        targets = clip_pyramid(y, self.scales)
        samples = self.loss.best_of  # > 1 only with noise (pyext.config.loss): M latents a clip, sample-major
        z = self._latents(step, len(batches) - 1, x)
        if samples > 1:
            z = torch.cat([z, *(self._latents(step, len(batches) - 1, x, k) for k in range(1, samples))])
            x = x.repeat(samples, 1, 1, 1, 1)
        with self.autocast:
            preds = self.g_forward(x, classes, z)
            judge = adv = class_term = None
            if self.adversarial:
                judge = self.condition.judge(self.d_judge, classes)
                adv = self.objective.generator_loss(judge, preds, x)
                class_term = self.condition.generator_loss(judge, classes)
            feature = self.comparator(preds, targets, x, judge) if self.comparator is not None else None
            g_loss = generator_loss(self.loss, preds, targets, adv, feature, class_term)
        if self.adversarial:
            self.D.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.total.backward()
        self.opt_g.step()
        self.nonfinite |= ~torch.isfinite(g_loss.total.detach())
        if self.adversarial:
            measures.update(self.objective.after_generator_step())
            self.d_measures = list(measures)
            for name, value in measures.items():
                logged[f"train/{name}"] = value.detach()
        if self.pause:
            self.ratio = self._ratio(d_loss.total.detach(), torch.stack(adv).sum().detach())
            logged["train/d_ratio"] = torch.tensor(self.ratio)
        if feature is not None:
            logged["train/feature"] = feature.detach()
        if class_term is not None:
            logged["train/g_class"] = class_term.detach()
        logged["train/loss_g"] = g_loss.total.detach()
        for k in range(self.scales):
            logged[f"train/lp/scale{k + 1}"] = g_loss.lp[k].detach()
            logged[f"train/gdl/scale{k + 1}"] = g_loss.gdl[k].detach()
            if adv is not None:
                logged[f"train/adv/scale{k + 1}"] = g_loss.adv[k].detach()
        return logged

    def _latents(self, step: int, batch: int, x: torch.Tensor, sample: int = 0) -> torch.Tensor | None:
        """The generator's latents for batch ``batch`` of update ``step`` (None without noise): drawn
        from ``(train.seed, step, batch)`` (and ``sample``, the best-of-many sample, where > 0) for
        the whole batch, this process's rows taken, so that a resumed or distributed run draws what
        one uninterrupted process does."""
        if not self.G.noise:
            return None
        rows = slice(self.offset, self.offset + len(x))
        key = (self.tp.seed, step, batch) + ((sample,) if sample else ())
        return draw_latents(key, self.G.noise, self.tp.batch_size, rows, x.device)

    def _ratio(self, d_loss: torch.Tensor, adv: torch.Tensor) -> float:
        """DeePSiM's ``L_D / L_adv`` of this step, the two averaged over the processes first (a host
        sync, only with ``d_pause`` on)."""
        pair = torch.stack([d_loss.float(), adv.float()])
        if self.distributed:
            dist.all_reduce(pair)  # the sum; the ratio of the means is the same
        d, a = pair.tolist()
        return d / a if a > 0 else math.inf

    def validate(self, batches):
        return validation_psnr(self.G, batches, self.device)

    def baseline(self, batches):
        return validation_psnr(self.G, batches, self.device, last_frame=True)

    def pictures(self, batch):
        return prediction_pictures(self.G, *batch, self.device)

    def saved_beside(self) -> dict:
        """D's weights where D has a class head: the evaluation measures its accuracy."""
        return {"discriminator": self.D.state_dict()} if self.condition.class_head else {}

    def state(self) -> dict:
        """Weights, optimiser states and the objective's state, as a checkpoint holds them."""
        return {"generator": self.G.state_dict(), "opt_g": self.opt_g.state_dict(),
                "discriminator": self.D.state_dict() if self.adversarial else None,
                "opt_d": self.opt_d.state_dict() if self.adversarial else None,
                "objective": self.objective.state_dict(), "d_ratio": self.ratio}

    def load_state(self, saved: dict) -> None:
        self.G.load_state_dict(saved["generator"])
        self.opt_g.load_state_dict(saved["opt_g"])
        if self.adversarial:
            self.D.load_state_dict(saved["discriminator"])
            self.opt_d.load_state_dict(saved["opt_d"])
        self.objective.load_state_dict(saved["objective"])
        self.ratio = saved["d_ratio"]
