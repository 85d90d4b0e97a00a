// The fused pass's generic path, for every dtype, pooling and rule: each binary plane pooled by
// counting (pool_binary_plane), then every element of the group applied with the plane
// operations, and packed when asked.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "glassbox/fused.hpp"
#include "plane_ops.hpp"
#include "simd.hpp"
#include "threshold_rules.hpp"

namespace glassbox::fused {

#ifdef GLASSBOX_VECTOR_EXT
typedef std::uint8_t u8x16 __attribute__((vector_size(16)));

// The hot case, uint8 pixels against a fixed uint8 threshold: per-column counts over the
// window's rows in whole 16-byte vectors (SSE2 / NEON through the compiler's vector
// extensions), the last vector overlapping the previous one instead of a scalar tail (each
// column's count is computed from scratch, so computing it twice is harmless).  Returns false
// when the case does not apply.
template <class T, class Above>
inline bool column_counts_u8(const T* top, index_t W, index_t size, Above above, std::uint8_t* col) {
  if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<Above, detail::Gt<std::uint8_t>>) {
    if (W < 16) return false;
    const u8x16 t = u8x16{} + above.t;  // broadcast
    auto chunk = [&](index_t j) {
      u8x16 c = {}, v;
      for (index_t di = 0; di < size; ++di) {
        std::memcpy(&v, top + di * W + j, 16);
        c -= reinterpret_cast<u8x16>(v > t);  // true lanes are all ones (-1)
      }
      std::memcpy(col + j, &c, 16);
    };
    index_t j = 0;
    for (; j + 16 <= W; j += 16) chunk(j);
    if (j < W) chunk(W - 16);
    return true;
  } else {
    return false;
  }
}
#else
template <class T, class Above>
inline bool column_counts_u8(const T*, index_t, index_t, Above, std::uint8_t*) {
  return false;
}
#endif

// 2x2 pooling only: dst[oj] = col[2 oj] + col[2 oj + 1] (or, with Nonzero, whether that sum is
// non-zero) for oj < OW, OW >= 4, four outputs per 64-bit word: the pairs are the two bytes of
// 16-bit lanes, added, then compacted from lanes to bytes.  Column counts are <= 2, so each sum
// is <= 4: it fits its byte and the Nonzero test (adding 0x7F) cannot carry into the next byte.
// The last word overlaps the previous one rather than leaving a scalar tail.
template <bool Nonzero>
inline void pair_sums_u8(const std::uint8_t* col, index_t OW, std::uint8_t* dst) {
  auto four = [&](index_t oj) {
#ifndef GLASSBOX_LITTLE_ENDIAN
    for (int k = 0; k < 4; ++k) {
      const unsigned c = static_cast<unsigned>(col[2 * oj + 2 * k]) + col[2 * oj + 2 * k + 1];
      dst[oj + k] = static_cast<std::uint8_t>(Nonzero ? c != 0 : c);
    }
#else
    std::uint64_t v;
    std::memcpy(&v, col + 2 * oj, 8);
    constexpr std::uint64_t kLow = 0x00FF00FF00FF00FFull;
    std::uint64_t sums = (v & kLow) + ((v >> 8) & kLow);                // four 16-bit lanes
    sums = (sums | (sums >> 8)) & 0x0000FFFF0000FFFFull;                // lanes -> byte pairs
    auto packed = static_cast<std::uint32_t>(sums | (sums >> 16));      // four bytes
    if (Nonzero) packed = ((packed + 0x7F7F7F7Fu) & 0x80808080u) >> 7;  // bytes are <= 4: no carry
    std::memcpy(dst + oj, &packed, 4);
#endif
  };
  index_t oj = 0;
  for (; oj + 4 <= OW; oj += 4) four(oj);
  if (oj < OW) four(OW - 4);
}

