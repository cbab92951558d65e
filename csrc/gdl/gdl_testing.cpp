// The tests' run of the CUDA GDL kernels' per-thread work (gdl_strips.h) on the CPU:
// beyondmse_testing::gdl_strip_kernel_on_cpu (schema in csrc/testing.cpp).
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "gdl_strips.h"

namespace beyondmse {
namespace {

// The launch's threads (blocks x threads for each image) run one after another on the CPU: the
// image's sum adds the threads' partial sums in thread order (the GPU adds them in a fixed tree,
// so the two agree to rounding), and the gradients are written as the GPU writes them.
template <Exponent E, int V, typename T>
void emulate_gdl_strips(const StripJob<T>& job, int64_t images, int64_t blocks, int threads, acc_t<T> alpha,
                        const acc_t<T>* grad, acc_t<T>* out, T* gp, T* gt) {
  using A = acc_t<T>;
  const int64_t stride = blocks * threads;
  for (int64_t img = 0; img < images; ++img) {
    A sum = 0;
    for (int64_t first = 0; first < stride; ++first) {
      sum += strip_forward<E, V, T>(job, img, first, stride, alpha);
      strip_backward<E, true, true, V, T>(job, img, first, stride, alpha, grad[img], gp, gt);
    }
    out[img] = sum;
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> strip_kernel_on_cpu(const at::Tensor& pred, const at::Tensor& target,
                                                                     double alpha, const at::Tensor& grad,
                                                                     int64_t vector, int64_t strip, int64_t blocks,
                                                                     int64_t threads) {
  check_gdl_inputs(pred, target, alpha);
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  check_gdl_grad(grad, images);
  TORCH_CHECK(vector == 1 || (vector == 4 && w % 4 == 0),
              "beyondmse: vector must be 1, or 4 for widths divisible by 4");
  TORCH_CHECK(strip >= 0 && blocks >= 1 && threads >= 1, "beyondmse: strip must be >= 0, blocks and threads >= 1");
  const at::Tensor g = grad.to(opmath_dtype(p.scalar_type())).contiguous();
  at::Tensor out = at::zeros(p.sizes().slice(0, p.dim() - 2), g.options());
  constexpr double kUnwritten = std::numeric_limits<double>::quiet_NaN();  // every element must be written
  at::Tensor gp = at::full_like(p, kUnwritten), gt = at::full_like(p, kUnwritten);
  if (p.numel() == 0) return {out, gp, gt};
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, p.scalar_type(), "beyondmse_gdl_strips_on_cpu", [&] {
    using A = acc_t<scalar_t>;
    const auto job = make_strip_job(p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h, w,
                                    static_cast<int>(vector), strip);
    dispatch_exponent(alpha, [&](auto e) {
      dispatch_vector(static_cast<int>(vector), [&](auto v) {
        emulate_gdl_strips<decltype(e)::value, decltype(v)::value, scalar_t>(
            job, images, blocks, static_cast<int>(threads), static_cast<A>(alpha), g.const_data_ptr<A>(),
            out.mutable_data_ptr<A>(), gp.mutable_data_ptr<scalar_t>(), gt.mutable_data_ptr<scalar_t>());
      });
    });
  });
  return {out, gp, gt};
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse_testing, CPU, m) { m.impl("gdl_strip_kernel_on_cpu", &strip_kernel_on_cpu); }

}  // namespace beyondmse
