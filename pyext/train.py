"""Adversarial training of the multi-scale predictor (Mathieu et al. 2016, Algorithm 1).

Every step updates the discriminator on one batch of training clips (when ``loss.adv > 0``), then
the generator on the next batch, as the paper's algorithm draws new samples for each player.
Learning rates fall linearly from ``train.lr_*`` to ``train.lr_*_final`` over the run (the paper:
rho_G from 0.04 to 0.005; it gives rho_D = 0.02 and says only that rates are reduced over time, so
the discriminator's schedule is a param too, constant by default).

The run is a pure function of the params, the training data, the code and the step reached: the
order of the clips is drawn per epoch from ``train.seed`` and indexed by the number of clips
consumed, so a run resumed from a checkpoint continues exactly where the interrupted one was (on the
CPU, it ends with the same weights bit for bit). A checkpoint of other params, data or code is
never resumed from: it is moved to ``stale/`` beside it, and the run starts afresh. Distributed
runs (``torchrun``) split every batch across the processes and average gradients
(DistributedDataParallel); process 0 logs and saves.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .augment import augment_clips
from .config import ParamsError, Params, TrainParams
from .data.dataset import ClipDataset, to_uint8
from .data.files import atomic_output, code_digest, file_digest, paths_digest
from .losses import generator_loss, make_objective
from .metrics import psnr_per_clip
from .models import MultiScaleDiscriminator, MultiScaleGenerator, clip_pyramid, generator_file

CHECKPOINT, GENERATOR = "checkpoint.pt", "generator.pt"
STALE = "stale"  # the folder beside the checkpoint where one that is not resumed from is kept
CHECKPOINT_FORMAT = 2  # 2: validation PSNRs and the best generator
# train params that change how a run is watched or where it runs, not what it computes: a
# checkpoint stays valid when they change.
_NOT_HASHED = ("device", "compile", "workers", "checkpoint_every", "log_every", "val_every", "val_batches",
               "image_every", "keep")


class TrainingError(RuntimeError):
    """Training cannot go on (a loss became NaN or infinite); the message is one line."""


def params_hash(params: Params) -> str:
    """Hash of everything a run's weights depend on: the ``clip``, ``model``, ``loss`` and ``train``
    params (less the operational keys in ``_NOT_HASHED``)."""
    train = {k: v for k, v in params.section("train").items() if k not in _NOT_HASHED}
    record = {"clip": params.section("clip"), "model": params.section("model"), "loss": params.section("loss"),
              "train": train}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def code_hash() -> str:
    """Hash of the code a run's weights depend on: the files of the train stage's code deps in the
    project's ``dvc.yaml`` (:func:`pyext.data.files.code_digest`: ``pipeline/train.py``, this
    package's modules the stage runs, ``csrc/``, ``setup.py``), the project being the folder that
    holds this package. The package installed without its project (no ``dvc.yaml`` beside it)
    hashes all of its own files instead."""
    package = Path(__file__).resolve().parent
    if (package.parent / "dvc.yaml").is_file():
        return code_digest(package.parent, "train", size=8)
    return paths_digest(package.parent, [package.name], size=8)


# ----------------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    """This process's place in a run: ``size`` processes (``torchrun`` sets ``WORLD_SIZE``)."""

    rank: int
    size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def _world(device: str) -> World:
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if device == "cuda" and not torch.cuda.is_available():
        raise ParamsError("params.yaml", "train.device", "cuda, but no CUDA device is visible")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if size > 1 else 0
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return World(rank, size, torch.device("cuda", local))
    return World(rank, size, torch.device("cpu"))


# ------------------------------------------------------------------------------------------ data


