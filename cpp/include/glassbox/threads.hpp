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

// `chunk` widened, for a loop that writes a fresh output (memory not touched yet) of about
// out_item_bytes per item, to about 8 MB of output per chunk, but still at least 4 chunks per
// thread.  The first write to each page of fresh memory faults it in, and the kernel zeroes a
// whole 2 MB huge page at a time: chunks smaller than that share huge pages between threads, and
// one thread waits while the other zeroes the page they share.  In the fused path (fresh output,
// 2 threads) 256 KB chunks took 23 ms at 70,000 x 28 x 28 and 115 ms at 4,000 x 224 x 224;
// 8 MB chunks took 19 and 82 ms.
index_t fresh_output_chunk(index_t chunk, index_t n, index_t out_item_bytes, int nt);

// Both: the chunk of a dynamically scheduled loop of n items, each reading about in_item_bytes
// and writing about out_item_bytes of a fresh output.
index_t fresh_dynamic_chunk(index_t n, index_t in_item_bytes, index_t out_item_bytes, int nt);

}  // namespace glassbox
