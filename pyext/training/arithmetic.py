"""How a training step computes: the precision of its networks (``train.precision``) and their
memory format (``train.channels_last``).

bfloat16 autocast pays only where the hardware multiplies bfloat16 natively: a CUDA GPU, or a CPU
with AVX512-BF16 or AMX (oneDNN then runs the convolutions in bfloat16: on a 2-core AVX512-BF16
VM, 1.7x the float32 step of the default and the paper presets, 1.2x GAIA's; bench/RESULTS.md).
Elsewhere oneDNN emulates it, slower than float32, so ``auto`` keeps float32 there.
"""
from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["native_bfloat16", "training_dtype", "training_autocast", "to_memory_format"]


def _cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty where /proc/cpuinfo is absent)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX tiles."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(probe) for probe in probes):
        return any(probe() for probe in probes)
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())  # a torch without the probes


def training_dtype(setting: str, device: torch.device) -> torch.dtype:
    """The dtype the networks compute in under ``train.precision: setting`` on ``device``:
    ``float32``, ``bfloat16`` (autocast; the losses' own ops still accumulate in float32), or for
    ``auto`` bfloat16 where :func:`native_bfloat16`, float32 elsewhere."""
    if setting == "auto":
        return torch.bfloat16 if native_bfloat16(device) else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[setting]


def training_autocast(setting: str, device: torch.device) -> tuple[torch.dtype, torch.autocast]:
    """:func:`training_dtype` of ``setting`` on ``device``, and the autocast a step's forward passes
    run under: bfloat16 when that is the dtype, disabled (float32 throughout) otherwise."""
    dtype = training_dtype(setting, device)
    return dtype, torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)


def to_memory_format(channels_last: bool, *modules: torch.nn.Module | None) -> None:
    """Stores the 4-D weights of ``modules`` (None skipped) channels-last when ``channels_last``,
    so that their convolutions give channels-last activations (oneDNN's and cuDNN's faster layout)
    whatever the layout of their input; as they are (contiguous) otherwise."""
    for module in modules:
        if channels_last and module is not None:
            module.to(memory_format=torch.channels_last)
