// The glass-box representation in one pass per image: threshold levels, sum-pooled level maps
// and per-cell histograms of oriented level steps, written straight into a float32 feature row.
#pragma once

#include <cstdint>
#include <vector>

#include "glassbox/common.hpp"

namespace glassbox {

struct FeatureLayout {
  index_t pool = 2;                // level maps: sum over pool x pool windows (pool divides H and W)
  index_t cell = 4;                // step histograms: cells of cell x cell pixels (cell divides H and W)
  const index_t* dists = nullptr;  // step distances, each >= 1
  index_t n_dists = 0;
  // Invariant block: feature j of the equivariant layout is added to invariant feature
  // inv_index[j] (values in [0, n_inv)).  The output row is [invariant | equivariant], either
  // part left out when its flag is false.
  const std::int32_t* inv_index = nullptr;
  index_t n_inv = 0;
  bool write_inv = true;
  bool write_eq = true;
  // Pooling windows: false, hard windows (pool x pool, cell x cell); true, overlapping binomial
  // windows of size + 2 (size / 2) taps per side, centred on the hard window (see window_weights).
  bool smooth = false;
  // Second-order steps: the d = 1 step map of each direction, summed over 2 x 2 blocks (H/2, W/2),
  // and its steps at distance 1 in each direction, pooled over (cell/2)-cells: 8 x 8 maps.
  bool second_order = false;
  // Square root of every count (and of every orbit sum) instead of the count itself.
  bool root = false;
};

// The 1-D weights of a pooling window of `size` (hard: `size` ones; smooth: the binomial
// coefficients C(n - 1, t) of n = size + 2 (size / 2) taps) and how far the window starts before
// the hard one (0, or size / 2).  A 2-D window is the outer product of two 1-D ones.
struct Window {
  std::vector<std::int32_t> weights;
  index_t before = 0;
};
Window window_weights(index_t size, bool smooth);

// Number of equivariant features: (H/pool)(W/pool) + n_dists * 8 * (H/cell)(W/cell)
// (+ 64 (H/cell)(W/cell) with second_order).
index_t equivariant_size(index_t H, index_t W, const FeatureLayout& layout);

// images: (N, H, W) of T in {uint8, uint16, float, double}; thresholds: K sorted, distinct.
// The level of a pixel is the number of thresholds strictly below it, i.e. the sum of its K
// binarization planes.  Equivariant features, in order:
//   level maps   (H/pool, W/pool): sum of the levels in each window;
//   step counts  (n_dists, 8, H/cell, W/cell): for distance d and direction (dr, dc) in row-major
//                order of the 3x3 grid without its centre, the sum over the pixels p of a cell of
//                max(level(p) - level(p + d (dr, dc)), 0) (level 0 outside the image), which
//                equals the number of (threshold, pixel) pairs where the binary plane steps from
//                1 at p to 0 at p + d (dr, dc);
//   second order (8, 8, H/cell, W/cell), with second_order: for directions k1, k2, the map
//                B = the d = 1 step map of k1 summed over 2 x 2 blocks, and the sum over each
//                (cell/2)-cell of B's positions q of max(B(q) - B(q + k2), 0) (0 outside).
// Each sum is over a window: hard (every pixel of the window once) or smooth (window_weights).
// out: (N, row) float32 with row = n_inv * write_inv + equivariant_size * write_eq.
// Counts are summed exactly (int32 within a column of a window, which the caller keeps below
// 2**31, then int64), then written as float32 (exact below 2**24) or, with root, as the float32
// nearest to the double square root.
// out[n, j] = rows[n, index[j]] for n < N, j < M_out (index values in [0, M_in)): the features
// of moved images from those of the images (index = a feature permutation), rows in parallel.
// rows and out must not overlap.
void take_columns(const float* rows, index_t N, index_t M_in, const index_t* index, index_t M_out, float* out,
                  int n_threads);

template <class T>
void glass_features(const T* images, index_t N, index_t H, index_t W, const double* thresholds, index_t K,
                    const FeatureLayout& layout, float* out, int n_threads);

}  // namespace glassbox
