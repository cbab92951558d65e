// The CUDA difference kernels of pairwise_sqdist, written as phases that a block runs one after
// another with a barrier between them: structure_cuda.cu runs them on the GPU and
// structure_testing.cpp runs the same code on the CPU (each phase for the 16 x 16 threads of a
// block in turn, each thread's registers kept between phases), so the tiling, the feature splits
// and the mirrored stores are tested on machines without a GPU.
//
// They are tiled like a matmul: a block owns a 32 x 32 output tile, stages 32 x 32 input tiles in
// shared memory (converted to the accumulation type once) and each of its threads accumulates a
// 2 x 2 micro-tile.
#pragma once

#include <algorithm>

#include "../common.h"

#if defined(__CUDACC__)
#define BMSE_UNROLL _Pragma("unroll")
#else
#define BMSE_UNROLL
#endif

namespace beyondmse {

constexpr int kTile = 32;  // output tile edge, and edge of the staged input tiles
constexpr int kSide = 16;  // threads per block edge; each owns kTile / kSide outputs per axis
constexpr int kMicro = kTile / kSide;
constexpr int kSqdistThreads = kSide * kSide;
// Forward: the feature axis is split over more blocks while the tiles alone would give fewer than
// this, so a small batch with long feature vectors (GAIA's usual case) still fills the GPU...
constexpr int64_t kTargetBlocks = 512;
// ...but no split gets fewer features than this, so the partial sums stay worth their traffic.
constexpr int64_t kMinSplitFeatures = 256;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Features per split of the forward for n rows of d features: about kTargetBlocks blocks compute,
// each split a whole number of staged chunks; splits > 1 write partial matrices summed afterwards.
inline int64_t split_features(int64_t n, int64_t d) {
  const int64_t tiles = ceil_div(n, kTile), tile_blocks = tiles * (tiles + 1) / 2;
  const int64_t want = std::clamp<int64_t>(ceil_div(kTargetBlocks, tile_blocks), 1, ceil_div(d, kMinSplitFeatures));
  return ceil_div(ceil_div(d, want), kTile) * kTile;
}

// A kTile x kTile tile, padded by one column so that walking a column hits distinct banks.
template <typename A>
using SharedTile = A[kTile][kTile + 1];

template <typename A>
struct TilePair {
  SharedTile<A> a, b;
};

// A thread's 2 x 2 outputs (its registers).
template <typename A>
struct Micro {
  A v[kMicro][kMicro];
};

// Stages src[(r0 + r) * ld + c0 + c] for r, c < kTile (0 outside rows x cols) into tile, converted
// to A; consecutive threads read consecutive columns, so the loads coalesce.
template <typename A, typename T>
BMSE_HD void stage_tile(SharedTile<A>& tile, const T* src, int64_t ld, int64_t r0, int64_t rows, int64_t c0,
                        int64_t cols, int tid) {
  for (int e = tid; e < kTile * kTile; e += kSqdistThreads) {
    const int r = e / kTile, c = e % kTile;
    tile[r][c] = r0 + r < rows && c0 + c < cols ? static_cast<A>(src[(r0 + r) * ld + c0 + c]) : A(0);
  }
}

// ---------------------------------------------------------------- forward
// out[z][i, j] = sum_{f in split z} (x[i, f] - x[j, f])^2 / d for the tile of block (bx, by, z).
// d is symmetric: only tiles on or above the diagonal (by <= bx) compute, and write their mirror.

struct SqdistBlock {
  int64_t i0, j0, f_begin, f_end, z;
};

BMSE_HD SqdistBlock sqdist_block(int64_t bx, int64_t by, int64_t bz, int64_t d, int64_t split) {
  return {by * kTile, bx * kTile, bz * split, std::min(d, bz * split + split), bz};
}

// Phase: the rows i0.. and j0.. at features f0 .. f0 + kTile (padding is 0 in both tiles, so
// padded features add (0 - 0)^2 = 0).
template <typename A, typename T>
BMSE_HD void sqdist_stage(TilePair<A>& s, const T* x, int64_t n, int64_t d, const SqdistBlock& b, int64_t f0,
                          int tid) {
  stage_tile(s.a, x, d, b.i0, n, f0, b.f_end, tid);
  stage_tile(s.b, x, d, b.j0, n, f0, b.f_end, tid);
}

// Phase: the staged features' squared differences into the thread's outputs.
template <typename A>
BMSE_HD void sqdist_accumulate(const TilePair<A>& s, Micro<A>& acc, int tx, int ty) {
  BMSE_UNROLL
  for (int k = 0; k < kTile; ++k) {
    BMSE_UNROLL
    for (int r = 0; r < kMicro; ++r)
      BMSE_UNROLL
      for (int c = 0; c < kMicro; ++c) {
        const A diff = s.a[ty + r * kSide][k] - s.b[tx + c * kSide][k];
        acc.v[r][c] += diff * diff;
      }
  }
}

// Phase: the thread's outputs into shared memory (tile a is free now), so that the tile and its
// mirror are both written with coalesced stores.
template <typename A>
BMSE_HD void sqdist_result(TilePair<A>& s, const Micro<A>& acc, int64_t d, int tx, int ty) {
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) s.a[ty + r * kSide][tx + c * kSide] = acc.v[r][c] / static_cast<A>(d);
}

