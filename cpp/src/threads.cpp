#include "glassbox/threads.hpp"

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

}  // namespace glassbox
