// Binarization: pixel > threshold, with fixed thresholds or one threshold per image (Otsu, mean).
#pragma once

#include <cstdint>

#include "glassbox/common.hpp"

namespace glassbox {

enum class ThresholdMethod : int { Fixed = 0, Otsu = 1, Mean = 2 };

// Largest image (pixels) accepted by the Otsu method: its integer sums stay exact in int64.
inline constexpr index_t kOtsuMaxPixels = index_t{1} << 27;

// images: (N, H, W) C-contiguous.  thresholds: K values (Fixed only; K == 1 otherwise); for
// integer T they must be whole numbers within T's range (the caller floors them).
// out: (N, K, H, W) uint8 in {0, 1}, or (N, K, H, packed_width(W)) bit-packed when packed.
// T is one of uint8_t, uint16_t, float, double.  Float images must be finite.
template <class T>
void binarize(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method, const double* thresholds,
              index_t K, bool packed, std::uint8_t* out, int n_threads);

// Number of NaN or infinite values in a float array of n elements.
template <class T>
index_t count_nonfinite(const T* data, index_t n, int n_threads);

}  // namespace glassbox
