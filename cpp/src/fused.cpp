#include "glassbox/fused.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "bitplane.hpp"
#include "bitplane_avx2.hpp"
#include "glassbox/threads.hpp"
#include "output_sink.hpp"
#include "threshold_rules.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace glassbox {

namespace {

// How far ahead of the rows being pooled the bit paths prefetch their input.
inline constexpr index_t kPrefetchBytes = 2048;

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

// One plane of TH rows of TW bits into the sink: bytes 0 / 1, or packed little-endian bit rows.
inline void store_plane(const std::uint16_t* rows, index_t TH, index_t TW, bool packed, OutputSink& sink) {
  const index_t row_bytes = packed ? (TW > 8 ? 2 : 1) : TW;
  std::uint8_t* d = sink.reserve(TH * row_bytes);  // <= 16 x 16 bytes
  if (packed) {
    if (TW > 8) {
      for (index_t r = 0; r < TH; ++r) std::memcpy(d + 2 * r, &rows[r], 2);
    } else {
      for (index_t r = 0; r < TH; ++r) d[r] = static_cast<std::uint8_t>(rows[r]);
    }
  } else {
    for (index_t r = 0; r < TH; ++r, d += TW) {  // 16 bytes a row: the spill is rewritten next
      bits::store64(d, bits::kExpand.bytes[rows[r] & 0xFF]);
      bits::store64(d + 8, bits::kExpand.bytes[rows[r] >> 8]);
    }
  }
  sink.commit(TH * row_bytes);
}

// Pool one image's plane for threshold t and write its transformed copies (plane k of K).
inline void fast_small_plane(const std::uint8_t* x, index_t H, index_t W, std::uint8_t t, const GroupPlan& plan,
                             bool packed, index_t K, index_t k, index_t plane_out, std::uint8_t* out_image,
                             OutputSink& sink) {
  const index_t OH = H / 2, OW = W / 2;
  alignas(32) std::uint16_t rows[16] = {}, moved[16];
  const std::uint32_t keep = (1u << OW) - 1u;
  for (index_t oi = 0; oi < OH; ++oi)
    rows[oi] = static_cast<std::uint16_t>(pair_or(above_either(x + 2 * oi * W, x + (2 * oi + 1) * W, W, t)) & keep);
  // the versions the elements pick rows from (see PlaneStep); rows past the plane stay zero
  alignas(32) std::uint16_t rrev[16] = {}, trans[16] = {}, trev[16] = {};
  auto reverse_cols = [](const std::uint16_t* src, index_t n_rows, index_t n_cols, std::uint16_t* dst) {
    for (index_t r = 0; r < n_rows; ++r) dst[r] = static_cast<std::uint16_t>(reverse16(src[r]) >> (16 - n_cols));
  };
  if (plan.need[1]) reverse_cols(rows, OH, OW, rrev);
  if (plan.need[2]) {
    std::memcpy(trans, rows, sizeof rows);
    transpose16(trans);
  }
  if (plan.need[3]) reverse_cols(trans, OW, OH, trev);
  const std::uint16_t* versions[4] = {rows, rrev, trans, trev};
  const auto G = static_cast<index_t>(plan.steps.size());
  for (index_t g = 0; g < G; ++g) {
    const PlaneStep& s = plan.steps[static_cast<std::size_t>(g)];
    const std::uint16_t* plane = versions[s.variant];
    if (s.flip_rows) {
      for (index_t r = 0; r < s.SH; ++r) moved[r] = plane[s.SH - 1 - r];
      plane = moved;
    }
    sink.seek(out_image + (g * K + k) * plane_out);
    store_plane(plane, s.SH, s.SW, packed, sink);
  }
}

#ifdef GLASSBOX_AVX2
// fast_small_plane with AVX2: the pooled plane as the 16 lanes of one register (row i = lane i),
// the group acting through lane and bit shuffles, and everything kept in registers.  Rows
// written as 16-bit scalars and read back as one vector (or a vector stored and read back at an
// offset) cannot be forwarded from the store buffer: each such round trip stalls for about as
// long as the rest of the plane takes.

// The byte shuffles that reverse the first n rows of a register, for n = OH (index 0) and
// n = OW (index 1), made once per call.
struct RowFlips {
  alignas(32) std::uint8_t same[2][32], other[2][32];

  RowFlips(index_t OH, index_t OW) {
    make_flip(OH, same[0], other[0]);
    make_flip(OW, same[1], other[1]);
  }

