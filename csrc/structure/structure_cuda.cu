// CUDA kernels of the pairwise squared distances behind GAIA's structure loss. Both ops use the
// GEMM form (structure_gemm.h: cuBLAS, with the forward's error check) where gemm_allowed() says
// so, and otherwise the difference kernels below (no |a|^2 + |b|^2 - 2ab, which cancels), tiled
// like a matmul; their phases live in structure_tiles.h, which the tests also run on the CPU.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>

#include <c10/cuda/CUDAGraphsC10Utils.h>

#include "structure_gemm.h"
#include "structure_tiles.h"

namespace beyondmse {
namespace {

constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y (and z)

// out[z] for the tile of block (blockIdx.x, blockIdx.y, z = blockIdx.z); blocks below the
// diagonal return at once (their tiles are the mirrors of those above).
template <typename T>
__global__ void __launch_bounds__(kSqdistThreads)
    sqdist_kernel(const T* __restrict__ x, int64_t n, int64_t d, int64_t split, acc_t<T>* __restrict__ out) {
  using A = acc_t<T>;
  if (blockIdx.y > blockIdx.x) return;
  __shared__ TilePair<A> s;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
  const SqdistBlock b = sqdist_block(blockIdx.x, blockIdx.y, blockIdx.z, d, split);
  Micro<A> acc{};
  for (int64_t f0 = b.f_begin; f0 < b.f_end; f0 += kTile) {
    sqdist_stage(s, x, n, d, b, f0, tid);
    __syncthreads();
    sqdist_accumulate(s, acc, tx, ty);
    __syncthreads();
  }
  sqdist_result(s, acc, d, tx, ty);
  __syncthreads();
  sqdist_store(s, out, n, b, tid);
}

// grad_x for the tile of rows blockIdx.y and features blockIdx.x.
template <typename T>
__global__ void __launch_bounds__(kSqdistThreads)
    sqdist_backward_kernel(const acc_t<T>* __restrict__ sym, const T* __restrict__ x, int64_t n, int64_t d,
                           acc_t<T> scale, T* __restrict__ grad_x) {
  using A = acc_t<T>;
  __shared__ TilePair<A> s;  // S[i0.., j0..] and x[j0.., f0..]
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kSide + tx;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, f0 = static_cast<int64_t>(blockIdx.x) * kTile;
  Micro<A> own, acc{};
  sqdist_backward_own(own, x, n, d, i0, f0, tx, ty);
  for (int64_t j0 = 0; j0 < n; j0 += kTile) {
    sqdist_backward_stage(s, sym, x, n, d, i0, f0, j0, tid);
    __syncthreads();
    sqdist_backward_accumulate(s, own, acc, n, j0, tx, ty);
    __syncthreads();
  }
  sqdist_backward_store(acc, grad_x, n, d, i0, f0, scale, tx, ty);
}

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
  const int64_t split = split_features(n, d), splits = ceil_div(d, split);
  at::Tensor partial = splits == 1 ? out : at::empty({splits, n, n}, out.options());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(tiles), static_cast<unsigned>(splits));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "beyondmse_sqdist_cuda", [&] {
    sqdist_kernel<scalar_t><<<grid, dim3(kSide, kSide), 0, stream>>>(
        x.const_data_ptr<scalar_t>(), n, d, split, partial.mutable_data_ptr<acc_t<scalar_t>>());
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
