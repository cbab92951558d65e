// CPU kernels of the gradient difference loss: the forward is one pass over pred and target that
// sums the terms of every image; the backward one pass that writes the wanted gradients.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "gdl_terms.h"

namespace beyondmse {
namespace {

// Sum of the terms between n pairs of pixels (a[k], b[k]). `omp simd reduction` lets the compiler
// reorder the float sum into vector lanes (plain loops must keep the serial order).
template <Exponent E, typename T>
inline acc_t<T> sum_terms(const T* pa, const T* ta, const T* pb, const T* tb, int64_t n, acc_t<T> alpha) {
  using A = acc_t<T>;
  A sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += gdl_term<E, A>(A(ta[k]) - A(tb[k]), A(pa[k]) - A(pb[k]), alpha);
  return sum;
}

// Sum of the terms owned by one row: vertical terms against the row above (when there is one)
// and horizontal terms within the row. With a row above, both terms of a column are summed in one
// loop: the kernel runs near memory bandwidth, and a second loop would read the row again.
template <Exponent E, typename T>
BMSE_CPU_CLONES double row_terms(const T* p, const T* t, const T* p_up, const T* t_up, int64_t width,
                                 double alpha_d) {
  using A = acc_t<T>;
  const auto alpha = static_cast<A>(alpha_d);
  if (p_up == nullptr) return width > 1 ? sum_terms<E, T>(p + 1, t + 1, p, t, width - 1, alpha) : 0.0;
  A sum = gdl_term<E, A>(A(t[0]) - A(t_up[0]), A(p[0]) - A(p_up[0]), alpha);
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 1; k < width; ++k) {
    sum += gdl_term<E, A>(A(t[k]) - A(t[k - 1]), A(p[k]) - A(p[k - 1]), alpha) +
           gdl_term<E, A>(A(t[k]) - A(t_up[k]), A(p[k]) - A(p_up[k]), alpha);
  }
  return sum;
}

template <Exponent E, typename T>
void forward_images(const T* p, const T* t, int64_t images, int64_t h, int64_t w, double alpha, acc_t<T>* out) {
  std::vector<double> rows(images * h);
  const int64_t grain = std::max<int64_t>(1, 16384 / w);
  at::parallel_for(0, images * h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const bool has_up = r % h != 0;
      rows[r] = row_terms<E, T>(p + r * w, t + r * w, has_up ? p + (r - 1) * w : nullptr,
                                has_up ? t + (r - 1) * w : nullptr, w, alpha);
    }
  });
  for (int64_t n = 0; n < images; ++n) {
    double sum = 0;
    for (int64_t i = 0; i < h; ++i) sum += rows[n * h + i];
    out[n] = static_cast<acc_t<T>>(sum);
  }
}

// Derivatives of the terms between rows a and b (b below a), for every column: one branch-free loop.
// Used for the terms above the first row of a thread's range; row_grads computes the others. P and G
// say which derivatives are kept (with respect to pred's and target's differences).
template <Exponent E, bool P, bool G, typename T, typename A = acc_t<T>>
BMSE_CPU_CLONES void vertical_term_grads(const T* p_a, const T* t_a, const T* p_b, const T* t_b, int64_t width,
                                         A alpha, A* d_dp, A* d_dt) {
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) {
    A dt, dp;
    gdl_term_grad<E, A>(A(t_b[j]) - A(t_a[j]), A(p_b[j]) - A(p_a[j]), alpha, dt, dp);
    if constexpr (P) d_dp[j] = dp;
    if constexpr (G) d_dt[j] = dt;
  }
}

// Gradients of one row. Pixel (i, j) appears in up to four terms: vertical (i-1, i) and (i, i+1),
// horizontal (j-1, j) and (j, j+1); each contributes with + for its second pixel, - for its first.
// up_* hold the vertical terms above the row (zeros at the image's top). The vertical terms below
// (against the row p_dn, t_dn; nullptr at the image's bottom) are computed in the loop that writes
// the gradients and kept in dn_* for the next row: one pass over the row pair instead of two, which
// matters because the kernel runs near memory bandwidth (a separate pass read the row pair again).
template <Exponent E, bool P, bool G, typename T, typename A = acc_t<T>>
BMSE_CPU_CLONES void row_grads(const T* p, const T* t, const T* p_dn, const T* t_dn, const A* up_dp, const A* up_dt,
                               A* dn_dp, A* dn_dt, int64_t width, A g, A alpha, A* h_dp, A* h_dt, T* gp, T* gt) {
  // Horizontal terms: h_*[k] for the pair (k-1, k); zero at both ends, where no pair exists.
  h_dp[0] = h_dt[0] = h_dp[width] = h_dt[width] = A(0);
#pragma omp simd
  for (int64_t k = 1; k < width; ++k) {
    A dt, dp;
    gdl_term_grad<E, A>(A(t[k]) - A(t[k - 1]), A(p[k]) - A(p[k - 1]), alpha, dt, dp);
    if constexpr (P) h_dp[k] = dp;
    if constexpr (G) h_dt[k] = dt;
  }
  if (p_dn == nullptr) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) {
      if constexpr (P) gp[j] = round_to<T>(g * (h_dp[j] - h_dp[j + 1] + up_dp[j]));
      if constexpr (G) gt[j] = round_to<T>(g * (h_dt[j] - h_dt[j + 1] + up_dt[j]));
    }
    return;
  }
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) {
    A dt, dp;
    gdl_term_grad<E, A>(A(t_dn[j]) - A(t[j]), A(p_dn[j]) - A(p[j]), alpha, dt, dp);
    if constexpr (P) {
      gp[j] = round_to<T>(g * (h_dp[j] - h_dp[j + 1] + up_dp[j] - dp));
      dn_dp[j] = dp;
    }
    if constexpr (G) {
      gt[j] = round_to<T>(g * (h_dt[j] - h_dt[j + 1] + up_dt[j] - dt));
      dn_dt[j] = dt;
    }
  }
}

