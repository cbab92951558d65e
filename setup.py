"""Builds pyext._C, the native BeyondMSE ops (torch.utils.cpp_extension), and, in place only,
pyext._C_testing, the tests' library.

pyext._C: csrc/ops.cpp (the schemas) with every csrc/<op>/<op>_cpu.cpp, and the csrc/<op>/<op>_cuda.cu
whenever nvcc is found, even on a machine without a GPU. pyext._C_testing: csrc/testing.cpp with
every csrc/<op>/<op>_testing.cpp (the CUDA kernels' per-thread code run on the CPU, CPU sources
only); `build_ext --inplace` (make build) and editable installs build it for the tests, which load
it themselves; wheels and installs leave it out, and pyext never imports it. Environment switches:
    BEYONDMSE_CPU_ONLY=1       build the CPU kernels only (no nvcc needed, builds in seconds)
    BEYONDMSE_NO_EXTENSION=1   build no extension: `make install` registers the package and the
                               `beyondmse` command this way (pip install -e builds in a fresh folder
                               every time) and builds the extension incrementally with build_ext
    TORCH_CUDA_ARCH_LIST       CUDA architectures; without a visible GPU the default is
                               "8.0;9.0+PTX" (A100, H100/H200, PTX for newer GPUs)
    CUDA_HOME                  defaults to /usr/local/cuda when unset and present
"""
import glob
import os
import shutil

from setuptools import find_packages, setup

# cpp_extension reads CUDA_HOME when imported; without it torch guesses from the nvcc on PATH, which
# may be a wrapper outside the toolkit (then -lcudart is not found).
if "CUDA_HOME" not in os.environ and "CUDA_PATH" not in os.environ and os.path.isdir("/usr/local/cuda"):
    os.environ["CUDA_HOME"] = "/usr/local/cuda"

import torch  # noqa: E402
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension  # noqa: E402

DEFAULT_ARCH_LIST = "8.0;9.0+PTX"
TESTING_MODULE = "pyext._C_testing"


def _nvcc_available() -> bool:
    if os.environ.get("BEYONDMSE_CPU_ONLY", "0") not in ("", "0"):
        return False
    return CUDA_HOME is not None and os.path.exists(os.path.join(CUDA_HOME, "bin", "nvcc"))


def _extensions():
    root = os.path.dirname(os.path.abspath(__file__))

    def sources(*patterns):
        return [path for pattern in patterns for path in sorted(glob.glob(pattern, root_dir=root))]

    # at::parallel_for runs on OpenMP, but only in code compiled with -fopenmp. -ffp-contract=off:
    # GCC's C++ default fuses a * b + c into an FMA wherever its inlining happens to bring them
    # together (in the x86-64-v3 clones of common.h), so a kernel's bits followed the unrelated code
    # compiled beside it (moving the tests' tile emulation out of pyramid_cpu.cpp changed pyr_down's
    # results in the last bit, and so every training run); without contraction they follow the
    # source alone.
    options = {
        # Recorded in each module, so a build for another torch is told from a broken one.
        "define_macros": [("BEYONDMSE_TORCH_VERSION", torch.__version__)],
        "extra_compile_args": {"cxx": ["-O3", "-fopenmp", "-ffp-contract=off"], "nvcc": ["-O3", "-lineinfo"]},
    }
    testing = CppExtension(TESTING_MODULE, sources("csrc/testing.cpp", "csrc/*/*_testing.cpp"), **options)
    production = sources("csrc/ops.cpp", "csrc/*/*_cpu.cpp")
    if not _nvcc_available():
        return [CppExtension("pyext._C", production, **options), testing]
    if not torch.cuda.is_available() and not os.environ.get("TORCH_CUDA_ARCH_LIST"):
        os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_ARCH_LIST
    return [CUDAExtension("pyext._C", production + sources("csrc/*/*_cuda.cu"), **options), testing]


class BuildExtensions(BuildExtension.with_options(use_ninja=shutil.which("ninja") is not None)):
    """build_ext that builds the tests' library only in place (in a checkout, for its tests)."""

    def finalize_options(self):
        super().finalize_options()  # an editable install turns inplace on here
        if not self.inplace:
            self.extensions = [ext for ext in self.extensions if ext.name != TESTING_MODULE]


setup(
    name="beyondmse",
    version="0.1.0",
    description="Multi-scale adversarial video prediction beyond mean square error, with fused native ops",
    # Every package under pyext/ (pyext.data, ...), and the experiments (above pyext: nothing in pyext
    # imports them; `beyondmse` finds their commands through the entry points below).
    packages=find_packages(include=["pyext", "pyext.*", "experiments"]),
    # The shipped feature extractor of FID/KID/IS (evaluate.features: builtin) and pretrained predictor.
    package_data={"pyext.evaluation": ["extractor_files/*"], "pyext.models": ["pretrained/*"]},
    python_requires=">=3.10",
    ext_modules=[] if os.environ.get("BEYONDMSE_NO_EXTENSION", "0") not in ("", "0") else _extensions(),
    # `beyondmse` (pyext/cli.py); commands beyond its own are entry points of beyondmse.commands.
    entry_points={"console_scripts": ["beyondmse = pyext.cli:main"],
                  "beyondmse.commands": ["zoo = experiments.zoo:main", "table2 = experiments.table2:main",
                                         "claim = experiments.claim:main", "generation = experiments.generation:main",
                                         "battle = experiments.battle:main", "inversion = experiments.inversion:main",
                                         "editing = experiments.editing:main",
                                         "translation = experiments.translation:main",
                                         "readme = experiments.readme:main", "footage = experiments.footage:main",
                                         "footage-study = experiments.footage_study:main",
                                         "pretrain = experiments.pretrain:main",
                                         "motion-study = experiments.motion_study:main"]},
    cmdclass={"build_ext": BuildExtensions},
)
