// Argument checks of the pairwise-distance ops, shared by the CPU and CUDA kernels.
#pragma once

#include "../common.h"

namespace beyondmse {

inline void check_sqdist_input(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "beyondmse: pairwise_sqdist x must be 2-D (N, D), got shape ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "beyondmse: pairwise_sqdist x must be floating point, got ",
              x.scalar_type());
}

inline void check_sqdist_grad(const at::Tensor& grad, const at::Tensor& x) {
  TORCH_CHECK(grad.dim() == 2 && grad.size(0) == x.size(0) && grad.size(1) == x.size(0),
              "beyondmse: pairwise_sqdist_backward grad must be (N, N) = (", x.size(0), ", ", x.size(0),
              "), got shape ", grad.sizes());
  TORCH_CHECK(grad.device() == x.device(), "beyondmse: pairwise_sqdist_backward grad and x must be on the same device");
}

}  // namespace beyondmse
