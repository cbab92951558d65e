// CPU kernels of the pyramid ops: one separable resampling routine serves pyr_down, pyr_up and
// both adjoints (see pyramid_taps.h).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "pyramid_taps.h"

namespace beyondmse {
namespace {

struct Taps {
  int count;
  int idx[kMaxTaps];
  float wt[kMaxTaps];
};

std::vector<Taps> axis_taps(Resample kind, int n_in, int n_out) {
  std::vector<Taps> taps(n_out);
  for (int o = 0; o < n_out; ++o) taps[o].count = resample_taps(kind, o, n_in, n_out, taps[o].idx, taps[o].wt);
  return taps;
}

// One output row: first the row's vertical taps combine whole input rows (contiguous, vectorised),
// then each output pixel gathers its horizontal taps from that combined row. Only one row of
// intermediate values exists per thread.
template <typename T>
BMSE_CPU_CLONES void resample_row(const T* image, int64_t width, const Taps& row, const Taps* cols,
                                  int64_t out_width, acc_t<T>* line, T* out) {
  using A = acc_t<T>;
  const T* src = image + row.idx[0] * width;
  const A w0 = row.wt[0];
  for (int64_t x = 0; x < width; ++x) line[x] = w0 * static_cast<A>(src[x]);
  for (int a = 1; a < row.count; ++a) {
    src = image + row.idx[a] * width;
    const A wa = row.wt[a];
    for (int64_t x = 0; x < width; ++x) line[x] += wa * static_cast<A>(src[x]);
  }
  for (int64_t j = 0; j < out_width; ++j) {
    const Taps& c = cols[j];
    A acc = 0;
    for (int b = 0; b < c.count; ++b) acc += static_cast<A>(c.wt[b]) * line[c.idx[b]];
    out[j] = static_cast<T>(acc);
  }
}

at::Tensor resample(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
  const at::Tensor x = input.contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), images = image_count(x);
  at::Tensor out = at::empty(image_shape(x, out_h, out_w), x.options());
  if (out.numel() == 0) return out;
  const std::vector<Taps> rows = axis_taps(kind, h, out_h);
  const std::vector<Taps> cols = axis_taps(kind, w, out_w);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "beyondmse_pyramid_cpu", [&] {
    const scalar_t* src = x.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, w));
    at::parallel_for(0, images * out_h, grain, [&](int64_t begin, int64_t end) {
      std::vector<acc_t<scalar_t>> line(w);
      for (int64_t r = begin; r < end; ++r) {
        const int64_t n = r / out_h, i = r % out_h;
        resample_row<scalar_t>(src + n * h * w, w, rows[i], cols.data(), out_w, line.data(),
                               dst + r * out_w);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CPU, m) { PyramidOps<resample>::define(m); }

}  // namespace beyondmse
