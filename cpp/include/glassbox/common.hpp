// Shared types of the glassbox kernels: the index type, the D4 element encoding and the width
// of bit-packed rows.  No Python in here; the plane operations the kernels share are private
// (cpp/src/plane_ops.hpp).
#pragma once

#include <cstdint>

namespace glassbox {

using index_t = std::int64_t;

// One element of the dihedral group D4 acting on the last two axes of an (H, W) plane,
// written as a gather: dst[i, j] = src[a, b] with
//   swap == false: a = flip_r ? H-1-i : i,  b = flip_c ? W-1-j : j   (dst is H x W)
//   swap == true:  a = flip_r ? H-1-j : j,  b = flip_c ? W-1-i : i   (dst is W x H)
struct D4Element {
  bool swap;
  bool flip_r;
  bool flip_c;
};

// glassbox's fixed order of D4: e, r90, r180, r270, fh, fv, t, at (see glassbox.groups).
inline constexpr int kD4Order = 8;

inline D4Element d4_element(int code) {
  // static: a plain constexpr local is rebuilt on the stack at every call, and reading it back
  // through a computed index stalls on the fresh stores in the kernels' per-plane loops
  static constexpr D4Element table[kD4Order] = {
      {false, false, false},  // e     x
      {true, false, true},    // r90   np.rot90(x, 1)
      {false, true, true},    // r180  np.rot90(x, 2)
      {true, true, false},    // r270  np.rot90(x, 3)
      {false, false, true},   // fh    x[..., ::-1]
      {false, true, false},   // fv    x[..., ::-1, :]
      {true, false, false},   // t     swapaxes(x)
      {true, true, true},     // at    swapaxes(x[..., ::-1, ::-1])
  };
  return table[code];
}

// Bit packing along rows, NumPy's packbits(axis=-1, bitorder="little") layout: pixel j of a row
// is bit (j % 8) of byte j / 8; padding bits are zero.
inline index_t packed_width(index_t W) {
  return (W + 7) / 8;
}

// The image types of the binarizing kernels (binarize, represent_fused, glass_features), with
// NumPy's dtype code: one list drives their explicit instantiations and the bindings' dtype
// dispatch (dispatch_image in cpp/bindings/array_cast.hpp).  X(T, code) per type.
#define GLASSBOX_IMAGE_TYPES(X) X(std::uint8_t, "u1") X(std::uint16_t, "u2") X(float, "f4") X(double, "f8")
#define GLASSBOX_IMAGE_TYPE_NAMES "uint8, uint16, float32 or float64"

}  // namespace glassbox
