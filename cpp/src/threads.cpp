#include "glassbox/threads.hpp"

#include <algorithm>

#ifdef GLASSBOX_OPENMP
#include <omp.h>
#endif

namespace glassbox {

bool openmp_enabled() {
#ifdef GLASSBOX_OPENMP
  return true;
#else
  return false;
#endif
}

int max_threads() {
#ifdef GLASSBOX_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int usable_threads(int requested) {
#ifdef GLASSBOX_OPENMP
  if (omp_in_parallel()) return 1;
#endif
  return requested < 1 ? 1 : requested;
}

index_t dynamic_chunk(index_t n, index_t item_bytes, int nt) {
  constexpr index_t kChunkBytes = index_t{256} << 10;
  const index_t by_bytes = kChunkBytes / std::max<index_t>(1, item_bytes);
  const index_t by_count = n / (8 * static_cast<index_t>(std::max(1, nt)));
  return std::max<index_t>(1, std::min(by_bytes, by_count));
}

index_t fresh_output_chunk(index_t chunk, index_t n, index_t out_item_bytes, int nt) {
  constexpr index_t kFreshChunkBytes = index_t{8} << 20;
  const index_t by_bytes = kFreshChunkBytes / std::max<index_t>(1, out_item_bytes);
  const index_t by_count = n / (4 * static_cast<index_t>(std::max(1, nt)));
  return std::max(chunk, std::min(by_bytes, by_count));
}

index_t fresh_dynamic_chunk(index_t n, index_t in_item_bytes, index_t out_item_bytes, int nt) {
  return fresh_output_chunk(dynamic_chunk(n, in_item_bytes, nt), n, out_item_bytes, nt);
}

}  // namespace glassbox
