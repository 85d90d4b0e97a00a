#include "glassbox/features.hpp"

#include <algorithm>
#include <cmath>
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

Window window_weights(index_t size, bool smooth) {
  Window w;
  if (!smooth) {
    w.weights.assign(static_cast<std::size_t>(size), 1);
    return w;
  }
  w.before = size / 2;
  const index_t n = size + 2 * w.before;
  w.weights.assign(static_cast<std::size_t>(n), 0);
  w.weights[0] = 1;
  for (index_t i = 1; i < n; ++i)  // Pascal's triangle, row n - 1
    for (index_t t = i; t > 0; --t)
      w.weights[static_cast<std::size_t>(t)] += w.weights[static_cast<std::size_t>(t - 1)];
  return w;
}

index_t equivariant_size(index_t H, index_t W, const FeatureLayout& L) {
  const index_t cells = (H / L.cell) * (W / L.cell);
  return (H / L.pool) * (W / L.pool) + L.n_dists * 8 * cells + (L.second_order ? 64 * cells : 0);
}

namespace {

// The eight directions side by side: maps of 8 int32 lanes per position (lane k: direction k of
// kDirs), so that every loop below works on whole 8-lane groups whatever the width of the image.
constexpr index_t kLanes = 8;

// dst (h x w x 8) = max(src(p) - src(p + off_k), 0) for each direction k, over a zero-padded
// map whose rows are `stride` apart (src points at the first interior pixel).
void steps8(const std::int32_t* src, index_t stride, index_t h, index_t w, const index_t* off, std::int32_t* dst) {
  for (index_t i = 0; i < h; ++i) {
    const std::int32_t* a = src + i * stride;
    std::int32_t* o = dst + i * w * kLanes;
    for (index_t j = 0; j < w; ++j)
      for (index_t k = 0; k < kLanes; ++k) o[j * kLanes + k] = std::max(a[j] - a[j + off[k]], 0);
  }
}

// The same on an 8-lane map: dst lane k1 = max(src(q, k1) - src(q + off, k1), 0), one offset.
void lane_steps(const std::int32_t* src, index_t stride, index_t h, index_t w, index_t off, std::int32_t* dst) {
  for (index_t i = 0; i < h; ++i) {
    const std::int32_t* a = src + i * stride;
    const std::int32_t* b = a + off;
    std::int32_t* o = dst + i * w * kLanes;
    for (index_t j = 0; j < w * kLanes; ++j) o[j] = std::max(a[j] - b[j], 0);
  }
}

// out[(gi * (w / size) + gj) * Lanes + k] = the window-weighted sum of lane k of an h x w map
// of Lanes int32 per position (rows `stride` positions apart) over window (gi, gj); positions
// outside the map count 0.  Separable: each column over the window's rows (int32, vectorisable
// over whole rows), then the window's columns (int64).
template <index_t Lanes>
void pool_lanes(const std::int32_t* map, index_t stride, index_t h, index_t w, index_t size, const Window& win,
                std::int64_t* out, std::int32_t* colsum) {
  const index_t gh = h / size, gw = w / size, n = static_cast<index_t>(win.weights.size());
  const std::int32_t* wt = win.weights.data();
  const index_t row = w * Lanes;
  for (index_t gi = 0; gi < gh; ++gi) {
    std::fill(colsum, colsum + row, 0);
    for (index_t t = 0; t < n; ++t) {
      const index_t r = gi * size - win.before + t;
      if (r < 0 || r >= h) continue;
      const std::int32_t a = wt[t];
      const std::int32_t* m = map + r * stride * Lanes;
      for (index_t j = 0; j < row; ++j) colsum[j] += a * m[j];
    }
    for (index_t gj = 0; gj < gw; ++gj) {
      std::int64_t s[Lanes] = {};
      for (index_t t = 0; t < n; ++t) {
        const index_t c = gj * size - win.before + t;
        if (c < 0 || c >= w) continue;
        const std::int64_t a = wt[t];
        const std::int32_t* cs = colsum + c * Lanes;
        for (index_t k = 0; k < Lanes; ++k) s[k] += a * cs[k];
      }
      std::copy(s, s + Lanes, out + (gi * gw + gj) * Lanes);
    }
  }
}

// eq[k * stride + g] = pooled[g * 8 + k]: from 8 lanes per window to one block per direction.
void scatter8(const std::int64_t* pooled, index_t n_windows, index_t stride, std::int64_t* eq) {
  for (index_t g = 0; g < n_windows; ++g)
    for (index_t k = 0; k < kLanes; ++k) eq[k * stride + g] = pooled[g * kLanes + k];
}

// dst[j] = counts[j] as float32, or with root its square root rounded once to float32.  Counts
// below 2**24 are exact in float32, and the float32 square root of an exact float32 is the
// float32 nearest to the double one (double rounding through 53 bits is innocuous for a 24-bit
// square root), so such rows take a vectorisable float32 loop; others go through double.
void finish_row(const std::int64_t* counts, index_t n, bool root, float* dst) {
  if (!root) {
    for (index_t j = 0; j < n; ++j) dst[j] = static_cast<float>(counts[j]);
    return;
  }
  std::int64_t top = 0;
  for (index_t j = 0; j < n; ++j) top = std::max(top, counts[j]);
  if (top < (std::int64_t{1} << 24)) {
    for (index_t j = 0; j < n; ++j) dst[j] = std::sqrt(static_cast<float>(static_cast<std::int32_t>(counts[j])));
  } else {
    for (index_t j = 0; j < n; ++j) dst[j] = static_cast<float>(std::sqrt(static_cast<double>(counts[j])));
  }
}

}  // namespace

