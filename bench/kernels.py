"""Times the native ops against the reference, eager and compiled, forward + backward.

In one process, on the same inputs: median wall time of repeats for
  native      pyext (torch.ops.beyondmse kernels)
  eager       pyext.reference
  compiled    torch.compile(pyext.reference)
and the speed-up ratios. Bandwidth-bound cases (GDL, each pyramid op alone) also report the
achieved bandwidth (the minimum bytes: each input read once, each output written once) as a
fraction of a copy measured in the same run; the structure loss, bound by arithmetic, reports its
time against that of the matrix products its GEMM form amounts to (torch.mm at the same shapes).
float32 and bfloat16 cases (and float16 on CUDA); pyramid inputs at least 4x the L2 cache (GPU) or
last-level cache (CPU).

    python -m bench.kernels                 # sizes of the targets (CPU, or CUDA when present)
    python -m bench.kernels --quick         # small sizes, a few seconds
    python -m bench.kernels --only gdl      # the cases whose name contains "gdl"
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

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


def copy_bandwidth(device: torch.device, nbytes: int, repeats: int) -> tuple[float, float]:
    """Bytes per second of a copy (read + write) of ``nbytes`` within the device's memory: into an
    existing tensor (the roofline), and into a new one, as an op returning its output does (on the
    CPU, a fresh block this large comes from mmap and its pages are faulted in on first write)."""
    src = torch.empty(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    times = median_times({"copy": lambda: dst.copy_(src), "new": src.clone}, device, repeats)
    return 2 * nbytes / times["copy"], 2 * nbytes / times["new"]


def cache_bytes(device: torch.device) -> int:
    """The cache the pyramid cases must outgrow: the GPU's L2, or the CPU's last-level cache."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).L2_cache_size
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        text = (index / "size").read_text().strip()
        sizes.append(int(text[:-1]) * {"K": 1 << 10, "M": 1 << 20}[text[-1]] if text[-1] in "KM" else int(text))
    return max(sizes, default=32 << 20)


class Case:
    """One benchmark: a step built on an implementation of the ops, timed for each implementation
    in ``impls`` (a subset of native, eager, compiled). ``min_bytes`` (input read once, output
    written once) gives the achieved bandwidth; ``matmul`` (a function of the inputs) times the
    matrix products the step's arithmetic amounts to, the yardstick of the structure loss."""

    def __init__(self, name: str, make_inputs: Callable[[], tuple], step: Callable, min_bytes: int | None,
                 impls=("native", "eager", "compiled"), matmul: Callable | None = None):
        self.name, self.make_inputs, self.step, self.min_bytes = name, make_inputs, step, min_bytes
        self.impls, self.matmul = impls, matmul


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def gdl_case(shape, device, dtype) -> Case:
    gen = torch.Generator(device).manual_seed(0)

    def make_inputs():
        pred = torch.rand(shape, device=device, generator=gen).to(dtype).requires_grad_()
        return pred, torch.rand(shape, device=device, generator=gen).to(dtype)

    def step(impl, pred, target):
        pred.grad = None
        impl.gdl_loss(pred, target).backward()

    elems = torch.Size(shape).numel()
    # 5 passes: the forward reads pred and target; the backward reads both and writes pred's
    # gradient (the target needs none, so none is computed).
    return Case(f"gdl_loss fwd+bwd {tuple(shape)} {_name(dtype)}", make_inputs, step, 5 * elems * dtype.itemsize)


