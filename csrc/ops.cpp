// Every schema of the beyondmse operator library, in one place.
//
// Kernels register per device in csrc/<op>/<op>_{cpu.cpp,cuda.cu} with TORCH_LIBRARY_IMPL; fake
// (meta) kernels, autograd and autocast are registered from Python in pyext/ops/<op>.py. The tests'
// own ops (the CUDA kernels' code run on the CPU) are another library, csrc/testing.cpp.
#include "python_module.h"  // first: it includes Python.h

#include <torch/library.h>

BEYONDMSE_PYTHON_MODULE(_C)

TORCH_LIBRARY(beyondmse, m) {
  // Gradient difference loss (Mathieu et al. 2016, eq. 5) of (..., H, W) inputs: per-image sums of
  // the terms, shaped (...), in float32 (float64 for float64 inputs).
  m.def("gdl_loss(Tensor pred, Tensor target, float alpha) -> Tensor");
  // The input gradients (pred's, target's) in one pass; grad has the shape of gdl_loss's output.
  // output_mask says which are wanted: the others are neither computed nor allocated (None).
  m.def(
      "gdl_loss_backward(Tensor grad, Tensor pred, Tensor target, float alpha, bool[2] output_mask) "
      "-> (Tensor?, Tensor?)");

  // cv2.pyrDown per image: (..., H, W) -> (..., (H + 1) // 2, (W + 1) // 2).
  m.def("pyr_down(Tensor x) -> Tensor");
  // Adjoint of pyr_down: grad (..., (H + 1) // 2, (W + 1) // 2) -> (..., height, width).
  m.def("pyr_down_backward(Tensor grad, SymInt height, SymInt width) -> Tensor");
  // cv2.pyrUp per image: (..., H, W) -> (..., height, width), height in {2H - 1, 2H}, same for width.
  m.def("pyr_up(Tensor x, SymInt height, SymInt width) -> Tensor");
  // Adjoint of pyr_up: grad (..., h, w) -> (..., height, width) with height = (h + 1) // 2.
  m.def("pyr_up_backward(Tensor grad, SymInt height, SymInt width) -> Tensor");

  // d[i, j] = mean_f (x[i, f] - x[j, f])^2 of x shaped (N, D): (N, N), in float32 (float64 for
  // float64 inputs), within the bound stated in csrc/structure/structure_gemm.h.
  m.def("pairwise_sqdist(Tensor x) -> Tensor");
  // Gradient of pairwise_sqdist with respect to x: (N, D), dtype of x.
  m.def("pairwise_sqdist_backward(Tensor grad, Tensor x) -> Tensor");
}