template <class T>
void glass_features(const T* images, index_t N, index_t H, index_t W, const double* thresholds, index_t K,
                    const FeatureLayout& L, float* out, int n_threads) {
  constexpr bool kInteger = sizeof(T) <= 2 && !std::is_floating_point_v<T>;
  std::vector<std::int32_t> lut;
  if constexpr (kInteger) lut = level_table<T>(thresholds, K);
  index_t D = L.second_order ? 1 : 0;  // padding: the largest step distance
  for (index_t i = 0; i < L.n_dists; ++i) D = std::max(D, L.dists[i]);
  const index_t PW = W + 2 * D, PH = H + 2 * D;
  const index_t OH = H / L.pool, OW = W / L.pool, CH = H / L.cell, CW = W / L.cell;
  const index_t HH = H / 2, HW = W / 2, BW = HW + 2;  // second order: half-size maps, padded by 1
  const Window level_win = window_weights(L.pool, L.smooth), cell_win = window_weights(L.cell, L.smooth);
  const Window half_win = L.second_order ? window_weights(L.cell / 2, L.smooth) : Window{};
  const index_t n_eq = equivariant_size(H, W, L);
  const index_t n_cells = CH * CW;
  const index_t row = (L.write_inv ? L.n_inv : 0) + (L.write_eq ? n_eq : 0);
  index_t half_off[8];  // the 8 directions on the padded half-size maps, in whole 8-lane groups
  for (int k = 0; k < 8; ++k) half_off[k] = (kDirs[k][0] * BW + kDirs[k][1]) * kLanes;
  const int nt = usable_threads(n_threads);
  [[maybe_unused]] const index_t chunk =
      dynamic_chunk(N, H * W * static_cast<index_t>(sizeof(T)), nt);  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<std::int32_t> level(static_cast<std::size_t>(PH * PW), 0);  // zero border stays
    std::vector<std::int32_t> map(static_cast<std::size_t>(H * W * kLanes));
    std::vector<std::int32_t> half(L.second_order ? static_cast<std::size_t>((HH + 2) * BW * kLanes) : 0, 0);
    std::vector<std::int64_t> eq(static_cast<std::size_t>(n_eq));
    std::vector<std::int64_t> pooled(static_cast<std::size_t>(n_cells * kLanes));
    std::vector<std::int64_t> inv(static_cast<std::size_t>(L.n_inv));
    std::vector<std::int32_t> colsum(static_cast<std::size_t>(W * kLanes));
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
      const std::int32_t* interior = level.data() + D * PW + D;
      pool_lanes<1>(interior, PW, H, W, L.pool, level_win, eq.data(), colsum.data());
      std::int64_t* steps = eq.data() + OH * OW;
      auto first_order = [&](index_t d) {  // the 8 step maps of distance d, into `map`
        index_t off[8];
        for (int k = 0; k < 8; ++k) off[k] = d * (kDirs[k][0] * PW + kDirs[k][1]);
        steps8(interior, PW, H, W, off, map.data());
      };
      bool have_d1 = false;  // `map` holds the d = 1 step maps (the second order starts there)
      for (index_t di = 0; di < L.n_dists; ++di) {
        first_order(L.dists[di]);
        pool_lanes<kLanes>(map.data(), W, H, W, L.cell, cell_win, pooled.data(), colsum.data());
        scatter8(pooled.data(), n_cells, n_cells, steps + di * 8 * n_cells);
        have_d1 = L.dists[di] == 1;
      }
      if (L.second_order) {
        if (!have_d1) first_order(1);
        std::int64_t* second = steps + L.n_dists * 8 * n_cells;
        std::int32_t* hin = half.data() + (BW + 1) * kLanes;  // interior of the padded half map
        for (index_t i = 0; i < HH; ++i) {                    // 2 x 2 sums, all 8 directions at once
          const std::int32_t* a = map.data() + 2 * i * W * kLanes;
          const std::int32_t* b = a + W * kLanes;
          std::int32_t* o = hin + i * BW * kLanes;
          for (index_t j = 0; j < HW; ++j)
            for (index_t k = 0; k < kLanes; ++k)
              o[j * kLanes + k] = a[2 * j * kLanes + k] + a[(2 * j + 1) * kLanes + k] + b[2 * j * kLanes + k] +
                                  b[(2 * j + 1) * kLanes + k];
        }
        for (int k2 = 0; k2 < 8; ++k2) {  // lane k1 of `map`: the step along k2 of the k1 map
          lane_steps(hin, BW * kLanes, HH, HW, half_off[k2], map.data());
          pool_lanes<kLanes>(map.data(), HW, HH, HW, L.cell / 2, half_win, pooled.data(), colsum.data());
          scatter8(pooled.data(), n_cells, 8 * n_cells, second + k2 * n_cells);
        }
      }
      float* o = out + n * row;
      if (L.write_inv) {
        std::fill(inv.begin(), inv.end(), 0);
        for (index_t j = 0; j < n_eq; ++j) inv[L.inv_index[j]] += eq[j];
        finish_row(inv.data(), L.n_inv, L.root, o);
        o += L.n_inv;
      }
      if (L.write_eq) finish_row(eq.data(), n_eq, L.root, o);
    }
  }
}

void take_columns(const float* rows, index_t N, index_t M_in, const index_t* index, index_t M_out, float* out,
                  int n_threads) {
  const int nt = usable_threads(n_threads);
  [[maybe_unused]] const index_t chunk =
      fresh_dynamic_chunk(N, M_in * static_cast<index_t>(sizeof(float)), M_out * static_cast<index_t>(sizeof(float)),
                          nt);  // unused without OpenMP
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, chunk)
  for (index_t n = 0; n < N; ++n) {
    const float* r = rows + n * M_in;
    float* o = out + n * M_out;
    for (index_t j = 0; j < M_out; ++j) o[j] = r[index[j]];
  }
}

#define GLASSBOX_INSTANTIATE_FEATURES(T, code)                                                                       \
  template void glass_features<T>(const T*, index_t, index_t, index_t, const double*, index_t, const FeatureLayout&, \
                                  float*, int);
GLASSBOX_IMAGE_TYPES(GLASSBOX_INSTANTIATE_FEATURES)
#undef GLASSBOX_INSTANTIATE_FEATURES

}  // namespace glassbox
