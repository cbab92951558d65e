"""What the tests share: their own params file; devices, dtypes and tolerances of the op tests."""
from dataclasses import replace
from pathlib import Path

import pytest
import torch

# The tests' params: a frozen copy of params.yaml (its defaults are tuned; the tests' numbers stay).
TEST_PARAMS = Path(__file__).with_name("params.yaml")

HAS_CUDA = torch.cuda.is_available()


def with_multiscale(params, **knobs):
    """``params`` with the keys of ``model.multiscale`` in ``knobs`` replaced (scales, width, skip)."""
    model = params.model
    return replace(params, model=replace(model, multiscale=replace(model.multiscale, **knobs)))
_CUDA_MARKS = [pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")]


def dtypes_for(device: str) -> list[torch.dtype]:
    """The dtypes the native kernels take on a device (CUDA adds float16 and bfloat16)."""
    low = [torch.float16, torch.bfloat16] if device == "cuda" else []
    return [torch.float32, torch.float64] + low


def _marks(device: str) -> list:
    return _CUDA_MARKS if device == "cuda" else []


DEVICES = [pytest.param(d, marks=_marks(d), id=d) for d in ("cpu", "cuda")]
DEVICE_DTYPES = [
    pytest.param(d, t, marks=_marks(d), id=f"{d}-{str(t).removeprefix('torch.')}")
    for d in ("cpu", "cuda")
    for t in dtypes_for(d)
]

# (rtol, atol) of a native result against the float64 reference, per input dtype.
TOLERANCE = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (2e-5, 2e-5),
    torch.float16: (2e-2, 2e-2),
    torch.bfloat16: (5e-2, 5e-2),
}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, scale: float = 1.0):
    """Compares with the tolerance of ``dtype``; ``scale`` widens atol for sums of many terms."""
    rtol, atol = TOLERANCE[dtype]
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), rtol=rtol, atol=atol * scale)
