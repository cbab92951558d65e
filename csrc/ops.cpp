// Every schema of the beyondmse operator library, in one place.
//
// Kernels register per device in csrc/<op>/<op>_{cpu.cpp,cuda.cu} with TORCH_LIBRARY_IMPL; fake
// (meta) kernels, autograd and autocast are registered from Python in pyext/ops/<op>.py.
#include <Python.h>
#include <torch/library.h>

#define BEYONDMSE_STR(x) BEYONDMSE_STR2(x)
#define BEYONDMSE_STR2(x) #x

extern "C" {
// Importing the extension module loads this shared library and so runs the registrations below;
// the module holds no functions (the ops are reached through torch.ops.beyondmse), only the torch
// version it was built against, which pyext compares with the running one.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  PyObject* m = PyModule_Create(&module);
  if (m != nullptr && PyModule_AddStringConstant(m, "torch_version", BEYONDMSE_STR(BEYONDMSE_TORCH_VERSION)) < 0) {
    Py_DECREF(m);
    return nullptr;
  }
  return m;
}
}

TORCH_LIBRARY(beyondmse, m) {
  // Gradient difference loss (Mathieu et al. 2016, eq. 5) of (..., H, W) inputs: per-image sums of
  // the terms, shaped (...), in float32 (float64 for float64 inputs).
  m.def("gdl_loss(Tensor pred, Tensor target, float alpha) -> Tensor");
  // The input gradients (pred's, target's) in one pass; grad has the shape of gdl_loss's output.
  // output_mask says which are wanted: the others are neither computed nor allocated (None).
  m.def(
      "gdl_loss_backward(Tensor grad, Tensor pred, Tensor target, float alpha, bool[2] output_mask) "
      "-> (Tensor?, Tensor?)");
  // Tests only: the CUDA GDL kernels' per-thread work (csrc/gdl/gdl_strips.h) run on the CPU with a
  // vector width (4 or 1), rows per strip (0: the launch's own), blocks per image and threads per
  // block: (per-image sums, pred's gradient, target's gradient), gradients scaled by grad.
  m.def(
      "_gdl_strip_kernel_on_cpu(Tensor pred, Tensor target, float alpha, Tensor grad, int vector, int strip, "
      "int blocks, int threads) -> (Tensor, Tensor, Tensor)");

  // cv2.pyrDown per image: (..., H, W) -> (..., (H + 1) // 2, (W + 1) // 2).
  m.def("pyr_down(Tensor x) -> Tensor");
  // Adjoint of pyr_down: grad (..., (H + 1) // 2, (W + 1) // 2) -> (..., height, width).
  m.def("pyr_down_backward(Tensor grad, SymInt height, SymInt width) -> Tensor");
  // cv2.pyrUp per image: (..., H, W) -> (..., height, width), height in {2H - 1, 2H}, same for width.
  m.def("pyr_up(Tensor x, SymInt height, SymInt width) -> Tensor");
  // Adjoint of pyr_up: grad (..., h, w) -> (..., height, width) with height = (h + 1) // 2.
  m.def("pyr_up_backward(Tensor grad, SymInt height, SymInt width) -> Tensor");
  // Tests only: the CUDA pyramid kernel's phases (csrc/pyramid/pyramid_tile.h) run on the CPU for
  // one resampling kind (0 pyr_down, 1 pyr_up, 2 and 3 their adjoints), with the tile size (0: the
  // launch's own), threads per block, blocks along the grid's y axis, and the thread order given.
  m.def(
      "_pyramid_tile_kernel_on_cpu(Tensor x, int kind, int height, int width, int tile_h, int tile_w, "
      "int threads, int grid_y, bool reverse) -> Tensor");

  // d[i, j] = mean_f (x[i, f] - x[j, f])^2 of x shaped (N, D): (N, N), in float32 (float64 for
  // float64 inputs), within the bound stated in csrc/structure/structure_gemm.h.
  m.def("pairwise_sqdist(Tensor x) -> Tensor");
  // Gradient of pairwise_sqdist with respect to x: (N, D), dtype of x.
  m.def("pairwise_sqdist_backward(Tensor grad, Tensor x) -> Tensor");
  // Tests only: the CUDA difference kernels of both (csrc/structure/structure_tiles.h) run on the
  // CPU, threads in order or reversed: (distances, x's gradient for grad).
  m.def("_sqdist_difference_kernels_on_cpu(Tensor x, Tensor grad, bool reverse) -> (Tensor, Tensor)");
}
