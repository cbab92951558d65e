// The tests' run of the CUDA pyramid kernel's phases (pyramid_tile.h) on the CPU:
// beyondmse_testing::pyramid_tile_kernel_on_cpu (schema in csrc/testing.cpp).
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "pyramid_tile.h"

namespace beyondmse {
namespace {

// The blocks of a launch (grid_x column tiles, grid_y blocks walking the (image, row tile) pairs)
// run one after another on the CPU, each phase for threads 0 .. threads - 1 in turn (or in reverse)
// with the barriers between phases. Shared memory starts as NaN, so a read of anything not staged
// shows in the output.
template <typename T>
void emulate_tile_kernel(const TileJob<T>& job, int64_t grid_y, int threads, bool reverse) {
  using A = acc_t<T>;
  std::vector<unsigned char> shared(tile_shared_bytes(job));  // operator new aligns it for any A
  const int64_t grid_x = (job.out_w + job.tile_w - 1) / job.tile_w;
  auto each_thread = [&](auto&& phase) {
    for (int k = 0; k < threads; ++k) phase(reverse ? threads - 1 - k : k);
  };
  for (int64_t bx = 0; bx < grid_x; ++bx) {
    for (int64_t by = 0; by < grid_y; ++by) {
      const TileShared<A> s = tile_shared(shared.data(), job);
      std::fill(s.stage, s.stage + job.cap_r * (job.cap_c + job.tile_w), std::numeric_limits<A>::quiet_NaN());
      TilePos p = tile_position(job, bx, by);
      each_thread([&](int tid) { phase_col_taps(job, s, p, tid, threads); });
      for (int64_t tile = by; tile < job.tiles; tile += grid_y) {
        p = tile_position(job, bx, tile);
        each_thread([&](int tid) { phase_stage(job, s, p, tid, threads); });
        each_thread([&](int tid) { phase_horizontal(job, s, p, tid, threads); });
        each_thread([&](int tid) { phase_vertical(job, s, p, tid, threads); });
      }
    }
  }
}

at::Tensor tile_kernel_on_cpu(const at::Tensor& input, int64_t kind_index, int64_t out_h, int64_t out_w,
                              int64_t tile_h, int64_t tile_w, int64_t threads, int64_t grid_y, bool reverse) {
  TORCH_CHECK(kind_index >= 0 && kind_index <= 3, "beyondmse: kind must be 0 .. 3, got ", kind_index);
  TORCH_CHECK(threads >= 1 && grid_y >= 1 && tile_h >= 0 && tile_w >= 0 && tile_h <= kMaxTileHeight &&
                  tile_w <= kMaxTileWidth,
              "beyondmse: threads and grid_y must be >= 1, tiles at most ", kMaxTileHeight, " x ", kMaxTileWidth);
  const auto kind = static_cast<Resample>(kind_index);
  check_resample(input, kind, out_h, out_w);
  const at::Tensor x = input.contiguous();
  at::Tensor out = at::empty(image_shape(x, out_h, out_w), x.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "beyondmse_pyramid_tile_on_cpu", [&] {
    const auto job = make_tile_job<scalar_t>(x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), kind,
                                             image_count(x), static_cast<int>(x.size(-2)),
                                             static_cast<int>(x.size(-1)), static_cast<int>(out_h),
                                             static_cast<int>(out_w), static_cast<int>(tile_h),
                                             static_cast<int>(tile_w));
    emulate_tile_kernel(job, std::min(grid_y, job.tiles), static_cast<int>(threads), reverse);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse_testing, CPU, m) { m.impl("pyramid_tile_kernel_on_cpu", &tile_kernel_on_cpu); }

}  // namespace beyondmse
