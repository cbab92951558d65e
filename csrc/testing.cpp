// Every schema of beyondmse_testing, the tests' own library: the CUDA kernels' per-thread code (the
// host-device headers that csrc/<op>/<op>_cuda.cu launches) run on the CPU, one thread after
// another, so that machines without a GPU test it. Each op's implementation is in
// csrc/<op>/<op>_testing.cpp. setup.py builds the library as pyext._C_testing, in place only (never
// into a wheel); pyext does not import it, the tests do (the testing_ops fixture, tests/conftest.py).
#include "python_module.h"  // first: it includes Python.h

#include <torch/library.h>

BEYONDMSE_PYTHON_MODULE(_C_testing)

TORCH_LIBRARY(beyondmse_testing, m) {
  // The CUDA GDL kernels' per-thread work (csrc/gdl/gdl_strips.h) with a vector width (4 or 1), rows
  // per strip (0: the launch's own), blocks per image and threads per block: (per-image sums,
  // pred's gradient, target's gradient), gradients scaled by grad.
  m.def(
      "gdl_strip_kernel_on_cpu(Tensor pred, Tensor target, float alpha, Tensor grad, int vector, int strip, "
      "int blocks, int threads) -> (Tensor, Tensor, Tensor)");

  // The CUDA pyramid kernel's phases (csrc/pyramid/pyramid_tile.h) for one resampling kind (0
  // pyr_down, 1 pyr_up, 2 and 3 their adjoints), with the tile size (0: the launch's own), threads
  // per block, blocks along the grid's y axis, and the thread order given.
  m.def(
      "pyramid_tile_kernel_on_cpu(Tensor x, int kind, int height, int width, int tile_h, int tile_w, "
      "int threads, int grid_y, bool reverse) -> Tensor");

  // The CUDA difference kernels of pairwise_sqdist and its backward (csrc/structure/structure_tiles.h),
  // threads in order or reversed: (distances, x's gradient for grad).
  m.def("sqdist_difference_kernels_on_cpu(Tensor x, Tensor grad, bool reverse) -> (Tensor, Tensor)");
}
