"""What every op front does with its tensor arguments: checks them (errors name the argument) and
puts them in the dtype the op computes in (the policy is stated in :mod:`pyext.ops`)."""
from __future__ import annotations

import torch

from ._native import use_native


def check_tensor(value: object, name: str, min_dim: int) -> torch.Tensor:
    """``value`` itself if it is a floating-point tensor of at least ``min_dim`` dims; else raises
    TypeError or ValueError naming ``name``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dims, got shape {tuple(value.shape)}")
    return value


def prepare(named: dict[str, object], min_dim: int, cpu_kernel_takes_bfloat16: bool = True
            ) -> tuple[list[torch.Tensor], torch.dtype]:
    """Checks the tensors, puts them in one compute dtype, and returns them with the output dtype.

    float16/bfloat16 inputs stay so where a native kernel takes them (every CUDA kernel; a CPU
    kernel, for bfloat16, unless ``cpu_kernel_takes_bfloat16`` is false); otherwise, and under
    autocast, they are computed in float32.
    """
    tensors = [check_tensor(v, k, min_dim) for k, v in named.items()]
    names = list(named)
    for name, t in zip(names[1:], tensors[1:]):
        if t.device != tensors[0].device:
            raise ValueError(f"{names[0]} and {name} must be on the same device, got {tensors[0].device} "
                             f"and {t.device}")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    device = tensors[0].device
    low_precision = dtype in (torch.float16, torch.bfloat16)
    autocast = low_precision and torch.is_autocast_enabled(device.type)
    out_dtype = torch.float32 if autocast else dtype
    # Autocast asks for float32 compute; the reference would sum in the low dtype on the CPU.
    native_low = device.type == "cuda" or (dtype == torch.bfloat16 and cpu_kernel_takes_bfloat16 and use_native())
    compute = torch.float32 if low_precision and (autocast or not native_low) else dtype
    return [t.to(compute) for t in tensors], out_dtype
