// CPU kernels of the pyramid ops: one separable resampling routine serves pyr_down, pyr_up and
// both adjoints (see pyramid_taps.h).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <utility>
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

// Away from the borders every output of an axis reads the same pattern of inputs, so the
// horizontal pass runs there as a closed form over contiguous inputs (vectorised) instead of one
// gathered tap list per output. The resamplings come in two shapes, with weights scale * base / 16:
//   stride 2 (pyr_down, scale 1; pyr_up's adjoint, scale 2): output j reads 2j-2 .. 2j+2 with
//     base [1 4 6 4 1];
//   interleave (pyr_up, scale 2; pyr_down's adjoint, scale 1): output 2a reads a-1, a, a+1 with
//     [1 6 1], output 2a+1 reads a, a+1 with [4 4].
// The interior is found by comparing each output's taps with the closed form (interior_of), so the
// border rules live in pyramid_taps.h alone.
bool is_stride2(Resample kind) { return kind == Resample::Down || kind == Resample::UpAdjoint; }
float interior_scale(Resample kind) { return kind == Resample::Down || kind == Resample::DownAdjoint ? 1.f : 2.f; }

// Whether output o's taps are those of the closed form (as a set: add_tap keeps first-seen order).
bool matches_closed_form(Resample kind, int o, const Taps& t) {
  const float s = interior_scale(kind) / 16.f;
  int first, count;
  float base[5];
  if (is_stride2(kind)) {
    first = 2 * o - 2, count = 5;
    const float b[5] = {1, 4, 6, 4, 1};
    std::copy(b, b + 5, base);
  } else if (o % 2 == 0) {
    first = o / 2 - 1, count = 3, base[0] = 1, base[1] = 6, base[2] = 1;
  } else {
    first = o / 2, count = 2, base[0] = 4, base[1] = 4;
  }
  if (t.count != count) return false;
  for (int k = 0; k < count; ++k) {
    const int m = t.idx[k] - first;
    if (m < 0 || m >= count || t.wt[k] != s * base[m]) return false;
  }
  return true;
}

// The outputs [lo, hi) that the closed form computes: the longest run of outputs whose taps match
// it, trimmed to whole (2a, 2a + 1) pairs for the interleaving kinds.
std::pair<int64_t, int64_t> interior_of(Resample kind, const std::vector<Taps>& taps) {
  int64_t best_lo = 0, best_hi = 0;
  for (int64_t o = 0, n = taps.size(); o < n;) {
    if (!matches_closed_form(kind, o, taps[o])) {
      ++o;
      continue;
    }
    int64_t end = o;
    while (end < n && matches_closed_form(kind, end, taps[end])) ++end;
    if (end - o > best_hi - best_lo) best_lo = o, best_hi = end;
    o = end;
  }
  if (!is_stride2(kind)) best_lo = (best_lo + 1) / 2 * 2, best_hi = std::max(best_lo, best_hi / 2 * 2);
  return {best_lo, best_hi};
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
  const auto [lo, hi] = interior_of(kind, cols);
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
