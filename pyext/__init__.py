"""BeyondMSE: multi-scale adversarial video prediction beyond mean square error.

The package's ops (:mod:`pyext.ops`) run fused native kernels when the extension is built and the
plain-PyTorch reference (:mod:`pyext.reference`) otherwise.
"""
from . import ops, reference
from .ops import (
    gaussian_pyramid,
    gdl_loss,
    laplacian_pyramid,
    laplacian_reconstruct,
    native_available,
    native_error,
    pyr_down,
    pyr_up,
    structure_loss,
)

__all__ = [*ops.__all__, "reference"]
