"""The training loop: one run of the family's training step (:mod:`.steps`) over the training
clips, with validation, pictures, dvclive logging and checkpoints.

The run is a pure function of the params, the training data, the code and the step reached: the
order of the clips is drawn per epoch from ``train.seed`` and indexed by the number of clips
consumed, so a run resumed from a checkpoint continues exactly where the interrupted one was (on the
CPU, it ends with the same weights bit for bit). A checkpoint of other params, data or code is
never resumed from: it is moved to ``stale/`` beside it, and the run starts afresh. Distributed
runs (``torchrun``) split every batch across the processes and average gradients
(DistributedDataParallel); process 0 logs and saves.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from ..commands import Interrupted
from ..config import DOMAIN_KEYS, FAMILIES, Params, ParamsError
from ..data.dataset import ClipDataset, check_classes, store_domains
from ..data.store import StoreError, check_clips
from ..files import DataFiles, RunFiles, file_digest
from ..losses.conditioning import CONDITIONS, manifest_classes
from ..models import generator_file, load_generator
from .checkpoints import (
    CHECKPOINT_FORMAT,
    code_hash,
    load_checkpoint,
    params_hash,
    rng_state,
    save,
    set_rng_state,
)
from .data import ClipBatches, DomainBatches
from .live import Live
from .steps import TrainingStep, make_step
from .validation import (FRAME_MEASURES, FrameClips, Validations, frame_clips, frame_psnrs, validation_batches,
                         verdict)

if TYPE_CHECKING:  # imported where a run measures one (set_up): a predictor's stages run none of its code
    from .distances import GeneratorDistances


class TrainingError(RuntimeError):
    """Training cannot go on (a loss became NaN or infinite, a starting generator that does not
    fit); the message is one line."""


def start_from(model: torch.nn.Module, path: Path, key: str | None = None) -> None:
    """Sets ``model``'s weights to those of the generator file ``path``: one of the same family and
    config (frame counts, scales, width, classes, ...), whatever patch size it was trained on (the
    generator is fully convolutional; its config holds no patch size). ``key``: the params key
    that named the file (``train.init``), for the errors; None: the train stage's own generator.

    Raises:
        TrainingError: the file is not a generator, or one of another architecture.
    """
    where = f"params.yaml: {key}: " if key else ""
    try:
        saved = load_generator(path)
    except (FileNotFoundError, ValueError) as exc:
        raise TrainingError(f"{where}{exc}") from None
    mine, theirs = model.config(), saved.config()
    differ = sorted(k for k in mine if mine[k] != theirs.get(k))
    if saved.family != model.family or differ:
        what = ", ".join(f"{k} {theirs.get(k)} (params: {mine[k]})" for k in differ) or f"family {saved.family}"
        raise TrainingError(f"{where}{path} is a generator of another architecture ({what})" if key
                            else f"{path} does not fit the params ({what}): rerun train")
    model.load_state_dict(saved.state_dict())


def _next_batch(loader) -> list[torch.Tensor]:
    """The loader's next batch. An unreadable clip raised in a DataLoader worker process arrives
    with the worker's traceback in its message; the stage reports one line, the error's own."""
    try:
        return next(loader)
    except StoreError as exc:
        raise StoreError(str(exc).strip().splitlines()[-1].removeprefix(f"{StoreError.__module__}.StoreError: ")) from None


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


def machine(device: torch.device) -> dict:
    """What a run's weights depend on besides its params, data and code (measured by
    ``experiments/determinism.py``): the torch build; the instruction set the CPU kernels use (oneDNN's
    convolutions and MKL's matrix products take the widest the CPU has, as ATen's kernels do, whose
    level ``cpu_capability`` reports; ``ONEDNN_MAX_CPU_ISA`` and ``MKL_CBWR`` override the first
    two); the number of intra-op threads; on a GPU, its name."""
    info = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads()}
    info.update({name: os.environ[name] for name in ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR") if name in os.environ})
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def world_of(device: str) -> World:
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


@dataclass
class Run:
    """A run set up and ready to train (:func:`set_up`): its params, files, step and its parts."""

    params: Params
    world: World
    run: RunFiles
    stage: str
    trainer: TrainingStep
    identity: dict  # the checkpoint's identity: params, data and code hashes, the resolved precision
    step: int  # the step reached (where it resumes)
    resumed_from: int
    validations: Validations
    seconds: float  # training wall time of its earlier parts (a resumed run's)
    loader: Iterator
    val_batches: list
    baseline: float | None  # the validation PSNR of the trivial answer (None: none, or no clips)
    frames: FrameClips  # the full-frame validation clips (none: not a predictor, or no data/val_frames.h5)
    frames_baseline: dict[str, float]  # their PSNRs of copying the last frame, by measure
    live: Live
    last: int  # the step it stops after
    rng: dict | None  # the checkpoint's random state, restored just before the first step
    # A generator from noise's FID and KID on the validation patches (None: not one, or not measured).
    distances: GeneratorDistances | None = None


def set_up(params: Params, data: DataFiles, run: RunFiles, until_step: int | None = None,
           start: Path | None = None, manifest: Path | None = None, stage: str = "train",
           val_frames: Path | None = None) -> Run:
    """Checks what the run needs, builds the family's training step and resumes it from
    ``run.checkpoint`` where that continues this run (any other is moved aside); opens the data
    and the logs. Arguments as :func:`train`'s."""
    tp = params.train
    world = world_of(tp.device)
    if tp.batch_size % world.size:
        raise ParamsError("params.yaml", "train.batch_size",
                          f"expected a multiple of the {world.size} processes, got {tp.batch_size}")
    say = _say(world)
    dataset = ClipDataset(data.train, labels=True)  # a missing or foreign file stops here, with its name
    clips_wanted = (params.clip.train_frames, params.clip.patch, "clip.input_frames + clip.output_frames, clip.patch")
    check_clips(data.train, dataset.clip_shape, *clips_wanted)
    if not len(dataset):
        raise TrainingError(f"{data.train} holds no training clips (see {data.filter_report}: "
                            f"filter.min_motion may keep none)")
    if tp.batch_size > len(dataset):
        raise ParamsError("params.yaml", "train.batch_size",
                          f"expected at most the {len(dataset)} training clips of {data.train}, got {tp.batch_size}")
    manifest = data.manifest if manifest is None else manifest
    domains = None
    if FAMILIES[params.model.family].domains:
        # A translator learns from unpaired batches of two domains: its clips' labels are their domains.
        domains = store_domains(data.train, manifest)
        dataset.labels = torch.from_numpy(domains.astype(np.int64))
        for domain, key in enumerate(DOMAIN_KEYS):
            held = int(np.count_nonzero(domains == domain))
            if tp.batch_size > held:
                raise ParamsError("params.yaml", "train.batch_size",
                                  f"expected at most the {held} training clips of domain {'AB'[domain]} ({key}: "
                                  f"{params.value(key)}) in {data.train}, got {tp.batch_size}")
    for rate in ("lr_g", "lr_d"):
        if getattr(tp, f"{rate}_final") > getattr(tp, rate):
            say(f"train: train.{rate}_final ({getattr(tp, f'{rate}_final'):g}) is above train.{rate} "
                f"({getattr(tp, rate):g}): the rate rises over the run")
    # The fine-tuning stage's starting generator is the train stage's; a run's own is train.init's.
    key = None
    if start is None and tp.init:
        start, key = Path(tp.init), "train.init"
    # The starting generator is part of the data: a retrained or replaced one starts the run afresh.
    data_hash = file_digest(data.train) + (f"+{file_digest(start)}" if start is not None else "")
    identity = {"params_hash": params_hash(params), "data_hash": data_hash, "code_hash": code_hash(stage)}
    classes = 0
    if CONDITIONS[params.model.condition].needs_classes:
        classes = len(manifest_classes(manifest))
        check_classes(dataset.labels.numpy(), classes, data.train, manifest)

    trainer = make_step(params, world.device, distributed=world.size > 1, compile=tp.compile, rank=world.rank,
                        world=world.size, classes=classes)
    # train.precision: auto resolves per machine: a run never resumes across a change of it.
    identity["dtype"] = str(trainer.dtype).removeprefix("torch.")
    saved = load_checkpoint(run, identity, say, move_aside=world.main)
    step, validations, rng, seconds = 0, Validations(), None, 0.0
    if saved is not None:
        trainer.load_state(saved)
        rng = saved["rng"]
        step, validations = saved["step"], Validations(**saved["validations"])
        seconds = saved.get("seconds", 0.0)
        say(f"{stage}: resuming from {run.checkpoint} at step {step}")
    elif start is not None:
        start_from(trainer.model, start, key)
    del saved

    position = step * trainer.batches_per_step * tp.batch_size
    sampler = ClipBatches(len(dataset), tp.batch_size, tp.seed, position, world.rank, world.size) if domains is None \
        else DomainBatches(domains, tp.batch_size, tp.seed, position, world.rank, world.size)
    loader = iter(torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=tp.workers,
                                              persistent_workers=tp.workers > 0,
                                              pin_memory=world.device.type == "cuda"))
    # A translator is not validated: its pictures show the step's unpaired training batch.
    val_batches = validation_batches(data.val, tp.batch_size, tp.val_batches, clips_wanted) \
        if world.main and domains is None else []
    live = Live(run if world.main else None, resume_step=step)
    live.validation_table()  # a declared output, also where no validation runs (no val.h5 clips)
    live.summary("machine", machine(world.device))
    # None without validation clips (a tiny set: data/val.h5 may hold none): nothing is compared.
    baseline = trainer.baseline(val_batches) if val_batches and trainer.validates else None
    frames = FrameClips([], [], [], [])
    if world.main and val_batches and trainer.predictor is not None:
        frames = frame_clips(val_frames or data.val_frames, trainer.predictor, tp.val_clips,
                             params.evaluate.flow_threshold)
    frames_baseline = frame_psnrs(trainer.predictor, frames, world.device, last_frame=True) if len(frames) else {}
    distances = None
    if world.main and trainer.generator is not None:
        # Imported here: a predictor's stages (train, finetune) then run none of the evaluation's
        # extractor code, and dvc.yaml's deps name it for the train stage alone.
        from .distances import generator_distances
        distances = generator_distances(params, trainer.generator, val_batches, world.device, say, stage)
    last = tp.steps if until_step is None else min(until_step, tp.steps)
    return Run(params, world, run, stage, trainer, identity, step, step, validations, seconds, loader, val_batches,
               baseline, frames, frames_baseline, live, last, rng, distances)


