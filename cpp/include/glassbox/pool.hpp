// Spatial pooling over the last two axes, and pooling over a group axis.
#pragma once

#include <cstdint>

#include "glassbox/common.hpp"

namespace glassbox {

enum class PoolMode : int { Max = 0, Mean = 1, Sum = 2 };

// Output size of a "valid" pooling: windows that do not fit are dropped.
inline index_t pooled_size(index_t n, index_t size, index_t stride) {
  return (n - size) / stride + 1;
}

// images: (B, H, W); out: (B, OH, OW) with OH = pooled_size(H, size, stride), likewise OW.
// Max: Out == T.  Sum: Out is int64 (integer T) or T (float T), accumulated from zero in int64 /
// double: each window column top to bottom, then those column sums left to right.  Mean: the
// Sum accumulator as double, divided by size * size and rounded once to Out (float or double).
// Returns the number of int64 sums that overflowed (int64 input only; those results wrap).
template <class T, class Out>
index_t pool(const T* images, index_t B, index_t H, index_t W, index_t size, index_t stride, PoolMode mode, Out* out,
             int n_threads);

// values: (outer, L, inner); out: (outer, inner) reduced over L.  Max: Out == T.  Integer T:
// exact int64 sums (Sum: Out int64; Mean: double(sum) / L rounded once to Out).  Float T: the L
// values are sorted and summed in ascending order in double, so the result depends only on the
// multiset of values: exactly invariant under any permutation of the L axis.  Returns the number
// of overflowed int64 sums, as pool does.
template <class T, class Out>
index_t group_pool(const T* values, index_t outer, index_t L, index_t inner, PoolMode mode, Out* out, int n_threads);

}  // namespace glassbox
