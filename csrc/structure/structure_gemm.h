// The GEMM form of the pairwise squared distances and of their gradient, shared by the CPU and
// CUDA files (ATen ops only: at::mm runs the device's BLAS).
//
// Forward: with rows y_i of x centred per feature (distances do not change) and G = Y Y^T,
// d[i, j] = (G_ii + G_jj - 2 G_ij) / D, clamped at 0, with an exact-zero diagonal. It cancels where
// rows are close to each other but far from the centre, so each call checks an error estimate and
// the caller keeps the difference kernel where the estimate exceeds the bound below.
// Backward: grad_x = (2 / D) (diag(S 1) Y - S Y) with S the symmetrised upstream gradient.
//
// Bound (what the structure loss needs: it reads log1p(d / mean(d)), whose error is at most
// |error of d| / (mean(d) + d)): every entry within tol * (mean(d) + d[i, j]) of the exact
// distance, tol = 2^-16 (float32 accumulation) or 2^-40 (float64). Rounding makes the GEMM form's
// error of entry (i, j) at most about u (sqrt(D) + 2) (q_i + q_j), q_i = |y_i|^2 / D, u the unit
// roundoff. Measured against float64 (python -m experiments.sqdist_error, experiments/results/sqdist_error.md) on ordinary,
// offset, near-duplicate, clustered, outlier and spread rows, the error stayed below 0.6 of that
// estimate; the form is used only where the estimate meets the bound for every pair. It does not
// where rows are close to each other but far from the centre (near-duplicate outliers): there
// q_i + q_j dwarfs mean(d) + d[i, j], and the difference form is kept. The backward's error,
// measured on the same rows, is below the difference kernel's (at most 6e-7 of the largest
// gradient in float32, against 2e-6), so the backward uses the GEMM form wherever the device's
// matmuls run in full precision.
#pragma once

#include <ATen/Context.h>

#include <cmath>

#include "structure_checks.h"

namespace beyondmse {

// Whether at::mm multiplies x's accumulation dtype in full precision: always for float64; for
// float32 at torch's "highest" float32 matmul precision only, and on CUDA with TF32 off (TF32's and
// oneDNN's bfloat16 short mantissas would break the bound).
inline bool full_precision_mm(const at::Tensor& x) {
  if (opmath_dtype(x.scalar_type()) == at::kDouble) return true;
  const at::Context& context = at::globalContext();
  return context.float32MatmulPrecision() == at::Float32MatmulPrecision::HIGHEST &&
         !(x.is_cuda() && context.allowTF32CuBLAS());
}

// x (N, D) in the accumulation dtype, each feature minus its mean over the rows: the Gram entries
// then scale with the rows' spread rather than their offset.
inline at::Tensor centred_rows(const at::Tensor& x) {
  const at::Tensor y = x.to(opmath_dtype(x.scalar_type()));
  return y - y.mean(0, /*keepdim=*/true);
}

// The GEMM form's distances of x (N, D), N, D >= 1, in the accumulation dtype; an undefined tensor
// where its error estimate exceeds the bound for some pair (the caller then uses the difference
// form). Reads the check's verdict back to the host.
inline at::Tensor sqdist_gemm(const at::Tensor& x) {
  const int64_t d = x.size(1);
  const bool wide = opmath_dtype(x.scalar_type()) == at::kDouble;
  const double tol = std::ldexp(1.0, wide ? -40 : -16), u = std::ldexp(1.0, wide ? -53 : -24);
  const at::Tensor y = centred_rows(x);
  at::Tensor out = at::mm(y, y.t());
  const at::Tensor q = out.diagonal().div(static_cast<double>(d));
  out.mul_(-2.0 / static_cast<double>(d)).add_(q.unsqueeze(1)).add_(q.unsqueeze(0)).clamp_min_(0);
  out.fill_diagonal_(0);
  // Every pair: u (sqrt(D) + 2) (q_i + q_j) <= tol (mean(d) + d[i, j]); the diagonal is exact.
  at::Tensor scale = q.unsqueeze(1) + q.unsqueeze(0);
  scale.fill_diagonal_(0);
  const double slack = tol / (u * (std::sqrt(static_cast<double>(d)) + 2.0));
  const bool within = scale.le((out + out.mean()).mul_(slack)).all().item<bool>();
  return within ? out : at::Tensor();
}

// The gradient of pairwise_sqdist for the symmetrised upstream gradient sym (N, N, accumulation
// dtype) and x (N, D): (N, D) in x's dtype.
inline at::Tensor sqdist_gemm_backward(const at::Tensor& sym, const at::Tensor& x) {
  const at::Tensor y = centred_rows(x);
  at::Tensor grad = at::mm(sym, y);
  grad.sub_(sym.sum(1, /*keepdim=*/true) * y).mul_(-2.0 / static_cast<double>(x.size(1)));
  return grad.to(x.scalar_type());
}

}  // namespace beyondmse
