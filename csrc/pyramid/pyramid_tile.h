// The CUDA pyramid kernel's work, written as phases that a block runs one after another, with a
// barrier between phases; pyramid_cuda.cu runs them on the GPU and pyramid_testing.cpp runs the
// same code on the CPU (each phase for every thread of a block in turn), so the tiling, the staged
// ranges and the closed forms are tested on machines without a GPU.
//
// A block computes a tile of tile_h x tile_w outputs of one image, in four phases:
//   taps:       the tile's column taps (once per block) and row taps (pyramid_taps.h);
//   stage:      the input rows and columns the tile reads (its tile + halo), loaded row by row
//               (coalesced) into shared memory;
//   horizontal: each staged row filtered along its width at the tile's output columns;
//   vertical:   each output from the filtered rows along the height.
// Where a tile's columns (rows) are all interior (interior_bounds) the passes use the closed form
// instead of gathered taps. Phases write only what later phases read, so a block's threads may run
// a phase's work items in any order: the emulator runs them forwards and backwards to prove it.
#pragma once

#include "pyramid_taps.h"

#include <algorithm>
#include <cmath>

// The emulator (pyramid_testing.cpp) checks every shared-memory index the phases read; the GPU
// build does not.
#if defined(__CUDA_ARCH__)
#define BMSE_TILE_CHECK(cond) ((void)0)
#else
#define BMSE_TILE_CHECK(cond) \
  TORCH_CHECK(cond, "beyondmse: the pyramid tile kernel reads outside its staged inputs: " #cond)
#endif

namespace beyondmse {

constexpr int kTileThreads = 256;
constexpr int kMaxTileWidth = 32;   // one warp along a row, so loads and stores coalesce
constexpr int kMaxTileHeight = 16;  // halo rows are read once per 16 output rows

// The input indices [first, last] that outputs [o0, o1) of an axis read: the direct taps' reach,
// clipped to the axis. Reflected taps of border outputs land inside it (reflect-101 folds an index
// within 2 of an end back within 2 of it); the emulator checks every read against it.
struct Span {
  int first, last;
};
BMSE_HD Span input_span(Resample kind, int o0, int o1, int n_in) {
  const int lo = is_stride2(kind) ? 2 * o0 - 2 : o0 / 2 - 1;
  const int hi = is_stride2(kind) ? 2 * (o1 - 1) + 2 : (o1 - 1) / 2 + 1;
  return {std::max(0, lo), std::min(n_in - 1, hi)};
}

// The longest span of t consecutive outputs: the staged rows (columns) per tile.
inline int span_capacity(Resample kind, int t) { return is_stride2(kind) ? 2 * t + 3 : t / 2 + 3; }

// Everything about one launch that every block shares.
template <typename T>
struct TileJob {
  const T* in;
  T* out;
  Resample kind;
  int h, w, out_h, out_w;
  int tile_h, tile_w;    // outputs per tile
  int cap_r, cap_c;      // staged rows and columns per tile
  int64_t row_tiles, tiles;  // row tiles per image; (image, row tile) pairs
  int lo_r, hi_r, lo_c, hi_c;  // interior outputs along the height and the width
};

// The smallest power of two >= n, at most cap.
inline int pow2_at_least(int64_t n, int cap) {
  int p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}

template <typename T>
TileJob<T> make_tile_job(const T* in, T* out, Resample kind, int64_t images, int h, int w, int out_h, int out_w,
                         int tile_h = 0, int tile_w = 0) {
  TileJob<T> job{in, out, kind, h, w, out_h, out_w};
  // Narrow or short outputs get narrow or short tiles, so few threads idle on small pyramid levels.
  job.tile_w = tile_w > 0 ? tile_w : pow2_at_least(out_w, kMaxTileWidth);
  job.tile_h = tile_h > 0 ? tile_h : pow2_at_least(out_h, kMaxTileHeight);
  job.cap_r = std::min(span_capacity(kind, job.tile_h), h);
  job.cap_c = std::min(span_capacity(kind, job.tile_w), w);
  job.row_tiles = (out_h + job.tile_h - 1) / job.tile_h;
  job.tiles = images * job.row_tiles;
  const auto rows = interior_bounds(kind, h, out_h), cols = interior_bounds(kind, w, out_w);
  job.lo_r = static_cast<int>(rows.first), job.hi_r = static_cast<int>(rows.second);
  job.lo_c = static_cast<int>(cols.first), job.hi_c = static_cast<int>(cols.second);
  return job;
}

// Shared memory of a block: staged inputs (cap_r x cap_c), horizontally filtered rows
// (cap_r x tile_w), then the column and row taps.
template <typename A>
struct TileShared {
  A* stage;
  A* mid;
  Taps* cols;
  Taps* rows;
};

template <typename T>
inline size_t tile_shared_bytes(const TileJob<T>& job) {
  using A = acc_t<T>;
  return sizeof(A) * static_cast<size_t>(job.cap_r) * (job.cap_c + job.tile_w) +
         sizeof(Taps) * static_cast<size_t>(job.tile_w + job.tile_h);
}

template <typename T>
BMSE_HD TileShared<acc_t<T>> tile_shared(unsigned char* base, const TileJob<T>& job) {
  using A = acc_t<T>;
  TileShared<A> s;
  s.stage = reinterpret_cast<A*>(base);
  s.mid = s.stage + job.cap_r * job.cap_c;
  s.cols = reinterpret_cast<Taps*>(s.mid + job.cap_r * job.tile_w);
  s.rows = s.cols + job.tile_w;
  return s;
}

// Where a tile lies: its image, first output row and column, the inputs it reads, and whether its
// rows and columns are interior.
struct TilePos {
  int64_t image;
  int row0, col0, rows, cols;  // outputs [row0, row0 + rows) x [col0, col0 + cols)
  Span in_r, in_c;
  bool interior_r, interior_c;
};

template <typename T>
BMSE_HD TilePos tile_position(const TileJob<T>& job, int64_t col_tile, int64_t tile) {
  TilePos p;
  p.image = tile / job.row_tiles;
  p.row0 = static_cast<int>(tile % job.row_tiles) * job.tile_h;
  p.col0 = static_cast<int>(col_tile) * job.tile_w;
  p.rows = std::min(job.tile_h, job.out_h - p.row0);
  p.cols = std::min(job.tile_w, job.out_w - p.col0);
  p.in_r = input_span(job.kind, p.row0, p.row0 + p.rows, job.h);
  p.in_c = input_span(job.kind, p.col0, p.col0 + p.cols, job.w);
  p.interior_r = job.lo_r <= p.row0 && p.row0 + p.rows <= job.hi_r;
  p.interior_c = job.lo_c <= p.col0 && p.col0 + p.cols <= job.hi_c;
  return p;
}

// Phase 0, once per block: the column taps of the block's column tile.
template <typename T>
BMSE_HD void phase_col_taps(const TileJob<T>& job, const TileShared<acc_t<T>>& s, const TilePos& p, int tid,
                            int threads) {
  for (int c = tid; c < p.cols; c += threads) {
    Taps& t = s.cols[c];
    t.count = resample_taps(job.kind, p.col0 + c, job.w, job.out_w, t.idx, t.wt);
  }
}

// Phase 1: the tile's row taps, and its inputs into shared memory.
template <typename T>
BMSE_HD void phase_stage(const TileJob<T>& job, const TileShared<acc_t<T>>& s, const TilePos& p, int tid,
                         int threads) {
  using A = acc_t<T>;
  for (int r = tid; r < p.rows; r += threads) {
    Taps& t = s.rows[r];
    t.count = resample_taps(job.kind, p.row0 + r, job.h, job.out_h, t.idx, t.wt);
  }
  const int rows = p.in_r.last - p.in_r.first + 1, cols = p.in_c.last - p.in_c.first + 1;
  BMSE_TILE_CHECK(rows <= job.cap_r && cols <= job.cap_c);
  const T* image = job.in + p.image * job.h * job.w + static_cast<int64_t>(p.in_r.first) * job.w + p.in_c.first;
  for (int e = tid; e < rows * cols; e += threads) {
    const int r = e / cols, c = e % cols;
    s.stage[r * job.cap_c + c] = static_cast<A>(image[static_cast<int64_t>(r) * job.w + c]);
  }
}

// Phase 2: mid[r][c] = staged row r filtered at output column col0 + c.
template <typename T>
BMSE_HD void phase_horizontal(const TileJob<T>& job, const TileShared<acc_t<T>>& s, const TilePos& p, int tid,
                              int threads) {
  using A = acc_t<T>;
  const int rows = p.in_r.last - p.in_r.first + 1, first = p.in_c.first;
  for (int e = tid; e < rows * p.cols; e += threads) {
    const int r = e / p.cols, c = e % p.cols, j = p.col0 + c;
    const A* row = s.stage + r * job.cap_c;
    A acc;
    if (p.interior_c) {
      BMSE_TILE_CHECK((is_stride2(job.kind) ? 2 * j - 2 : j / 2 - 1) >= first &&
                      (is_stride2(job.kind) ? 2 * j + 2 : j / 2 + 1) <= p.in_c.last);
      acc = closed_form<A>(job.kind, j, row, first, 1);
    } else {
      const Taps& t = s.cols[c];
      acc = 0;
      for (int b = 0; b < t.count; ++b) {
        BMSE_TILE_CHECK(t.idx[b] >= first && t.idx[b] <= p.in_c.last);
        acc += static_cast<A>(t.wt[b]) * row[t.idx[b] - first];
      }
    }
    s.mid[r * job.tile_w + c] = acc;
  }
}

// Phase 3: each output from the filtered rows, stored row by row (coalesced).
template <typename T>
BMSE_HD void phase_vertical(const TileJob<T>& job, const TileShared<acc_t<T>>& s, const TilePos& p, int tid,
                            int threads) {
  using A = acc_t<T>;
  const int first = p.in_r.first;
  T* out = job.out + (p.image * job.out_h + p.row0) * job.out_w + p.col0;
  for (int e = tid; e < p.rows * p.cols; e += threads) {
    const int r = e / p.cols, c = e % p.cols, i = p.row0 + r;
    const A* column = s.mid + c;
    A acc;
    if (p.interior_r) {
      BMSE_TILE_CHECK((is_stride2(job.kind) ? 2 * i - 2 : i / 2 - 1) >= first &&
                      (is_stride2(job.kind) ? 2 * i + 2 : i / 2 + 1) <= p.in_r.last);
      acc = closed_form<A>(job.kind, i, column, first, job.tile_w);
    } else {
      const Taps& t = s.rows[r];
      acc = 0;
      for (int a = 0; a < t.count; ++a) {
        BMSE_TILE_CHECK(t.idx[a] >= first && t.idx[a] <= p.in_r.last);
        acc += static_cast<A>(t.wt[a]) * column[(t.idx[a] - first) * job.tile_w];
      }
    }
    out[static_cast<int64_t>(r) * job.out_w + c] = static_cast<T>(acc);
  }
}

}  // namespace beyondmse
