// The CUDA GDL kernels' per-thread work, as host-device functions: gdl_cuda.cu runs them on the
// GPU and gdl_testing.cpp runs the same code on the CPU (every thread of the grid in turn), so the
// strip walk, the vector loads and the image edges are tested on machines without a GPU.
//
// A thread owns a group of V adjacent columns (V = 4: one 16-byte load of float32 per row) over a
// strip of consecutive rows, and walks down it keeping the rows it needs in registers: the forward
// the row above (vertical terms), the backward the rows above and below and the vertical term
// shared with the next row. Each row is read once per strip, plus the row above the strip (and, in
// the backward, the row below it); the one column left (right) of the group comes as a single load
// that the neighbouring thread's vector load has just brought into the cache. Consecutive threads
// own consecutive column groups of a strip, so a warp's loads are contiguous.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "gdl_terms.h"

namespace beyondmse {

// V elements of type T at p, which is aligned to V * sizeof(T): one vector load on the GPU.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <int V, typename T>
BMSE_HD Pack<T, V> load_pack(const T* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const Pack<T, V>*>(p);
#else
  Pack<T, V> pack;
  std::memcpy(&pack, p, sizeof pack);
  return pack;
#endif
}

// The bits of x as an unsigned integer of its size.
template <typename U, typename T>
BMSE_HD U bits_of(T x) {
  U u;
  memcpy(&u, &x, sizeof u);
  return u;
}

// V elements to p, aligned to V * sizeof(T). On the GPU the pack goes out in 16-byte (8 for 2-byte
// types) store instructions, written out: the compiler splits a vector store in the kernels' loops
// into one store per element, even through a uint4 pointer.
template <int V, typename T>
BMSE_HD void store_pack(T* p, const Pack<T, V>& pack) {
#if defined(__CUDA_ARCH__)
  const T* v = pack.v;
  if constexpr (V == 1) {
    *p = v[0];
  } else if constexpr (sizeof(T) == 4) {
    asm("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(bits_of<unsigned>(v[0])),
        "r"(bits_of<unsigned>(v[1])), "r"(bits_of<unsigned>(v[2])), "r"(bits_of<unsigned>(v[3]))
        : "memory");
  } else if constexpr (sizeof(T) == 2) {
    auto pair = [&](int k) {
      return unsigned(bits_of<unsigned short>(v[k])) | unsigned(bits_of<unsigned short>(v[k + 1])) << 16;
    };
    asm("st.global.v2.b32 [%0], {%1, %2};" ::"l"(p), "r"(pair(0)), "r"(pair(2)) : "memory");
  } else {
    using U = unsigned long long;
    asm("st.global.v2.b64 [%0], {%1, %2};" ::"l"(p), "l"(bits_of<U>(v[0])), "l"(bits_of<U>(v[1])) : "memory");
    asm("st.global.v2.b64 [%0], {%1, %2};" ::"l"(p + 2), "l"(bits_of<U>(v[2])), "l"(bits_of<U>(v[3])) : "memory");
  }
#else
  std::memcpy(p, &pack, sizeof pack);
#endif
}

// One row of a column group in the accumulation type.
template <typename A, int V>
struct Row {
  A p[V], t[V];
};

template <int V, typename T>
BMSE_HD Row<acc_t<T>, V> load_row(const T* p, const T* t) {
  const Pack<T, V> pp = load_pack<V>(p), tp = load_pack<V>(t);
  Row<acc_t<T>, V> r;
  for (int v = 0; v < V; ++v) r.p[v] = static_cast<acc_t<T>>(pp.v[v]), r.t[v] = static_cast<acc_t<T>>(tp.v[v]);
  return r;
}

// What every thread of a launch shares: the images, and how they split into strips of column groups.
template <typename T>
struct StripJob {
  const T* p;
  const T* t;
  int64_t h, w;
  int64_t groups;  // column groups per row: w / V
  int64_t strip;   // rows per strip
  int64_t items;   // (strip, column group) pairs per image
};

// About two waves of resident threads on current GPUs: strips grow until the items fit in it, so
// a small batch still fills the GPU and a large one reads few rows twice.
constexpr int64_t kTargetItems = int64_t(1) << 19;
constexpr int64_t kMaxStrip = 32;

// The vector width of the fast path (4 elements: 16 bytes of float32) where every row of every
// tensor starts aligned to it, else 1.
inline int strip_vector_width(int64_t w, std::initializer_list<const void*> pointers, size_t element_size) {
  if (w % 4 != 0) return 1;
  for (const void* q : pointers)
    if (q != nullptr && reinterpret_cast<uintptr_t>(q) % (4 * element_size) != 0) return 1;
  return 4;
}

template <typename T>
StripJob<T> make_strip_job(const T* p, const T* t, int64_t images, int64_t h, int64_t w, int vector,
                           int64_t strip = 0) {
  StripJob<T> job{p, t, h, w, w / vector};
  const int64_t rows = images * h * job.groups;
  job.strip = strip > 0 ? strip : std::clamp<int64_t>((rows + kTargetItems - 1) / kTargetItems, 1, kMaxStrip);
  job.items = (h + job.strip - 1) / job.strip * job.groups;
  return job;
}

// Item k of an image: the column group starting at column j0 over the rows [i0, i1).
struct StripItem {
  int64_t j0, i0, i1;
};

template <int V, typename T>
BMSE_HD StripItem strip_item(const StripJob<T>& job, int64_t k) {
  const int64_t i0 = k / job.groups * job.strip;
  return {k % job.groups * V, i0, std::min(job.h, i0 + job.strip)};
}

// The sum of the terms owned by the items first, first + stride, ... of image img: for each pixel,
// its vertical term with the pixel above and its horizontal term with the pixel to its left.
template <Exponent E, int V, typename T>
BMSE_HD acc_t<T> strip_forward(const StripJob<T>& job, int64_t img, int64_t first, int64_t stride,
                               acc_t<T> alpha) {
  using A = acc_t<T>;
  const int64_t h = job.h, w = job.w;
  const T* pi = job.p + img * h * w;
  const T* ti = job.t + img * h * w;
  A sum = 0;
  for (int64_t k = first; k < job.items; k += stride) {
    const auto [j0, i0, i1] = strip_item<V>(job, k);
    Row<A, V> above{};
    if (i0 > 0) above = load_row<V>(pi + (i0 - 1) * w + j0, ti + (i0 - 1) * w + j0);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t q = i * w + j0;
      const Row<A, V> row = load_row<V>(pi + q, ti + q);
      if (i > 0)
        for (int v = 0; v < V; ++v) sum += gdl_term<E, A>(row.t[v] - above.t[v], row.p[v] - above.p[v], alpha);
      if (j0 > 0)
        sum += gdl_term<E, A>(row.t[0] - static_cast<A>(ti[q - 1]), row.p[0] - static_cast<A>(pi[q - 1]), alpha);
      for (int v = 1; v < V; ++v) sum += gdl_term<E, A>(row.t[v] - row.t[v - 1], row.p[v] - row.p[v - 1], alpha);
      above = row;
    }
  }
  return sum;
}

