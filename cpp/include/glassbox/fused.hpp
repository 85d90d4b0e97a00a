// The representation layer's hot loop in one pass per image: binarize, pool, then orbit.
#pragma once

#include <cstdint>

#include "glassbox/binarize.hpp"
#include "glassbox/common.hpp"
#include "glassbox/pool.hpp"

namespace glassbox {

// images: (N, H, W).  Planes: K thresholds (Fixed) or one per-image threshold (Otsu / Mean).
// Each plane is pooled (size, stride, mode) into (OH, OW), then every group element is applied.
// out: (N, G, K, OH', OW') of Out, where Out is uint8 (Max: 0/1; Sum: counts), uint16 (Sum with
// size * size > 255) or float (Mean); with packed (Max only, Out uint8) the last axis is
// packed_width(OW').  Equal to orbit(pool(binarize(images)))
template <class T, class Out>
void represent_fused(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method, const double* thresholds,
                     index_t K, index_t size, index_t stride, PoolMode mode, const std::uint8_t* elements, int G,
                     bool packed, Out* out, int n_threads, bool fresh_out = false);

// Whether the uint8 "> t" 2x2 max-pool paths (and pool's float32 2x2 sums) use AVX2 (decided
// from the CPU on first use).  set_fused_avx2(false) forces the SSE2 code (for tests; true is
// ignored without the CPU support); returns the previous setting.  Results are identical either
// way.
bool fused_avx2_enabled();
bool set_fused_avx2(bool enabled);

}  // namespace glassbox
