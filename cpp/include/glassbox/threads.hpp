// Thread-count helpers.  Every kernel takes its thread count as an argument and uses it per
// parallel loop (num_threads), never as a global setting.
#pragma once

namespace glassbox {

// True when the extension was compiled with OpenMP.
bool openmp_enabled();

// omp_get_max_threads() (honours OMP_NUM_THREADS), or 1 without OpenMP.
int max_threads();

// The number of threads a kernel should use: at least 1, and 1 inside an enclosing parallel
// region (no nested teams).
int usable_threads(int requested);

}  // namespace glassbox
