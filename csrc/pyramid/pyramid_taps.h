// One-dimensional taps of the pyramid ops, shared by the CPU and CUDA kernels.
//
// Every pyramid op and its adjoint is separable: out[i, j] = sum_a sum_b wr[a] wc[b] in[ir[a], ic[b]],
// where (ir, wr) are the taps of output row i along the height axis and (ic, wc) those of output
// column j along the width axis. The taps are computed on the fly (integer arithmetic only), so the
// kernels need no tables and no host-to-device copies.
//
// pyr_down (cv2.pyrDown):  out[o] = sum_m w[m] x[r_n(2o + m - 2)],            w = [1 4 6 4 1] / 16
// pyr_up   (cv2.pyrUp):    out[o] = sum_m 2 w[m] z[r_2n(o + m - 2)],          z[2a] = x[a], 0 elsewhere
// (the 2D kernels are w w^T and 4 w w^T), r_n = reflect-101 on a length-n axis (0 when n = 1).
// The adjoints gather, for each input index, the outputs that read it and their weights.
#pragma once

#include <torch/library.h>

#include <algorithm>
#include <utility>

#include "../common.h"

namespace beyondmse {

// Enough for any index and length: at most 2 + 5 + 2 distinct outputs read one input.
constexpr int kMaxTaps = 10;

enum class Resample : int { Down = 0, Up = 1, DownAdjoint = 2, UpAdjoint = 3 };

// The taps of one output index: it reads inputs idx[0 .. count) with weights wt.
struct Taps {
  int count;
  int idx[kMaxTaps];
  float wt[kMaxTaps];
};

BMSE_HD int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

BMSE_HD float binomial_weight(int m) {
  return (m == 2 ? 6.f : (m == 1 || m == 3) ? 4.f : 1.f) / 16.f;
}

// Adds weight w to index i, merging with an earlier tap of the same index.
BMSE_HD void add_tap(int i, float w, int* idx, float* wt, int& count) {
  for (int t = 0; t < count; ++t) {
    if (idx[t] == i) {
      wt[t] += w;
      return;
    }
  }
  idx[count] = i;
  wt[count] = w;
  ++count;
}

// pyr_down: the input indices (axis length n) read by output o.
BMSE_HD int down_taps(int o, int n, int* idx, float* wt) {
  int count = 0;
  for (int m = 0; m < 5; ++m) add_tap(reflect101(2 * o + m - 2, n), binomial_weight(m), idx, wt, count);
  return count;
}

// pyr_up: the input indices (axis length n, doubled grid 2n) read by output o.
BMSE_HD int up_taps(int o, int n, int* idx, float* wt) {
  int count = 0;
  for (int m = 0; m < 5; ++m) {
    const int q = reflect101(o + m - 2, 2 * n);
    if (q % 2 == 0) add_tap(q / 2, 2.f * binomial_weight(m), idx, wt, count);
  }
  return count;
}

// Weight with which output o of the forward op reads input k (all taps of o summed).
BMSE_HD float forward_weight(Resample kind, int o, int k, int n_in) {
  float w = 0.f;
  for (int m = 0; m < 5; ++m) {
    if (kind == Resample::Down) {
      if (reflect101(2 * o + m - 2, n_in) == k) w += binomial_weight(m);
    } else if (reflect101(o + m - 2, 2 * n_in) == 2 * k) {
      w += 2.f * binomial_weight(m);
    }
  }
  return w;
}

// Adjoint of pyr_down (kind Down, input length n_in) or pyr_up (kind Up, n_in inputs and n_out
// outputs): the forward outputs o that read input k, with their weights. Forward taps land within a
// few indices of k (direct), or come from the first or last two outputs (reflections at a border).
BMSE_HD int adjoint_taps(Resample kind, int k, int n_in, int n_out, int* idx, float* wt) {
  // Direct hits: pyr_down's output o reads 2o-2..2o+2; pyr_up's reads (o-2..o+2) / 2.
  const int centre = kind == Resample::Down ? k / 2 : 2 * k;
  const int lo = centre - 2 > 0 ? centre - 2 : 0;
  const int hi = centre + 2 < n_out - 1 ? centre + 2 : n_out - 1;
  int count = 0;
  auto visit = [&](int o) {
    const float w = forward_weight(kind, o, k, n_in);
    if (w != 0.f) add_tap(o, w, idx, wt, count);
  };
  for (int o = 0; o < 2 && o < lo && o < n_out; ++o) visit(o);
  for (int o = lo; o <= hi; ++o) visit(o);
  for (int o = (hi + 1 > n_out - 2 ? hi + 1 : n_out - 2); o < n_out; ++o) visit(o);
  return count;
}

// The taps of output index o of a resampling along an axis with n_in inputs and n_out outputs.
BMSE_HD int resample_taps(Resample kind, int o, int n_in, int n_out, int* idx, float* wt) {
  switch (kind) {
    case Resample::Down:
      return down_taps(o, n_in, idx, wt);
    case Resample::Up:
      return up_taps(o, n_in, idx, wt);
    case Resample::DownAdjoint:
      return adjoint_taps(Resample::Down, o, n_out, n_in, idx, wt);
    default:
      return adjoint_taps(Resample::Up, o, n_out, n_in, idx, wt);
  }
}

// Away from the borders every output of an axis reads the same pattern of inputs, so the kernels
// compute it there as a closed form over contiguous inputs instead of one gathered tap list per
// output. The resamplings come in two shapes, with weights scale * base / 16:
//   stride 2 (pyr_down, scale 1; pyr_up's adjoint, scale 2): output j reads 2j-2 .. 2j+2 with
//     base [1 4 6 4 1];
//   interleave (pyr_up, scale 2; pyr_down's adjoint, scale 1): output 2a reads a-1, a, a+1 with
//     [1 6 1], output 2a+1 reads a, a+1 with [4 4].
BMSE_HD bool is_stride2(Resample kind) { return kind == Resample::Down || kind == Resample::UpAdjoint; }
BMSE_HD float interior_scale(Resample kind) {
  return kind == Resample::Down || kind == Resample::DownAdjoint ? 1.f : 2.f;
}

// The closed form at interior output o; input k is x[(k - first) * stride].
template <typename A>
BMSE_HD A closed_form(Resample kind, int64_t o, const A* x, int64_t first, int64_t stride) {
  const A s = static_cast<A>(interior_scale(kind)) / 16;
  if (is_stride2(kind)) {
    const A* l = x + (2 * o - 2 - first) * stride;
    return s * (l[0] + l[4 * stride]) + 4 * s * (l[stride] + l[3 * stride]) + 6 * s * l[2 * stride];
  }
  // Both parities are computed and one is selected, so neighbouring outputs (threads) do not
  // diverge; the even form's extra read (input a-1) lies inside the range an even neighbour reads.
  const A* l = x + (o / 2 - 1 - first) * stride;
  const A even = s * (l[0] + l[2 * stride]) + 6 * s * l[stride];
  const A odd = 4 * s * (l[stride] + l[2 * stride]);
  return (o & 1) ? odd : even;
}

// Whether output o's taps are those of the closed form (as a set: add_tap keeps first-seen order).
inline bool matches_closed_form(Resample kind, int64_t o, const Taps& t) {
  const float s = interior_scale(kind) / 16.f;
  int64_t first;
  int count;
  float base[5] = {1, 4, 6, 4, 1};
  if (is_stride2(kind)) {
    first = 2 * o - 2, count = 5;
  } else if (o % 2 == 0) {
    first = o / 2 - 1, count = 3, base[0] = 1, base[1] = 6, base[2] = 1;
  } else {
    first = o / 2, count = 2, base[0] = 4, base[1] = 4;
  }
  if (t.count != count) return false;
  for (int k = 0; k < count; ++k) {
    const int64_t m = t.idx[k] - first;
    if (m < 0 || m >= count || t.wt[k] != s * base[m]) return false;
  }
  return true;
}

// The outputs [lo, hi) of an axis that the closed form computes: the longest run of outputs whose
// taps match it, trimmed to whole (2a, 2a + 1) pairs for the interleaving kinds. Reflections at a
// border change the taps of the first and last few outputs only, so on a long axis only the ends
// are examined; the outputs kBorder or more from either end match by translation.
inline std::pair<int64_t, int64_t> interior_bounds(Resample kind, int64_t n_in, int64_t n_out) {
  constexpr int64_t kBorder = 8;
  auto matches = [&](int64_t o) {
    Taps t;
    t.count = resample_taps(kind, static_cast<int>(o), static_cast<int>(n_in), static_cast<int>(n_out), t.idx, t.wt);
    return matches_closed_form(kind, o, t);
  };
  int64_t lo = 0, hi = 0;
  if (n_out <= 4 * kBorder) {
    for (int64_t o = 0; o < n_out;) {
      if (!matches(o)) {
        ++o;
        continue;
      }
      int64_t end = o;
      while (end < n_out && matches(end)) ++end;
      if (end - o > hi - lo) lo = o, hi = end;
      o = end;
    }
  } else {
    TORCH_INTERNAL_ASSERT(matches(kBorder) && matches(n_out - kBorder - 1), "pyramid interior taps");
    for (lo = kBorder; lo > 0 && matches(lo - 1);) --lo;
    for (hi = n_out - kBorder; hi < n_out && matches(hi);) ++hi;
  }
  if (!is_stride2(kind)) lo = (lo + 1) / 2 * 2, hi = std::max(lo, hi / 2 * 2);
  return {lo, hi};
}

// The longest axis (input or output) the kernels take: taps are computed in 32-bit ints, and the
// largest intermediate, reflect-101 on pyr_up's doubled grid (2 * (2n - 1) - i for an input of n),
// stays below 2^31 for axes up to 2^29.
constexpr int64_t kMaxAxis = int64_t(1) << 29;

inline const char* resample_op_name(Resample kind) {
  switch (kind) {
    case Resample::Down:
      return "pyr_down";
    case Resample::Up:
      return "pyr_up";
    case Resample::DownAdjoint:
      return "pyr_down_backward";
    default:
      return "pyr_up_backward";
  }
}

// Host-side guard of the sizes a resampling kind accepts (the adjoints mirror their forward op).
// It reads sizes only, so it runs before any input is copied or output allocated.
inline void check_resample_sizes(Resample kind, int64_t n_in, int64_t n_out, const char* axis) {
  const char* op = resample_op_name(kind);
  TORCH_CHECK(n_in <= kMaxAxis && n_out <= kMaxAxis, "beyondmse: ", op, " ", axis, " ",
              std::max(n_in, n_out), " is longer than the kernels' limit of 2^29 = ", kMaxAxis);
  const bool ok = n_in >= 1 && n_out >= 1 &&
                  (kind == Resample::Down          ? n_out == (n_in + 1) / 2
                   : kind == Resample::Up          ? (n_out == 2 * n_in || n_out == 2 * n_in - 1)
                   : kind == Resample::DownAdjoint ? n_in == (n_out + 1) / 2
                                                   : n_out == (n_in + 1) / 2);
  TORCH_CHECK(ok, "beyondmse: ", op, " ", axis, " size ", n_out, " does not fit an input of size ", n_in,
              " (pyr_up takes 2n or 2n - 1 for an input of n; pyr_down gives (n + 1) // 2)");
}

// The checks of a resampling of input to (out_h, out_w), made before anything is copied or allocated.
inline void check_resample(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
  check_images(input, "input");
  check_resample_sizes(kind, input.size(-2), out_h, "height");
  check_resample_sizes(kind, input.size(-1), out_w, "width");
}

// The four pyramid ops of one device, built on its resample(input, kind, out_h, out_w); each device
// file registers them with PyramidOps<resample>::define(m).
template <at::Tensor (*resample)(const at::Tensor&, Resample, int64_t, int64_t)>
struct PyramidOps {
  static at::Tensor checked(const at::Tensor& input, Resample kind, int64_t out_h, int64_t out_w) {
    check_resample(input, kind, out_h, out_w);
    return resample(input, kind, out_h, out_w);
  }
  static at::Tensor down(const at::Tensor& x) {
    check_images(x, "x");
    return checked(x, Resample::Down, (x.size(-2) + 1) / 2, (x.size(-1) + 1) / 2);
  }
  static at::Tensor down_backward(const at::Tensor& grad, int64_t height, int64_t width) {
    return checked(grad, Resample::DownAdjoint, height, width);
  }
  static at::Tensor up(const at::Tensor& x, int64_t height, int64_t width) {
    return checked(x, Resample::Up, height, width);
  }
  static at::Tensor up_backward(const at::Tensor& grad, int64_t height, int64_t width) {
    return checked(grad, Resample::UpAdjoint, height, width);
  }
  static void define(torch::Library& m) {
    m.impl("pyr_down", &down);
    m.impl("pyr_down_backward", &down_backward);
    m.impl("pyr_up", &up);
    m.impl("pyr_up_backward", &up_backward);
  }
};

}  // namespace beyondmse