class ClipBatches(torch.utils.data.Sampler):
    """Endless batches of dataset indices for one process: epoch e visits the clips in the order of
    a permutation seeded by ``(seed, e)``; global batch j holds the clips at positions
    ``position + j * batch .. + batch`` of that endless sequence, and process ``rank`` takes its
    ``batch / world`` share. Restarting at a saved position continues the same sequence.
    """

    def __init__(self, n: int, batch: int, seed: int, position: int, rank: int = 0, world: int = 1):
        super().__init__()
        if n < 1:
            raise ValueError("no training clips")
        self.n, self.batch, self.seed, self.position = n, batch, seed, position
        self.share = batch // world
        self.offset = rank * self.share
        self._epoch, self._order = -1, np.empty(0, np.int64)

    def _index(self, position: int) -> int:
        epoch, i = divmod(position, self.n)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return int(self._order[i])

    def __iter__(self) -> Iterator[list[int]]:
        position = self.position
        while True:
            start = position + self.offset
            yield [self._index(p) for p in range(start, start + self.share)]
            position += self.batch


def _split(clips: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch ``(B, m + n, 3, P, P)`` -> inputs ``(B, m, ...)`` and targets ``(B, n, ...)``."""
    return clips[:, :m], clips[:, m:]


# -------------------------------------------------------------------------------------- networks


class _AllScales(nn.Module):
    """The generator with :meth:`~MultiScaleGenerator.forward_scales` as its forward, so that
    DistributedDataParallel and torch.compile see the whole multi-scale output."""

    def __init__(self, generator: MultiScaleGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.generator.forward_scales(x)


def _optimizer(tp: TrainParams, parameters, lr: float) -> torch.optim.Optimizer:
    """``train.optimizer`` over ``parameters``: plain SGD (the paper), Adam with ``train.betas``, or
    RMSProp at PyTorch's defaults (the WGAN paper's optimiser)."""
    if tp.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    if tp.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=lr)
    return torch.optim.Adam(parameters, lr=lr, betas=tp.betas)


def _lr(start: float, final: float, step: int, steps: int) -> float:
    """Linear from ``start`` at step 0 to ``final`` at the last step (``steps - 1``)."""
    return start + (final - start) * step / max(1, steps - 1)


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# ---------------------------------------------------------------------------------- checkpoints


_IDENTITY = (("params_hash", "other params"), ("data_hash", "other training data"), ("code_hash", "other code"))


def _load_checkpoint(path: Path, expected: dict, say, set_aside: bool = True) -> dict | None:
    """The checkpoint at ``path`` if it continues this run (the same params, data and code hashes as
    ``expected``), else None. One that does not (unreadable, of another format, params, data or
    code; one without a code hash counts as other code) is neither resumed from nor overwritten:
    with ``set_aside`` (process 0 of a run) it is moved to :func:`_set_aside`'s name, and ``say``
    tells where and why."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a foreign or damaged file (or one process 0 just moved aside)
        saved, why = None, f"is not a readable checkpoint ({type(exc).__name__})"
    else:
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            why = f"is not a checkpoint of format {CHECKPOINT_FORMAT}"
        else:
            other = [what for key, what in _IDENTITY if saved.get(key) != expected[key]]
            if not other:
                return saved
            why = "was trained with " + " and ".join(other)
    if set_aside:
        say(f"train: {path} {why}; starting afresh (the old checkpoint is kept as {_set_aside(path)})")
    return None


def _set_aside(path: Path) -> Path:
    """Moves ``path`` to ``stale/<stem>-<digest of its bytes><suffix>`` beside it (the same file
    always gets the same name) and returns where it went."""
    target = path.parent / STALE / f"{path.stem}-{file_digest(path, size=4)}{path.suffix}"
    target.parent.mkdir(exist_ok=True)
    os.replace(path, target)
    return target


def _save(path: Path, obj: dict) -> None:
    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


# ----------------------------------------------------------------------------------- validation


def _validation_batches(path: Path, batch: int, limit: int) -> list[torch.Tensor]:
    """The first ``limit`` batches (0: all) of ``path``, in file order: the same clips every time."""
    dataset = ClipDataset(path)
    count = len(dataset) if limit == 0 else min(len(dataset), limit * batch)
    return [torch.stack([dataset[i] for i in range(s, min(s + batch, count))]) for s in range(0, count, batch)]


