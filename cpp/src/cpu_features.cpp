#include "cpu_features.hpp"

#include <atomic>

#include "glassbox/fused.hpp"
#include "simd.hpp"

namespace glassbox {

namespace {

std::atomic<int> g_avx2{-1};  // -1: not decided yet; else 0 / 1

bool cpu_has_avx2() {
#ifdef GLASSBOX_AVX2
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#else
  return false;
#endif
}

}  // namespace

bool avx2_enabled() {
  int v = g_avx2.load(std::memory_order_relaxed);
  if (v < 0) {
    v = cpu_has_avx2() ? 1 : 0;
    g_avx2.store(v, std::memory_order_relaxed);
  }
  return v != 0;
}

bool set_avx2(bool enabled) {
  const bool before = avx2_enabled();
  g_avx2.store(enabled && cpu_has_avx2() ? 1 : 0, std::memory_order_relaxed);
  return before;
}

// The public names (glassbox/fused.hpp): represent_fused was the first kernel with AVX2 paths
// (pool's float32 2x2 sums follow the same switch).
bool fused_avx2_enabled() {
  return avx2_enabled();
}
bool set_fused_avx2(bool enabled) {
  return set_avx2(enabled);
}

}  // namespace glassbox
