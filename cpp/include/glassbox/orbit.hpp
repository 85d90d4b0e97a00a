// Orbits: every element of a subgroup of D4 applied to every plane.
#pragma once

#include <cstdint>

#include "glassbox/common.hpp"

namespace glassbox {

// images: (N, C, H, W) C-contiguous, elements: G D4 codes (0..7).
// out: (N, G, C, H', W') with (H', W') = (W, H) for the swapping elements; every element of a
// group acting on non-square planes must keep the shape (the caller checks).
// T is any trivially copyable type (the kernel only moves values).
template <class T>
void orbit(const T* images, index_t N, index_t C, index_t H, index_t W, const std::uint8_t* elements, int G, T* out,
           int n_threads);

// The same on bit-packed planes (pack_row layout) of logical width W: images are
// (N, C, H, packed_width(W)) and out is (N, G, C, H', packed_width(W')).
void orbit_packed(const std::uint8_t* images, index_t N, index_t C, index_t H, index_t W, const std::uint8_t* elements,
                  int G, std::uint8_t* out, int n_threads);

}  // namespace glassbox
