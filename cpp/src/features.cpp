#include "glassbox/features.hpp"

#include <algorithm>
#include <vector>

#include "glassbox/threads.hpp"

namespace glassbox {

namespace {

constexpr int kDirs[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 1}, {1, -1}, {1, 0}, {1, 1}};

// Levels of integer pixels through a table: one lookup per pixel.
template <class T>
std::vector<std::int32_t> level_table(const double* t, index_t K) {
  const std::size_t n = std::size_t{1} << (8 * sizeof(T));
  std::vector<std::int32_t> lut(n);
  index_t k = 0;
  for (std::size_t v = 0; v < n; ++v) {
    while (k < K && t[k] < static_cast<double>(v)) ++k;
    lut[v] = static_cast<std::int32_t>(k);
  }
  return lut;
}

template <class T>
std::int32_t level_of(T v, const double* t, index_t K) {
  // number of thresholds strictly below v (thresholds sorted ascending)
  return static_cast<std::int32_t>(std::lower_bound(t, t + K, static_cast<double>(v)) - t);
}

}  // namespace

index_t equivariant_size(index_t H, index_t W, const FeatureLayout& L) {
  return (H / L.pool) * (W / L.pool) + L.n_dists * 8 * (H / L.cell) * (W / L.cell);
}

template <class T>
void glass_features(const T* images, index_t N, index_t H, index_t W, const double* thresholds, index_t K,
                    const FeatureLayout& L, float* out, int n_threads) {
  constexpr bool kInteger = sizeof(T) <= 2 && !std::is_floating_point_v<T>;
  std::vector<std::int32_t> lut;
  if constexpr (kInteger) lut = level_table<T>(thresholds, K);
  index_t D = 0;  // padding: the largest step distance
  for (index_t i = 0; i < L.n_dists; ++i) D = std::max(D, L.dists[i]);
  const index_t PW = W + 2 * D, PH = H + 2 * D;
  const index_t OH = H / L.pool, OW = W / L.pool, CH = H / L.cell, CW = W / L.cell;
  const index_t n_eq = equivariant_size(H, W, L);
  const index_t row = (L.write_inv ? L.n_inv : 0) + (L.write_eq ? n_eq : 0);
  const int nt = usable_threads(n_threads);
  [[maybe_unused]] const index_t chunk =
      dynamic_chunk(N, H * W * static_cast<index_t>(sizeof(T)), nt);  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<std::int32_t> level(static_cast<std::size_t>(PH * PW), 0);  // zero border stays
    std::vector<std::int64_t> eq(static_cast<std::size_t>(n_eq));
    std::vector<std::int64_t> inv(static_cast<std::size_t>(L.n_inv));
    std::vector<std::int32_t> colsum(static_cast<std::size_t>(W));
#pragma omp for schedule(dynamic, chunk)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * H * W;
      for (index_t i = 0; i < H; ++i) {
        std::int32_t* lr = level.data() + (i + D) * PW + D;
        const T* xr = x + i * W;
        if constexpr (kInteger) {
          for (index_t j = 0; j < W; ++j) lr[j] = lut[xr[j]];
        } else {
          for (index_t j = 0; j < W; ++j) lr[j] = level_of(xr[j], thresholds, K);
        }
      }
      std::fill(eq.begin(), eq.end(), 0);
      // level maps
      for (index_t i = 0; i < OH * L.pool; ++i) {
        const std::int32_t* lr = level.data() + (i + D) * PW + D;
        std::int64_t* e = eq.data() + (i / L.pool) * OW;
        for (index_t oj = 0; oj < OW; ++oj) {
          std::int64_t s = 0;
          for (index_t j = oj * L.pool; j < (oj + 1) * L.pool; ++j) s += lr[j];
          e[oj] += s;
        }
      }
      // step counts: per cell row, sum each column's steps over the cell's rows (contiguous,
      // vectorisable), then the columns of each cell
      std::int64_t* steps = eq.data() + OH * OW;
      for (index_t di = 0; di < L.n_dists; ++di) {
        const index_t d = L.dists[di];
        for (int k = 0; k < 8; ++k) {
          const index_t off = d * (kDirs[k][0] * PW + kDirs[k][1]);
          std::int64_t* hist = steps + (di * 8 + k) * CH * CW;
          for (index_t ci = 0; ci < CH; ++ci) {
            std::fill(colsum.begin(), colsum.end(), 0);
            for (index_t i = ci * L.cell; i < (ci + 1) * L.cell; ++i) {
              const std::int32_t* lr = level.data() + (i + D) * PW + D;
              const std::int32_t* nb = lr + off;
              std::int32_t* cs = colsum.data();
              for (index_t j = 0; j < W; ++j) cs[j] += std::max(lr[j] - nb[j], 0);
            }
            std::int64_t* h = hist + ci * CW;
            for (index_t cj = 0; cj < CW; ++cj) {
              std::int64_t sum = 0;
              for (index_t j = cj * L.cell; j < (cj + 1) * L.cell; ++j) sum += colsum[j];
              h[cj] = sum;
            }
          }
        }
      }
      float* o = out + n * row;
      if (L.write_inv) {
        std::fill(inv.begin(), inv.end(), 0);
        for (index_t j = 0; j < n_eq; ++j) inv[L.inv_index[j]] += eq[j];
        for (index_t j = 0; j < L.n_inv; ++j) o[j] = static_cast<float>(inv[j]);
        o += L.n_inv;
      }
      if (L.write_eq)
        for (index_t j = 0; j < n_eq; ++j) o[j] = static_cast<float>(eq[j]);
    }
  }
}

#define GLASSBOX_INSTANTIATE_FEATURES(T, code)                                                                       \
  template void glass_features<T>(const T*, index_t, index_t, index_t, const double*, index_t, const FeatureLayout&, \
                                  float*, int);
GLASSBOX_IMAGE_TYPES(GLASSBOX_INSTANTIATE_FEATURES)
#undef GLASSBOX_INSTANTIATE_FEATURES

}  // namespace glassbox
