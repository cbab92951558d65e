"""BeyondMSE: multi-scale adversarial video prediction beyond mean square error.

The package's ops (:mod:`pyext.ops`) run fused native kernels when the extension is built and the
plain-PyTorch reference (:mod:`pyext.reference`) otherwise. They are imported on first use, so the
data code (``pyext.config``, ``pyext.data``) loads without torch, e.g. in extraction workers.
"""
import importlib

_OPS = ("gdl_loss", "pyr_down", "pyr_up", "gaussian_pyramid", "laplacian_pyramid", "laplacian_reconstruct",
        "structure_loss", "native_available", "native_error")
__all__ = [*_OPS, "reference", "predict"]


def __getattr__(name: str):
    if name in _OPS:
        return getattr(importlib.import_module(".ops", __name__), name)
    if name == "predict":  # the function; the module is pyext.prediction
        return importlib.import_module(".prediction", __name__).predict
    if name in ("ops", "reference"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
