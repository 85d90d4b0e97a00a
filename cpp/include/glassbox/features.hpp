// The glass-box representation in one pass per image: threshold levels, sum-pooled level maps
// and per-cell histograms of oriented level steps, written straight into a float32 feature row.
#pragma once

#include <cstdint>

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
};

// Number of equivariant features: (H/pool)(W/pool) + n_dists * 8 * (H/cell)(W/cell).
index_t equivariant_size(index_t H, index_t W, const FeatureLayout& layout);

// images: (N, H, W) of T in {uint8, uint16, float, double}; thresholds: K sorted, distinct.
// The level of a pixel is the number of thresholds strictly below it, i.e. the sum of its K
// binarization planes.  Equivariant features, in order:
//   level maps   (H/pool, W/pool): sum of the levels in each window;
//   step counts  (n_dists, 8, H/cell, W/cell): for distance d and direction (dr, dc) in row-major
//                order of the 3x3 grid without its centre, the sum over the pixels p of a cell of
//                max(level(p) - level(p + d (dr, dc)), 0) (level 0 outside the image), which
//                equals the number of (threshold, pixel) pairs where the binary plane steps from
//                1 at p to 0 at p + d (dr, dc).
// out: (N, row) float32 with row = n_inv * write_inv + equivariant_size * write_eq.
// Every count is exact in float32 when the caller keeps them below 2**24.
template <class T>
void glass_features(const T* images, index_t N, index_t H, index_t W, const double* thresholds, index_t K,
                    const FeatureLayout& layout, float* out, int n_threads);

}  // namespace glassbox
