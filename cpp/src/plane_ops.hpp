// The plane operations the kernels share: flips, transposes and every group element applied to
// one plane, and bit packing of rows.  Private to the kernels (not part of glassbox/ headers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "glassbox/common.hpp"
#include "simd.hpp"

namespace glassbox {

namespace detail {

inline std::uint64_t byteswap64(std::uint64_t v) {
#ifdef GLASSBOX_VECTOR_EXT
  return __builtin_bswap64(v);
#else
  v = ((v & 0x00FF00FF00FF00FFull) << 8) | ((v >> 8) & 0x00FF00FF00FF00FFull);
  v = ((v & 0x0000FFFF0000FFFFull) << 16) | ((v >> 16) & 0x0000FFFF0000FFFFull);
  return (v << 32) | (v >> 32);
#endif
}

// d[0, n) = s[0, n) in 8-byte moves (the last one may overlap): no call into memcpy for the
// short rows of small images.
inline void copy_bytes(std::uint8_t* d, const std::uint8_t* s, index_t n) {
  if (n < 8) {
    for (index_t j = 0; j < n; ++j) d[j] = s[j];
    return;
  }
  index_t k = 0;
  for (; k + 8 <= n; k += 8) std::memcpy(d + k, s + k, 8);
  if (k < n) std::memcpy(d + n - 8, s + n - 8, 8);
}

// d[j] = s[n - 1 - j] for j in [0, n): byte-swapped 8-byte words (memory order, so the result
// does not depend on endianness).
inline void reverse_bytes(std::uint8_t* d, const std::uint8_t* s, index_t n) {
  if (n < 8) {
    for (index_t j = 0; j < n; ++j) d[j] = s[n - 1 - j];
    return;
  }
  std::uint64_t v;
  index_t k = 0;
  for (; k + 8 <= n; k += 8) {
    std::memcpy(&v, s + n - 8 - k, 8);
    v = byteswap64(v);
    std::memcpy(d + k, &v, 8);
  }
  if (k < n) {
    std::memcpy(&v, s, 8);
    v = byteswap64(v);
    std::memcpy(d + n - 8, &v, 8);
  }
}

}  // namespace detail

// dst = g . src for a group element that does not swap the axes (dst is H x W).  src and dst
// must not overlap.
template <class T>
void flip_plane(const T* src, index_t H, index_t W, bool flip_r, bool flip_c, T* dst) {
  if constexpr (sizeof(T) == 1) {
    const auto* s = reinterpret_cast<const std::uint8_t*>(src);
    auto* d = reinterpret_cast<std::uint8_t*>(dst);
    if (flip_r == flip_c) {  // identity or r180: the whole plane, as is or reversed
      if (flip_r)
        detail::reverse_bytes(d, s, H * W);
      else
        std::memcpy(d, s, static_cast<std::size_t>(H * W));
      return;
    }
    for (index_t i = 0; i < H; ++i) {
      if (flip_c)
        detail::reverse_bytes(d + i * W, s + i * W, W);
      else
        detail::copy_bytes(d + i * W, s + (H - 1 - i) * W, W);
    }
    return;
  }
  if (!flip_r && !flip_c) {
    std::memcpy(dst, src, static_cast<std::size_t>(H * W) * sizeof(T));
    return;
  }
  const index_t row_step = flip_r ? -W : W;
  const T* origin = src + (flip_r ? (H - 1) * W : 0);
  for (index_t i = 0; i < H; ++i) {
    const T* __restrict s = origin + i * row_step;
    T* __restrict d = dst + i * W;
    if (flip_c) {
      const T* __restrict last = s + (W - 1);
      for (index_t j = 0; j < W; ++j) d[j] = last[-j];
    } else {
      std::memcpy(d, s, static_cast<std::size_t>(W) * sizeof(T));
    }
  }
}

#ifdef GLASSBOX_SSE2
// Rows a[0..15] of a 16 x 16 byte block, in place, become its columns.  One round interleaves
// the bytes of rows k and k + 8 into rows 2k, 2k + 1: element (r, c) moves to
// (r << 1 | c >> 3, (c & 7) << 1 | r >> 3), a rotation by one bit of the 8-bit string (r, c);
// four rounds rotate it by four, to (c, r).
inline void transpose16x16_regs(__m128i* a) {
  __m128i b[16];
  for (int round = 0; round < 4; ++round) {
    for (int k = 0; k < 8; ++k) {
      b[2 * k] = _mm_unpacklo_epi8(a[k], a[k + 8]);
      b[2 * k + 1] = _mm_unpackhi_epi8(a[k], a[k + 8]);
    }
    for (int i = 0; i < 16; ++i) a[i] = b[i];
  }
}

// dst rows 0..15 (stride dstride) = columns 0..15 of the 16 x 16 byte block at src (stride
// sstride).
inline void transpose16x16_bytes(const std::uint8_t* src, index_t sstride, std::uint8_t* dst, index_t dstride) {
  __m128i a[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * sstride));
  transpose16x16_regs(a);
  for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i * dstride), a[i]);
}
#endif

