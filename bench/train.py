"""Training throughput: steps/s and samples/s of the default, the paper and the GAIA presets,
native ops against the reference ops (pyext.ops.reference_only: GAIA's structure loss and pyramid
steps, the predictor's GDL and pyramids), in one process on the same batches; on a GPU also eager
against torch.compile. And the data loader's rate on its own, to compare.

One step is what `dvc repro train` runs per step: for the predictor
(pyext.training.steps.multiscale.MultiScaleStep.step) a discriminator update on one batch, then a
generator update on the next, losses summed over the scales; for GAIA
(pyext.training.steps.gaia.GAIAStep.step) both autoencoders' updates from one forward pass.

On a GPU each preset runs in float32 and under bfloat16 autocast (the predictor's training mode
there), eager and compiled; every ratio is to the eager float32 step with the reference ops.

    python -m bench.train                  # presets: default (params.yaml), paper, gaia
    python -m bench.train --steps 5 --repeats 3 --presets gaia
    python -m bench.train --presets paper --batch 64
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

import pyext
from pyext.config import load_params
from pyext.data.dataset import ClipDataset
from pyext.ops import reference_only
from pyext.presets import preset_params
from pyext.training import TrainingStep, make_step


def loader_rate(path: Path, workers: int, batch_size: int = 8, batches: int = 200) -> float:
    """Samples per second a shuffled DataLoader over ``path`` delivers (after its first batch)."""
    loader = torch.utils.data.DataLoader(ClipDataset(path), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, persistent_workers=workers > 0)
    done, start = 0, None
    while done < batches * batch_size:
        for batch in loader:
            if start is None:  # worker start-up is not the steady rate
                start = time.perf_counter()
                continue
            done += len(batch)
            if done >= batches * batch_size:
                break
    return done / (time.perf_counter() - start)


def presets(path: str = "params.yaml"):
    """The presets the README documents: the default (``params.yaml``), the paper's
    (``configs/paper.yaml`` applied to it: Table 1 at full width, batch 8, 32x32 patches) and
    GAIA's (``configs/gaia.yaml``)."""
    return {"default": load_params(path), "paper": preset_params("configs/paper.yaml", path),
            "gaia": preset_params("configs/gaia.yaml", path)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(trainer: TrainingStep, batches: list[torch.Tensor], steps: int) -> float:
    """Seconds per step over ``steps`` steps (after one warm-up step)."""
    trainer.step(0, batches)
    _sync(trainer.device)
    start = time.perf_counter()
    for i in range(steps):
        trainer.step(i, batches)
    _sync(trainer.device)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default="data/train.h5", help="store the batches come from")
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=3, help="timings per configuration (median)")
    parser.add_argument("--presets", nargs="+", default=["default", "paper", "gaia"])
    parser.add_argument("--batch", type=int, default=0, help="clips per batch (0: each preset's train.batch_size)")
    args = parser.parse_args()
    if not pyext.native_available():
        raise SystemExit(f"the native ops are not built: {pyext.native_error()}")
    configurations = presets()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = ClipDataset(args.train)
    print(f"device: {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| preset | configuration | ms/step | steps/s | samples/s | vs eager reference ops |")
    print("|---|---|---|---|---|---|")
    for name in args.presets:
        p = configurations[name]
        if args.batch:
            p = replace(p, train=replace(p.train, batch_size=args.batch))
        b = p.train.batch_size
        # (label, compiled, reference ops, bfloat16 autocast); the first is every ratio's base.
        configs = [("eager, reference ops", False, True, False), ("eager, native ops", False, False, False)]
        if device.type == "cuda":
            configs = [(f"{label}, float32", *rest) for label, *rest in configs]
            configs += [(f"{mode}, {ops} ops, bf16 autocast", compiled, ops == "reference", True)
                        for mode, compiled in (("eager", False), ("compiled", True)) for ops in ("reference", "native")]
        trainers = {}
        for label, compiled, reference, mixed in configs:
            with reference_only() if reference else contextlib.nullcontext():
                trainers[label] = (make_step(p, device, compile=compiled, mixed_precision=mixed), reference)
        per_step = next(iter(trainers.values()))[0].batches_per_step  # batches a step consumes
        batches = [torch.stack([data[i] for i in range(k * b, (k + 1) * b)]).to(device) for k in range(per_step)]
        times = {label: [] for label, *_ in configs}
        for _ in range(args.repeats):  # round-robin, so every configuration sees the same machine
            for label, (trainer, reference) in trainers.items():
                with reference_only() if reference else contextlib.nullcontext():
                    times[label].append(time_steps(trainer, batches, args.steps))
        base = statistics.median(times[configs[0][0]])
        family = p.model.family
        width = getattr(p.model, family).width
        for label in times:
            t = statistics.median(times[label])
            print(f"| {name} ({family}, width {width:g}, batch {b}) | {label} | {t * 1e3:.1f} | {1 / t:.2f} | "
                  f"{b * per_step / t:.0f} | {base / t:.2f}x |", flush=True)
    print(f"\nData loader alone ({args.train}, batch 8, 2 workers): {loader_rate(Path(args.train), 2):.0f} samples/s; "
          "a predictor's step consumes two batches, GAIA's one.")


if __name__ == "__main__":
    main()
