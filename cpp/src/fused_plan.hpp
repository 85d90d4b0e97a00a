// What the fused pass's bit paths share: how each element of the group acts on a pooled plane,
// worked out once per call.
#pragma once

#include <cstdint>
#include <vector>

#include "glassbox/common.hpp"

namespace glassbox::fused {

// How far ahead of the rows being pooled the bit paths prefetch their input.
inline constexpr index_t kPrefetchBytes = 2048;

// What one element of the group does to a pooled plane on the bit paths.  A swapping element is
// a flip of the transpose (see transform_plane), so each element starts from one of four versions
// of the plane (0: as is, 1: columns reversed, 2: transposed, 3: transposed with its columns
// reversed), may then reverse the order of its rows, and has shape SH x SW.
struct PlaneStep {
  int variant;
  bool flip_rows;
  index_t SH, SW;
};

// The steps of all G elements, worked out once per call, and the versions they start from.
struct GroupPlan {
  std::vector<PlaneStep> steps;
  bool need[4] = {true, false, false, false};  // version 3 is made from version 2: both set

  GroupPlan(index_t OH, index_t OW, const std::uint8_t* elements, int G) {
    for (int g = 0; g < G; ++g) {
      const D4Element e = d4_element(elements[g]);
      const bool flip_rows = e.swap ? e.flip_c : e.flip_r, flip_cols = e.swap ? e.flip_r : e.flip_c;
      const int variant = (e.swap ? 2 : 0) + (flip_cols ? 1 : 0);
      need[variant] = true;
      if (variant == 3) need[2] = true;
      steps.push_back({variant, flip_rows, e.swap ? OW : OH, e.swap ? OH : OW});
    }
  }
};

}  // namespace glassbox::fused
