#include "glassbox/patterns.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "glassbox/threads.hpp"
#include "simd.hpp"

namespace glassbox {

namespace {

// 3 x 3 patterns of one image, two pixels per lookup, each step one loop over the whole image
// (rows of 28 pixels are too short for loops of their own).  Each row's 4-bit windows (w[j] =
// bits of columns j - 1 .. j + 2, zero outside the row) serve three output rows; the 12 bits of
// three windows are the 3 x 4 neighbourhood of pixels j and j + 1, and one entry of a 4,096-entry
// table (32 KiB, built from the 512-entry ones) holds both pixels' classes (bits 0-31) and
// elements (bits 32-47), stored as they are: the scalar lookups are most of the work.
class Patterns3 {
 public:
  Patterns3(index_t H, index_t W, const std::uint64_t* pairs)
      : H_(H),
        W_(W),
        pairs_(pairs),
        bits_(static_cast<std::size_t>(H * W + 3), 0),
        windows_(static_cast<std::size_t>((H + 2) * W), 0),
        code_(static_cast<std::size_t>(H * W)) {}

  // The pair table: entry c holds pixel j's class and element for the 3 x 3 code made of bits
  // 0-2 of each 4-bit row of c, and pixel j + 1's for bits 1-3.
  static void build(const std::uint16_t* class_lut, const std::uint8_t* element_lut, std::uint64_t* pairs) {
    for (unsigned c = 0; c < 4096; ++c) {
      const unsigned left = (c & 7u) | ((c >> 4) & 7u) << 3 | ((c >> 8) & 7u) << 6;
      const unsigned right = ((c >> 1) & 7u) | ((c >> 5) & 7u) << 3 | ((c >> 9) & 7u) << 6;
      pairs[c] = static_cast<std::uint64_t>(class_lut[left]) | static_cast<std::uint64_t>(class_lut[right]) << 16 |
                 static_cast<std::uint64_t>(element_lut[left]) << 32 |
                 static_cast<std::uint64_t>(element_lut[right]) << 40;
    }
  }

  index_t image(const std::uint8_t* __restrict x, std::uint16_t* __restrict cls, std::uint8_t* __restrict elt) {
    const index_t n = H_ * W_;
    // bits of the whole image as one row, with one zero before and two after
    std::uint8_t* __restrict b = bits_.data() + 1;
    unsigned bad = 0;
    for (index_t k = 0; k < n; ++k) {
      bad += x[k] > 1 ? 1u : 0u;
      b[k] = x[k] != 0 ? 1 : 0;
    }
    // windows of that row, then the bits that came from the neighbouring image rows cleared;
    // one zero row of windows above and below the image
    const std::uint8_t* __restrict c = bits_.data();
    std::uint16_t* __restrict w = windows_.data() + W_;
    for (index_t k = 0; k < n; ++k)
      w[k] = static_cast<std::uint16_t>(c[k] | (c[k + 1] << 1) | (c[k + 2] << 2) | (c[k + 3] << 3));
    for (index_t i = 0; i < H_; ++i) {
      std::uint16_t* r = w + i * W_;
      r[0] = static_cast<std::uint16_t>(r[0] & ~1u);
      r[W_ - 1] = static_cast<std::uint16_t>(r[W_ - 1] & 3u);
      if (W_ >= 2) r[W_ - 2] = static_cast<std::uint16_t>(r[W_ - 2] & 7u);
    }
    std::uint16_t* __restrict code = code_.data();
    for (index_t k = 0; k < n; ++k) code[k] = static_cast<std::uint16_t>(w[k - W_] | (w[k] << 4) | (w[k + W_] << 8));
    if (W_ % 2 == 0) {
      lookups(code, n, cls, elt);
    } else {
      for (index_t i = 0; i < H_; ++i) lookups(code + i * W_, W_, cls + i * W_, elt + i * W_);
    }
    return static_cast<index_t>(bad);
  }

 private:
  // cls, elt [0, m) from the codes of pixel pairs (an odd m ends with a pixel of its own)
  void lookups(const std::uint16_t* __restrict code, index_t m, std::uint16_t* __restrict cls,
               std::uint8_t* __restrict elt) const {
    const std::uint64_t* __restrict pairs = pairs_;
    index_t j = 0;
    for (; j + 2 <= m; j += 2) {
      const std::uint64_t v = pairs[code[j]];
#ifdef GLASSBOX_LITTLE_ENDIAN
      const auto c2 = static_cast<std::uint32_t>(v);  // pixel j's class in the low half
      const auto e2 = static_cast<std::uint16_t>(v >> 32);
      std::memcpy(cls + j, &c2, 4);
      std::memcpy(elt + j, &e2, 2);
#else
      cls[j] = static_cast<std::uint16_t>(v);
      cls[j + 1] = static_cast<std::uint16_t>(v >> 16);
      elt[j] = static_cast<std::uint8_t>(v >> 32);
      elt[j + 1] = static_cast<std::uint8_t>(v >> 40);
#endif
    }
    if (j < m) {  // the last pixel of an odd row: its own code is the low 3 bits of each window
      const std::uint64_t v = pairs[code[j] & 0x777u];
      cls[j] = static_cast<std::uint16_t>(v);
      elt[j] = static_cast<std::uint8_t>(v >> 32);
    }
  }

  index_t H_, W_;
  const std::uint64_t* pairs_;
  std::vector<std::uint8_t> bits_;
  std::vector<std::uint16_t> windows_, code_;
};

}  // namespace

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
  if (size == 3 && W > 0 && H > 0) {
    std::vector<std::uint64_t> pairs(4096);
    Patterns3::build(class_lut, element_lut, pairs.data());
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : not_binary)
    {
      Patterns3 patterns(H, W, pairs.data());
#pragma omp for schedule(dynamic, chunk)
      for (index_t b = 0; b < B; ++b)
        not_binary += patterns.image(binary + b * H * W, classes + b * H * W, elements + b * H * W);
    }
    return not_binary;
  }
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
