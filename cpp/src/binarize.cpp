#include "glassbox/binarize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "glassbox/threads.hpp"
#include "plane_ops.hpp"
#include "threshold_rules.hpp"

namespace glassbox {

namespace {

// o[i] = above(x[i]): the restrict-qualified pointers let the compiler vectorise the loop (byte
// stores could otherwise alias the input).
template <class T, class Above>
inline void threshold_span(const T* __restrict x, index_t n, Above above, std::uint8_t* __restrict o) {
  for (index_t i = 0; i < n; ++i) o[i] = above(x[i]) ? 1 : 0;
}

}  // namespace

template <class T>
void binarize(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method, const double* thresholds,
              index_t K, bool packed, std::uint8_t* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t npix = H * W;
  const index_t Wb = packed_width(W);
  const index_t plane_out = packed ? H * Wb : npix;
  // images handed out as threads come free (see dynamic_chunk), into a fresh output
  [[maybe_unused]] const index_t chunk =
      fresh_dynamic_chunk(N, npix * static_cast<index_t>(sizeof(T)), K * plane_out, nt);  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<std::uint8_t> row(packed ? static_cast<std::size_t>(W) : 0);
#pragma omp for schedule(dynamic, chunk)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
        std::uint8_t* o = out + (n * K + k) * plane_out;
        detail::with_comparator<T>(rule, [&](auto above) {
          if (!packed) {
            threshold_span(x, npix, above, o);
            return;
          }
          for (index_t r = 0; r < H; ++r) {
            threshold_span(x + r * W, W, above, row.data());
            pack_row(row.data(), W, o + r * Wb);
          }
        });
      }
    }
  }
}

template <class T>
index_t count_nonfinite(const T* data, index_t n, int n_threads) {
  // Counted per block in an unsigned integer as wide as T, so that the vectorised compare needs
  // no widening: an int64 count of float lanes took 8 instructions per 4 values (5.7 GB/s on one
  // thread, slower than the kernels it guards).
  using Count = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  constexpr index_t kBlock = index_t{1} << 16;
  [[maybe_unused]] const int nt = usable_threads(n_threads);  // unused without OpenMP
  const index_t blocks = (n + kBlock - 1) / kBlock;
  index_t bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(+ : bad)
  for (index_t b = 0; b < blocks; ++b) {
    const T* x = data + b * kBlock;
    const index_t m = std::min(kBlock, n - b * kBlock);
    Count count = 0;
    for (index_t i = 0; i < m; ++i) count += std::isfinite(x[i]) ? 0 : 1;
    bad += static_cast<index_t>(count);
  }
  return bad;
}

#define GLASSBOX_INSTANTIATE_BINARIZE(T, code)                                                                  \
  template void binarize<T>(const T*, index_t, index_t, index_t, ThresholdMethod, const double*, index_t, bool, \
                            std::uint8_t*, int);
GLASSBOX_IMAGE_TYPES(GLASSBOX_INSTANTIATE_BINARIZE)
#undef GLASSBOX_INSTANTIATE_BINARIZE

template index_t count_nonfinite<float>(const float*, index_t, int);
template index_t count_nonfinite<double>(const double*, index_t, int);

}  // namespace glassbox
