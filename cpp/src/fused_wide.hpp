// The fused pass's bit path for wider images (SSE2, and AVX2 where the CPU has it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "bitplane.hpp"
#include "bitplane_avx2.hpp"
#include "fused_plan.hpp"
#include "output_sink.hpp"
#include "simd.hpp"

#ifdef GLASSBOX_BITPLANE

namespace glassbox::fused {

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

}  // namespace glassbox::fused

#endif  // GLASSBOX_BITPLANE
