// Thread-count helpers.  Every kernel takes its thread count as an argument and uses it per
// parallel loop (num_threads), never as a global setting.
#pragma once

#include "glassbox/common.hpp"

namespace glassbox {

// True when the extension was compiled with OpenMP.
bool openmp_enabled();

// omp_get_max_threads() (honours OMP_NUM_THREADS), or 1 without OpenMP.
int max_threads();

// The number of threads a kernel should use: at least 1, and 1 inside an enclosing parallel
// region (no nested teams).
int usable_threads(int requested);

// Items per chunk for a loop of n items of about item_bytes of input each, scheduled
// dynamically over nt threads: chunks of about 256 KB of input, and at least 8 per thread.  On
// a shared machine one core is often slowed by other work; with a static split the other core
// then waits at the end of the loop (a tenth of the fused path's time at 28 px here), while
// chunks handed out as threads come free keep both busy.  Which thread does an item never
// changes the result.
index_t dynamic_chunk(index_t n, index_t item_bytes, int nt);

}  // namespace glassbox