// Rows are walked in order within each thread's range, so the vertical terms below one row are
// reused as the terms above the next: two term evaluations per pixel instead of three. Terms and
// scratch are in the accumulation type A (float for bfloat16); each gradient is rounded to T once,
// when written. gp (when P) and gt (when G) receive the gradients.
template <Exponent E, bool P, bool G, typename T>
void backward_images(const acc_t<T>* grad, const T* p, const T* t, int64_t images, int64_t h, int64_t w,
                     double alpha_d, T* gp, T* gt) {
  using A = acc_t<T>;
  const A alpha = static_cast<A>(alpha_d);
  const int64_t grain = std::max<int64_t>(1, 8192 / w);
  at::parallel_for(0, images * h, grain, [&](int64_t begin, int64_t end) {
    // Scratch: horizontal terms (w + 1 each), vertical terms above and below (w each), zeros (w).
    std::vector<A> scratch(2 * (w + 1) + 5 * w, A(0));
    A* h_dp = scratch.data();
    A* h_dt = h_dp + w + 1;
    A* up_dp = h_dt + w + 1;
    A* up_dt = up_dp + w;
    A* dn_dp = up_dt + w;
    A* dn_dt = dn_dp + w;
    const A* zeros = dn_dt + w;
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % h;
      const T* p_r = p + r * w;
      const T* t_r = t + r * w;
      if (i > 0 && r == begin) vertical_term_grads<E, P, G, T>(p_r - w, t_r - w, p_r, t_r, w, alpha, up_dp, up_dt);
      const bool has_dn = i + 1 < h;
      row_grads<E, P, G, T>(p_r, t_r, has_dn ? p_r + w : nullptr, has_dn ? t_r + w : nullptr, i > 0 ? up_dp : zeros,
                            i > 0 ? up_dt : zeros, dn_dp, dn_dt, w, grad[r / h], alpha, h_dp, h_dt,
                            P ? gp + r * w : nullptr, G ? gt + r * w : nullptr);
      std::swap(up_dp, dn_dp);
      std::swap(up_dt, dn_dt);
    }
  });
}

at::Tensor gdl_loss(const at::Tensor& pred, const at::Tensor& target, double alpha) {
  check_gdl_inputs(pred, target, alpha);
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  at::Tensor out = at::zeros(p.sizes().slice(0, p.dim() - 2), p.options().dtype(opmath_dtype(p.scalar_type())));
  if (p.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, p.scalar_type(), "beyondmse_gdl_cpu", [&] {
    dispatch_exponent(alpha, [&](auto e) {
      forward_images<decltype(e)::value, scalar_t>(p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h,
                                                   w, alpha, out.mutable_data_ptr<acc_t<scalar_t>>());
    });
  });
  return out;
}

OptionalGrads gdl_loss_backward(const at::Tensor& grad, const at::Tensor& pred, const at::Tensor& target,
                                double alpha, std::array<bool, 2> output_mask) {
  check_gdl_inputs(pred, target, alpha);
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  check_gdl_grad(grad, images);
  OptionalGrads out{empty_if(output_mask[0], p), empty_if(output_mask[1], p)};
  if (p.numel() == 0 || !(output_mask[0] || output_mask[1])) return out;
  const at::Tensor g = grad.to(opmath_dtype(p.scalar_type())).contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, p.scalar_type(), "beyondmse_gdl_backward_cpu", [&] {
    scalar_t* gp = data_or_null<scalar_t>(std::get<0>(out));
    scalar_t* gt = data_or_null<scalar_t>(std::get<1>(out));
    dispatch_exponent(alpha, [&](auto e) {
      dispatch_wanted(output_mask, [&](auto want_p, auto want_t) {
        backward_images<decltype(e)::value, decltype(want_p)::value, decltype(want_t)::value, scalar_t>(
            g.const_data_ptr<acc_t<scalar_t>>(), p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images,
            h, w, alpha, gp, gt);
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CPU, m) {
  m.impl("gdl_loss", &gdl_loss);
  m.impl("gdl_loss_backward", &gdl_loss_backward);
}

}  // namespace beyondmse
