// CUDA kernels of the pairwise squared distances behind GAIA's structure loss. Both ops use the
// GEMM form (structure_gemm.h: cuBLAS, with the forward's error check) where gemm_allowed() says
// so, and otherwise the difference kernels below (no |a|^2 + |b|^2 - 2ab, which cancels). These
// are tiled like a matmul: a block
// owns a 32 x 32 output tile, stages 32 x 32 input tiles in shared memory (converted to the
// accumulation type once) and each of its 16 x 16 threads accumulates a 2 x 2 micro-tile.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>

#include <c10/cuda/CUDAGraphsC10Utils.h>

#include "structure_gemm.h"

namespace beyondmse {
namespace {

constexpr int kTile = 32;             // output tile edge, and edge of the staged input tiles
constexpr int kSide = 16;             // threads per block edge; each owns kTile / kSide outputs per axis
constexpr int kMicro = kTile / kSide;
constexpr int kThreads = kSide * kSide;
constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y (and z)
// Forward: the feature axis is split over more blocks while the tiles alone would give fewer than
// this, so a small batch with long feature vectors (GAIA's usual case) still fills the GPU...
constexpr int64_t kTargetBlocks = 512;
// ...but no split gets fewer features than this, so the partial sums stay worth their traffic.
constexpr int64_t kMinSplitFeatures = 256;

// A kTile x kTile tile, padded by one column so that walking a column hits distinct banks.
template <typename A>
using SharedTile = A[kTile][kTile + 1];

// Stages src[(r0 + r) * ld + c0 + c] for r, c < kTile (0 outside rows x cols) into tile, converted
// to A; consecutive threads read consecutive columns, so the loads coalesce.
template <typename A, typename T>
__device__ __forceinline__ void stage_tile(SharedTile<A>& tile, const T* __restrict__ src, int64_t ld, int64_t r0,
                                           int64_t rows, int64_t c0, int64_t cols) {
  const int tid = threadIdx.y * kSide + threadIdx.x;
  for (int e = tid; e < kTile * kTile; e += kThreads) {
    const int r = e / kTile, c = e % kTile;
    tile[r][c] = r0 + r < rows && c0 + c < cols ? static_cast<A>(src[(r0 + r) * ld + c0 + c]) : A(0);
  }
}

// out[z][i, j] = sum_{f in split z} (x[i, f] - x[j, f])^2 / d for the tile (blockIdx.y, blockIdx.x).
// d is symmetric: only tiles on or above the diagonal compute, and write their mirror as well.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    sqdist_kernel(const T* __restrict__ x, int64_t n, int64_t d, int64_t split_features, acc_t<T>* __restrict__ out) {
  using A = acc_t<T>;
  if (blockIdx.y > blockIdx.x) return;
  __shared__ SharedTile<A> xi, xj;  // rows i0.. and j0.., kTile features at a time
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const int64_t f_begin = blockIdx.z * split_features, f_end = std::min(d, f_begin + split_features);
  const int tx = threadIdx.x, ty = threadIdx.y;
  A acc[kMicro][kMicro] = {};
  for (int64_t f0 = f_begin; f0 < f_end; f0 += kTile) {
    // Padding is 0 in both tiles, so padded features add (0 - 0)^2 = 0.
    stage_tile(xi, x, d, i0, n, f0, f_end);
    stage_tile(xj, x, d, j0, n, f0, f_end);
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k) {
#pragma unroll
      for (int r = 0; r < kMicro; ++r)
#pragma unroll
        for (int c = 0; c < kMicro; ++c) {
          const A diff = xi[ty + r * kSide][k] - xj[tx + c * kSide][k];
          acc[r][c] += diff * diff;
        }
    }
    __syncthreads();
  }
  // The result goes through shared memory (xi is free now) so that the tile and its mirror are
  // both written with coalesced stores.
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) xi[ty + r * kSide][tx + c * kSide] = acc[r][c] / static_cast<A>(d);
  __syncthreads();
  A* o = out + blockIdx.z * n * n;
  const bool mirror = blockIdx.x != blockIdx.y;
  for (int e = ty * kSide + tx; e < kTile * kTile; e += kThreads) {
    const int r = e / kTile, c = e % kTile;
    if (i0 + r < n && j0 + c < n) o[(i0 + r) * n + j0 + c] = xi[r][c];
    if (mirror && j0 + r < n && i0 + c < n) o[(j0 + r) * n + i0 + c] = xi[c][r];
  }
}

