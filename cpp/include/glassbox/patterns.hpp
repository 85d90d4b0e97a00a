// Local binary patterns: the code of every pixel's size x size neighbourhood, mapped through
// lookup tables to an orbit class (invariant) and a group element (equivariant).
#pragma once

#include <cstdint>

#include "glassbox/common.hpp"

namespace glassbox {

// binary: (B, H, W) with values 0 / 1 (any non-zero value is read as 1; the return value counts
// values other than 0 and 1 so that the caller can refuse them).  size is odd, size * size <= 16.
// Code bit (r * size + c) is the neighbour at offset (r - size/2, c - size/2); outside the image
// is 0.  class_lut and element_lut have 2**(size*size) entries.
index_t local_patterns(const std::uint8_t* binary, index_t B, index_t H, index_t W, int size,
                       const std::uint16_t* class_lut, const std::uint8_t* element_lut, std::uint16_t* classes,
                       std::uint8_t* elements, int n_threads);

// Per-cell histograms of labels: labels (B, H, W) with values < n_labels; cells of cell x cell
// pixels tile the image from the top-left (a partial last row / column of cells is ignored).
// out: (B, n_labels, H / cell, W / cell) counts.  Returns the number of labels >= n_labels (not
// counted; the caller refuses them).
index_t cell_histograms(const std::uint16_t* labels, index_t B, index_t H, index_t W, index_t n_labels, index_t cell,
                        std::int32_t* out, int n_threads);

}  // namespace glassbox