def _logged(scores: dict[str, float], baseline: float | None, frames_baseline: dict[str, float]) -> dict:
    """A validation's dvclive metrics: ``val/psnr`` (the patches) and ``val/frames_<measure>``, each
    beside copying the last frame's (``..._last_frame``); a measure without a value (no clip moves)
    is left out."""
    logged = {"val/psnr": scores["patches"]} | ({"val/psnr_last_frame": baseline} if baseline is not None else {})
    for name in FRAME_MEASURES:
        if math.isfinite(scores.get(name, math.nan)):
            logged |= {f"val/frames_{name}": scores[name], f"val/frames_{name}_last_frame": frames_baseline[name]}
    return logged


def _finite(scores: dict[str, float | None]) -> dict[str, float | None]:
    """``scores`` with None for a missing or non-finite value (JSON has no NaN)."""
    return {k: v if v is not None and math.isfinite(v) else None for k, v in scores.items()}


def _say(world: World):
    return tqdm.write if world.main else (lambda _: None)


def run_steps(r: Run, progress: bool = True) -> dict:
    """Trains ``r`` from its step to its last: the family's steps, with the losses checked and
    logged, validations, pictures and checkpoints; writes the generator at ``train.steps``.
    Returns :func:`train`'s summary."""
    tp, world, trainer, step = r.params.train, r.world, r.trainer, r.step
    per_step, ckpt_path = trainer.batches_per_step, r.run.checkpoint
    checked = step  # losses are known finite up to this step
    bar = tqdm(total=tp.steps, initial=step, desc=r.stage, unit="step", disable=not (progress and world.main))
    if r.rng is not None:
        # Restored last: starting the loader draws from torch's generator, which the interrupted
        # run did before its first step, not at this one (WGAN-GP's interpolates use it).
        set_rng_state(r.rng, world.device)

    def check_finite() -> None:
        if trainer.nonfinite.item():
            kept = f"{ckpt_path} keeps step {checked}" if ckpt_path.exists() else "no checkpoint was written"
            raise TrainingError(
                f"a loss became NaN or infinite between steps {checked + 1} and {step}; training stopped "
                f"and {kept} (lower train.lr_g / train.lr_d, now {tp.lr_g:g} / {tp.lr_d:g})")

    # Training wall time, logged as train/seconds: the checkpoint carries it, so a resumed run
    # counts the time its earlier parts trained (not the time it lay interrupted).
    started = time.perf_counter() - r.seconds
    began = time.perf_counter()  # this invocation's own time, for its rate
    saved = r.step if ckpt_path.exists() else None  # the step the checkpoint on disk holds
    try:
        if r.distances is not None and step == 0 < r.last:  # the untrained generator: where the curve starts
            r.live.metrics(0, r.distances.measure(0, trainer.generator))
        while step < r.last:
            drawn = [_next_batch(r.loader) for _ in range(per_step)]
            batches = [clips.to(world.device, non_blocking=True) for clips, _ in drawn]
            labels = [kinds.to(world.device, non_blocking=True) for _, kinds in drawn]
            logged = trainer.step(step, batches, labels)
            step += 1
            bar.update(1)
            at_checkpoint = step % tp.checkpoint_every == 0 or step == r.last
            if step % tp.log_every == 0 or at_checkpoint:
                check_finite()
                checked = step
                values = {name: float(v) for name, v in logged.items()}
                values["train/seconds"] = time.perf_counter() - started
                r.live.metrics(step, values)
                bar.set_postfix(_postfix(trainer, values))
            validating = world.main and r.val_batches and trainer.validates
            if validating and (step % tp.val_every == 0 or step == tp.steps):
                scores = {"patches": trainer.validate(r.val_batches)}
                if len(r.frames):
                    scores |= frame_psnrs(trainer.predictor, r.frames, world.device)
                r.validations.add(step, scores, trainer.model)
                r.live.metrics(step, _logged(scores, r.baseline, r.frames_baseline))
                r.live.validation_table()
            if r.distances is not None and (step % tp.val_every == 0 or step == tp.steps):
                r.live.metrics(step, r.distances.measure(step, trainer.generator))
            if world.main and (step % tp.image_every == 0 or step == tp.steps):
                # Validation clips, or without any the step's training clips: the pictures (a DVC
                # output) exist whatever the set's size.
                shown = r.val_batches[0] if r.val_batches else (batches[-1], labels[-1])
                for name, picture in trainer.pictures(shown).items():
                    r.live.image(f"{name}/step{step:06d}.png", picture)
            if at_checkpoint and world.main:
                save(ckpt_path, {"format": CHECKPOINT_FORMAT, **r.identity, "step": step,
                                  "position": step * per_step * tp.batch_size, **trainer.state(),
                                  "rng": rng_state(world.device), "validations": asdict(r.validations),
                                  "seconds": time.perf_counter() - started})
                saved = step
        val_step, val_scores, weights = r.validations.kept(tp.keep if step == tp.steps else "last", step)
        if step == tp.steps and world.main:
            save(r.run.generator, generator_file(trainer.model, weights) | trainer.saved_beside())
            # What the verdict compares, in the run's summary (dvclive/metrics.json) for studies to read.
            r.live.summary("kept", {"step": val_step, "keep": tp.keep, "clips": len(r.frames),
                                    "scores": _finite(val_scores),
                                    "last_frame": _finite({"patches": r.baseline, **r.frames_baseline})})
    except KeyboardInterrupt:
        kept = f"{ckpt_path} keeps step {saved}; rerun to go on" if saved is not None else "no checkpoint was written"
        raise Interrupted(f"interrupted at step {step}; {kept}") from None
    finally:
        bar.close()
        r.live.end()
    if world.size > 1:
        dist.barrier()  # process 0 has written its files when the others return
        dist.destroy_process_group()
    val_psnr = val_scores.get("patches", math.nan)
    summary = {"step": step, "resumed_from": r.resumed_from, "seconds": time.perf_counter() - began,
               "val_psnr": val_psnr if math.isfinite(val_psnr) else None, "val_step": val_step, "kept": tp.keep,
               "val_psnr_last_frame": r.baseline, "val_clips": len(r.frames),
               "val_frames": {k: val_scores[k] for k in FRAME_MEASURES if k in val_scores} or None,
               "val_frames_last_frame": r.frames_baseline or None}
    if step == tp.steps and trainer.validates:
        _say(world)(verdict(summary, r.stage))
    elif step == tp.steps:
        _say(world)(r.distances.said(r.stage) if r.distances is not None else
                    f"{r.stage}: model.family: {r.params.model.family} is not validated during training (no "
                    f"validation PSNR for {trainer.model.trains}); the evaluate stage measures it")
    return summary