@torch.no_grad()
def validation_psnr(generator: MultiScaleGenerator, batches: list[torch.Tensor], device: torch.device,
                    last_frame: bool = False) -> float:
    """Mean PSNR over the validation clips of the full-size prediction (or, with ``last_frame``, of
    copying the last input frame), on uint8 frames as a viewer sees them."""
    m, values = generator.input_frames, []
    for clips in batches:
        x, y = _split(clips.to(device), m)
        pred = x[:, -1:].expand_as(y) if last_frame else generator(x)
        values.append(psnr_per_clip(to_uint8(pred), to_uint8(y)))
    return float(np.concatenate(values).mean()) if values else float("nan")


@torch.no_grad()
def prediction_grid(generator: MultiScaleGenerator, clips: torch.Tensor, device: torch.device,
                    zoom: int = 4) -> np.ndarray:
    """A picture: one row per clip, its input frames, then the true and the predicted frames.

    Args:
        clips: ``(B, m + n, 3, P, P)``.
    Returns:
        uint8 ``(B * (zoom P + 2), (m + 2n) * (zoom P + 2), 3)``, white lines between frames.
    """
    x, y = _split(clips.to(device), generator.input_frames)
    frames = to_uint8(torch.cat([x, y, generator(x)], dim=1))  # (B, m + 2n, P, P, 3)
    frames = frames.repeat(zoom, axis=2).repeat(zoom, axis=3)
    frames = np.pad(frames, ((0, 0), (0, 0), (1, 1), (1, 1), (0, 0)), constant_values=255)
    b, t, h, w, c = frames.shape
    return frames.transpose(0, 2, 1, 3, 4).reshape(b * h, t * w, c)


@dataclass
class Validations:
    """The validation PSNRs of a run so far: the latest, and the best with that generator's weights
    (kept in the checkpoint, so a resumed run keeps its best)."""

    last_step: int = 0
    last_psnr: float = float("nan")
    best_step: int = 0
    best_psnr: float = float("-inf")
    best_generator: dict[str, torch.Tensor] | None = None

    def add(self, step: int, psnr: float, generator: nn.Module) -> None:
        self.last_step, self.last_psnr = step, psnr
        if psnr > self.best_psnr:
            self.best_step, self.best_psnr = step, psnr
            self.best_generator = {k: v.detach().cpu().clone() for k, v in generator.state_dict().items()}

    def kept(self, keep: str) -> tuple[int, float, dict[str, torch.Tensor] | None]:
        """The step, validation PSNR and weights (None: the generator's current ones) of the
        generator ``train.keep`` picks."""
        if keep == "best" and self.best_generator is not None:
            return self.best_step, self.best_psnr, self.best_generator
        return self.last_step, self.last_psnr, None


def verdict(summary: dict) -> str:
    """One line comparing the written generator's validation PSNR with copying the last input
    frame, saying plainly when the model is worse.

    Example:
        >>> verdict({"val_psnr": 21.0, "val_psnr_last_frame": 23.5, "val_step": 800, "kept": "last"})
        'train: the model is WORSE than copying the last frame: validation PSNR 21.00 dB against 23.50 dB (-2.50 dB, generator of step 800, train.keep: last)'
    """
    psnr, baseline = summary.get("val_psnr"), summary.get("val_psnr_last_frame")
    if psnr is None or baseline is None or not (math.isfinite(psnr) and math.isfinite(baseline)):
        return "train: no validation clips (data/val.h5 is empty): nothing compared the model with copying the last frame"
    gap = psnr - baseline
    where = f"{gap:+.2f} dB, generator of step {summary['val_step']}, train.keep: {summary['kept']}"
    if gap < 0:
        return (f"train: the model is WORSE than copying the last frame: validation PSNR {psnr:.2f} dB against "
                f"{baseline:.2f} dB ({where})")
    return f"train: validation PSNR {psnr:.2f} dB against {baseline:.2f} dB for copying the last frame ({where})"


# ------------------------------------------------------------------------------------- training


