// The tests' run of the CUDA difference kernels' phases (structure_tiles.h) on the CPU:
// beyondmse_testing::sqdist_difference_kernels_on_cpu (schema in csrc/testing.cpp).
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <tuple>
#include <vector>

#include "structure_checks.h"
#include "structure_tiles.h"

namespace beyondmse {
namespace {

// Every block of both launches, one after another; each phase runs for threads 0 .. 255 (or in
// reverse) with the barriers between phases, and shared memory starts as NaN. out holds the
// splits' partial matrices (splits x n x n); grad_x is written from sym = S + S^T.
template <typename T>
void emulate_sqdist_kernels(const T* x, int64_t n, int64_t d, int64_t split, acc_t<T>* out, const acc_t<T>* sym,
                            acc_t<T> scale, T* grad_x, bool reverse) {
  using A = acc_t<T>;
  auto shared = std::make_unique<TilePair<A>>();
  std::vector<Micro<A>> acc(kSqdistThreads), own(kSqdistThreads);
  auto each_thread = [&](auto&& phase) {
    for (int k = 0; k < kSqdistThreads; ++k) {
      const int tid = reverse ? kSqdistThreads - 1 - k : k;
      phase(tid, tid % kSide, tid / kSide);
    }
  };
  auto poison = [&] {
    A* first = &shared->a[0][0];
    std::fill(first, first + 2 * kTile * (kTile + 1), std::numeric_limits<A>::quiet_NaN());
  };
  const int64_t tiles = ceil_div(n, kTile), splits = ceil_div(d, split);
  for (int64_t bz = 0; bz < splits; ++bz)
    for (int64_t by = 0; by < tiles; ++by)
      for (int64_t bx = by; bx < tiles; ++bx) {  // blocks below the diagonal return at once
        const SqdistBlock b = sqdist_block(bx, by, bz, d, split);
        poison();
        for (auto& a : acc) a = Micro<A>{};
        for (int64_t f0 = b.f_begin; f0 < b.f_end; f0 += kTile) {
          each_thread([&](int tid, int, int) { sqdist_stage(*shared, x, n, d, b, f0, tid); });
          each_thread([&](int tid, int tx, int ty) { sqdist_accumulate(*shared, acc[tid], tx, ty); });
        }
        each_thread([&](int tid, int tx, int ty) { sqdist_result(*shared, acc[tid], d, tx, ty); });
        each_thread([&](int tid, int, int) { sqdist_store(*shared, out, n, b, tid); });
      }
  for (int64_t by = 0; by < tiles; ++by)
    for (int64_t bx = 0; bx < ceil_div(d, kTile); ++bx) {
      const int64_t i0 = by * kTile, f0 = bx * kTile;
      poison();
      for (auto& a : acc) a = Micro<A>{};
      each_thread([&](int tid, int tx, int ty) { sqdist_backward_own(own[tid], x, n, d, i0, f0, tx, ty); });
      for (int64_t j0 = 0; j0 < n; j0 += kTile) {
        each_thread([&](int tid, int, int) { sqdist_backward_stage(*shared, sym, x, n, d, i0, f0, j0, tid); });
        each_thread([&](int tid, int tx, int ty) {
          sqdist_backward_accumulate(*shared, own[tid], acc[tid], n, j0, tx, ty);
        });
      }
      each_thread([&](int tid, int tx, int ty) {
        sqdist_backward_store(acc[tid], grad_x, n, d, i0, f0, scale, tx, ty);
      });
    }
}

std::tuple<at::Tensor, at::Tensor> difference_kernels_on_cpu(const at::Tensor& input, const at::Tensor& grad,
                                                             bool reverse) {
  check_sqdist_input(input);
  check_sqdist_grad(grad, input);
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  TORCH_CHECK(n > 0 && d > 0, "beyondmse: the difference kernels take N, D >= 1");
  const int64_t split = split_features(n, d), splits = ceil_div(d, split);
  const at::TensorOptions acc = x.options().dtype(opmath_dtype(x.scalar_type()));
  at::Tensor partial = at::full({splits, n, n}, std::numeric_limits<double>::quiet_NaN(), acc);
  at::Tensor grad_x = at::full_like(x, std::numeric_limits<double>::quiet_NaN());
  const at::Tensor g = grad.to(acc.dtype_opt()->toScalarType());
  const at::Tensor sym = (g + g.t()).contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "beyondmse_sqdist_tiles_on_cpu", [&] {
    using A = acc_t<scalar_t>;
    emulate_sqdist_kernels<scalar_t>(x.const_data_ptr<scalar_t>(), n, d, split, partial.mutable_data_ptr<A>(),
                                     sym.const_data_ptr<A>(), A(2) / static_cast<A>(d),
                                     grad_x.mutable_data_ptr<scalar_t>(), reverse);
  });
  return {partial.sum(0), grad_x};
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse_testing, CPU, m) {
  m.impl("sqdist_difference_kernels_on_cpu", &difference_kernels_on_cpu);
}

}  // namespace beyondmse