def rate(summary: dict) -> str:
    """What a training command says last: the steps this invocation trained, in how long, how fast."""
    steps, seconds = summary["step"] - summary["resumed_from"], summary["seconds"]
    return f"{steps} steps in {seconds:.1f} s ({steps / seconds:.2f} steps/s)" if steps else \
        f"no step left to train ({seconds:.1f} s)"


def _postfix(trainer: TrainingStep, values: dict[str, float]) -> dict[str, str]:
    """What the progress bar shows: G's loss; D's and its measures (accuracy, critic distance, ...);
    each where the step logged it (IcGAN's encoder updates log neither loss: their measures instead)."""
    postfix = {"G": f"{values['train/loss_g']:.4f}"} if "train/loss_g" in values else {}
    if trainer.adversarial and "train/loss_d" in values:
        postfix["D"] = f"{values['train/loss_d']:.3f}"
    postfix.update({name: f"{values[f'train/{name}']:.2f}" for name in trainer.d_measures if f"train/{name}" in values})
    return postfix


def train(params: Params, data: DataFiles, run: RunFiles, until_step: int | None = None, progress: bool = True,
          start: Path | None = None, manifest: Path | None = None, stage: str = "train",
          val_frames: Path | None = None) -> dict:
    """Trains (or resumes training) and writes ``run.generator``: :func:`set_up`, then :func:`run_steps`.

    Args:
        params: the validated params (the sections the family reads, and ``train``).
        data: ``data.train`` and ``data.val`` are the training and validation clips (and
            ``data.manifest``, whose class list a class-conditioned model reads).
        run: gets ``run.checkpoint`` (every ``train.checkpoint_every`` steps and at the end) and
            ``run.generator`` (at the end), dvclive logs in ``run.live`` (None: no logging). A
            checkpoint there of the same params, data and code is resumed from; any other is moved
            to ``run.stale`` first.
        until_step: stop after this step with a checkpoint (a time slice of a longer run), without
            writing the generator; None runs to ``train.steps``.
        progress: show a progress bar.
        start: a generator file whose weights the generator starts from (the fine-tuning stage's:
            the train stage's generator); the other networks start afresh. None: ``train.init``'s
            file where it names one, else every network starts from ``train.seed``'s random weights.
        manifest: the data set's manifest (default: ``data.manifest``).
        stage: the DVC stage whose code deps identify the run's code (:func:`.checkpoints.code_hash`).
        val_frames: the full-frame validation clips (default: ``data.val_frames``; the fine-tuning
            stage's are the train stage's, ``data/val_frames.h5``).
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
    return run_steps(set_up(params, data, run, until_step, start, manifest, stage, val_frames), progress)
