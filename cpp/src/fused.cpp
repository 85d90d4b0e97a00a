#include "glassbox/fused.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "glassbox/threads.hpp"
#include "threshold_rules.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace glassbox {

namespace {

#if defined(__GNUC__) || defined(__clang__)
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
    (void)top, (void)W, (void)size, (void)above, (void)col;
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
    std::uint64_t v;
    std::memcpy(&v, col + 2 * oj, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (int k = 0; k < 4; ++k) {
      const unsigned c = static_cast<unsigned>(col[2 * oj + 2 * k]) + col[2 * oj + 2 * k + 1];
      dst[oj + k] = static_cast<std::uint8_t>(Nonzero ? c != 0 : c);
    }
    (void)v;
#else
    constexpr std::uint64_t kLow = 0x00FF00FF00FF00FFull;
    std::uint64_t sums = (v & kLow) + ((v >> 8) & kLow);               // four 16-bit lanes
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
void pool_binary_plane(const T* x, index_t W, index_t OH, index_t OW, index_t size, index_t stride,
                       double area, Above above, std::uint8_t* __restrict col, Out* __restrict dst) {
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


#if defined(__SSE2__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GLASSBOX_FAST_SMALL 1
// Small uint8 images (16 <= W <= 32, H <= 33) with a fixed "> t" rule, 2x2 max-pooling: the
// pooled plane (at most 16 x 16) lives in 16-bit row masks (bit j = column j), the group acts on
// the masks (row order, bit reversal, a 16 x 16 bit transpose), and each output row is expanded
// from its mask with a table (or stored as the packed bytes it already is).

// Columns of rows a and b (W in [16, 32]) with a pixel > t: bit j = column j.
inline std::uint32_t above_either(const std::uint8_t* a, const std::uint8_t* b, index_t W, std::uint8_t t) {
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i tt = _mm_xor_si128(_mm_set1_epi8(static_cast<char>(t)), bias);
  auto gt = [&](const std::uint8_t* p) {  // unsigned p[j] > t via a signed compare
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm_cmpgt_epi8(_mm_xor_si128(v, bias), tt);
  };
  const auto lo = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(gt(a), gt(b))));
  const auto hi = static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_or_si128(gt(a + W - 16), gt(b + W - 16))));
  return lo | (hi << (W - 16));  // the overlapping columns agree
}

// Bit oj of the result = bit 2 oj | bit 2 oj + 1 of m (horizontal 2x2 max), oj < 16.
inline std::uint32_t pair_or(std::uint32_t m) {
  std::uint32_t x = (m | (m >> 1)) & 0x55555555u;
  x = (x | (x >> 1)) & 0x33333333u;
  x = (x | (x >> 2)) & 0x0F0F0F0Fu;
  x = (x | (x >> 4)) & 0x00FF00FFu;
  x = (x | (x >> 8)) & 0x0000FFFFu;
  return x;
}

inline std::uint16_t reverse16(std::uint32_t x) {
  x = ((x >> 1) & 0x5555u) | ((x & 0x5555u) << 1);
  x = ((x >> 2) & 0x3333u) | ((x & 0x3333u) << 2);
  x = ((x >> 4) & 0x0F0Fu) | ((x & 0x0F0Fu) << 4);
  x = ((x >> 8) & 0x00FFu) | ((x & 0x00FFu) << 8);
  return static_cast<std::uint16_t>(x);
}

// In place: bit i of a[j] becomes bit j of a[i] (16 x 16, rows beyond the plane are zero).
inline void transpose16(std::uint16_t* a) {
  static constexpr std::uint32_t kMask[4] = {0x00FFu, 0x0F0Fu, 0x3333u, 0x5555u};
  int round = 0;
  for (int s = 8; s != 0; s >>= 1, ++round) {
    for (int k = 0; k < 16; ++k) {
      if (k & s) continue;
      const std::uint32_t t = ((static_cast<std::uint32_t>(a[k]) >> s) ^ a[k + s]) & kMask[round];
      a[k + s] = static_cast<std::uint16_t>(a[k + s] ^ t);
      a[k] = static_cast<std::uint16_t>(a[k] ^ (t << s));
    }
  }
}

