"""The native library of the ops: loads ``pyext._C`` (whose import defines ``torch.ops.beyondmse``)
once, decides per call whether an op runs its kernel or :mod:`pyext.ops.reference`, and holds what
the ops' registrations (fake kernels, autograd, autocast) share.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import warnings
from collections.abc import Iterator

import torch

REQUIRE_NATIVE_ENV = "BEYONDMSE_REQUIRE_NATIVE"
_REBUILD_HINT = "build it with `make build` (or `python setup.py build_ext --inplace`)"


def _load_native() -> str | None:
    """Imports pyext._C (which registers torch.ops.beyondmse); returns why it failed, or None."""
    try:
        native = importlib.import_module("pyext._C")
    except ModuleNotFoundError as exc:
        if exc.name != "pyext._C":
            return f"the native extension failed to load: {exc}"
        return f"the native extension is not built: {_REBUILD_HINT}"
    except (ImportError, OSError) as exc:
        hint = " (it was probably built for another torch)" if "undefined symbol" in str(exc) else ""
        return f"the native extension failed to load{hint}: {exc}; re{_REBUILD_HINT}"
    built_for = getattr(native, "torch_version", None)
    if built_for != torch.__version__:
        return (f"the native extension was built for torch {built_for} but torch {torch.__version__} is "
                f"running; re{_REBUILD_HINT}")
    return None


_NATIVE_ERROR = _load_native()
if _NATIVE_ERROR is not None and os.environ.get(REQUIRE_NATIVE_ENV, "0") not in ("", "0"):
    raise ImportError(f"{REQUIRE_NATIVE_ENV} is set but {_NATIVE_ERROR}")
_warned = False
_reference_only = False


@contextlib.contextmanager
def reference_only() -> Iterator[None]:
    """Within the block every op runs :mod:`pyext.reference`, native kernels or not (to measure
    what the kernels bring; not thread-safe). Graphs compiled inside keep that choice."""
    global _reference_only
    before, _reference_only = _reference_only, True
    try:
        yield
    finally:
        _reference_only = before


def native_available() -> bool:
    """True when the compiled ops are loaded (``torch.ops.beyondmse``); else the reference runs."""
    return _NATIVE_ERROR is None


def native_error() -> str | None:
    """Why the compiled ops are not in use (not built, failed to load, built for another torch)."""
    return _NATIVE_ERROR


def use_native() -> bool:
    """Whether this call runs the native kernel; the first call that cannot warns once why."""
    global _warned
    if _reference_only:
        return False
    if _NATIVE_ERROR is None:
        return True
    if not _warned:
        _warned = True
        warnings.warn(f"BeyondMSE runs its plain-PyTorch reference ops: {_NATIVE_ERROR}", RuntimeWarning,
                      stacklevel=3)
    return False


# What the registrations of the ops share (each op module's register() makes them).


def opmath(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a native reduction's output: float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def save_inputs(ctx, inputs, output) -> None:
    """An autograd ``setup_context``: the tensor inputs saved for backward, the others in ``ctx.args``."""
    ctx.save_for_backward(*[t for t in inputs if isinstance(t, torch.Tensor)])
    ctx.args = [a for a in inputs if not isinstance(a, torch.Tensor)]


def compute_in_float32_under_autocast(*names: str) -> None:
    """Under ``torch.autocast`` (CPU and CUDA) the named ``beyondmse`` ops compute in float32.

    Training runs under bf16 autocast; these ops accumulate in float32 and are cheap next to the
    convolutions, so they take float32 inputs there, as torch's own losses do.
    """
    for name in names:
        for device in ("cpu", "cuda"):
            torch.library.register_autocast(f"beyondmse::{name}", device, torch.float32)