  // Output row r < n (bytes 2r, 2r + 1) = input row n - 1 - r; rows n..15 zero.  A byte from the
  // same 128-bit lane comes through `same`, one from the other lane through `other` (applied to
  // the register with its lanes swapped); 0x80 gives zero.
  static void make_flip(index_t n, std::uint8_t* same, std::uint8_t* other) {
    for (int p = 0; p < 32; ++p) {
      const int r = p / 2;
      same[p] = other[p] = 0x80;
      if (r >= n) continue;
      const int q = 2 * static_cast<int>(n - 1 - r) + (p & 1);  // source byte
      if (q / 16 == p / 16)
        same[p] = static_cast<std::uint8_t>(q % 16);
      else
        other[p] = static_cast<std::uint8_t>(q % 16);
    }
  }
};

// Pooled row of rows a and b (2 OW <= W <= 32 columns): one 32-byte load per row, so it reads
// up to 32 - W bytes past the end of row b (the caller pads the last image).  Bit m of the
// result: max of columns 2m, 2m + 1 of both rows > t (keep masks bits m >= OW).
GLASSBOX_TARGET_AVX2 inline std::uint64_t pooled_row16(const std::uint8_t* a, const std::uint8_t* b, std::uint32_t keep,
                                                       __m256i tt) {
  return bits::pair_or32(bits::above32(a, b, tt)) & keep;
}

// Pooled rows o0 .. o0 + 3 (those below OH) as the four 16-bit pieces of a word.
GLASSBOX_TARGET_AVX2 inline std::uint64_t pooled_quad(const std::uint8_t* x, index_t W, index_t OH, std::uint32_t keep,
                                                      __m256i tt, index_t o0) {
  std::uint64_t q = 0;
  for (index_t i = 0; i < 4; ++i) {
    const index_t oi = o0 + i;
    if (oi < OH) q |= pooled_row16(x + 2 * oi * W, x + (2 * oi + 1) * W, keep, tt) << (16 * i);
  }
  return q;
}

// Bytes 0 / 1 from the 32 bits of dword k (k < 4) of the four dwords that stand in both lanes
// of `half` (dwords 0..3 or 4..7 of a register, duplicated): byte j = bit j.
GLASSBOX_TARGET_AVX2 inline __m256i expand_dword(__m256i half, index_t k) {
  alignas(32) static constexpr std::uint8_t kPick[4][32] = {
      {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
      {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
      {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
      {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13,
       14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15}};
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i b = _mm256_shuffle_epi8(half, _mm256_load_si256(reinterpret_cast<const __m256i*>(kPick[k])));
  return _mm256_min_epu8(_mm256_and_si256(b, bit), _mm256_set1_epi8(1));  // 0, or the bit's value -> 1
}

// The first n < 32 bytes of v at d, and nothing past them (a whole vector is one store).
GLASSBOX_TARGET_AVX2 inline void store_first(std::uint8_t* d, __m256i v, index_t n) {
  __m128i part = _mm256_castsi256_si128(v);
  if (n >= 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), part);
    part = _mm256_extracti128_si256(v, 1);
    d += 16;
    n -= 16;
  }
  if (n & 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(d), part);
    part = _mm_srli_si128(part, 8);
    d += 8;
  }
  auto low = static_cast<std::uint32_t>(_mm_cvtsi128_si32(part));
  if (n & 4) {
    std::memcpy(d, &low, 4);
    low = static_cast<std::uint32_t>(_mm_cvtsi128_si32(_mm_srli_si128(part, 4)));
    d += 4;
  }
  if (n & 2) {
    const auto two = static_cast<std::uint16_t>(low);
    std::memcpy(d, &two, 2);
    low >>= 16;
    d += 2;
  }
  if (n & 1) *d = static_cast<std::uint8_t>(low);
}

// One transformed plane (TH rows of TW bits in the lanes of v) into the sink; Direct (bytes 0 / 1,
// output not streamed): straight into the output.
template <bool Direct>
GLASSBOX_TARGET_AVX2 inline void store_plane16(__m256i v, index_t TH, index_t TW, bool packed, OutputSink& sink) {
  if (packed && TW > 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sink.reserve(2 * TH)), v);  // the spill lands in the slack
    sink.commit(2 * TH);
    return;
  }
  if (packed) {  // one byte a row: the low bytes of the lanes
    const __m256i lo = _mm256_packus_epi16(_mm256_and_si256(v, _mm256_set1_epi16(0x00FF)), _mm256_setzero_si256());
    const __m256i rows = _mm256_permute4x64_epi64(lo, 0xD8);  // bytes 0..15 = rows 0..15
    _mm_storeu_si128(reinterpret_cast<__m128i*>(sink.reserve(TH)), _mm256_castsi256_si128(rows));
    sink.commit(TH);
    return;
  }
  // dword k: rows 2k and 2k + 1 back to back (2 TW <= 32 bits), as they lie in the output
  const __m256i pairs = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xFFFF)),
                                        _mm256_sll_epi32(_mm256_srli_epi32(v, 16), _mm_cvtsi64_si128(TW)));
  const __m256i halves[2] = {_mm256_permute4x64_epi64(pairs, 0x44), _mm256_permute4x64_epi64(pairs, 0xEE)};
  // two rows a 32-byte store, in order: each spill is rewritten by the next store
  if constexpr (Direct) {  // nothing past the plane
    std::uint8_t* d = sink.direct();
    index_t r = 0;
    for (; r * TW + 32 <= TH * TW; r += 2)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + r * TW), expand_dword(halves[r / 8], (r / 2) % 4));
    for (; r < TH; r += 2)  // fewer than 32 bytes left in the plane
      store_first(d + r * TW, expand_dword(halves[r / 8], (r / 2) % 4), std::min<index_t>(2, TH - r) * TW);
    sink.advance(TH * TW);
    return;
  }
  std::uint8_t* d = sink.reserve(TH * TW);  // the last spill lands in the slack
  for (index_t r = 0; r < TH; r += 2)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + r * TW), expand_dword(halves[r / 8], (r / 2) % 4));
  sink.commit(TH * TW);
}