// grad_x[i, f] = scale * sum_j S[i, j] (x[i, f] - x[j, f]) for the tile of rows blockIdx.y and
// features blockIdx.x, walking j in tiles of kTile.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    sqdist_backward_kernel(const acc_t<T>* __restrict__ sym, const T* __restrict__ x, int64_t n, int64_t d,
                           acc_t<T> scale, T* __restrict__ grad_x) {
  using A = acc_t<T>;
  __shared__ SharedTile<A> s, xj;  // S[i0.., j0..] and x[j0.., f0..]
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, f0 = static_cast<int64_t>(blockIdx.x) * kTile;
  const int tx = threadIdx.x, ty = threadIdx.y;
  A xi[kMicro][kMicro], acc[kMicro][kMicro] = {};
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) {
      const int64_t i = i0 + ty + r * kSide, f = f0 + tx + c * kSide;
      xi[r][c] = i < n && f < d ? static_cast<A>(x[i * d + f]) : A(0);
    }
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    stage_tile(s, sym, n, i0, n, j0, n);
    stage_tile(xj, x, d, j0, n, f0, d);
    __syncthreads();
    // Only real rows j: a padded one would add 0 * (x[i, f] - 0), which is NaN for an infinite x.
    const int j_count = static_cast<int>(std::min<int64_t>(kTile, n - j0));
    for (int k = 0; k < j_count; ++k)
#pragma unroll
      for (int r = 0; r < kMicro; ++r)
#pragma unroll
        for (int c = 0; c < kMicro; ++c) acc[r][c] += s[ty + r * kSide][k] * (xi[r][c] - xj[k][tx + c * kSide]);
    __syncthreads();
  }
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) {
      const int64_t i = i0 + ty + r * kSide, f = f0 + tx + c * kSide;
      if (i < n && f < d) grad_x[i * d + f] = static_cast<T>(scale * acc[r][c]);
    }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The GEMM form needs full-precision products (while TF32 matmuls are enabled the difference
// kernels run); the forward's error check reads its verdict back to the host, which a CUDA graph
// capture cannot do.
bool gemm_allowed(const at::Tensor& x, bool reads_back) {
  return full_precision_mm(x) &&
         (!reads_back || c10::cuda::currentStreamCaptureStatusMayInitCtx() == c10::cuda::CaptureStatus::None);
}

at::Tensor pairwise_sqdist(const at::Tensor& input) {
  check_sqdist_input(input);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor out = at::empty({n, n}, x.options().dtype(opmath_dtype(x.scalar_type())));
  if (n == 0) return out;
  if (d == 0) return out.zero_();
  if (gemm_allowed(x, /*reads_back=*/true)) {
    if (at::Tensor gemm = sqdist_gemm(x); gemm.defined()) return gemm;
  }
  const int64_t tiles = ceil_div(n, kTile);
  TORCH_CHECK(tiles <= kMaxGridY, "beyondmse: pairwise_sqdist N = ", n, " is too large");
  // Split the features so that about kTargetBlocks blocks compute, each split a whole number of
  // staged chunks; splits > 1 write partial matrices that are summed afterwards (deterministic).
  const int64_t tile_blocks = tiles * (tiles + 1) / 2;
  const int64_t want = std::clamp<int64_t>(ceil_div(kTargetBlocks, tile_blocks), 1, ceil_div(d, kMinSplitFeatures));
  const int64_t split_features = ceil_div(ceil_div(d, want), kTile) * kTile;
  const int64_t splits = ceil_div(d, split_features);
  at::Tensor partial = splits == 1 ? out : at::empty({splits, n, n}, out.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(tiles), static_cast<unsigned>(splits));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "beyondmse_sqdist_cuda", [&] {
    sqdist_kernel<scalar_t><<<grid, dim3(kSide, kSide), 0, stream>>>(
        x.const_data_ptr<scalar_t>(), n, d, split_features, partial.mutable_data_ptr<acc_t<scalar_t>>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  if (splits > 1) at::sum_out(out, partial, at::IntArrayRef{0});
  return out;
}

at::Tensor pairwise_sqdist_backward(const at::Tensor& grad, const at::Tensor& input) {
  check_sqdist_input(input);
  check_sqdist_grad(grad, input);
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const int64_t n = x.size(0), d = x.size(1);
  at::Tensor out = at::empty_like(x);
  if (x.numel() == 0) return out;
  TORCH_CHECK(ceil_div(n, kTile) <= kMaxGridY, "beyondmse: pairwise_sqdist_backward N = ", n, " is too large");
  const at::Tensor g = grad.to(opmath_dtype(x.scalar_type()));
  const at::Tensor sym = (g + g.t()).contiguous();
  if (gemm_allowed(x, /*reads_back=*/false)) return sqdist_gemm_backward(sym, x);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const dim3 grid(static_cast<unsigned>(ceil_div(d, kTile)), static_cast<unsigned>(ceil_div(n, kTile)));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "beyondmse_sqdist_backward_cuda", [&] {
    using A = acc_t<scalar_t>;
    sqdist_backward_kernel<scalar_t><<<grid, dim3(kSide, kSide), 0, stream>>>(
        sym.const_data_ptr<A>(), x.const_data_ptr<scalar_t>(), n, d, A(2) / static_cast<A>(d),
        out.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CUDA, m) {
  m.impl("pairwise_sqdist", &pairwise_sqdist);
  m.impl("pairwise_sqdist_backward", &pairwise_sqdist_backward);
}

}  // namespace beyondmse
