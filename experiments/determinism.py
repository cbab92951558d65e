"""Which machine settings change training: the first steps of the demo run (``params.yaml`` on
``data/train.h5``) under different CPU kernel choices and thread counts, each in its own process,
compared weight for weight with the run under this machine's defaults.

The settings tried are what differs between two x86-64 machines with the same torch: the widest
vector instructions ATen's kernels dispatch to (``ATEN_CPU_CAPABILITY``), the ones oneDNN's
convolutions are generated for (``ONEDNN_MAX_CPU_ISA``), MKL's code path (``MKL_CBWR``) and the
number of intra-op threads. A setting that changes a weight's bits changes the run.

    python -m experiments.determinism           # 20 steps under each setting
    python -m experiments.determinism --steps 5
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SETTINGS: dict[str, dict[str, str]] = {
    "defaults": {},
    "ATEN_CPU_CAPABILITY=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "ONEDNN_MAX_CPU_ISA=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "MKL_CBWR=AVX2": {"MKL_CBWR": "AVX2"},
    "MKL_CBWR=COMPATIBLE": {"MKL_CBWR": "COMPATIBLE"},
    "1 thread": {"DETERMINISM_THREADS": "1"},
    "ONEDNN_MAX_CPU_ISA=AVX2, MKL_CBWR=AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
}


def child(steps: int, out: Path) -> None:
    """Trains ``steps`` steps in this process and writes the generator's weights to ``out``."""
    import torch

    from pyext.config import parse_params
    from pyext.training import train

    if "DETERMINISM_THREADS" in os.environ:
        torch.set_num_threads(int(os.environ["DETERMINISM_THREADS"]))
    raw = yaml.safe_load(Path("params.yaml").read_text())
    raw["train"].update(steps=steps, val_every=steps, image_every=steps, checkpoint_every=steps, log_every=steps)
    params = parse_params(raw, "params.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        train(params, Path("data"), Path(tmp), None, progress=False)
        seconds = time.perf_counter() - started
        state = torch.load(Path(tmp) / "checkpoint.pt", map_location="cpu", weights_only=True)
    weights = dict(state["generator"])
    torch.save(weights, out)
    print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                      "seconds": seconds}))


def main(argv: list[str] | None = None, prog: str = "python -m experiments.determinism") -> None:
    """Prints the table of settings against the defaults' weights (``argv``: None, the command line's)."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.steps, args.child)
        return
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, env in SETTINGS.items():
            path = Path(tmp) / f"{len(runs)}.pt"
            done = subprocess.run([sys.executable, "-m", "experiments.determinism", "--steps", str(args.steps),
                                   "--child", str(path)], env={**os.environ, **env}, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"determinism: {name} failed:\n{done.stderr[-2000:]}")
            runs[name] = (json.loads(done.stdout.strip().splitlines()[-1]), torch.load(path, weights_only=True))
        ref = runs["defaults"][1]
        print("| setting | ATen capability | threads | weights | max abs difference | seconds |\n|---|---|---|---|---|---|")
        for name, (info, weights) in runs.items():
            digest = hashlib.sha256(b"".join(weights[k].numpy().tobytes() for k in sorted(weights))).hexdigest()[:12]
            diff = max(float((weights[k] - ref[k]).abs().max()) for k in ref)
            print(f"| {name} | {info['capability']} | {info['threads']} | {digest} | {diff:.3g} | {info['seconds']:.1f} |")


if __name__ == "__main__":
    main()