class Trainer:
    """The two networks, their optimisers and one training step (Algorithm 1): no data loading,
    files or logging, so that the benchmark times exactly what training runs.

    Args:
        params: the validated params (``clip``, ``model``, ``loss``, ``train``).
        device: where the networks live.
        distributed: wrap them in DistributedDataParallel (a process group is initialised).
        compile: run them through ``torch.compile``.
        rank, world: this process's place in a distributed run: its batches are rows
            ``rank * B / world ..`` of each whole batch of ``B = train.batch_size`` clips.
    """

    def __init__(self, params: Params, device: torch.device, distributed: bool = False, compile: bool = False,
                 rank: int = 0, world: int = 1):
        clip, model, self.loss, self.tp = params.clip, params.model, params.loss, params.train
        self.offset = rank * (self.tp.batch_size // world)
        self.m, self.scales, self.device = clip.input_frames, model.scales, device
        torch.manual_seed(self.tp.seed)
        self.G = MultiScaleGenerator(clip.input_frames, clip.output_frames, model.scales, model.width,
                                     model.skip).to(device)
        self.adversarial = self.loss.adv > 0
        self.D = (MultiScaleDiscriminator(clip.input_frames, clip.output_frames, model.scales, model.width,
                                          clip.patch).to(device) if self.adversarial else None)
        self.opt_g = _optimizer(self.tp, self.G.parameters(), self.tp.lr_g)
        self.opt_d = _optimizer(self.tp, self.D.parameters(), self.tp.lr_d) if self.adversarial else None
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
        self.objective = make_objective(self.loss.adversarial)
        self.objective.rows = (self.offset, self.tp.batch_size)
        self.d_measures: list[str] = []  # the names of what D's updates log about it
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # set by a NaN/inf loss

    @property
    def batches_per_step(self) -> int:
        """Batches one step consumes: one per discriminator update (the objective's
        ``critic_steps``, when D is trained), then the generator's."""
        return self.objective.critic_steps + 1 if self.adversarial else 1

    def step(self, step: int, batches: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Update ``step`` (0-based) on ``batches`` (``batches_per_step`` clips ``(B, m + n, 3, P, P)``
        on the device), transformed by ``train.augment``. Returns the logged values as detached
        tensors (no host sync)."""
        tp, logged = self.tp, {}
        batches = [augment_clips(b, tp.augment, tp.colour_jitter, (tp.seed, step, j), self.offset, tp.batch_size)
                   for j, b in enumerate(batches)]
        lr_g = _lr(tp.lr_g, tp.lr_g_final, step, tp.steps)
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        logged["train/lr_g"] = torch.tensor(lr_g)
        if self.adversarial:
            for group in self.opt_d.param_groups:
                group["lr"] = _lr(tp.lr_d, tp.lr_d_final, step, tp.steps)
            for batch in batches[:-1]:  # critic_steps updates, each on its own batch
                x, y = _split(batch, self.m)
                with torch.no_grad(), self.autocast:
                    fake = self.G.forward_scales(x)
                with self.autocast:
                    d_loss = self.objective.discriminator_loss(self.d_forward, x, clip_pyramid(y, self.scales), fake)
                self.opt_d.zero_grad(set_to_none=True)
                d_loss.total.backward()
                self.opt_d.step()
                self.objective.after_discriminator_step(self.D)
                self.nonfinite |= ~torch.isfinite(d_loss.total.detach())
            # The last update's values.
            logged["train/loss_d"] = d_loss.total.detach()
            measures = d_loss.measures()
            self.d_measures = list(measures)
            for name, value in measures.items():
                logged[f"train/{name}"] = value.detach()
            for k, v in enumerate(d_loss.per_scale):
                logged[f"train/d/scale{k + 1}"] = v.detach()

        x, y = _split(batches[-1], self.m)
        if self.adversarial:
            self.D.requires_grad_(False)  # the generator's update reaches D's input, not its weights
        with self.autocast:
            preds = self.g_forward(x)
            adv = self.objective.generator_loss(self.d_judge, x, preds) if self.adversarial else None
            g_loss = generator_loss(self.loss, preds, clip_pyramid(y, self.scales), adv)
        if self.adversarial:
            self.D.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.total.backward()
        self.opt_g.step()
        self.nonfinite |= ~torch.isfinite(g_loss.total.detach())
        logged["train/loss_g"] = g_loss.total.detach()
        for k in range(self.scales):
            logged[f"train/lp/scale{k + 1}"] = g_loss.lp[k].detach()
            logged[f"train/gdl/scale{k + 1}"] = g_loss.gdl[k].detach()
            if adv is not None:
                logged[f"train/adv/scale{k + 1}"] = g_loss.adv[k].detach()
        return logged

    def state(self) -> dict:
        """Weights and optimiser states, as a checkpoint holds them."""
        return {"generator": self.G.state_dict(), "opt_g": self.opt_g.state_dict(),
                "discriminator": self.D.state_dict() if self.adversarial else None,
                "opt_d": self.opt_d.state_dict() if self.adversarial else None}

    def load_state(self, saved: dict) -> None:
        self.G.load_state_dict(saved["generator"])
        self.opt_g.load_state_dict(saved["opt_g"])
        if self.adversarial:
            self.D.load_state_dict(saved["discriminator"])
            self.opt_d.load_state_dict(saved["opt_d"])


class _Live:
    """dvclive on process 0 (metrics under ``dir/plots/metrics``, pictures under
    ``dir/plots/images``); nothing elsewhere. The pipeline's dvc.yaml declares what it writes."""

    def __init__(self, directory: Path | None, resume: bool):
        self.live = None
        if directory is not None:
            from dvclive import Live
            self.live = Live(str(directory), resume=resume, save_dvc_exp=False, dvcyaml=None)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        if self.live is not None:
            self.live.step = step
            for name, value in values.items():
                self.live.log_metric(name, value)

    def image(self, name: str, picture: np.ndarray) -> None:
        if self.live is not None:
            self.live.log_image(name, picture)

    def end(self) -> None:
        if self.live is not None:
            self.live.make_summary()
            self.live.end()


def train(params: Params, data_dir: Path, out_dir: Path, live_dir: Path | None = None,
          until_step: int | None = None, progress: bool = True) -> dict:
    """Trains (or resumes training) and writes ``out_dir/generator.pt``.

    Args:
        params: the validated params (``clip``, ``model``, ``loss``, ``train`` are used).
        data_dir: holds ``train.h5`` and ``val.h5``.
        out_dir: gets ``checkpoint.pt`` (every ``train.checkpoint_every`` steps and at the end) and
            ``generator.pt`` (at the end). A ``checkpoint.pt`` there of the same params, data and
            code is resumed from; any other is moved to ``out_dir/stale/`` first.
        live_dir: the dvclive folder, or None for no logging.
        until_step: stop after this step with a checkpoint (a time slice of a longer run), without
            writing ``generator.pt``; None runs to ``train.steps``.
        progress: show a progress bar.
    Returns:
        ``{"step": .., "resumed_from": .., "val_psnr": .., "val_step": .., "kept": ..,
        "val_psnr_last_frame": ..}``: the step reached, where the run started, the validation PSNR
        of the generator written (or, before the end, of the latest validation) and the step it
        comes from, ``train.keep``, and the PSNR of copying the last input frame. The end of the run
        prints :func:`verdict` of it.
    Raises:
        TrainingError: a loss became NaN or infinite (the last checkpoint is kept).
        ParamsError: a param that this machine or world size cannot honour.
    """
    tp = params.train
    world = _world(tp.device)
    if tp.batch_size % world.size:
        raise ParamsError("params.yaml", "train.batch_size",
                          f"expected a multiple of the {world.size} processes, got {tp.batch_size}")
    say = tqdm.write if world.main else (lambda _: None)
    train_path, ckpt_path = Path(data_dir) / "train.h5", Path(out_dir) / CHECKPOINT
    dataset = ClipDataset(train_path)  # a missing or foreign file stops here, with its name
    identity = {"params_hash": params_hash(params), "data_hash": file_digest(train_path), "code_hash": code_hash()}

    trainer = Trainer(params, world.device, distributed=world.size > 1, compile=tp.compile, rank=world.rank,
                      world=world.size)
    G = trainer.G
    saved = _load_checkpoint(ckpt_path, identity, say, set_aside=world.main)
    step, validations, rng = 0, Validations(), None
    if saved is not None:
        trainer.load_state(saved)
        rng = saved["rng"]
        step, validations = saved["step"], Validations(**saved["validations"])
        say(f"train: resuming from {ckpt_path} at step {step}")
    resumed_from = step
    del saved

    per_step = trainer.batches_per_step
    sampler = ClipBatches(len(dataset), tp.batch_size, tp.seed, step * per_step * tp.batch_size,
                          world.rank, world.size)
    loader = iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=tp.workers,
                                              persistent_workers=tp.workers > 0,
                                              pin_memory=world.device.type == "cuda"))
    val_batches = _validation_batches(Path(data_dir) / "val.h5", tp.batch_size, tp.val_batches) if world.main else []
    live = _Live(live_dir if world.main else None, resume=resumed_from > 0)
    last = tp.steps if until_step is None else min(until_step, tp.steps)
    baseline = validation_psnr(G, val_batches, world.device, last_frame=True) if world.main else float("nan")
    checked = step  # losses are known finite up to this step
    bar = tqdm(total=tp.steps, initial=step, desc="train", unit="step", disable=not (progress and world.main))
    if rng is not None:
        # Restored last: starting the loader above draws from torch's generator, which the
        # interrupted run did before its first step, not at this one (WGAN-GP's interpolates use it).
        _set_rng_state(rng, world.device)

    def check_finite() -> None:
        if trainer.nonfinite.item():
            kept = f"{ckpt_path} keeps step {checked}" if ckpt_path.exists() else "no checkpoint was written"
            raise TrainingError(
                f"a loss became NaN or infinite between steps {checked + 1} and {step}; training stopped "
                f"and {kept} (lower train.lr_g / train.lr_d, now {tp.lr_g:g} / {tp.lr_d:g})")

    try:
        while step < last:
            batches = [next(loader).to(world.device, non_blocking=True) for _ in range(per_step)]
            logged = trainer.step(step, batches)
            step += 1
            bar.update(1)
            at_checkpoint = step % tp.checkpoint_every == 0 or step == last
            if step % tp.log_every == 0 or at_checkpoint:
                check_finite()
                checked = step
                values = {name: float(v) for name, v in logged.items()}
                live.metrics(step, values)
                postfix = {"G": f"{values['train/loss_g']:.4f}"}
                if trainer.adversarial:  # D's loss and its measures (accuracy, critic distance, ...)
                    postfix["D"] = f"{values['train/loss_d']:.3f}"
                    postfix.update({name: f"{values[f'train/{name}']:.2f}" for name in trainer.d_measures})
                bar.set_postfix(postfix)
            if world.main and val_batches and (step % tp.val_every == 0 or step == tp.steps):
                validations.add(step, validation_psnr(G, val_batches, world.device), G)
                live.metrics(step, {"val/psnr": validations.last_psnr, "val/psnr_last_frame": baseline})
            if world.main and val_batches and (step % tp.image_every == 0 or step == tp.steps):
                live.image(f"predictions/step{step:06d}.png", prediction_grid(G, val_batches[0], world.device))
            if at_checkpoint and world.main:
                _save(ckpt_path, {"format": CHECKPOINT_FORMAT, **identity, "step": step,
                                  "position": step * per_step * tp.batch_size, **trainer.state(),
                                  "rng": _rng_state(world.device), "validations": asdict(validations)})
        val_step, val_psnr, weights = validations.kept(tp.keep if step == tp.steps else "last")
        if step == tp.steps and world.main:
            _save(Path(out_dir) / GENERATOR, generator_file(G, weights))
    finally:
        bar.close()
        live.end()
    if world.size > 1:
        dist.barrier()  # process 0 has written its files when the others return
        dist.destroy_process_group()
    summary = {"step": step, "resumed_from": resumed_from, "val_psnr": val_psnr if math.isfinite(val_psnr) else None,
               "val_step": val_step, "kept": tp.keep, "val_psnr_last_frame": baseline}
    if step == tp.steps:
        say(verdict(summary))
    return summary