GLASSBOX_TARGET_AVX2 inline __m256i flip_rows16(__m256i v, const std::uint8_t* same, const std::uint8_t* other) {
  const __m256i s = _mm256_load_si256(reinterpret_cast<const __m256i*>(same));
  const __m256i o = _mm256_load_si256(reinterpret_cast<const __m256i*>(other));
  return _mm256_or_si256(_mm256_shuffle_epi8(v, s), _mm256_shuffle_epi8(_mm256_permute2x128_si256(v, v, 0x01), o));
}

// Side > 0: the pooled plane is Side x Side (H / 2 == W / 2 == Side), known when compiling, so
// that the row loops of store_plane16 unroll with constant offsets; Side == 0: any size.
template <bool Direct, int Side>
GLASSBOX_TARGET_AVX2 void fast_small_plane_avx2(const std::uint8_t* x, index_t H, index_t W, std::uint8_t t,
                                                const GroupPlan& plan, const RowFlips& flips, bool packed,
                                                index_t K, index_t k, index_t plane_out, std::uint8_t* out_image,
                                                OutputSink& sink) {
  const index_t OH = Side > 0 ? Side : H / 2, OW = Side > 0 ? Side : W / 2;
  const __m256i tt = _mm256_set1_epi8(static_cast<char>(t ^ 0x80));
  const std::uint32_t keep = (1u << OW) - 1u;
  const __m256i m = _mm256_setr_epi64x(static_cast<long long>(pooled_quad(x, W, OH, keep, tt, 0)),
                                       static_cast<long long>(pooled_quad(x, W, OH, keep, tt, 4)),
                                       static_cast<long long>(pooled_quad(x, W, OH, keep, tt, 8)),
                                       static_cast<long long>(pooled_quad(x, W, OH, keep, tt, 12)));
  // the plane, its columns reversed, its transpose, and that reversed (padding bits stay zero)
  __m256i var[4];
  var[0] = m;
  if (plan.need[1]) var[1] = _mm256_srl_epi16(bits::reverse_bits16(m), _mm_cvtsi64_si128(16 - OW));
  if (plan.need[2]) var[2] = bits::transpose16(m);
  if (plan.need[3]) var[3] = _mm256_srl_epi16(bits::reverse_bits16(var[2]), _mm_cvtsi64_si128(16 - OH));
  const auto G = static_cast<index_t>(plan.steps.size());
  for (index_t g = 0; g < G; ++g) {
    const PlaneStep& s = plan.steps[static_cast<std::size_t>(g)];
    __m256i v = var[s.variant];
    if (s.flip_rows) {
      const int which = s.SH == OH ? 0 : 1;
      v = flip_rows16(v, flips.same[which], flips.other[which]);
    }
    sink.seek(out_image + (g * K + k) * plane_out);
    if constexpr (Side > 0)
      store_plane16<Direct>(v, Side, Side, packed, sink);  // square: SH == SW == Side
    else
      store_plane16<Direct>(v, s.SH, s.SW, packed, sink);
  }
}
#endif

