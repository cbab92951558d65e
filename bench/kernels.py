"""Times the native ops against the reference, eager and compiled, forward + backward.

In one process, on the same inputs: median wall time of repeats for
  native      pyext (torch.ops.beyondmse kernels)
  eager       pyext.reference
  compiled    torch.compile(pyext.reference)
and the speed-up ratios. On CUDA it also reports the achieved bandwidth (the minimum bytes: each
input read once, each output written once) as a fraction of a device-to-device copy measured in
the same run.

    python -m bench.kernels                 # sizes of the targets (CPU, or CUDA when present)
    python -m bench.kernels --quick         # small sizes, a few seconds
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("BEYONDMSE_REQUIRE_NATIVE", "1")  # never time the reference against itself

import torch  # noqa: E402

import pyext  # noqa: E402
from pyext import reference  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_times(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                 warmup: int = 2) -> dict[str, float]:
    """Median seconds of each function, timed round-robin so that all see the same machine load."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def copy_bandwidth(device: torch.device, nbytes: int, repeats: int) -> float:
    """Bytes per second of a device-to-device copy (read + write) of ``nbytes``."""
    src = torch.empty(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    return 2 * nbytes / median_times({"copy": lambda: dst.copy_(src)}, device, repeats)["copy"]


class Case:
    """One benchmark: a forward+backward step built on an implementation of the ops."""

    def __init__(self, name: str, make_inputs: Callable[[], tuple], step: Callable, min_bytes: int, target: str):
        self.name, self.make_inputs, self.step, self.min_bytes, self.target = name, make_inputs, step, min_bytes, target


def gdl_case(shape, device, dtype) -> Case:
    gen = torch.Generator(device).manual_seed(0)

    def make_inputs():
        pred = torch.rand(shape, device=device, dtype=dtype, generator=gen).requires_grad_()
        return pred, torch.rand(shape, device=device, dtype=dtype, generator=gen)

    def step(impl, pred, target):
        pred.grad = None
        impl.gdl_loss(pred, target).backward()

    elems = torch.Size(shape).numel()
    # Forward reads pred and target; backward reads both and writes both gradients.
    return Case(f"gdl_loss {tuple(shape)}", make_inputs, step, 6 * elems * dtype.itemsize, "gdl")


def pyramid_case(shape, levels, device, dtype) -> Case:
    gen = torch.Generator(device).manual_seed(1)

    def make_inputs():
        x = torch.rand(shape, device=device, dtype=dtype, generator=gen).requires_grad_()
        return x, torch.rand(shape, device=device, dtype=dtype, generator=gen)

    def step(impl, x, grad):
        x.grad = None
        impl.laplacian_reconstruct(impl.laplacian_pyramid(x, levels)).backward(grad)

    elems = torch.Size(shape).numel()
    level_elems = sum(elems / 4**k for k in range(levels))
    # Pyramid: read x, write the levels; reconstruct: read the levels, write the image; the
    # backward moves the same bytes again.
    min_bytes = int(2 * (elems + 2 * level_elems + elems) * dtype.itemsize)
    return Case(f"laplacian {levels} levels + reconstruct {tuple(shape)}", make_inputs, step, min_bytes, "pyramid")


def structure_case(n, x_shape, d, device, dtype) -> Case:
    gen = torch.Generator(device).manual_seed(2)

    def make_inputs():
        x = torch.rand((n, *x_shape), device=device, dtype=dtype, generator=gen).requires_grad_()
        return x, torch.rand((n, d), device=device, dtype=dtype, generator=gen).requires_grad_()

    def step(impl, x, z):
        x.grad = z.grad = None
        impl.structure_loss(x, z).backward()

    elems = n * (torch.Size(x_shape).numel() + d)
    return Case(f"structure_loss N={n} x={tuple(x_shape)} z={d}", make_inputs, step, 2 * elems * dtype.itemsize,
                "structure")


class Compiled:
    """torch.compile'd reference functions, compiled once per benchmark case."""

    def __init__(self):
        self.gdl_loss = torch.compile(reference.gdl_loss)
        self.laplacian_pyramid = torch.compile(reference.laplacian_pyramid)
        self.laplacian_reconstruct = torch.compile(reference.laplacian_reconstruct)
        self.structure_loss = torch.compile(reference.structure_loss)


def cases(device: torch.device, quick: bool) -> list[Case]:
    dtype = torch.float32
    if quick:
        return [gdl_case((4, 3, 64, 64), device, dtype), pyramid_case((4, 3, 64, 64), 4, device, dtype),
                structure_case(32, (3, 16, 16), 64, device, dtype)]
    if device.type == "cuda":  # several times the L2 cache, so DRAM bandwidth is what is measured
        return [gdl_case((64, 3, 512, 512), device, dtype), pyramid_case((64, 12, 512, 512), 4, device, dtype),
                structure_case(1024, (3, 64, 64), 512, device, dtype)]
    return [gdl_case((16, 3, 256, 256), device, dtype), pyramid_case((16, 12, 256, 256), 4, device, dtype),
            structure_case(256, (3, 64, 64), 512, device, dtype)]


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats per implementation (median)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile(reference)")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"machine: {describe_machine(device)}")
    copy_bw = None
    if device.type == "cuda":
        copy_bw = copy_bandwidth(device, 1 << 30, args.repeats)
        print(f"device-to-device copy: {copy_bw / 1e9:.0f} GB/s")
    header = "| case | native ms | eager ms | compiled ms | native vs eager | native vs compiled |"
    if copy_bw:
        header += " native GB/s | of copy |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for case in cases(device, args.quick):
        inputs = case.make_inputs()
        impls = {"native": pyext, "eager": reference}
        if not args.no_compile:
            impls["compiled"] = Compiled()
        times = median_times({name: (lambda impl=impl: case.step(impl, *inputs)) for name, impl in impls.items()},
                             device, args.repeats)
        row = f"| {case.name} | {times['native'] * 1e3:.2f} | {times['eager'] * 1e3:.2f} | "
        row += f"{times['compiled'] * 1e3:.2f} | " if "compiled" in times else "- | "
        row += f"{times['eager'] / times['native']:.2f}x | "
        row += f"{times['compiled'] / times['native']:.2f}x |" if "compiled" in times else "- |"
        if copy_bw:
            bw = case.min_bytes / times["native"]
            row += f" {bw / 1e9:.0f} | {bw / copy_bw:.0%} |"
        print(row, flush=True)


if __name__ == "__main__":
    main()
