// The run-time AVX2 switch: whether the CPU has AVX2 and BMI2, and whether the kernels use them
// (on by default when it has; the tests turn it off to run the SSE2 paths on the same machine).
#pragma once

namespace glassbox {

// True when the AVX2 paths are compiled in (simd.hpp), the CPU has AVX2 and BMI2, and they have
// not been turned off.  Read once per kernel call, before its parallel loop.
bool avx2_enabled();

// Turn the AVX2 paths on (when the CPU has them) or off; returns the previous setting.
bool set_avx2(bool enabled);

}  // namespace glassbox