// Wider uint8 images (2 OW >= 32 columns pooled), "> t", 2x2 max-pooling: the pooled plane as a
// bit matrix, its transforms on the bits (see bitplane.hpp), rows expanded to bytes (or copied
// packed) into the sink.
struct WidePlanes {
  index_t stride = 0;
  std::vector<std::uint8_t> m, rev, trans, trev;  // the versions of the plane (see PlaneStep)

  WidePlanes(index_t OH, index_t OW, const GroupPlan& plan) {
    // OH rows of OW bits (square when an element transposes: the transpose has the same shape)
    stride = bits::row_stride(OW);
    const auto bytes = static_cast<std::size_t>(bits::rows_allocated(OH) * stride);
    m.assign(bytes, 0);
    if (plan.need[1]) rev.assign(bytes, 0);
    if (plan.need[2]) trans.assign(bytes, 0);
    if (plan.need[3]) trev.assign(bytes, 0);
  }
};

template <bool Avx2>
void wide_plane(const std::uint8_t* x, index_t W, index_t OH, index_t OW, std::uint8_t t, const GroupPlan& plan,
                bool packed, index_t K, index_t k, index_t plane_out, std::uint8_t* out_image, WidePlanes& wp,
                OutputSink& sink) {
  const index_t S = wp.stride;
  std::uint8_t* m = wp.m.data();
  const index_t ahead = std::max<index_t>(kPrefetchBytes, 4 * W);  // at least two row pairs
#ifdef GLASSBOX_AVX2
  if constexpr (Avx2) bits::pool_plane_avx2(x, W, OH, 2 * OW, t, m, S, ahead);
#endif
  if constexpr (!Avx2) {
    for (index_t oi = 0; oi < OH; ++oi) {
      const std::uint8_t* a = x + 2 * oi * W;
      bits::pool_row(a, a + W, 2 * OW, t, m + oi * S, S, ahead);
    }
  }
  auto reverse_rows = [&](const std::uint8_t* src, index_t rows, index_t n, std::uint8_t* dst) {
#ifdef GLASSBOX_AVX2
    if constexpr (Avx2) {  // whole-byte rows: shuffles
      if (bits::reverse_rows_avx2(src, rows, n, S, dst)) return;
    }
#endif
    for (index_t r = 0; r < rows; ++r) bits::reverse_row(src + r * S, n, dst + r * S);
  };
  if (plan.need[1]) reverse_rows(m, OH, OW, wp.rev.data());
  if (plan.need[2]) bits::transpose(m, OH, S, wp.trans.data());  // square: OH == OW
  if (plan.need[3]) reverse_rows(wp.trans.data(), OW, OH, wp.trev.data());
  const std::uint8_t* versions[4] = {m, wp.rev.data(), wp.trans.data(), wp.trev.data()};
  const auto G = static_cast<index_t>(plan.steps.size());
  for (index_t g = 0; g < G; ++g) {
    const PlaneStep& step = plan.steps[static_cast<std::size_t>(g)];
    const index_t SH = step.SH, SW = step.SW;
    const bool flip_rows = step.flip_rows;
    const std::uint8_t* src = versions[step.variant];
    std::uint8_t* dst = out_image + (g * K + k) * plane_out;
#ifdef GLASSBOX_AVX2
    if constexpr (Avx2) {
      // streamed whole-16-byte rows go straight to the output: no copy through the sink
      if (!packed && sink.streaming() && SW % 16 == 0 && reinterpret_cast<std::uintptr_t>(dst) % 16 == 0) {
        bits::expand_plane_stream_avx2(src, S, SH, SW, flip_rows, dst);
        sink.note_streamed();
        continue;
      }
    }
#endif
    sink.seek(dst);
    const index_t row_bytes = packed ? packed_width(SW) : SW;
    const index_t block = std::max<index_t>(1, OutputSink::kMaxRow / row_bytes);  // rows per reserve
    for (index_t r0 = 0; r0 < SH; r0 += block) {
      const index_t r1 = std::min(SH, r0 + block);
      std::uint8_t* d = sink.reserve((r1 - r0) * row_bytes);
      if (packed) {  // the source rows a fixed step apart: no address worked out per row
        const std::uint8_t* row = src + (flip_rows ? SH - 1 - r0 : r0) * S;
        const index_t row_step = flip_rows ? -S : S;
        if (row_bytes <= 16) {  // up to 128 pooled pixels: one load and one store, 5% faster than copy_row
          for (index_t r = r0; r < r1; ++r, d += row_bytes, row += row_step)  // spills are rewritten next
            _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(row)));
        } else {
          for (index_t r = r0; r < r1; ++r, d += row_bytes, row += row_step) bits::copy_row(row, row_bytes, d);
        }
        sink.commit((r1 - r0) * row_bytes);
        continue;
      }
      for (index_t r = r0; r < r1; ++r, d += row_bytes) {  // spills past a row are rewritten next
        const std::uint8_t* row = src + (flip_rows ? SH - 1 - r : r) * S;
#ifdef GLASSBOX_AVX2
        if constexpr (Avx2) {
          bits::expand_row_avx2(row, SW, d);
          continue;
        }
#endif
        bits::expand_row(row, SW, d);
      }
      sink.commit((r1 - r0) * row_bytes);
    }
  }
}
#endif


