#include "glassbox/pool.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "glassbox/threads.hpp"

namespace glassbox {

namespace {
template <class T>
using acc_t = std::conditional_t<std::is_integral_v<T>, std::int64_t, double>;
}

template <class T, class Out>
void pool(const T* images, index_t B, index_t H, index_t W, index_t size, index_t stride, PoolMode mode,
          Out* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t OH = pooled_size(H, size, stride), OW = pooled_size(W, size, stride);
  const double area = static_cast<double>(size) * static_cast<double>(size);
  const index_t rows = B * OH;  // one output row per task
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (index_t task = 0; task < rows; ++task) {
    const index_t b = task / OH, oi = task % OH;
    const T* top = images + b * H * W + oi * stride * W;
    Out* o = out + task * OW;
    for (index_t oj = 0; oj < OW; ++oj) {
      const T* win = top + oj * stride;
      if (mode == PoolMode::Max) {
        T m = win[0];
        for (index_t di = 0; di < size; ++di)
          for (index_t dj = 0; dj < size; ++dj) m = std::max(m, win[di * W + dj]);
        o[oj] = static_cast<Out>(m);
      } else {
        acc_t<T> s = 0;
        for (index_t di = 0; di < size; ++di)
          for (index_t dj = 0; dj < size; ++dj) s += static_cast<acc_t<T>>(win[di * W + dj]);
        if (mode == PoolMode::Sum)
          o[oj] = static_cast<Out>(s);
        else
          o[oj] = static_cast<Out>(static_cast<double>(s) / area);
      }
    }
  }
}

template <class T, class Out>
void group_pool(const T* values, index_t outer, index_t L, index_t inner, PoolMode mode, Out* out,
                int n_threads) {
  const int nt = usable_threads(n_threads);
  constexpr index_t kBlock = 256;  // inner elements per task
  const index_t blocks = (inner + kBlock - 1) / kBlock;
  const index_t tasks = outer * blocks;
  const double count = static_cast<double>(L);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<acc_t<T>> acc(kBlock);
    std::vector<double> sorted(static_cast<std::size_t>(L));
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t o = task / blocks;
      const index_t i0 = (task % blocks) * kBlock, i1 = std::min(inner, i0 + kBlock);
      const T* v = values + o * L * inner;
      Out* dst = out + o * inner;
      if (mode == PoolMode::Max) {
        for (index_t i = i0; i < i1; ++i) dst[i] = static_cast<Out>(v[i]);
        for (index_t l = 1; l < L; ++l)
          for (index_t i = i0; i < i1; ++i) dst[i] = std::max(dst[i], static_cast<Out>(v[l * inner + i]));
      } else if constexpr (std::is_integral_v<T>) {
        std::fill(acc.begin(), acc.end(), 0);
        for (index_t l = 0; l < L; ++l)
          for (index_t i = i0; i < i1; ++i) acc[i - i0] += v[l * inner + i];
        for (index_t i = i0; i < i1; ++i)
          dst[i] = mode == PoolMode::Sum ? static_cast<Out>(acc[i - i0])
                                         : static_cast<Out>(static_cast<double>(acc[i - i0]) / count);
      } else {
        for (index_t i = i0; i < i1; ++i) {
          for (index_t l = 0; l < L; ++l) sorted[l] = static_cast<double>(v[l * inner + i]);
          std::sort(sorted.begin(), sorted.end());
          double s = 0.0;
          for (index_t l = 0; l < L; ++l) s += sorted[l];
          dst[i] = mode == PoolMode::Sum ? static_cast<Out>(s) : static_cast<Out>(s / count);
        }
      }
    }
  }
}

// Max keeps the dtype; Sum gives int64 for integers and the float dtype for floats; Mean gives
// float for bool/uint8/uint16/float32 and double for float64.
#define GLASSBOX_INSTANTIATE_POOLS(T, Out)                                                           \
  template void pool<T, Out>(const T*, index_t, index_t, index_t, index_t, index_t, PoolMode, Out*, \
                             int);                                                                   \
  template void group_pool<T, Out>(const T*, index_t, index_t, index_t, PoolMode, Out*, int);
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, std::uint8_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, float)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, std::uint16_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, float)
GLASSBOX_INSTANTIATE_POOLS(std::int64_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::int64_t, double)
GLASSBOX_INSTANTIATE_POOLS(float, float)
GLASSBOX_INSTANTIATE_POOLS(double, double)
#undef GLASSBOX_INSTANTIATE_POOLS

}  // namespace glassbox
