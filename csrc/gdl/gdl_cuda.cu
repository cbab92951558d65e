// CUDA kernels of the gradient difference loss. Each thread walks strips of rows of one image's
// column groups with vector loads (gdl_strips.h, the per-thread work, which gdl_testing.cpp also
// runs on the CPU): the forward sums the terms each pixel owns (vertical with the pixel above, horizontal with
// the pixel to the left) and each block writes its total as one part of the image's sum; a second
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

#include "gdl_strips.h"

namespace beyondmse {
namespace {

constexpr int kMaxThreads = 256;
constexpr int64_t kMaxGridY = 65535;      // CUDA's limit on gridDim.y; images beyond it loop
constexpr int64_t kTargetBlocks = 4096;   // several waves of 256-thread blocks on current GPUs

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

// First item and stride of this thread within an image (gridDim.x blocks share each image).
__device__ __forceinline__ int64_t thread_start() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t thread_stride() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// parts[img * gridDim.x + blockIdx.x]: the sum of the terms block blockIdx.x owns in image img.
template <Exponent E, int V, typename T>
__global__ void __launch_bounds__(kMaxThreads)
    gdl_forward_kernel(const StripJob<T> job, int64_t images, acc_t<T> alpha, acc_t<T>* __restrict__ parts) {
  for (int64_t img = blockIdx.y; img < images; img += gridDim.y) {
    const acc_t<T> sum = block_sum(strip_forward<E, V, T>(job, img, thread_start(), thread_stride(), alpha));
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

// The wanted input gradients of every pixel: gp is written when P, gt when G.
template <Exponent E, bool P, bool G, int V, typename T>
__global__ void __launch_bounds__(kMaxThreads)
    gdl_backward_kernel(const StripJob<T> job, int64_t images, acc_t<T> alpha, const acc_t<T>* __restrict__ grad,
                        T* __restrict__ gp, T* __restrict__ gt) {
  for (int64_t img = blockIdx.y; img < images; img += gridDim.y)
    strip_backward<E, P, G, V, T>(job, img, thread_start(), thread_stride(), alpha, grad[img], gp, gt);
}

// Blocks per image (x) times images (y): small images get small blocks (down to one warp) so threads
// are not left idle, and a few large images are split over enough blocks to fill the GPU.
struct LaunchShape {
  dim3 grid;
  dim3 block;
};

LaunchShape launch_shape(int64_t images, int64_t items) {
  const int64_t threads = std::min<int64_t>(kMaxThreads, (items + 31) / 32 * 32);
  const int64_t grid_y = std::min(images, kMaxGridY);
  const int64_t grid_x = std::min((items + threads - 1) / threads, std::max<int64_t>(1, kTargetBlocks / grid_y));
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
  const int vector = strip_vector_width(w, {p.const_data_ptr(), t.const_data_ptr()}, p.element_size());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "beyondmse_gdl_cuda", [&] {
    using A = acc_t<scalar_t>;
    const auto job = make_strip_job(p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h, w, vector);
    const LaunchShape shape = launch_shape(images, job.items);
    // One block per image writes its sum straight into out; several write parts, summed afterwards.
    const int64_t count = shape.grid.x;
    at::Tensor parts = count == 1 ? out : at::empty({images, count}, acc_options);
    dispatch_exponent(alpha, [&](auto e) {
      dispatch_vector(vector, [&](auto v) {
        gdl_forward_kernel<decltype(e)::value, decltype(v)::value, scalar_t><<<shape.grid, shape.block, 0, stream>>>(
            job, images, static_cast<A>(alpha), parts.mutable_data_ptr<A>());
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
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
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "beyondmse_gdl_backward_cuda", [&] {
    using A = acc_t<scalar_t>;
    scalar_t* gp = data_or_null<scalar_t>(std::get<0>(out));
    scalar_t* gt = data_or_null<scalar_t>(std::get<1>(out));
    const int vector = strip_vector_width(w, {p.const_data_ptr(), t.const_data_ptr(), gp, gt}, p.element_size());
    const auto job = make_strip_job(p.const_data_ptr<scalar_t>(), t.const_data_ptr<scalar_t>(), images, h, w, vector);
    const LaunchShape shape = launch_shape(images, job.items);
    dispatch_exponent(alpha, [&](auto e) {
      dispatch_wanted(output_mask, [&](auto want_p, auto want_t) {
        dispatch_vector(vector, [&](auto v) {
          gdl_backward_kernel<decltype(e)::value, decltype(want_p)::value, decltype(want_t)::value,
                              decltype(v)::value, scalar_t><<<shape.grid, shape.block, 0, stream>>>(
              job, images, static_cast<A>(alpha), g.const_data_ptr<A>(), gp, gt);
          C10_CUDA_KERNEL_LAUNCH_CHECK();
        });
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
