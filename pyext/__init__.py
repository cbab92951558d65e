"""BeyondMSE: multi-scale adversarial video prediction beyond mean square error.

The package's ops (:mod:`pyext.ops`) run fused native kernels when the extension is built and the
plain-PyTorch reference (:mod:`pyext.reference`, which is :mod:`pyext.ops.reference`) otherwise.
They are imported on first use, so the data code (``pyext.config``, ``pyext.data``) loads without
torch, e.g. in extraction workers.
"""
import importlib

# The ops, named once: pyext.ops holds their fronts and pyext.ops.reference their specification,
# and both take this list as their __all__. It lives here because pyext.ops imports torch.
_OPS = ("gdl_loss", "pyr_down", "pyr_up", "gaussian_pyramid", "laplacian_pyramid", "laplacian_reconstruct",
        "structure_loss")
_FROM_OPS = (*_OPS, "native_available", "native_error")  # what pyext forwards to pyext.ops
__all__ = [*_FROM_OPS, "reference", "predict"]


def __getattr__(name: str):
    if name in _FROM_OPS:
        return getattr(importlib.import_module(".ops", __name__), name)
    if name == "predict":  # the function; the module is pyext.prediction
        return importlib.import_module(".prediction", __name__).predict
    if name == "ops":
        return importlib.import_module(".ops", __name__)
    if name == "reference":  # the ops' specification lives beside their fronts
        return importlib.import_module(".ops.reference", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