struct ExpandTable {  // byte b of bytes[m] = bit b of m
  std::uint64_t bytes[256];
  constexpr ExpandTable() : bytes() {
    for (int m = 0; m < 256; ++m) {
      std::uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>((m >> b) & 1) << (8 * b);
      bytes[m] = v;
    }
  }
};
inline constexpr ExpandTable kExpand{};

// One plane of TH rows of TW bits into dst: bytes 0 / 1, or packed little-endian bit rows.
inline void store_plane(const std::uint16_t* rows, index_t TH, index_t TW, bool packed, std::uint8_t* dst) {
  if (packed) {
    if (TW > 8) {
      for (index_t r = 0; r < TH; ++r) std::memcpy(dst + 2 * r, &rows[r], 2);
    } else {
      for (index_t r = 0; r < TH; ++r) dst[r] = static_cast<std::uint8_t>(rows[r]);
    }
    return;
  }
  const index_t plane = TH * TW;
  for (index_t r = 0; r < TH; ++r) {
    const std::uint64_t lo = kExpand.bytes[rows[r] & 0xFF], hi = kExpand.bytes[rows[r] >> 8];
    std::uint8_t* d = dst + r * TW;
    if (r * TW + 16 <= plane) {  // spill into the next rows, rewritten next
      std::memcpy(d, &lo, 8);
      std::memcpy(d + 8, &hi, 8);
    } else {
      std::memcpy(d, &lo, static_cast<std::size_t>(std::min<index_t>(TW, 8)));
      if (TW > 8) std::memcpy(d + 8, &hi, static_cast<std::size_t>(TW - 8));
    }
  }
}

// Pool one image's plane for threshold t and write its G transformed copies (plane k of K).
inline void fast_small_plane(const std::uint8_t* x, index_t H, index_t W, std::uint8_t t,
                             const std::uint8_t* elements, int G, bool packed, index_t K, index_t k,
                             index_t plane_out, std::uint8_t* out_image) {
  const index_t OH = H / 2, OW = W / 2;
  alignas(32) std::uint16_t rows[16] = {}, trans[16] = {}, moved[16];
  const std::uint32_t keep = (1u << OW) - 1u;
  for (index_t oi = 0; oi < OH; ++oi)
    rows[oi] = static_cast<std::uint16_t>(pair_or(above_either(x + 2 * oi * W, x + (2 * oi + 1) * W, W, t)) & keep);
  // the four versions the elements pick rows from: as is / transposed, columns reversed or not
  alignas(32) std::uint16_t rrev[16], trev[16];
  bool have_rev = false, have_trans = false, have_trev = false;
  for (int g = 0; g < G; ++g) {
    const D4Element e = d4_element(elements[g]);
    index_t SH = OH, SW = OW;
    bool flip_rows = e.flip_r, flip_cols = e.flip_c;
    if (e.swap) {  // a flip of the transpose (see transform_plane)
      SH = OW;
      SW = OH;
      flip_rows = e.flip_c;
      flip_cols = e.flip_r;
      if (!have_trans) {
        std::memcpy(trans, rows, sizeof rows);
        transpose16(trans);
        have_trans = true;
      }
    }
    const std::uint16_t* src = e.swap ? trans : rows;
    if (flip_cols) {
      std::uint16_t* rev = e.swap ? trev : rrev;
      bool& have = e.swap ? have_trev : have_rev;
      if (!have) {
        for (index_t r = 0; r < SH; ++r) rev[r] = static_cast<std::uint16_t>(reverse16(src[r]) >> (16 - SW));
        have = true;
      }
      src = rev;
    }
    const std::uint16_t* plane = src;
    if (flip_rows) {
      for (index_t r = 0; r < SH; ++r) moved[r] = src[SH - 1 - r];
      plane = moved;
    }
    store_plane(plane, SH, SW, packed, out_image + (static_cast<index_t>(g) * K + k) * plane_out);
  }
}
#endif


}  // namespace

