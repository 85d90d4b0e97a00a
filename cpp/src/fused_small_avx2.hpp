// The fused pass's small-image bit path with AVX2 (chosen at run time, see cpu_features.hpp).
// No lambdas in here: GCC does not give them the enclosing function's target.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "bitplane_avx2.hpp"
#include "fused_plan.hpp"
#include "output_sink.hpp"
#include "simd.hpp"

#ifdef GLASSBOX_AVX2

namespace glassbox::fused {

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
                                                const GroupPlan& plan, const RowFlips& flips, bool packed, index_t K,
                                                index_t k, index_t plane_out, std::uint8_t* out_image,
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

// The copy of fast_small_plane_avx2 for a call, chosen once before its parallel loop: the copies
// compiled for square pooled planes of 14 x 14 (28 x 28 images: MNIST, Fashion-MNIST) and
// 16 x 16 (32 x 32 images), any size otherwise; Direct for bytes into an output that is not
// streamed (written there without the sink's staging).  One call through the pointer per plane:
// dispatching per plane through nested calls cost 4% at 28 x 28 (bench R 28 out=).
using SmallPlaneAvx2 = void (*)(const std::uint8_t*, index_t, index_t, std::uint8_t, const GroupPlan&, const RowFlips&,
                                bool, index_t, index_t, index_t, std::uint8_t*, OutputSink&);

inline SmallPlaneAvx2 small_plane_avx2(index_t H, index_t W, bool direct) {
  const index_t side = H / 2 == W / 2 ? H / 2 : 0;
  if (direct) {
    if (side == 14) return &fast_small_plane_avx2<true, 14>;
    if (side == 16) return &fast_small_plane_avx2<true, 16>;
    return &fast_small_plane_avx2<true, 0>;
  }
  if (side == 14) return &fast_small_plane_avx2<false, 14>;
  if (side == 16) return &fast_small_plane_avx2<false, 16>;
  return &fast_small_plane_avx2<false, 0>;
}

}  // namespace glassbox::fused

#endif  // GLASSBOX_AVX2
