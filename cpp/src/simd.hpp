// Every SIMD feature test of the kernels, made once here: the other files test these macros
// (never the compilers' own), so that what a path needs is stated in one place.
//   GLASSBOX_SSE2             SSE2 intrinsics (every x86-64 build)
//   GLASSBOX_LITTLE_ENDIAN    byte order of the bit tricks that read words
//   GLASSBOX_VECTOR_EXT       GCC / Clang vector extensions and builtins
//   GLASSBOX_BITPLANE         the bit-plane paths of the fused pass (SSE2, little-endian)
//   GLASSBOX_AVX2             AVX2 + BMI2 versions compiled through GLASSBOX_TARGET_AVX2
//                             (the rest stays baseline x86-64), chosen at run time: see
//                             cpu_features.hpp
#pragma once

#if defined(__SSE2__)
#define GLASSBOX_SSE2 1
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GLASSBOX_LITTLE_ENDIAN 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GLASSBOX_VECTOR_EXT 1
#endif

#if defined(GLASSBOX_SSE2) && defined(GLASSBOX_LITTLE_ENDIAN)
#define GLASSBOX_BITPLANE 1
#endif

#if defined(GLASSBOX_BITPLANE) && defined(__x86_64__) && defined(GLASSBOX_VECTOR_EXT)
#define GLASSBOX_AVX2 1
#include <immintrin.h>
#define GLASSBOX_TARGET_AVX2 __attribute__((target("avx2,bmi2")))
#endif