template <class T, class Out>
void represent_fused(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method,
                     const double* thresholds, index_t K, index_t size, index_t stride, PoolMode mode,
                     const std::uint8_t* elements, int G, bool packed, Out* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t npix = H * W;
  const index_t OH = pooled_size(H, size, stride), OW = pooled_size(W, size, stride);
  // Every element of the group keeps the pooled plane's size (square, or no swapping element),
  // so all output planes have the same size.
  const index_t plane_out = packed ? OH * packed_width(OW) : OH * OW;
  const double area = static_cast<double>(size) * static_cast<double>(size);
  const bool swaps = any_swap(elements, G);
  // the small-image fast path: 2x2 max-pooling of 16..32-pixel-wide images into <= 16 x 16 planes
  const bool fast_small = mode == PoolMode::Max && size == 2 && stride == 2 && W >= 16 && W <= 32 && H >= 2 && H <= 33;
  (void)fast_small;
  const index_t image_out = static_cast<index_t>(G) * K * plane_out;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const auto pooled_len = static_cast<std::size_t>(OH * OW);
    std::vector<Out> pooled(pooled_len), transposed(swaps ? pooled_len : 0), moved(packed ? pooled_len : 0);
    std::vector<std::uint8_t> column(static_cast<std::size_t>(W));  // counts <= size <= 255
#pragma omp for schedule(static)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      Out* img_out = out + n * image_out;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
#ifdef GLASSBOX_FAST_SMALL
        if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<Out, std::uint8_t>) {
          if (fast_small && rule.kind == detail::RuleKind::IntGt) {
            fast_small_plane(x, H, W, static_cast<std::uint8_t>(rule.ithr), elements, G, packed, K, k, plane_out,
                             img_out);
            continue;
          }
        }
#endif
        detail::with_comparator<T>(rule, [&](auto above) {
          if (mode == PoolMode::Max)
            pool_binary_plane<PoolMode::Max>(x, W, OH, OW, size, stride, area, above, column.data(), pooled.data());
          else if (mode == PoolMode::Sum)
            pool_binary_plane<PoolMode::Sum>(x, W, OH, OW, size, stride, area, above, column.data(), pooled.data());
          else
            pool_binary_plane<PoolMode::Mean>(x, W, OH, OW, size, stride, area, above, column.data(), pooled.data());
        });
        if (swaps) transpose_plane(pooled.data(), OH, OW, transposed.data());
        for (int g = 0; g < G; ++g) {
          const D4Element e = d4_element(elements[g]);
          Out* dst = img_out + (static_cast<index_t>(g) * K + k) * plane_out;
          if (!packed) {
            transform_plane(pooled.data(), transposed.data(), OH, OW, e, dst);
            continue;
          }
          if constexpr (sizeof(Out) == 1) {
            transform_plane(pooled.data(), transposed.data(), OH, OW, e, moved.data());
            const index_t TH = e.swap ? OW : OH, TW = e.swap ? OH : OW;
            for (index_t r = 0; r < TH; ++r)
              pack_row(reinterpret_cast<const std::uint8_t*>(moved.data()) + r * TW, TW,
                       reinterpret_cast<std::uint8_t*>(dst) + r * packed_width(TW));
          }
        }
      }
    }
  }
}

#define GLASSBOX_INSTANTIATE_FUSED(T)                                                                \
  template void represent_fused<T, std::uint8_t>(const T*, index_t, index_t, index_t, ThresholdMethod, \
                                                 const double*, index_t, index_t, index_t, PoolMode,   \
                                                 const std::uint8_t*, int, bool, std::uint8_t*, int);  \
  template void represent_fused<T, std::uint16_t>(                                                     \
      const T*, index_t, index_t, index_t, ThresholdMethod, const double*, index_t, index_t, index_t,  \
      PoolMode, const std::uint8_t*, int, bool, std::uint16_t*, int);                                  \
  template void represent_fused<T, float>(const T*, index_t, index_t, index_t, ThresholdMethod,        \
                                          const double*, index_t, index_t, index_t, PoolMode,          \
                                          const std::uint8_t*, int, bool, float*, int);
GLASSBOX_INSTANTIATE_FUSED(std::uint8_t)
GLASSBOX_INSTANTIATE_FUSED(std::uint16_t)
GLASSBOX_INSTANTIATE_FUSED(float)
GLASSBOX_INSTANTIATE_FUSED(double)
#undef GLASSBOX_INSTANTIATE_FUSED

}  // namespace glassbox
