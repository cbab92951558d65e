// CUDA kernels of the gradient difference loss. Each block walks a strided share of one image's
// pixels: the forward sums the terms each pixel owns (vertical with the pixel above, horizontal with
// the pixel to the left) and writes the block's total as one part of the image's sum; a second
// kernel adds an image's parts in a fixed order, so results are bit-identical run to run (no
// atomics). The backward writes the wanted input gradients of every pixel in the same pass.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>

#include "gdl_terms.h"

namespace beyondmse {
namespace {

constexpr int kMaxThreads = 256;
constexpr int64_t kMaxGridY = 65535;      // CUDA's limit on gridDim.y; images beyond it loop
constexpr int64_t kTargetBlocks = 4096;   // several waves of 256-thread blocks on current GPUs

// Walks pixels start, start + stride, ... of an image of row width w, keeping the column j = q % w
// up to date by addition, so the loop needs no 64-bit division.
struct PixelCursor {
  int64_t q, j;
  const int64_t stride, w, dj;
  __device__ PixelCursor(int64_t start, int64_t stride_, int64_t w_)
      : q(start), j(start % w_), stride(stride_), w(w_), dj(stride_ % w_) {}
  __device__ void next() {
    q += stride;
    j += dj;
    if (j >= w) j -= w;  // j, dj < w, so one wrap at most
  }
};

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of v over a 1-D block whose size is a multiple of 32; the result is valid in thread 0. Every
// thread of the block must call it; it may be called repeatedly (it syncs before returning).
template <typename A>
__device__ A block_sum(A v) {
  __shared__ A warp_sums[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) v = warp_sum(lane < static_cast<int>(blockDim.x >> 5) ? warp_sums[lane] : A(0));
  __syncthreads();
  return v;
}

// First pixel and stride of this thread within an image (gridDim.x blocks share each image).
__device__ __forceinline__ int64_t thread_start() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// parts[img * gridDim.x + blockIdx.x]: the sum of the terms block blockIdx.x owns in image img.
template <Exponent E, typename T>
__global__ void __launch_bounds__(kMaxThreads)
    gdl_forward_kernel(const T* __restrict__ p, const T* __restrict__ t, int64_t images, int64_t hw, int64_t w,
                       acc_t<T> alpha, acc_t<T>* __restrict__ parts) {
  using A = acc_t<T>;
  for (int64_t img = blockIdx.y; img < images; img += gridDim.y) {
    const T* pi = p + img * hw;
    const T* ti = t + img * hw;
    A sum = 0;
    for (PixelCursor c(thread_start(), thread_stride(), w); c.q < hw; c.next()) {
      const int64_t q = c.q;
      const A pq = static_cast<A>(pi[q]), tq = static_cast<A>(ti[q]);
      if (q >= w) sum += gdl_term<E, A>(tq - static_cast<A>(ti[q - w]), pq - static_cast<A>(pi[q - w]), alpha);
      if (c.j > 0) sum += gdl_term<E, A>(tq - static_cast<A>(ti[q - 1]), pq - static_cast<A>(pi[q - 1]), alpha);
    }
    sum = block_sum(sum);
    if (threadIdx.x == 0) parts[img * gridDim.x + blockIdx.x] = sum;
  }
}

// out[img] = the sum of the image's count parts, one warp per image: lane l adds parts l, l + 32, ...
// in order, then the warp's fixed shuffle tree adds the lanes. The order never depends on which
// blocks of the forward ran first.
template <typename A>
__global__ void __launch_bounds__(32)
    sum_parts_kernel(const A* __restrict__ parts, int64_t images, int64_t count, A* __restrict__ out) {
  for (int64_t img = blockIdx.x; img < images; img += gridDim.x) {
    A sum = 0;
    for (int64_t k = threadIdx.x; k < count; k += 32) sum += parts[img * count + k];
    sum = warp_sum(sum);
    if (threadIdx.x == 0) out[img] = sum;
  }
}

// Pixel (i, j) appears in up to four terms: vertical (i-1, i) and (i, i+1), horizontal (j-1, j) and
// (j, j+1); each contributes with + for its second pixel, - for its first (as in gdl_cpu.cpp).
// gp is written when P, gt when G.
template <Exponent E, bool P, bool G, typename T>
__global__ void __launch_bounds__(kMaxThreads)
    gdl_backward_kernel(const acc_t<T>* __restrict__ grad, const T* __restrict__ p, const T* __restrict__ t,
                        int64_t images, int64_t hw, int64_t w, acc_t<T> alpha, T* __restrict__ gp,
                        T* __restrict__ gt) {
  using A = acc_t<T>;
  for (int64_t img = blockIdx.y; img < images; img += gridDim.y) {
    const int64_t base = img * hw;
    const T* pi = p + base;
    const T* ti = t + base;
    const A g = grad[img];
    for (PixelCursor c(thread_start(), thread_stride(), w); c.q < hw; c.next()) {
      const int64_t q = c.q;
      const A pq = static_cast<A>(pi[q]), tq = static_cast<A>(ti[q]);
      A sp = 0, st = 0, d_dt, d_dp;
      if (q >= w) {
        gdl_term_grad<E, A>(tq - static_cast<A>(ti[q - w]), pq - static_cast<A>(pi[q - w]), alpha, d_dt, d_dp);
        sp += d_dp, st += d_dt;
      }
      if (q + w < hw) {
        gdl_term_grad<E, A>(static_cast<A>(ti[q + w]) - tq, static_cast<A>(pi[q + w]) - pq, alpha, d_dt, d_dp);
        sp -= d_dp, st -= d_dt;
      }
      if (c.j > 0) {
        gdl_term_grad<E, A>(tq - static_cast<A>(ti[q - 1]), pq - static_cast<A>(pi[q - 1]), alpha, d_dt, d_dp);
        sp += d_dp, st += d_dt;
      }
      if (c.j + 1 < w) {
        gdl_term_grad<E, A>(static_cast<A>(ti[q + 1]) - tq, static_cast<A>(pi[q + 1]) - pq, alpha, d_dt, d_dp);
        sp -= d_dp, st -= d_dt;
      }
      // The unwanted sum is dead code: the compiler drops it and its share of the term derivatives.
      if constexpr (P) gp[base + q] = static_cast<T>(g * sp);
      if constexpr (G) gt[base + q] = static_cast<T>(g * st);
    }
  }
}

// Blocks per image (x) times images (y): small images get small blocks (down to one warp) so threads
// are not left idle, and a few large images are split over enough blocks to fill the GPU.
struct LaunchShape {
  dim3 grid;
  dim3 block;
};

LaunchShape launch_shape(int64_t images, int64_t hw) {
  const int64_t threads = std::min<int64_t>(kMaxThreads, (hw + 31) / 32 * 32);
  const int64_t grid_y = std::min(images, kMaxGridY);
  const int64_t grid_x = std::min((hw + threads - 1) / threads, std::max<int64_t>(1, kTargetBlocks / grid_y));
  return {dim3(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y)), dim3(static_cast<unsigned>(threads))};
}


at::Tensor gdl_loss(const at::Tensor& pred, const at::Tensor& target, double alpha) {
  check_gdl_inputs(pred, target, alpha);
  const c10::cuda::CUDAGuard guard(pred.device());
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  const at::TensorOptions acc_options = p.options().dtype(opmath_dtype(p.scalar_type()));
  const at::IntArrayRef out_shape = p.sizes().slice(0, p.dim() - 2);
  if (p.numel() == 0) return at::zeros(out_shape, acc_options);  // images of no pixels sum to 0
  at::Tensor out = at::empty(out_shape, acc_options);
  const LaunchShape shape = launch_shape(images, h * w);
  // One block per image writes its sum straight into out; several write parts, summed afterwards.
  const int64_t count = shape.grid.x;
  at::Tensor parts = count == 1 ? out : at::empty({images, count}, acc_options);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "beyondmse_gdl_cuda", [&] {
    using A = acc_t<scalar_t>;
    dispatch_exponent(alpha, [&](auto e) {
      gdl_forward_kernel<decltype(e)::value, scalar_t><<<shape.grid, shape.block, 0, stream>>>(
          p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h * w, w, static_cast<A>(alpha),
          parts.mutable_data_ptr<A>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
    if (count > 1) {
      const auto blocks = static_cast<unsigned>(std::min(images, kMaxGridY));
      sum_parts_kernel<A><<<blocks, 32, 0, stream>>>(parts.const_data_ptr<A>(), images, count,
                                                     out.mutable_data_ptr<A>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return out;
}

OptionalGrads gdl_loss_backward(const at::Tensor& grad, const at::Tensor& pred, const at::Tensor& target,
                                double alpha, std::array<bool, 2> output_mask) {
  check_gdl_inputs(pred, target, alpha);
  const c10::cuda::CUDAGuard guard(pred.device());
  const at::Tensor p = pred.contiguous(), t = target.contiguous();
  const int64_t h = p.size(-2), w = p.size(-1), images = image_count(p);
  check_gdl_grad(grad, images);
  OptionalGrads out{empty_if(output_mask[0], p), empty_if(output_mask[1], p)};
  if (p.numel() == 0 || !(output_mask[0] || output_mask[1])) return out;
  const at::Tensor g = grad.to(p.device(), opmath_dtype(p.scalar_type())).contiguous();
  const LaunchShape shape = launch_shape(images, h * w);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "beyondmse_gdl_backward_cuda", [&] {
    using A = acc_t<scalar_t>;
    scalar_t* gp = data_or_null<scalar_t>(std::get<0>(out));
    scalar_t* gt = data_or_null<scalar_t>(std::get<1>(out));
    dispatch_exponent(alpha, [&](auto e) {
      dispatch_wanted(output_mask, [&](auto want_p, auto want_t) {
        gdl_backward_kernel<decltype(e)::value, decltype(want_p)::value, decltype(want_t)::value, scalar_t>
            <<<shape.grid, shape.block, 0, stream>>>(g.const_data_ptr<A>(), p.const_data_ptr<scalar_t>(),
                                                     t.const_data_ptr<scalar_t>(), images, h * w, w,
                                                     static_cast<A>(alpha), gp, gt);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CUDA, m) {
  m.impl("gdl_loss", &gdl_loss);
  m.impl("gdl_loss_backward", &gdl_loss_backward);
}

}  // namespace beyondmse
