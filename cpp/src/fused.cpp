#include "glassbox/fused.hpp"

#include <cstring>
#include <type_traits>
#include <vector>

#include "glassbox/threads.hpp"
#include "threshold_rules.hpp"

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
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const auto pooled_len = static_cast<std::size_t>(OH * OW);
    std::vector<Out> pooled(pooled_len), transposed(swaps ? pooled_len : 0), moved(packed ? pooled_len : 0);
    std::vector<std::uint8_t> column(static_cast<std::size_t>(W));  // counts <= size <= 255
#pragma omp for schedule(static)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
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
          Out* dst = out + ((n * G + g) * K + k) * plane_out;
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
