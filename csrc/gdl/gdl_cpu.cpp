// CPU kernels of the gradient difference loss: the forward is one pass over pred and target that
// sums the terms of every image; the backward one pass that writes both gradients.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "gdl_terms.h"

namespace beyondmse {
namespace {

constexpr int kLanes = 8;  // independent partial sums, so the reduction loops vectorise

// Sum of the terms owned by one row: vertical terms against the row above (when there is one)
// and horizontal terms within the row.
template <Exponent E, typename T>
BMSE_CPU_CLONES double row_terms(const T* p, const T* t, const T* p_up, const T* t_up, int64_t width,
                                 double alpha_d) {
  using A = acc_t<T>;
  const A alpha = static_cast<A>(alpha_d);
  A lanes[kLanes] = {};
  auto sum_terms = [&](const T* pa, const T* ta, const T* pb, const T* tb, int64_t n) {
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l)
        lanes[l] += gdl_term<E, A>(A(ta[j + l]) - A(tb[j + l]), A(pa[j + l]) - A(pb[j + l]), alpha);
    for (; j < n; ++j) lanes[0] += gdl_term<E, A>(A(ta[j]) - A(tb[j]), A(pa[j]) - A(pb[j]), alpha);
  };
  if (p_up != nullptr) sum_terms(p, t, p_up, t_up, width);
  if (width > 1) sum_terms(p + 1, t + 1, p, t, width - 1);
  double sum = 0;
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
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

// Gradients of one row. Pixel (i, j) appears in up to four terms: vertical (i-1, i) and (i, i+1),
// horizontal (j-1, j) and (j, j+1); each contributes with + for its second pixel, - for its first.
template <Exponent E, typename T>
BMSE_CPU_CLONES void row_grads(const T* p, const T* t, const T* p_up, const T* t_up, const T* p_dn,
                               const T* t_dn, int64_t width, acc_t<T> g, double alpha_d, T* gp, T* gt) {
  using A = acc_t<T>;
  const A alpha = static_cast<A>(alpha_d);
  auto pixel = [&](int64_t j, bool left, bool right) {
    A sp = 0, st = 0, d_dt, d_dp;
    const A pj = A(p[j]), tj = A(t[j]);
    if (p_up != nullptr) {
      gdl_term_grad<E, A>(tj - A(t_up[j]), pj - A(p_up[j]), alpha, d_dt, d_dp);
      sp += d_dp, st += d_dt;
    }
    if (p_dn != nullptr) {
      gdl_term_grad<E, A>(A(t_dn[j]) - tj, A(p_dn[j]) - pj, alpha, d_dt, d_dp);
      sp -= d_dp, st -= d_dt;
    }
    if (left) {
      gdl_term_grad<E, A>(tj - A(t[j - 1]), pj - A(p[j - 1]), alpha, d_dt, d_dp);
      sp += d_dp, st += d_dt;
    }
    if (right) {
      gdl_term_grad<E, A>(A(t[j + 1]) - tj, A(p[j + 1]) - pj, alpha, d_dt, d_dp);
      sp -= d_dp, st -= d_dt;
    }
    gp[j] = static_cast<T>(g * sp);
    gt[j] = static_cast<T>(g * st);
  };
  if (width == 1) {
    pixel(0, false, false);
    return;
  }
  pixel(0, false, true);
  for (int64_t j = 1; j + 1 < width; ++j) pixel(j, true, true);
  pixel(width - 1, true, false);
}

template <Exponent E, typename T>
void backward_images(const acc_t<T>* grad, const T* p, const T* t, int64_t images, int64_t h, int64_t w,
                     double alpha, T* gp, T* gt) {
  const int64_t grain = std::max<int64_t>(1, 8192 / w);
  at::parallel_for(0, images * h, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % h;
      const bool up = i > 0, dn = i + 1 < h;
      row_grads<E, T>(p + r * w, t + r * w, up ? p + (r - 1) * w : nullptr, up ? t + (r - 1) * w : nullptr,
                      dn ? p + (r + 1) * w : nullptr, dn ? t + (r + 1) * w : nullptr, w, grad[r / h], alpha,
                      gp + r * w, gt + r * w);
    }
  });
}


at::Tensor gdl_loss(const at::Tensor& pred, const at::Tensor& target, double alpha) {
  check_gdl_inputs(pred, target, alpha);
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  at::Tensor out = at::zeros(p.sizes().slice(0, p.dim() - 2), p.options().dtype(opmath_dtype(p.scalar_type())));
  if (p.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "beyondmse_gdl_cpu", [&] {
    dispatch_exponent(alpha, [&](auto e) {
      forward_images<decltype(e)::value, scalar_t>(p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h,
                                                   w, alpha, out.mutable_data_ptr<acc_t<scalar_t>>());
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> gdl_loss_backward(const at::Tensor& grad, const at::Tensor& pred,
                                                     const at::Tensor& target, double alpha) {
  check_gdl_inputs(pred, target, alpha);
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  TORCH_CHECK(grad.numel() == images, "beyondmse: gdl_loss_backward grad must hold one value per image (", images,
              "), got shape ", grad.sizes());
  const at::Tensor g = grad.to(opmath_dtype(p.scalar_type())).contiguous();
  at::Tensor gp = at::empty_like(p), gt = at::empty_like(p);
  if (p.numel() == 0) return {gp, gt};
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "beyondmse_gdl_backward_cpu", [&] {
    dispatch_exponent(alpha, [&](auto e) {
      backward_images<decltype(e)::value, scalar_t>(g.const_data_ptr<acc_t<scalar_t>>(), p.const_data_ptr<scalar_t>(),
                                                    t.const_data_ptr<scalar_t>(), images, h, w, alpha,
                                                    gp.mutable_data_ptr<scalar_t>(), gt.mutable_data_ptr<scalar_t>());
    });
  });
  return {gp, gt};
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CPU, m) {
  m.impl("gdl_loss", &gdl_loss);
  m.impl("gdl_loss_backward", &gdl_loss_backward);
}

}  // namespace beyondmse
