// CUDA kernel of the pyramid ops: one separable resampling kernel serves pyr_down, pyr_up and both
// adjoints (see pyramid_taps.h). A block stages a tile's inputs with their halo in shared memory and
// filters them in two separable passes (pyramid_tile.h, the phases, which pyramid_testing.cpp also
// runs on the CPU); blocks loop over (image, row tile) pairs, so any number of images fits the grid.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>

#include "pyramid_tile.h"

namespace beyondmse {
namespace {

constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y; tiles beyond it loop

// blockIdx.x picks the column tile; blockIdx.y walks the (image, row tile) pairs. The barriers
// separate the phases: each phase reads only what earlier phases wrote.
template <typename T>
__global__ void __launch_bounds__(kTileThreads) resample_kernel(const TileJob<T> job) {
  extern __shared__ __align__(16) unsigned char shared[];
  const TileShared<acc_t<T>> s = tile_shared(shared, job);
  const int tid = threadIdx.x, threads = blockDim.x;
  TilePos p = tile_position(job, blockIdx.x, blockIdx.y);
  phase_col_taps(job, s, p, tid, threads);
  for (int64_t tile = blockIdx.y; tile < job.tiles; tile += gridDim.y) {
    p = tile_position(job, blockIdx.x, tile);
    __syncthreads();  // the previous tile's rows, staged inputs and filtered rows are no longer read
    phase_stage(job, s, p, tid, threads);
    __syncthreads();
    phase_horizontal(job, s, p, tid, threads);
    __syncthreads();
    phase_vertical(job, s, p, tid, threads);
  }
}

at::Tensor resample(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), images = image_count(x);
  at::Tensor out = at::empty(image_shape(x, out_h, out_w), x.options());
  if (out.numel() == 0) return out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "beyondmse_pyramid_cuda", [&] {
    const auto job = make_tile_job<scalar_t>(x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), kind,
                                             images, static_cast<int>(h), static_cast<int>(w),
                                             static_cast<int>(out_h), static_cast<int>(out_w));
    const dim3 grid(static_cast<unsigned>((out_w + job.tile_w - 1) / job.tile_w),
                    static_cast<unsigned>(std::min(job.tiles, kMaxGridY)));
    const size_t smem = tile_shared_bytes(job);  // at most 31 KiB (float64, stride-2 kinds)
    resample_kernel<scalar_t><<<grid, kTileThreads, smem, stream>>>(job);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CUDA, m) { PyramidOps<resample>::define(m); }

}  // namespace beyondmse
