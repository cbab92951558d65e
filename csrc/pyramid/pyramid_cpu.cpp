// CPU kernels of the pyramid ops: one separable resampling routine serves pyr_down, pyr_up and
// both adjoints (see pyramid_taps.h).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "pyramid_taps.h"

namespace beyondmse {
namespace {

std::vector<Taps> axis_taps(Resample kind, int n_in, int n_out) {
  std::vector<Taps> taps(n_out);
  for (int o = 0; o < n_out; ++o) taps[o].count = resample_taps(kind, o, n_in, n_out, taps[o].idx, taps[o].wt);
  return taps;
}

// line = sum over the first K taps a of wt[a] * input row idx[a]: one pass over the rows (the
// interior rows of every kind read 2, 3 or 5 of them).
template <int K, typename T>
inline void combine_rows(const T* image, int64_t width, const Taps& row, acc_t<T>* line) {
  using A = acc_t<T>;
  const T* src[K];
  A wt[K];
  for (int a = 0; a < K; ++a) src[a] = image + row.idx[a] * width, wt[a] = row.wt[a];
#pragma omp simd
  for (int64_t x = 0; x < width; ++x) {
    A acc = wt[0] * static_cast<A>(src[0][x]);
    for (int a = 1; a < K; ++a) acc += wt[a] * static_cast<A>(src[a][x]);
    line[x] = acc;
  }
}

// One output row: first the row's vertical taps combine whole input rows (contiguous, vectorised),
// then the horizontal pass reads that combined row: the closed form on [lo, hi), each output's
// gathered taps at the borders. Only one row of intermediate values exists per thread.
template <typename T>
BMSE_CPU_CLONES void resample_row(const T* image, int64_t width, const Taps& row, const Taps* cols,
                                  int64_t out_width, Resample kind, int64_t lo, int64_t hi,
                                  acc_t<T>* line, T* out) {
  using A = acc_t<T>;
  switch (row.count) {
    case 1: combine_rows<1>(image, width, row, line); break;
    case 2: combine_rows<2>(image, width, row, line); break;
    case 3: combine_rows<3>(image, width, row, line); break;
    case 4: combine_rows<4>(image, width, row, line); break;
    case 5: combine_rows<5>(image, width, row, line); break;
    default:  // only the adjoints' border rows read more than 5 rows
      combine_rows<5>(image, width, row, line);
      for (int a = 5; a < row.count; ++a) {
        const T* src = image + row.idx[a] * width;
        const A wa = row.wt[a];
        for (int64_t x = 0; x < width; ++x) line[x] += wa * static_cast<A>(src[x]);
      }
  }
  auto gathered = [&](int64_t j) {
    const Taps& c = cols[j];
    A acc = 0;
    for (int b = 0; b < c.count; ++b) acc += static_cast<A>(c.wt[b]) * line[c.idx[b]];
    out[j] = round_to<T>(acc);
  };
  for (int64_t j = 0; j < lo; ++j) gathered(j);
  const A s = static_cast<A>(interior_scale(kind)) / 16;
  if (is_stride2(kind)) {
    const A c1 = s, c4 = 4 * s, c6 = 6 * s;
#pragma omp simd
    for (int64_t j = lo; j < hi; ++j) {
      const A* l = line + 2 * j - 2;
      out[j] = round_to<T>(c1 * (l[0] + l[4]) + c4 * (l[1] + l[3]) + c6 * l[2]);
    }
  } else {
    const A c1 = s, c4 = 4 * s, c6 = 6 * s;
#pragma omp simd
    for (int64_t a = lo / 2; a < hi / 2; ++a) {
      out[2 * a] = round_to<T>(c1 * (line[a - 1] + line[a + 1]) + c6 * line[a]);
      out[2 * a + 1] = round_to<T>(c4 * (line[a] + line[a + 1]));
    }
  }
  for (int64_t j = hi; j < out_width; ++j) gathered(j);
}

at::Tensor resample(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
  const at::Tensor x = input.contiguous();
  const int64_t h = x.size(-2), w = x.size(-1), images = image_count(x);
  at::Tensor out = at::empty(image_shape(x, out_h, out_w), x.options());
  if (out.numel() == 0) return out;
  const std::vector<Taps> rows = axis_taps(kind, h, out_h);
  const std::vector<Taps> cols = axis_taps(kind, w, out_w);
  const auto [lo, hi] = interior_bounds(kind, w, out_w);
  AT_DISPATCH_FLOATING_TYPES_AND(at::kBFloat16, x.scalar_type(), "beyondmse_pyramid_cpu", [&] {
    const scalar_t* src = x.const_data_ptr<scalar_t>();
    scalar_t* dst = out.mutable_data_ptr<scalar_t>();
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, w));
    at::parallel_for(0, images * out_h, grain, [&](int64_t begin, int64_t end) {
      std::vector<acc_t<scalar_t>> line(w);
      for (int64_t r = begin; r < end; ++r) {
        const int64_t n = r / out_h, i = r % out_h;
        resample_row<scalar_t>(src + n * h * w, w, rows[i], cols.data(), out_w, kind, lo, hi,
                               line.data(), dst + r * out_w);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(beyondmse, CPU, m) { PyramidOps<resample>::define(m); }

}  // namespace beyondmse