// One binary plane of one image, pooled: count the 1-pixels of each window (separably: first
// each column over the window's rows, a vectorisable pass over whole rows, then the window's
// columns), then Max: count != 0, Sum: count, Mean: count / area.  Everything arrives by value
// so that stores through `dst` (which may alias anything when Out is a byte) force no reloads.
template <PoolMode Mode, class T, class Out, class Above>
void pool_binary_plane(const T* x, index_t W, index_t OH, index_t OW, index_t size, index_t stride, double area,
                       Above above, std::uint8_t* __restrict col, Out* __restrict dst) {
  auto finish = [area](unsigned count) -> Out {
    if constexpr (Mode == PoolMode::Max) return static_cast<Out>(count != 0);
    if constexpr (Mode == PoolMode::Sum) return static_cast<Out>(count);
    return static_cast<Out>(static_cast<double>(count) / area);
  };
  for (index_t oi = 0; oi < OH; ++oi, dst += OW) {
    const T* __restrict row = x + oi * stride * W;
    if (column_counts_u8(row, W, size, above, col)) {
      // done with whole vectors
    } else {
      for (index_t j = 0; j < W; ++j) col[j] = above(row[j]) ? 1 : 0;
      for (index_t di = 1; di < size; ++di) {
        row += W;
        for (index_t j = 0; j < W; ++j) col[j] = static_cast<std::uint8_t>(col[j] + (above(row[j]) ? 1 : 0));
      }
    }
    if (size == 2 && stride == 2) {
      if constexpr (sizeof(Out) == 1 && Mode != PoolMode::Mean) {
        if (OW >= 4) {
          pair_sums_u8<Mode == PoolMode::Max>(col, OW, reinterpret_cast<std::uint8_t*>(dst));
          continue;
        }
      }
      for (index_t oj = 0; oj < OW; ++oj) dst[oj] = finish(static_cast<unsigned>(col[2 * oj]) + col[2 * oj + 1]);
    } else {
      for (index_t oj = 0; oj < OW; ++oj) {
        unsigned count = 0;
        for (index_t dj = 0; dj < size; ++dj) count += col[oj * stride + dj];
        dst[oj] = finish(count);
      }
    }
  }
}

// Per-thread buffers of the generic path.
template <class Out>
struct GenericBuffers {
  std::vector<Out> pooled, transposed, moved;
  std::vector<std::uint8_t> column;  // counts <= size <= 255

  GenericBuffers(index_t OH, index_t OW, index_t W, bool swaps, bool packed)
      : pooled(static_cast<std::size_t>(OH * OW)),
        transposed(swaps ? static_cast<std::size_t>(OH * OW) : 0),
        moved(packed ? static_cast<std::size_t>(OH * OW) : 0),
        column(static_cast<std::size_t>(W)) {}
};

// The shape of one call of the generic path.
struct GenericShape {
  index_t W, OH, OW, size, stride;
  PoolMode mode;
  double area;
  bool swaps, packed;
};

// Plane k of one image: binarize with `rule`, pool, then write every element of the group
// (plane k of K of each) into img_out.
template <class T, class Out>
void generic_plane(const T* x, const detail::Rule& rule, const GenericShape& s, const std::uint8_t* elements, int G,
                   index_t K, index_t k, index_t plane_out, GenericBuffers<Out>& buf, Out* img_out) {
  const index_t W = s.W, OH = s.OH, OW = s.OW;
  Out* pooled = buf.pooled.data();
  std::uint8_t* column = buf.column.data();
  detail::with_comparator<T>(rule, [&](auto above) {
    if (s.mode == PoolMode::Max)
      pool_binary_plane<PoolMode::Max>(x, W, OH, OW, s.size, s.stride, s.area, above, column, pooled);
    else if (s.mode == PoolMode::Sum)
      pool_binary_plane<PoolMode::Sum>(x, W, OH, OW, s.size, s.stride, s.area, above, column, pooled);
    else
      pool_binary_plane<PoolMode::Mean>(x, W, OH, OW, s.size, s.stride, s.area, above, column, pooled);
  });
  if (s.swaps) transpose_plane(pooled, OH, OW, buf.transposed.data());
  for (int g = 0; g < G; ++g) {
    const D4Element e = d4_element(elements[g]);
    Out* dst = img_out + (static_cast<index_t>(g) * K + k) * plane_out;
    if (!s.packed) {
      transform_plane(pooled, buf.transposed.data(), OH, OW, e, dst);
      continue;
    }
    if constexpr (sizeof(Out) == 1) {
      transform_plane(pooled, buf.transposed.data(), OH, OW, e, buf.moved.data());
      const index_t TH = e.swap ? OW : OH, TW = e.swap ? OH : OW;
      for (index_t r = 0; r < TH; ++r)
        pack_row(reinterpret_cast<const std::uint8_t*>(buf.moved.data()) + r * TW, TW,
                 reinterpret_cast<std::uint8_t*>(dst) + r * packed_width(TW));
    }
  }
}

}  // namespace glassbox::fused
