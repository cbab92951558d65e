"""DCGAN's training step (``model.family: dcgan``; Radford et al. 2016; networks:
:mod:`pyext.models.dcgan`), with the losses of the adversarial objective (``loss.adversarial``,
:mod:`pyext.losses.adversarial`) and nothing else.

Every step updates D ``critic_steps`` times (the objective's: ``loss.adversarial.d_steps``, or a
Wasserstein critic's own), each on a batch of real images of its own and a batch generated from
fresh noise, then G once, judged by D, as the paper's Algorithm 1 of Goodfellow et al. (2014)
alternates them. G's update needs no real images, so a step consumes ``critic_steps`` batches.

The real images are frames of the training patches: one frame of each patch (the frames of a patch
are near-duplicates, so more of them would only repeat it), its index drawn per patch from
``(train.seed, step, batch)`` for the whole batch (this process's rows taken), as the latents are
(:func:`pyext.models.draw_latents`): a resumed or distributed run draws what one uninterrupted
process does. ``train.augment`` is not applied: a GAN learns the distribution it is shown, and
augmented reals leak into its samples (Karras et al. 2020).

Class conditioning (``model.condition``, :mod:`pyext.losses.conditioning`: cGAN's ``concat``, ACGAN's
``acgan``): the real images are of their patches' classes (the batches' labels); each generated
image's class is drawn uniformly, as its latent is, from ``(train.seed, step, batch)`` in a stream of
its own (:func:`pyext.models.base.draw_classes`). The objective judges through the conditioning's
:class:`~pyext.losses.conditioning.Judge` (real and generated images of their own classes); ACGAN's
class term is added to D's loss (real images, and generated ones with ``loss.class_d: both``) and to
G's (its images), weighed by ``loss.class_weight``.

Rates are constant (``model.dcgan.lr_g``, ``lr_d``, the paper's 2e-4) with ``model.dcgan``'s optimiser.
In a distributed run the networks are DistributedDataParallel and every batch norm is synchronised
over the processes (:func:`pyext.models.blocks.synchronised`: SyncBatchNorm, the discriminator's
real and generated images still normalised apart), so that it normalises as one process would; PyTorch
synchronises batch norm on GPUs only, so a distributed CPU run needs ``model.dcgan.batch_norm: false``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ...config import Params, ParamsError
from ...losses import CONDITIONS, make_condition, make_objective
from ...losses.adversarial import DiscriminatorLoss
from ...models import NoiseGenerator, draw_latents
from ...models.base import draw_classes, seeded_generator
from ...models.blocks import set_batch_groups, synchronised
from ...models.dcgan import DCGAN, DCGANDiscriminator
from ...pictures import frame_grid
from ..arithmetic import to_memory_format, training_autocast
from ..optim import make_optimizer
from .base import TrainingStep, register_step

_FRAME_STREAM = 0x6672616D  # "fram": the frame draws, apart from the latents' of the same (seed, step, batch)
_PICTURE_KEY = 0x70696374  # "pict": the training pictures' latents, (train.seed, this): apart from every step's
PICTURE_SAMPLES = 8  # generated images a training picture shows, from fixed latents


def frame_of_each(clips: torch.Tensor, seed: tuple[int, ...], first: int, total: int) -> torch.Tensor:
    """One frame of each clip of ``clips`` ``(B, T, 3, P, P)``: ``(B, 3, P, P)``, frame indices drawn
    from ``seed`` for a whole batch of ``total`` clips, of which ``clips`` are rows ``first ..``."""
    picks = torch.randint(clips.shape[1], (total,), generator=seeded_generator([*seed, _FRAME_STREAM]))
    rows = picks[first:first + len(clips)].to(clips.device)
    return clips[torch.arange(len(clips), device=clips.device), rows]


@dataclass
class ClassedLoss:
    """D's loss: the objective's (:class:`~pyext.losses.adversarial.DiscriminatorLoss`) plus a
    conditioning's class term, with the class measures beside the objective's."""

    adversarial: DiscriminatorLoss
    class_term: torch.Tensor
    class_measures: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def total(self) -> torch.Tensor:
        return self.adversarial.total + self.class_term

    def measures(self) -> dict[str, torch.Tensor]:
        return self.adversarial.measures() | self.class_measures


@register_step("dcgan")
class DCGANStep(TrainingStep):
    """DCGAN's generator and discriminator, their optimisers and one step (arguments:
    :class:`TrainingStep`'s; ``classes``: the data's, where ``model.condition`` is not none). Another family of
    a generator from noise against its own discriminator, trained as DCGAN is, subclasses it with its
    :meth:`section`, :meth:`networks`, :meth:`wrap`, and :meth:`discriminator_loss` and
    :meth:`generator_loss` or :meth:`generator_update` (LAPGAN's, :mod:`.lapgan`; VAE-GAN's, :mod:`.vaegan`)."""

    adversarial = True
    # A generator from noise has no validation PSNR: the loop measures its FID and KID instead
    # (pyext.training.distances; the evaluate stage on the test set: pyext.evaluation.generation),
    # and train.keep has no best to pick (the last is written).
    validates = False
    # Why a subclass cannot train in a distributed run ('' where it can): one refusal for every family.
    undistributed = ""
    # Whether the family's networks take a class (model.condition, its FAMILIES entry reading the class
    # keys); a subclass whose generator takes none sets False.
    conditioned = True

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1, classes: int = 0):
        if distributed and self.undistributed:
            raise ParamsError("params.yaml", "model.family", f"expected dcgan in a distributed run "
                              f"({self.undistributed}), got {params.model.family!r}")
        self.d, self.tp, self.device, self.family = self.section(params), params.train, device, params.model.family
        self.share = self.tp.batch_size // world
        self.offset = rank * self.share
        self.objective = make_objective(params.loss.adversarial)
        self.objective.rows = (self.offset, self.tp.batch_size)
        if self.conditioned:
            self.condition, self.condition_name = make_condition(params, classes), params.model.condition
            # Read only where a class term is weighed (ACGAN's head): BigGAN's entry lists no class_weight.
            self.class_weight = params.loss.class_weight if self.condition.class_head else 0.0
        else:  # the family's rules refuse a class: its run reads no class key (its identity has none)
            self.condition, self.condition_name, self.class_weight = CONDITIONS["none"](params, 0), "none", 0.0
        torch.manual_seed(self.tp.seed)  # G first: the evaluation rebuilds the untrained G this way
        self.model, self.D = (network.to(device) for network in self.networks(params))
        set_batch_groups(self.D, self.share)  # real and generated images normalised apart
        to_memory_format(self.tp.channels_last, self.model, self.D)
        self.opt_g = make_optimizer(self.d, self.model.parameters(), self.d.lr_g)
        self.opt_d = make_optimizer(self.d, self.D.parameters(), self.d.lr_d)
        self.wrap(device, distributed, compile)
        self.dtype, self.autocast = training_autocast(self.tp.precision, device)
        self.d_measures: list[str] = []
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)

    @property
    def generator(self) -> NoiseGenerator:
        """The model (G; VAE-GAN's decoder behind its encoder) as the loop measures it."""
        return self.model

    @staticmethod
    def section(params: Params):
        """The family's params section (its sizes, rates and optimiser)."""
        return params.model.dcgan

    def networks(self, params: Params) -> tuple[nn.Module, nn.Module]:
        """The untrained generator (built first: see :func:`pyext.evaluation.generation.untrained`)
        and discriminator, with the conditioning's class input and head."""
        return (DCGAN.from_params(params, **self.condition.generator),
                DCGANDiscriminator.from_params(params, **self.condition.discriminator))

    def wrap(self, device: torch.device, distributed: bool, compile: bool) -> None:
        """Sets what the step calls: ``g_forward`` (G), ``d_forward`` (D in its own update) and
        ``d_judge`` (D judging G's images): the networks, DistributedDataParallel and/or compiled."""
        self.g_forward: nn.Module = self.model
        self.d_forward, self.d_judge = self.D, self.D
        if distributed:
            if self.d.batch_norm and device.type != "cuda":
                raise ParamsError("params.yaml", f"model.{self.family}.batch_norm",
                                  "expected false in a distributed run on CPUs (PyTorch synchronises batch norm "
                                  "over processes on GPUs only), got True")
            # Every batch norm synchronised, so that a distributed run normalises as one process does
            # (D's real and generated images still apart).
            synchronised(self.model)
            synchronised(self.D)
            ids = [device.index] if device.type == "cuda" else None
            self.g_forward = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            self.d_forward = nn.parallel.DistributedDataParallel(self.D, device_ids=ids)
        if compile:
            self.g_forward, self.d_forward, self.d_judge = (torch.compile(m) for m in
                                                            (self.g_forward, self.d_forward, self.D))

    @property
    def batches_per_step(self) -> int:
        return self.objective.critic_steps

    def _latents(self, step: int, batch: int) -> torch.Tensor:
        """This process's rows of the latents of batch ``batch`` of update ``step``."""
        rows = slice(self.offset, self.offset + self.share)
        return draw_latents((self.tp.seed, step, batch), self.model.latent, self.tp.batch_size, rows, self.device)

    def _classes(self, step: int, batch: int) -> torch.Tensor | None:
        """This process's rows of the classes asked of G beside the latents of batch ``batch`` of
        update ``step`` ``(B,)``; None where G takes no class."""
        if not self.condition.generator:
            return None
        rows = slice(self.offset, self.offset + self.share)
        return draw_classes((self.tp.seed, step, batch), self.condition.classes, self.tp.batch_size, rows, self.device)

    def step(self, step: int, batches: list[torch.Tensor], labels: list[torch.Tensor] | None = None
             ) -> dict[str, torch.Tensor]:
        """Update ``step`` (0-based) on ``batches`` (``critic_steps`` training clips
        ``(B, T, 3, P, P)``, one frame of each judged) of classes ``labels`` (one ``(B,)`` per batch:
        needed where conditioned, not read where not)."""
        if labels is None:
            if self.condition.needs_classes:
                raise ValueError(f"model.condition: {self.condition_name} trains on the images' classes: "
                                 f"labels are needed")
            labels = [None] * len(batches)
        for j, (clips, classes) in enumerate(zip(batches, labels)):
            with self.autocast:
                d_loss = self.discriminator_loss(clips, step, j, classes)
            self._update(self.opt_d, d_loss.total)
            self.objective.after_discriminator_step(self.D)
        self.D.requires_grad_(False)  # G's update reaches D's input, not its weights
        try:
            logged = self.generator_update(batches[-1], step, len(batches))
        finally:
            self.D.requires_grad_(True)
        return self._logged(d_loss, **logged)

    def generator_update(self, clips: torch.Tensor, step: int, batch: int) -> dict[str, torch.Tensor]:
        """G's update (D frozen): by :meth:`generator_loss`. Returns the logged values, ``loss_g`` among them."""
        with self.autocast:
            g_loss = self.generator_loss(clips, step, batch)
        self._update(self.opt_g, g_loss)
        return {"loss_g": g_loss}

    def discriminator_loss(self, clips: torch.Tensor, step: int, batch: int,
                           labels: torch.Tensor | None = None) -> DiscriminatorLoss | ClassedLoss:
        """D's loss on batch ``batch`` of update ``step``: one frame of each of ``clips`` (of classes
        ``labels`` ``(B,)``, where conditioned) against as many images generated from that batch's
        latents (and classes); with ACGAN's head, its class term added."""
        real = frame_of_each(clips, (self.tp.seed, step, batch), self.offset, self.tp.batch_size)
        classes = self._classes(step, batch)
        with torch.no_grad():
            fake = self.g_forward(self._latents(step, batch), classes)
        judge = self.condition.judge(self.d_forward, [labels, classes])
        d_loss = self.objective.discriminator_loss(judge, [real], [fake])
        class_term, class_measures = self.condition.discriminator_loss(judge, labels, classes)
        return d_loss if class_term is None else ClassedLoss(d_loss, class_term, class_measures)

    def generator_loss(self, clips: torch.Tensor, step: int, batch: int) -> torch.Tensor:
        """G's loss in update ``step``, judged by D, on the latents (and classes) of batch ``batch``
        (after the D batches), with ACGAN's class term of its images; ``clips`` are the last D
        batch's (what G is conditioned on, where it is)."""
        classes = self._classes(step, batch)
        fake = self.g_forward(self._latents(step, batch), classes)
        judge = self.condition.judge(self.d_judge, classes)
        adversarial = torch.stack(self.objective.generator_loss(judge, [fake])).sum()
        class_term = self.condition.generator_loss(judge, classes)
        return adversarial if class_term is None else adversarial + self.class_weight * class_term

    def _update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        self.nonfinite |= ~torch.isfinite(loss.detach())

    def _logged(self, d_loss: DiscriminatorLoss, **logged: torch.Tensor) -> dict[str, torch.Tensor]:
        """What a step logs, ``train/<name>``: D's loss, ``logged`` (G's update's: ``loss_g``, a
        family's own) and D's measures, after the objective's end-of-step update."""
        measures = d_loss.measures() | self.objective.after_generator_step()
        self.d_measures = list(measures)
        return {f"train/{name}": value.detach()
                for name, value in ({"loss_d": d_loss.total} | logged | measures).items()}

    @torch.no_grad()
    def pictures(self, batch) -> dict[str, np.ndarray]:
        """``samples``: a row of real frames (the first of each of the batch's first clips) above a
        row of images generated from fixed latents (the same every picture, so a run's pictures show
        one set of samples learning; a conditioned generator's of the classes 0, 1, ... in turn), the
        generator in eval mode."""
        clips = batch[0][:PICTURE_SAMPLES].to(self.device)
        z = draw_latents((self.tp.seed, _PICTURE_KEY), self.model.latent, PICTURE_SAMPLES, device=self.device)
        classes = None
        if self.condition.generator:
            classes = torch.arange(PICTURE_SAMPLES, device=self.device) % self.condition.classes
        self.model.eval()
        try:
            fake = self.model(z, classes)[:len(clips)]
        finally:
            self.model.train()
        return {"samples": frame_grid(torch.stack([clips[:, 0], fake.float()]), zoom=2)}

    @torch.no_grad()
    def rebuilt_picture(self, batch, rebuild) -> np.ndarray:
        """A row of real frames (the first of each of the batch's first clips) above ``rebuild`` of
        them (an encoding family's reconstructions, the model in eval mode; zoom 2)."""
        real = batch[0][:PICTURE_SAMPLES, 0].to(self.device)
        self.model.eval()
        try:
            rebuilt = rebuild(real)
        finally:
            self.model.train()
        return frame_grid(torch.stack([real, rebuilt.float()]), zoom=2)

    def state(self) -> dict:
        return {"generator": self.model.state_dict(), "discriminator": self.D.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "objective": self.objective.state_dict()}

    def load_state(self, saved: dict) -> None:
        self.model.load_state_dict(saved["generator"])
        self.D.load_state_dict(saved["discriminator"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
        self.objective.load_state_dict(saved["objective"])
