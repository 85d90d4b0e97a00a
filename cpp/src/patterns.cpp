#include "glassbox/patterns.hpp"

#include <algorithm>
#include <vector>

#include "glassbox/threads.hpp"

namespace glassbox {

index_t local_patterns(const std::uint8_t* binary, index_t B, index_t H, index_t W, int size,
                       const std::uint16_t* class_lut, const std::uint8_t* element_lut,
                       std::uint16_t* classes, std::uint8_t* elements, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t half = size / 2;
  const index_t PW = W + 2 * half, PH = H + 2 * half;  // zero-padded plane
  index_t not_binary = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : not_binary)
  {
    std::vector<std::uint8_t> pad(static_cast<std::size_t>(PH * PW), 0);
#pragma omp for schedule(static)
    for (index_t b = 0; b < B; ++b) {
      const std::uint8_t* x = binary + b * H * W;
      for (index_t i = 0; i < H; ++i) {
        std::uint8_t* prow = pad.data() + (i + half) * PW + half;
        for (index_t j = 0; j < W; ++j) {
          const std::uint8_t v = x[i * W + j];
          not_binary += v > 1 ? 1 : 0;
          prow[j] = v != 0 ? 1 : 0;
        }
      }
      std::uint16_t* cls = classes + b * H * W;
      std::uint8_t* elt = elements + b * H * W;
      for (index_t i = 0; i < H; ++i) {
        for (index_t j = 0; j < W; ++j) {
          const std::uint8_t* win = pad.data() + i * PW + j;  // top-left of the neighbourhood
          std::uint32_t code = 0;
          for (index_t r = 0; r < size; ++r)
            for (index_t c = 0; c < size; ++c)
              code |= static_cast<std::uint32_t>(win[r * PW + c]) << (r * size + c);
          cls[i * W + j] = class_lut[code];
          elt[i * W + j] = element_lut[code];
        }
      }
    }
  }
  return not_binary;
}

index_t cell_histograms(const std::uint16_t* labels, index_t B, index_t H, index_t W, index_t n_labels,
                        index_t cell, std::int32_t* out, int n_threads) {
  const int nt = usable_threads(n_threads);
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
