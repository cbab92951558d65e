// CUDA kernel of the pyramid ops: one separable resampling kernel serves pyr_down, pyr_up and both
// adjoints (see pyramid_taps.h). A block computes a tile of output pixels of one image; the taps of
// the tile's columns and rows are computed once into shared memory and every thread then gathers
// its pixel's inputs (through the read-only cache) with those taps.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>

#include "pyramid_taps.h"

namespace beyondmse {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxTileWidth = 32;     // one warp along a row, so loads and stores coalesce
constexpr int64_t kMaxGridY = 65535;  // CUDA's limit on gridDim.y; tiles beyond it loop

struct Taps {
  int count;
  int idx[kMaxTaps];
  float wt[kMaxTaps];
};

// Output tiles are blockDim.x columns by blockDim.y rows. blockIdx.x picks the column tile;
// blockIdx.y walks the (image, row tile) pairs, so any number of images fits the grid.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    resample_kernel(const T* __restrict__ in, T* __restrict__ out, Resample kind, int h, int w, int out_h,
                    int out_w, int64_t row_tiles, int64_t tiles) {
  using A = acc_t<T>;
  extern __shared__ Taps shared_taps[];
  Taps* cols = shared_taps;               // blockDim.x entries
  Taps* rows = shared_taps + blockDim.x;  // blockDim.y entries
  // 64-bit pixel indices: an image may hold more than 2^31 pixels (axes up to 2^29, pyramid_taps.h).
  const int tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * blockDim.x, j = col0 + threadIdx.x;
  if (tid < static_cast<int>(blockDim.x) && col0 + tid < out_w)
    cols[tid].count = resample_taps(kind, static_cast<int>(col0 + tid), w, out_w, cols[tid].idx, cols[tid].wt);

  for (int64_t tile = blockIdx.y; tile < tiles; tile += gridDim.y) {
    const int64_t n = tile / row_tiles;
    const int64_t row0 = tile % row_tiles * blockDim.y;
    __syncthreads();  // the previous tile's row taps are no longer read
    if (tid < static_cast<int>(blockDim.y) && row0 + tid < out_h)
      rows[tid].count = resample_taps(kind, static_cast<int>(row0 + tid), h, out_h, rows[tid].idx, rows[tid].wt);
    __syncthreads();
    const int64_t i = row0 + threadIdx.y;
    if (i >= out_h || j >= out_w) continue;
    const Taps& r = rows[threadIdx.y];
    const Taps& c = cols[threadIdx.x];
    const T* image = in + n * h * w;
    A acc = 0;
    for (int a = 0; a < r.count; ++a) {
      const T* src = image + static_cast<int64_t>(r.idx[a]) * w;
      A line = 0;
      for (int b = 0; b < c.count; ++b) line += static_cast<A>(c.wt[b]) * static_cast<A>(src[c.idx[b]]);
      acc += static_cast<A>(r.wt[a]) * line;
    }
    out[(n * out_h + i) * out_w + j] = static_cast<T>(acc);
  }
}

int pow2_at_least(int64_t n, int cap) {
  int p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}

at::Tensor resample(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
  const c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), images = image_count(x);
  at::Tensor out = at::empty(image_shape(x, out_h, out_w), x.options());
  if (out.numel() == 0) return out;
  // Narrow or short outputs get narrow or short tiles, so few threads idle on small pyramid levels.
  const int tile_w = pow2_at_least(out_w, kMaxTileWidth);
  const int tile_h = pow2_at_least(out_h, kThreads / tile_w);
  const int64_t row_tiles = (out_h + tile_h - 1) / tile_h, tiles = images * row_tiles;
  const dim3 grid(static_cast<unsigned>((out_w + tile_w - 1) / tile_w),
                  static_cast<unsigned>(std::min(tiles, kMaxGridY)));
  const dim3 block(tile_w, tile_h);
  const size_t smem = (tile_w + tile_h) * sizeof(Taps);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "beyondmse_pyramid_cuda", [&] {
    resample_kernel<scalar_t><<<grid, block, smem, stream>>>(
        x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), kind, static_cast<int>(h),
        static_cast<int>(w), static_cast<int>(out_h), static_cast<int>(out_w), row_tiles, tiles);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CUDA, m) { PyramidOps<resample>::define(m); }

}  // namespace beyondmse
