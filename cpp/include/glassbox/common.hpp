// Shared types of the glassbox kernels: index type, the D4 element encoding, the plane
// transform every group action is built from, and bit packing.  No Python in here.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

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
  constexpr D4Element table[kD4Order] = {
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

// dst = g . src for one H x W plane; dst has shape (W, H) when g.swap.  src and dst must not
// overlap.
template <class T>
void transform_plane(const T* src, index_t H, index_t W, D4Element g, T* dst) {
  const index_t base = (g.flip_r ? (H - 1) * W : 0) + (g.flip_c ? W - 1 : 0);
  const T* origin = src + base;
  if (!g.swap) {
    const index_t row_step = g.flip_r ? -W : W;
    for (index_t i = 0; i < H; ++i) {
      const T* s = origin + i * row_step;
      T* d = dst + i * W;
      if (g.flip_c) {
        for (index_t j = 0; j < W; ++j) d[j] = s[-j];
      } else {
        std::memcpy(d, s, static_cast<std::size_t>(W) * sizeof(T));
      }
    }
    return;
  }
  // dst is W x H: its row i is source column b(i), read in the row order a(j).
  const index_t i_step = g.flip_c ? -1 : 1;
  const index_t j_step = g.flip_r ? -W : W;
  constexpr index_t kTile = 16;  // rows of dst written together: reads stay in cache lines
  for (index_t i0 = 0; i0 < W; i0 += kTile) {
    const index_t i1 = std::min(W, i0 + kTile);
    for (index_t j = 0; j < H; ++j) {
      const T* s = origin + j * j_step;
      for (index_t i = i0; i < i1; ++i) dst[i * H + j] = s[i * i_step];
    }
  }
}

// Bit packing along rows, NumPy's packbits(axis=-1, bitorder="little") layout: pixel j of a row
// is bit (j % 8) of byte j / 8; padding bits are zero.
inline index_t packed_width(index_t W) { return (W + 7) / 8; }

inline void pack_row(const std::uint8_t* bits, index_t W, std::uint8_t* out) {
  const index_t full = W / 8;
  for (index_t b = 0; b < full; ++b) {
    const std::uint8_t* p = bits + 8 * b;
    out[b] = static_cast<std::uint8_t>(p[0] | (p[1] << 1) | (p[2] << 2) | (p[3] << 3) |
                                       (p[4] << 4) | (p[5] << 5) | (p[6] << 6) | (p[7] << 7));
  }
  if (full * 8 < W) {
    std::uint8_t v = 0;
    for (index_t j = full * 8; j < W; ++j) v = static_cast<std::uint8_t>(v | (bits[j] << (j - full * 8)));
    out[full] = v;
  }
}

inline void unpack_row(const std::uint8_t* packed, index_t W, std::uint8_t* bits) {
  for (index_t j = 0; j < W; ++j) bits[j] = static_cast<std::uint8_t>((packed[j >> 3] >> (j & 7)) & 1u);
}

}  // namespace glassbox
