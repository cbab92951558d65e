// CPU kernels of the pairwise squared distances behind GAIA's structure loss. The forward uses the
// GEMM form (structure_gemm.h) where its error estimate meets the bound stated there, and otherwise
// the difference kernel below (no |a|^2 + |b|^2 - 2ab, which cancels), blocked for the caches. The
// backward uses the GEMM form (its error matches the difference form's, structure_gemm.h); at a
// float32 matmul precision below "highest" both use the difference kernels.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "structure_gemm.h"

namespace beyondmse {
namespace {

constexpr int kLanes = 8;        // independent partial sums per accumulator, so loops vectorise
constexpr int64_t kBlock = 16;   // rows per block of the distance matrix
constexpr int64_t kChunk = 512;  // features per pass, so a block pair's rows stay in cache

// sum_f (a_r[f] - b_c[f])^2 for 2 rows a and 4 rows b over n features, added to out.
template <typename T>
BMSE_CPU_CLONES void sqdist_2x4(const T* const* a, const T* const* b, int64_t n, double out[2][4]) {
  using A = acc_t<T>;
  A acc[2][4][kLanes] = {};
  int64_t f = 0;
  for (; f + kLanes <= n; f += kLanes)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < kLanes; ++l) {
          const A d = A(a[r][f + l]) - A(b[c][f + l]);
          acc[r][c][l] += d * d;
        }
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 4; ++c) {
      double s = 0;
      for (int l = 0; l < kLanes; ++l) s += acc[r][c][l];
      for (int64_t g = f; g < n; ++g) {
        const double d = double(a[r][g]) - double(b[c][g]);
        s += d * d;
      }
      out[r][c] += s;
    }
}

template <typename T>
void sqdist_forward(const T* x, int64_t n, int64_t d, acc_t<T>* out) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<std::pair<int64_t, int64_t>> pairs;  // upper triangle of blocks; d is symmetric
  for (int64_t bi = 0; bi < blocks; ++bi)
    for (int64_t bj = bi; bj < blocks; ++bj) pairs.emplace_back(bi, bj);
  auto row = [&](int64_t i) { return x + std::min(i, n - 1) * d; };  // rows past n: any valid row
  at::parallel_for(0, static_cast<int64_t>(pairs.size()), 1, [&](int64_t begin, int64_t end) {
    double acc[kBlock][kBlock];
    for (int64_t p = begin; p < end; ++p) {
      const int64_t i0 = pairs[p].first * kBlock, j0 = pairs[p].second * kBlock;
      std::fill(&acc[0][0], &acc[0][0] + kBlock * kBlock, 0.0);
      for (int64_t f0 = 0; f0 < d; f0 += kChunk) {
        const int64_t len = std::min(kChunk, d - f0);
        for (int64_t i = 0; i < kBlock; i += 2) {
          const T* a[2] = {row(i0 + i) + f0, row(i0 + i + 1) + f0};
          for (int64_t j = 0; j < kBlock; j += 4) {
            const T* b[4] = {row(j0 + j) + f0, row(j0 + j + 1) + f0, row(j0 + j + 2) + f0, row(j0 + j + 3) + f0};
            double part[2][4] = {};
            sqdist_2x4<T>(a, b, len, part);
            for (int r = 0; r < 2; ++r)
              for (int c = 0; c < 4; ++c) acc[i + r][j + c] += part[r][c];
          }
        }
      }
      for (int64_t i = 0; i < kBlock && i0 + i < n; ++i)
        for (int64_t j = 0; j < kBlock && j0 + j < n; ++j) {
          const auto v = static_cast<acc_t<T>>(acc[i][j] / double(d));
          out[(i0 + i) * n + j0 + j] = v;
          out[(j0 + j) * n + i0 + i] = v;
        }
    }
  });
}

// acc_r[f] += s_r * (a_r[f] - b[f]) for 4 rows a over n features.
template <typename T>
BMSE_CPU_CLONES void weighted_diffs_4(const T* const* a, const T* b, const acc_t<T>* s, int64_t n,
                                      acc_t<T>* const* acc) {
  using A = acc_t<T>;
  for (int r = 0; r < 4; ++r) {
    const A sr = s[r];
    const T* ar = a[r];
    A* out = acc[r];
    for (int64_t f = 0; f < n; ++f) out[f] += sr * (A(ar[f]) - A(b[f]));
  }
}

// grad_x[i, f] = 2 / D * sum_j S[i, j] (x[i, f] - x[j, f]) with S = G + G^T.
template <typename T>
void sqdist_backward(const acc_t<T>* sym, const T* x, int64_t n, int64_t d, T* grad_x) {
  using A = acc_t<T>;
  constexpr int64_t kRows = 4;
  const A scale = A(2) / A(d);
  at::parallel_for(0, (n + kRows - 1) / kRows, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> buf(kRows * kChunk);
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t i0 = blk * kRows;
      int64_t rows[kRows];
      for (int r = 0; r < kRows; ++r) rows[r] = std::min(i0 + r, n - 1);
      for (int64_t f0 = 0; f0 < d; f0 += kChunk) {
        const int64_t len = std::min(kChunk, d - f0);
        std::fill(buf.begin(), buf.end(), A(0));
        const T* a[kRows];
        A* acc[kRows];
        for (int r = 0; r < kRows; ++r) a[r] = x + rows[r] * d + f0, acc[r] = buf.data() + r * kChunk;
        for (int64_t j = 0; j < n; ++j) {
          const A s[kRows] = {sym[rows[0] * n + j], sym[rows[1] * n + j], sym[rows[2] * n + j], sym[rows[3] * n + j]};
          weighted_diffs_4<T>(a, x + j * d + f0, s, len, acc);
        }
        for (int r = 0; r < kRows && i0 + r < n; ++r)
          for (int64_t f = 0; f < len; ++f) grad_x[(i0 + r) * d + f0 + f] = static_cast<T>(scale * acc[r][f]);
      }
    }
  });
}

at::Tensor pairwise_sqdist(const at::Tensor& input) {
  check_sqdist_input(input);
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor out = at::empty({n, n}, x.options().dtype(opmath_dtype(x.scalar_type())));
  if (n == 0) return out;
  if (d == 0) return out.zero_();
  // The GEMM form where its error meets the bound (structure_gemm.h), else the difference form.
  if (full_precision_mm(x)) {
    if (at::Tensor gemm = sqdist_gemm(x); gemm.defined()) return gemm;
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "beyondmse_sqdist_cpu", [&] {
    sqdist_forward<scalar_t>(x.const_data_ptr<scalar_t>(), n, d, out.mutable_data_ptr<acc_t<scalar_t>>());
  });
  return out;
}

at::Tensor pairwise_sqdist_backward(const at::Tensor& grad, const at::Tensor& input) {
  check_sqdist_input(input);
  check_sqdist_grad(grad, input);
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  if (x.numel() == 0) return at::empty_like(x);
  const at::Tensor g = grad.to(opmath_dtype(x.scalar_type()));
  const at::Tensor sym = (g + g.t()).contiguous();
  if (full_precision_mm(x)) return sqdist_gemm_backward(sym, x);
  at::Tensor out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "beyondmse_sqdist_backward_cpu", [&] {
    sqdist_backward<scalar_t>(sym.const_data_ptr<acc_t<scalar_t>>(), x.const_data_ptr<scalar_t>(), n, d,
                              out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CPU, m) {
  m.impl("pairwise_sqdist", &pairwise_sqdist);
  m.impl("pairwise_sqdist_backward", &pairwise_sqdist_backward);
}

}  // namespace beyondmse