std::atomic<int> g_avx2{-1};  // -1: not decided yet; else 0 / 1

bool cpu_has_avx2() {
#ifdef GLASSBOX_AVX2
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
  return false;
#endif
}

}  // namespace

bool fused_avx2_enabled() {
  int v = g_avx2.load(std::memory_order_relaxed);
  if (v < 0) {
    v = cpu_has_avx2() ? 1 : 0;
    g_avx2.store(v, std::memory_order_relaxed);
  }
  return v != 0;
}

bool set_fused_avx2(bool enabled) {
  const bool before = fused_avx2_enabled();
  g_avx2.store(enabled && cpu_has_avx2() ? 1 : 0, std::memory_order_relaxed);
  return before;
}

template <class T, class Out>
void represent_fused(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method,
                     const double* thresholds, index_t K, index_t size, index_t stride, PoolMode mode,
                     const std::uint8_t* elements, int G, bool packed, Out* out, int n_threads,
                     bool fresh_out) {
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
  // the wide bit path: 2x2 max-pooling with at least 32 columns pooled, rows that fit the sink
  const bool wide = mode == PoolMode::Max && size == 2 && stride == 2 && !fast_small && OW >= 16 &&
                    OW <= OutputSink::kMaxRow && OH >= 1;
  // the fast path has copies compiled for square pooled planes of 14 x 14 (28 x 28 images:
  // MNIST, Fashion-MNIST) and 16 x 16 (32 x 32 images)
  const index_t square_side = OH == OW ? OH : 0;
  (void)fast_small, (void)wide, (void)square_side;
  const index_t image_out = static_cast<index_t>(G) * K * plane_out;
  const bool stream = !fresh_out && N * image_out * static_cast<index_t>(sizeof(Out)) >= kStreamOutputBytes;
  const bool avx2 = fused_avx2_enabled();
  (void)stream, (void)avx2;
#ifdef GLASSBOX_FAST_SMALL
  std::unique_ptr<const GroupPlan> plan;  // shared, read only
  if (fast_small || wide) plan = std::make_unique<const GroupPlan>(OH, OW, elements, G);
#endif
#ifdef GLASSBOX_AVX2
  std::unique_ptr<const RowFlips> flips;
  if (fast_small && avx2) flips = std::make_unique<const RowFlips>(OH, OW);
#endif
  const index_t in_bytes = npix * static_cast<index_t>(sizeof(T));
  const index_t out_bytes = image_out * static_cast<index_t>(sizeof(Out));
  const index_t chunk = fresh_out ? fresh_dynamic_chunk(N, in_bytes, out_bytes, nt) : dynamic_chunk(N, in_bytes, nt);
  (void)chunk;  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const auto pooled_len = static_cast<std::size_t>(OH * OW);
    std::vector<Out> pooled(pooled_len), transposed(swaps ? pooled_len : 0), moved(packed ? pooled_len : 0);
    std::vector<std::uint8_t> column(static_cast<std::size_t>(W));  // counts <= size <= 255
#ifdef GLASSBOX_FAST_SMALL
    constexpr bool kBytes = std::is_same_v<T, std::uint8_t> && std::is_same_v<Out, std::uint8_t>;
    std::unique_ptr<OutputSink> sink;
    std::unique_ptr<WidePlanes> wplanes;
    std::vector<std::uint8_t> padded;  // the last image, for fast_small_plane_avx2
    if (kBytes && (fast_small || wide)) sink = std::make_unique<OutputSink>(stream);
    if (kBytes && wide) wplanes = std::make_unique<WidePlanes>(OH, OW, *plan);
#endif
#pragma omp for schedule(dynamic, chunk)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      Out* img_out = out + n * image_out;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
#ifdef GLASSBOX_FAST_SMALL
        if constexpr (kBytes) {
          if (fast_small && rule.kind == detail::RuleKind::IntGt) {
            if (k == 0) bits::prefetch(x, kPrefetchBytes, npix);
#ifdef GLASSBOX_AVX2
            if (avx2) {
              // the 32-byte row loads read up to 32 - W bytes past the image: only the last
              // image's may leave the input, so it is read from a padded copy
              const std::uint8_t* xs = x;
              if (n == N - 1) {
                padded.assign(static_cast<std::size_t>(npix + 32), 0);
                std::memcpy(padded.data(), x, static_cast<std::size_t>(npix));
                xs = padded.data();
              }
              const auto t = static_cast<std::uint8_t>(rule.ithr);
              auto run = [&](auto direct, auto side) {
                fast_small_plane_avx2<decltype(direct)::value, decltype(side)::value>(
                    xs, H, W, t, *plan, *flips, packed, K, k, plane_out, img_out, *sink);
              };
              using Direct = std::true_type;
              using Staged = std::false_type;
              using Any = std::integral_constant<int, 0>;
              using S14 = std::integral_constant<int, 14>;
              using S16 = std::integral_constant<int, 16>;
              auto run_sized = [&](auto direct) {
                if (square_side == 14)
                  run(direct, S14{});
                else if (square_side == 16)
                  run(direct, S16{});
                else
                  run(direct, Any{});
              };
              if (!packed && !stream)  // bytes into an output not streamed: written there directly
                run_sized(Direct{});
              else
                run_sized(Staged{});
              continue;
            }
#endif
            fast_small_plane(x, H, W, static_cast<std::uint8_t>(rule.ithr), *plan, packed, K, k, plane_out, img_out,
                             *sink);
            continue;
          }
          if (wide && rule.kind == detail::RuleKind::IntGt) {
            if (avx2)
              wide_plane<true>(x, W, OH, OW, static_cast<std::uint8_t>(rule.ithr), *plan, packed, K, k, plane_out,
                               img_out, *wplanes, *sink);
            else
              wide_plane<false>(x, W, OH, OW, static_cast<std::uint8_t>(rule.ithr), *plan, packed, K, k, plane_out,
                                img_out, *wplanes, *sink);
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
#ifdef GLASSBOX_FAST_SMALL
    if (sink) sink->end();
#endif
  }
}

#define GLASSBOX_INSTANTIATE_FUSED(T)                                                                \
  template void represent_fused<T, std::uint8_t>(const T*, index_t, index_t, index_t, ThresholdMethod, \
                                                 const double*, index_t, index_t, index_t, PoolMode,   \
                                                 const std::uint8_t*, int, bool, std::uint8_t*, int, bool); \
  template void represent_fused<T, std::uint16_t>(                                                     \
      const T*, index_t, index_t, index_t, ThresholdMethod, const double*, index_t, index_t, index_t,  \
      PoolMode, const std::uint8_t*, int, bool, std::uint16_t*, int, bool);                            \
  template void represent_fused<T, float>(const T*, index_t, index_t, index_t, ThresholdMethod,        \
                                          const double*, index_t, index_t, index_t, PoolMode,          \
                                          const std::uint8_t*, int, bool, float*, int, bool);
GLASSBOX_INSTANTIATE_FUSED(std::uint8_t)
GLASSBOX_INSTANTIATE_FUSED(std::uint16_t)
GLASSBOX_INSTANTIATE_FUSED(float)
GLASSBOX_INSTANTIATE_FUSED(double)
#undef GLASSBOX_INSTANTIATE_FUSED

}  // namespace glassbox
