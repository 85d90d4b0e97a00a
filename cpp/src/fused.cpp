#include "glassbox/fused.hpp"

#include <vector>

#include "glassbox/threads.hpp"
#include "threshold_rules.hpp"

namespace glassbox {

namespace {

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
    for (index_t j = 0; j < W; ++j) col[j] = above(row[j]) ? 1 : 0;
    for (index_t di = 1; di < size; ++di) {
      row += W;
      for (index_t j = 0; j < W; ++j) col[j] = static_cast<std::uint8_t>(col[j] + (above(row[j]) ? 1 : 0));
    }
    if (size == 2 && stride == 2) {
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