// Phase: the tile and, off the diagonal, its mirror to out[z].
template <typename A>
BMSE_HD void sqdist_store(const TilePair<A>& s, A* out, int64_t n, const SqdistBlock& b, int tid) {
  A* o = out + b.z * n * n;
  const bool mirror = b.i0 != b.j0;
  for (int e = tid; e < kTile * kTile; e += kSqdistThreads) {
    const int r = e / kTile, c = e % kTile;
    if (b.i0 + r < n && b.j0 + c < n) o[(b.i0 + r) * n + b.j0 + c] = s.a[r][c];
    if (mirror && b.j0 + r < n && b.i0 + c < n) o[(b.j0 + r) * n + b.i0 + c] = s.a[c][r];
  }
}

// ---------------------------------------------------------------- backward
// grad_x[i, f] = scale * sum_j S[i, j] (x[i, f] - x[j, f]) for the tile of rows i0 = by * kTile and
// features f0 = bx * kTile, walking j in tiles of kTile.

// Phase (before the walk): the thread's own x[i, f] into registers.
template <typename A, typename T>
BMSE_HD void sqdist_backward_own(Micro<A>& xi, const T* x, int64_t n, int64_t d, int64_t i0, int64_t f0, int tx,
                                 int ty) {
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) {
      const int64_t i = i0 + ty + r * kSide, f = f0 + tx + c * kSide;
      xi.v[r][c] = i < n && f < d ? static_cast<A>(x[i * d + f]) : A(0);
    }
}

// Phase: S[i0.., j0..] and x[j0.., f0..].
template <typename A, typename T>
BMSE_HD void sqdist_backward_stage(TilePair<A>& s, const A* sym, const T* x, int64_t n, int64_t d, int64_t i0,
                                   int64_t f0, int64_t j0, int tid) {
  stage_tile(s.a, sym, n, i0, n, j0, n, tid);
  stage_tile(s.b, x, d, j0, n, f0, d, tid);
}

// Phase: the staged rows j into the thread's sums. Only real rows j: a padded one would add
// 0 * (x[i, f] - 0), which is NaN for an infinite x.
template <typename A>
BMSE_HD void sqdist_backward_accumulate(const TilePair<A>& s, const Micro<A>& xi, Micro<A>& acc, int64_t n,
                                        int64_t j0, int tx, int ty) {
  const int j_count = static_cast<int>(std::min<int64_t>(kTile, n - j0));
  for (int k = 0; k < j_count; ++k)
    BMSE_UNROLL
    for (int r = 0; r < kMicro; ++r)
      BMSE_UNROLL
      for (int c = 0; c < kMicro; ++c) acc.v[r][c] += s.a[ty + r * kSide][k] * (xi.v[r][c] - s.b[k][tx + c * kSide]);
}

// Phase (after the walk): the thread's gradients.
template <typename A, typename T>
BMSE_HD void sqdist_backward_store(const Micro<A>& acc, T* grad_x, int64_t n, int64_t d, int64_t i0, int64_t f0,
                                   A scale, int tx, int ty) {
  for (int r = 0; r < kMicro; ++r)
    for (int c = 0; c < kMicro; ++c) {
      const int64_t i = i0 + ty + r * kSide, f = f0 + tx + c * kSide;
      if (i < n && f < d) grad_x[i * d + f] = static_cast<T>(scale * acc.v[r][c]);
    }
}

}  // namespace beyondmse