// dst (W x H) = transpose of src (H x W), in cache-sized tiles (16 x 16 byte blocks with SSE2).
template <class T>
void transpose_plane(const T* src, index_t H, index_t W, T* dst) {
  index_t Hb = 0, Wb = 0;  // the blocks cover rows [0, Hb) and columns [0, Wb) of src
#ifdef GLASSBOX_SSE2
  if constexpr (sizeof(T) == 1) {
    // A remainder of 8 or more rows (columns) gets one more row (column) of blocks, moved back
    // to end at the edge: where blocks overlap they write the same values.  Per 28 x 28 plane,
    // four blocks took about 200 ns against 320-360 ns for one block and 528 scalar moves; a
    // short remainder stays scalar (17 x 17: 70-76 ns, against 195 ns for four blocks).
    const index_t H16 = H - H % 16, W16 = W - W % 16;
    const bool more_rows = H16 > 0 && H % 16 >= 8, more_cols = W16 > 0 && W % 16 >= 8;
    Hb = more_rows ? H : H16;
    Wb = more_cols ? W : W16;
    const auto* s = reinterpret_cast<const std::uint8_t*>(src);
    auto* d = reinterpret_cast<std::uint8_t*>(dst);
    for (index_t a = 0; a < Hb; a += 16) {
      const index_t i0 = std::min(a, Hb - 16);
      for (index_t b = 0; b < Wb; b += 16) {
        const index_t j0 = std::min(b, Wb - 16);
        transpose16x16_bytes(s + i0 * W + j0, W, d + j0 * H + i0, H);
      }
    }
  }
#endif
  constexpr index_t kTile = 32;
  auto scalar = [&](index_t ia, index_t ib, index_t ja, index_t jb) {
    for (index_t i0 = ia; i0 < ib; i0 += kTile) {
      const index_t i1 = std::min(ib, i0 + kTile);
      for (index_t j0 = ja; j0 < jb; j0 += kTile) {
        const index_t j1 = std::min(jb, j0 + kTile);
        for (index_t j = j0; j < j1; ++j)
          for (index_t i = i0; i < i1; ++i) dst[j * H + i] = src[i * W + j];
      }
    }
  };
  scalar(0, Hb, Wb, W);  // right strip of the block rows
  scalar(Hb, H, 0, W);   // bottom rows
}

// dst = g . src for one H x W plane; dst has shape (W, H) when g.swap.  `transposed` is
// transpose_plane(src) (W x H) when g.swap, else unused: a swapping element is a flip of the
// transpose, since dst[i, j] = src[a(j), b(i)] = transposed[b(i), a(j)].  src, transposed and
// dst must not overlap.
template <class T>
void transform_plane(const T* src, const T* transposed, index_t H, index_t W, D4Element g, T* dst) {
  if (g.swap)
    flip_plane(transposed, W, H, g.flip_c, g.flip_r, dst);
  else
    flip_plane(src, H, W, g.flip_r, g.flip_c, dst);
}

// True when any of the G elements (D4 codes) swaps the axes.
inline bool any_swap(const std::uint8_t* elements, int G) {
  for (int g = 0; g < G; ++g)
    if (d4_element(elements[g]).swap) return true;
  return false;
}

// Bit packing along rows (see packed_width in glassbox/common.hpp).

inline void pack_row(const std::uint8_t* bits, index_t W, std::uint8_t* out) {
  const index_t full = W / 8;
  for (index_t b = 0; b < full; ++b) {
    const std::uint8_t* p = bits + 8 * b;
#ifdef GLASSBOX_LITTLE_ENDIAN
    // Eight 0/1 bytes b_k (k = address order = significance order here) moved to bits 56 + k by
    // one multiplication: b_k sits at bit 8k and 0x0102040810204080 holds 2^(56 - 7k); every other
    // product lands at a distinct position outside the top byte, so no carry reaches it.
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    out[b] = static_cast<std::uint8_t>((v * 0x0102040810204080ull) >> 56);
#else
    out[b] = static_cast<std::uint8_t>(p[0] | (p[1] << 1) | (p[2] << 2) | (p[3] << 3) | (p[4] << 4) | (p[5] << 5) |
                                       (p[6] << 6) | (p[7] << 7));
#endif
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
