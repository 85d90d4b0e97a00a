#include "glassbox/patterns.hpp"

#include <algorithm>
#include <vector>

#include "glassbox/threads.hpp"

namespace glassbox {

index_t local_patterns(const std::uint8_t* binary, index_t B, index_t H, index_t W, int size,
                       const std::uint16_t* class_lut, const std::uint8_t* element_lut, std::uint16_t* classes,
                       std::uint8_t* elements, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t half = size / 2;
  const index_t PW = W + 2 * half, PH = H + 2 * half;  // zero-padded plane
  index_t not_binary = 0;
  // images handed out as threads come free (see dynamic_chunk); the outputs, 3 bytes a pixel,
  // are fresh arrays
  [[maybe_unused]] const index_t chunk = fresh_dynamic_chunk(B, H * W, 3 * H * W, nt);  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : not_binary)
  {
    std::vector<std::uint8_t> pad(static_cast<std::size_t>(PH * PW), 0);
    // windows[p * W + j]: the `size` bits of padded row p starting at column j (bit c = column
    // j + c), computed once per row; a pixel's code is `size` of them, shifted into place
    std::vector<std::uint16_t> windows(static_cast<std::size_t>(PH * W));
    std::vector<std::uint16_t> code(static_cast<std::size_t>(W));
#pragma omp for schedule(dynamic, chunk)
    for (index_t b = 0; b < B; ++b) {
      const std::uint8_t* x = binary + b * H * W;
      for (index_t i = 0; i < H; ++i) {
        const std::uint8_t* __restrict xr = x + i * W;
        std::uint8_t* __restrict prow = pad.data() + (i + half) * PW + half;
        index_t bad = 0;
        for (index_t j = 0; j < W; ++j) {
          bad += xr[j] > 1 ? 1 : 0;
          prow[j] = xr[j] != 0 ? 1 : 0;
        }
        not_binary += bad;
      }
      for (index_t p = 0; p < PH; ++p) {
        const std::uint8_t* __restrict prow = pad.data() + p * PW;
        std::uint16_t* __restrict w = windows.data() + p * W;
        for (index_t j = 0; j < W; ++j) w[j] = prow[j];
        for (index_t c = 1; c < size; ++c)
          for (index_t j = 0; j < W; ++j) w[j] = static_cast<std::uint16_t>(w[j] | (prow[j + c] << c));
      }
      std::uint16_t* cls = classes + b * H * W;
      std::uint8_t* elt = elements + b * H * W;
      for (index_t i = 0; i < H; ++i) {
        std::uint16_t* __restrict cd = code.data();
        const std::uint16_t* __restrict w0 = windows.data() + i * W;
        for (index_t j = 0; j < W; ++j) cd[j] = w0[j];
        for (index_t r = 1; r < size; ++r) {
          const std::uint16_t* __restrict wr = windows.data() + (i + r) * W;
          for (index_t j = 0; j < W; ++j) cd[j] = static_cast<std::uint16_t>(cd[j] | (wr[j] << (r * size)));
        }
        for (index_t j = 0; j < W; ++j) {
          cls[i * W + j] = class_lut[cd[j]];
          elt[i * W + j] = element_lut[cd[j]];
        }
      }
    }
  }
  return not_binary;
}

index_t cell_histograms(const std::uint16_t* labels, index_t B, index_t H, index_t W, index_t n_labels, index_t cell,
                        std::int32_t* out, int n_threads) {
  [[maybe_unused]] const int nt = usable_threads(n_threads);  // unused without OpenMP
  const index_t CH = H / cell, CW = W / cell, cells = CH * CW;
  index_t bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(+ : bad)
  for (index_t b = 0; b < B; ++b) {
    std::int32_t* o = out + b * n_labels * cells;
    std::fill(o, o + n_labels * cells, 0);
    const std::uint16_t* x = labels + b * H * W;
    for (index_t i = 0; i < CH * cell; ++i) {
      const index_t ci = i / cell;
      for (index_t j = 0; j < CW * cell; ++j) {
        const index_t v = x[i * W + j];
        if (v >= n_labels) {
          ++bad;
          continue;
        }
        ++o[v * cells + ci * CW + j / cell];
      }
    }
  }
  return bad;
}

}  // namespace glassbox
