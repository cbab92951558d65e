"""The BeyondMSE ops: Python fronts that check their arguments and run the native kernels
(``torch.ops.beyondmse.*``, built from ``csrc/``) or, when those are not built, the plain-PyTorch
reference (:mod:`pyext.ops.reference`, also reachable as :mod:`pyext.reference`).

One module per folder of ``csrc/``: :mod:`~pyext.ops.gdl`, :mod:`~pyext.ops.pyramid` and
:mod:`~pyext.ops.structure` hold each op's front and the fake kernels, autograd and autocast of its
native op; ``_native`` loads the library (``BEYONDMSE_REQUIRE_NATIVE=1`` turns a missing or broken
build into an ImportError) and ``_arguments`` holds the checks all fronts share.

Dtypes: inputs of two float dtypes are promoted to the wider one. The CUDA kernels take float16 and
bfloat16 and accumulate in float32; so do the GDL and pyramid CPU kernels for bfloat16. Other
float16/bfloat16 CPU inputs (any float16, the structure loss's, the reference's) are computed
in float32 and cast back. Under ``torch.autocast`` the ops compute in float32 and return float32, as
torch's own losses do.
"""
from .. import _FROM_OPS
from . import gdl, pyramid, structure
from ._native import REQUIRE_NATIVE_ENV, native_available, native_error, reference_only
from .gdl import gdl_loss
from .pyramid import gaussian_pyramid, laplacian_pyramid, laplacian_reconstruct, pyr_down, pyr_up
from .structure import structure_loss

__all__ = list(_FROM_OPS)

if native_available():  # the ops' schemas exist once pyext._C is loaded
    for _module in (gdl, pyramid, structure):
        _module.register()