def pyramid_op_cases(shape, device, dtype) -> list[Case]:
    """Each pyramid op alone on (..., H, W) = shape: bytes = its input + its output."""
    gen = torch.Generator(device).manual_seed(1)
    h, w = shape[-2:]
    small = (*shape[:-2], (h + 1) // 2, (w + 1) // 2)
    ops = torch.ops.beyondmse

    def rand(s):
        return lambda: (torch.rand(s, device=device, generator=gen).to(dtype),)

    def nbytes(*shapes):
        return sum(torch.Size(s).numel() for s in shapes) * dtype.itemsize

    tag = f"{_name(dtype)}"
    forward = [
        Case(f"pyr_down {tuple(shape)} {tag}", rand(shape), lambda impl, x: impl.pyr_down(x), nbytes(shape, small)),
        Case(f"pyr_up {tuple(small)} {tag}", rand(small), lambda impl, x: impl.pyr_up(x, (h, w)), nbytes(small, shape)),
    ]
    return forward + [
        # The adjoints have no reference of their own (autograd differentiates the reference).
        Case(f"pyr_down_backward {tuple(small)} {tag}", rand(small),
             lambda impl, g: ops.pyr_down_backward(g, h, w), nbytes(small, shape), impls=("native",)),
        Case(f"pyr_up_backward {tuple(shape)} {tag}", rand(shape),
             lambda impl, g: ops.pyr_up_backward(g, (h + 1) // 2, (w + 1) // 2), nbytes(shape, small),
             impls=("native",)),
    ]


def laplacian_case(shape, levels, device, dtype) -> Case:
    """The composite users run: a Laplacian pyramid and its reconstruction, forward + backward."""
    gen = torch.Generator(device).manual_seed(1)

    def make_inputs():
        x = torch.rand(shape, device=device, generator=gen).to(dtype).requires_grad_()
        return x, torch.rand(shape, device=device, generator=gen).to(dtype)

    def step(impl, x, grad):
        x.grad = None
        impl.laplacian_reconstruct(impl.laplacian_pyramid(x, levels)).backward(grad)

    return Case(f"laplacian {levels} levels + reconstruct fwd+bwd {tuple(shape)} {_name(dtype)}", make_inputs, step,
                None)


def structure_case(n, x_shape, d, device, dtype) -> Case:
    gen = torch.Generator(device).manual_seed(2)
    features = torch.Size(x_shape).numel()

    def make_inputs():
        x = torch.rand((n, *x_shape), device=device, generator=gen).to(dtype).requires_grad_()
        return x, torch.rand((n, d), device=device, generator=gen).to(dtype).requires_grad_()

    def step(impl, x, z):
        x.grad = z.grad = None
        impl.structure_loss(x, z).backward()

    # The products of the GEMM form at the same shapes, in float32 (the kernels' compute dtype):
    # X X^T and S X for x (N, features) and for z (N, d).
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    mats = [torch.rand(n, k, device=device, generator=gen, dtype=compute) for k in (features, d)]
    sym = torch.rand(n, n, device=device, generator=gen, dtype=compute)

    def matmul():
        for m in mats:
            torch.mm(m, m.t())
            torch.mm(sym, m)

    return Case(f"structure_loss fwd+bwd N={n} x={tuple(x_shape)} z={d} {_name(dtype)}", make_inputs, step, None,
                matmul=matmul)


class Compiled:
    """torch.compile'd reference functions, compiled once per benchmark case."""

    def __init__(self):
        self.gdl_loss = torch.compile(reference.gdl_loss)
        self.pyr_down = torch.compile(reference.pyr_down)
        self.pyr_up = torch.compile(reference.pyr_up)
        self.laplacian_pyramid = torch.compile(reference.laplacian_pyramid)
        self.laplacian_reconstruct = torch.compile(reference.laplacian_reconstruct)
        self.structure_loss = torch.compile(reference.structure_loss)


def _dtypes(device: torch.device) -> list[torch.dtype]:
    return [torch.float32, torch.bfloat16] + ([torch.float16] if device.type == "cuda" else [])


def cases(device: torch.device, quick: bool) -> list[Case]:
    if quick:
        dtype = torch.float32
        return [gdl_case((4, 3, 64, 64), device, dtype), *pyramid_op_cases((4, 3, 64, 64), device, dtype),
                laplacian_case((4, 3, 64, 64), 4, device, dtype), structure_case(32, (3, 16, 16), 64, device, dtype)]
    # Pyramid inputs of at least 4x the cache (GPU L2, CPU last level), so DRAM bandwidth is measured.
    cache = cache_bytes(device)
    if device.type == "cuda":
        gdl, lap, structure = (64, 3, 512, 512), (64, 12, 512, 512), (1024, (3, 64, 64), 512)
    else:
        gdl, lap, structure = (16, 3, 256, 256), (16, 12, 256, 256), (256, (3, 64, 64), 512)
    out = []
    for dtype in _dtypes(device):
        images = max(1, -(-4 * cache // (1024 * 1024 * dtype.itemsize)))
        out += [gdl_case(gdl, device, dtype), *pyramid_op_cases((images, 1024, 1024), device, dtype)]
        if dtype == torch.float32:
            out.append(laplacian_case(lap, 4, device, dtype))
        out.append(structure_case(structure[0], structure[1], structure[2], device, dtype))
    return out


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


def _time_budgeted(fns: dict[str, Callable[[], object]], device: torch.device, repeats: int,
                   budget_s: float) -> dict[str, float]:
    """median_times with fewer repeats (at least 3) where the slowest function would pass budget_s."""
    start = time.perf_counter()
    for fn in fns.values():
        fn()
    _sync(device)
    once = time.perf_counter() - start
    return median_times(fns, device, max(3, min(repeats, int(budget_s / max(once, 1e-9)))), warmup=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats per implementation (median)")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds per case: slow cases get fewer repeats (at least 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile(reference)")
    parser.add_argument("--only", default="", metavar="TEXT", help="only the cases whose name contains TEXT")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"machine: {describe_machine(device)}; cache the pyramid cases outgrow 4x: "
          f"{cache_bytes(device) / 2**20:.0f} MiB")
    copy_bw, new_bw = copy_bandwidth(device, 1 << (30 if device.type == "cuda" else 28), args.repeats)
    print(f"copy bandwidth (read + write): {copy_bw / 1e9:.1f} GB/s into an existing tensor, "
          f"{new_bw / 1e9:.1f} GB/s into a new one")
    print("| case | native ms | eager ms | compiled ms | native vs eager | native vs compiled | native GB/s "
          "| of copy | matmul ms | native / matmul |")
    print("|" + "---|" * 10)
    for case in cases(device, args.quick):
        if args.only not in case.name:
            continue
        inputs = case.make_inputs()
        impls = {"native": pyext, "eager": reference}
        if not args.no_compile:
            impls["compiled"] = Compiled()
        fns = {name: (lambda impl=impl: case.step(impl, *inputs)) for name, impl in impls.items()
               if name in case.impls}
        if case.matmul is not None:
            fns["matmul"] = case.matmul
        times = _time_budgeted(fns, device, args.repeats, args.budget / len(fns))

        def ms(name):
            return f"{times[name] * 1e3:.2f}" if name in times else "-"

        def ratio(name):
            return f"{times[name] / times['native']:.2f}x" if name in times else "-"

        row = [case.name, ms("native"), ms("eager"), ms("compiled"), ratio("eager"), ratio("compiled")]
        if case.min_bytes is not None:
            bw = case.min_bytes / times["native"]
            row += [f"{bw / 1e9:.1f}", f"{bw / copy_bw:.0%}"]
        else:
            row += ["-", "-"]
        row += [ms("matmul"), f"{times['native'] / times['matmul']:.2f}" if "matmul" in times else "-"]
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
