// The fused pass's small-image bit path (SSE2).
#pragma once

#include <cstdint>
#include <cstring>

#include "bitplane.hpp"
#include "fused_plan.hpp"
#include "output_sink.hpp"
#include "simd.hpp"

#ifdef GLASSBOX_BITPLANE

namespace glassbox::fused {

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

}  // namespace glassbox::fused

#endif  // GLASSBOX_BITPLANE
