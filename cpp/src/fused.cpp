#include "glassbox/fused.hpp"

#include <vector>

#include "glassbox/threads.hpp"
#include "threshold_rules.hpp"

namespace glassbox {

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
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<Out> pooled(static_cast<std::size_t>(OH * OW)), moved(packed ? pooled.size() : 0);
#pragma omp for schedule(static)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
        detail::with_comparator<T>(rule, [&](auto above) {
          for (index_t oi = 0; oi < OH; ++oi) {
            const T* top = x + oi * stride * W;
            for (index_t oj = 0; oj < OW; ++oj) {
              const T* win = top + oj * stride;
              unsigned count = 0;
              for (index_t di = 0; di < size; ++di)
                for (index_t dj = 0; dj < size; ++dj) count += above(win[di * W + dj]) ? 1u : 0u;
              Out v;
              if (mode == PoolMode::Max)
                v = static_cast<Out>(count != 0);
              else if (mode == PoolMode::Sum)
                v = static_cast<Out>(count);
              else
                v = static_cast<Out>(static_cast<double>(count) / area);
              pooled[oi * OW + oj] = v;
            }
          }
        });
        for (int g = 0; g < G; ++g) {
          const D4Element e = d4_element(elements[g]);
          Out* dst = out + ((n * G + g) * K + k) * plane_out;
          if (!packed) {
            transform_plane(pooled.data(), OH, OW, e, dst);
            continue;
          }
          if constexpr (sizeof(Out) == 1) {
            transform_plane(pooled.data(), OH, OW, e, moved.data());
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