// The wanted input gradients (pred's when P, target's when G) of the pixels of the items first,
// first + stride, ... of image img, scaled by g (the upstream gradient of the image's sum). A pixel
// is in up to four terms: with the pixel above and the one below (vertical), left and right; each
// counts + for the term's second pixel and - for its first, as in gdl_cpu.cpp.
template <Exponent E, bool P, bool G, int V, typename T>
BMSE_HD void strip_backward(const StripJob<T>& job, int64_t img, int64_t first, int64_t stride, acc_t<T> alpha,
                            acc_t<T> g, T* gp, T* gt) {
  using A = acc_t<T>;
  const int64_t h = job.h, w = job.w, base = img * h * w;
  const T* pi = job.p + base;
  const T* ti = job.t + base;
  for (int64_t k = first; k < job.items; k += stride) {
    const auto [j0, i0, i1] = strip_item<V>(job, k);
    A up_dt[V], up_dp[V];  // derivatives of the vertical term between row i - 1 and row i
    Row<A, V> row = load_row<V>(pi + i0 * w + j0, ti + i0 * w + j0), below{};
    for (int v = 0; v < V; ++v) up_dt[v] = up_dp[v] = 0;
    if (i0 > 0) {
      const Row<A, V> above = load_row<V>(pi + (i0 - 1) * w + j0, ti + (i0 - 1) * w + j0);
      for (int v = 0; v < V; ++v)
        gdl_term_grad<E, A>(row.t[v] - above.t[v], row.p[v] - above.p[v], alpha, up_dt[v], up_dp[v]);
    }
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t q = i * w + j0;
      A down_dt[V], down_dp[V];
      for (int v = 0; v < V; ++v) down_dt[v] = down_dp[v] = 0;
      if (i + 1 < h) {
        below = load_row<V>(pi + q + w, ti + q + w);
        for (int v = 0; v < V; ++v)
          gdl_term_grad<E, A>(below.t[v] - row.t[v], below.p[v] - row.p[v], alpha, down_dt[v], down_dp[v]);
      }
      // Horizontal terms between columns j0 + v - 1 and j0 + v, v = 0 .. V (0 where one is outside).
      A h_dt[V + 1], h_dp[V + 1];
      h_dt[0] = h_dp[0] = h_dt[V] = h_dp[V] = 0;
      if (j0 > 0)
        gdl_term_grad<E, A>(row.t[0] - static_cast<A>(ti[q - 1]), row.p[0] - static_cast<A>(pi[q - 1]), alpha,
                            h_dt[0], h_dp[0]);
      for (int v = 1; v < V; ++v)
        gdl_term_grad<E, A>(row.t[v] - row.t[v - 1], row.p[v] - row.p[v - 1], alpha, h_dt[v], h_dp[v]);
      if (j0 + V < w)
        gdl_term_grad<E, A>(static_cast<A>(ti[q + V]) - row.t[V - 1], static_cast<A>(pi[q + V]) - row.p[V - 1],
                            alpha, h_dt[V], h_dp[V]);
      Pack<T, V> out_p, out_t;
      for (int v = 0; v < V; ++v) {
        // The unwanted sum is dead code: the compiler drops it and its share of the derivatives.
        out_p.v[v] = static_cast<T>(g * (up_dp[v] - down_dp[v] + h_dp[v] - h_dp[v + 1]));
        out_t.v[v] = static_cast<T>(g * (up_dt[v] - down_dt[v] + h_dt[v] - h_dt[v + 1]));
        up_dt[v] = down_dt[v], up_dp[v] = down_dp[v];
      }
      if constexpr (P) store_pack<V>(gp + base + q, out_p);
      if constexpr (G) store_pack<V>(gt + base + q, out_t);
      row = below;
    }
  }
}

// Calls fn(std::integral_constant<int, V>{}) with the vector width.
template <typename F>
void dispatch_vector(int vector, F&& fn) {
  if (vector == 4) return fn(std::integral_constant<int, 4>{});
  return fn(std::integral_constant<int, 1>{});
}

}  // namespace beyondmse
