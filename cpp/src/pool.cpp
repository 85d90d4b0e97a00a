#include "glassbox/pool.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#include "cpu_features.hpp"
#include "glassbox/threads.hpp"
#include "simd.hpp"

namespace glassbox {

namespace {
template <class T>
using acc_t = std::conditional_t<std::is_integral_v<T>, std::int64_t, double>;

// acc += v; true when an int64 sum of int64 values overflowed (the result then wraps, with no
// undefined behaviour).  Sums of 8- and 16-bit values in int64 cannot overflow for any array that
// fits in memory, so only int64 input is checked.
template <class T>
inline bool accumulate(acc_t<T>& acc, acc_t<T> v) {
  if constexpr (std::is_same_v<T, std::int64_t>) {
#ifdef GLASSBOX_VECTOR_EXT
    return __builtin_add_overflow(acc, v, &acc);
#else
    const auto wrapped = static_cast<std::int64_t>(static_cast<std::uint64_t>(acc) + static_cast<std::uint64_t>(v));
    const bool overflow = (v > 0 && wrapped < acc) || (v < 0 && wrapped > acc);
    acc = wrapped;
    return overflow;
#endif
  } else {
    acc += v;
    return false;
  }
}
}  // namespace

namespace {

// Pools one output row, separably: first each column over the window's rows (a vectorisable
// pass over whole image rows), then the window's columns.  Sums start from zero and add in
// that order: column sums top to bottom, then those sums left to right.
template <PoolMode Mode, class T, class Out>
index_t pool_row(const T* top, index_t W, index_t OW, index_t size, index_t stride, double area,
                 acc_t<T>* __restrict col, T* __restrict colmax, Out* __restrict dst) {
  if constexpr (Mode == PoolMode::Max) {
    for (index_t j = 0; j < W; ++j) colmax[j] = top[j];
    for (index_t di = 1; di < size; ++di) {
      const T* __restrict row = top + di * W;
      for (index_t j = 0; j < W; ++j) colmax[j] = std::max(colmax[j], row[j]);
    }
    for (index_t oj = 0; oj < OW; ++oj) {
      const T* c = colmax + oj * stride;
      T m = c[0];
      for (index_t dj = 1; dj < size; ++dj) m = std::max(m, c[dj]);
      dst[oj] = static_cast<Out>(m);
    }
    return 0;
  } else {
    index_t overflows = 0;
    for (index_t j = 0; j < W; ++j) col[j] = 0;
    for (index_t di = 0; di < size; ++di) {
      const T* __restrict row = top + di * W;
      if constexpr (std::is_same_v<T, std::int64_t>) {
        for (index_t j = 0; j < W; ++j) overflows += accumulate<T>(col[j], row[j]);
      } else {
        for (index_t j = 0; j < W; ++j) col[j] += static_cast<acc_t<T>>(row[j]);
      }
    }
    for (index_t oj = 0; oj < OW; ++oj) {
      const acc_t<T>* c = col + oj * stride;
      acc_t<T> s = 0;
      for (index_t dj = 0; dj < size; ++dj) overflows += accumulate<T>(s, c[dj]);
      if constexpr (Mode == PoolMode::Sum)
        dst[oj] = static_cast<Out>(s);
      else
        dst[oj] = static_cast<Out>(static_cast<double>(s) / area);
    }
    return overflows;
  }
}

// The top row of output row `task` of a 2x2 pooling of (B, H, W) images (OH output rows an
// image); with H even, the row pairs of the whole batch follow each other in memory.
template <class T>
inline const T* row_pair(const T* images, index_t task, index_t H, index_t W, index_t OH) {
  return H % 2 == 0 ? images + task * 2 * W : images + (task / OH) * H * W + (task % OH) * 2 * W;
}

#ifdef GLASSBOX_SSE2
// 2x2 max-pooling of a uint8 row pair with at least 8 outputs, 8 at a time from 16 columns: the
// column pairs' maxima land in the even bytes of 16-bit lanes, which a pack gathers.  The last 8
// overlap the previous ones (recomputed, equal) instead of a scalar tail.  The compiler's own
// vector loop needs 16 or more outputs, so rows of 28-pixel images (14 outputs) ran scalar, at
// 3.7x the bandwidth bound.
inline void max_row2_u8(const std::uint8_t* top, const std::uint8_t* bottom, index_t OW, std::uint8_t* dst) {
  const __m128i low = _mm_set1_epi16(0x00FF);
  auto eight = [&](index_t oj) {
    const __m128i v = _mm_max_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(top + 2 * oj)),
                                   _mm_loadu_si128(reinterpret_cast<const __m128i*>(bottom + 2 * oj)));
    const __m128i m = _mm_and_si128(_mm_max_epu8(v, _mm_srli_epi16(v, 8)), low);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + oj), _mm_packus_epi16(m, m));
  };
  index_t oj = 0;
  for (; oj + 8 <= OW; oj += 8) eight(oj);
  if (oj < OW) eight(OW - 8);
}

// 2x2 float32 sums (Mean: times 0.25) of a row pair, two outputs per step, with pool_row2's
// operations in its order: each column from zero, top then bottom, in float64, then the two
// columns from zero, rounded to float32 at the end.  The compiler's own loop converted and added
// one value at a time: 233 ns a 28 x 28 image on one thread, in cache, against 213 ns here and
// 125 ns with AVX2 (below).
template <PoolMode Mode>
inline index_t sum_row2_f32(const float* top, const float* bottom, index_t OW, float* dst) {
  const __m128d zero = _mm_setzero_pd(), quarter = _mm_set1_pd(0.25);
  index_t oj = 0;
  for (; oj + 2 <= OW; oj += 2) {
    const __m128 t = _mm_loadu_ps(top + 2 * oj), b = _mm_loadu_ps(bottom + 2 * oj);
    const __m128d c01 = _mm_add_pd(_mm_add_pd(zero, _mm_cvtps_pd(t)), _mm_cvtps_pd(b));
    const __m128d c23 =
        _mm_add_pd(_mm_add_pd(zero, _mm_cvtps_pd(_mm_movehl_ps(t, t))), _mm_cvtps_pd(_mm_movehl_ps(b, b)));
    __m128d sum = _mm_add_pd(_mm_add_pd(zero, _mm_unpacklo_pd(c01, c23)), _mm_unpackhi_pd(c01, c23));
    if constexpr (Mode == PoolMode::Mean) sum = _mm_mul_pd(sum, quarter);
    _mm_storel_pi(reinterpret_cast<__m64*>(dst + oj), _mm_cvtpd_ps(sum));
  }
  return oj;  // the outputs left (one at most) are the caller's
}
#endif

#ifdef GLASSBOX_AVX2
// Four outputs of a float32 2x2 sum (Mean: times 0.25) from columns 2 oj .. 2 oj + 7 of a row
// pair, with pool_row2's result to the bit, in fewer shuffles: the float32 values are widened
// straight from memory, and no horizontal add (port 5 was the limit: 170 ns a 28 x 28 image on
// one thread, in cache; 125 ns now).  Column sums t + b, pair sums c0 + c1, then + 0: the same
// bits as the documented (0 + ((0 + t0) + b0)) + ((0 + t1) + b1) for finite values, since x + y
// is -0 only when x and y both are, leaving out a + 0 changes a sum only there (-0 instead of
// +0, at either step), and the + 0 at the end turns exactly that -0 into +0.
template <PoolMode Mode>
GLASSBOX_TARGET_AVX2 inline __m128 sum4_f32_avx2(const float* top, const float* bottom) {
  const __m256d c0123 = _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(top)), _mm256_cvtps_pd(_mm_loadu_ps(bottom)));
  const __m256d c4567 =
      _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(top + 4)), _mm256_cvtps_pd(_mm_loadu_ps(bottom + 4)));
  // (c0 + c1, c4 + c5, c2 + c3, c6 + c7): outputs 0, 2, 1, 3
  __m256d sum = _mm256_add_pd(_mm256_unpacklo_pd(c0123, c4567), _mm256_unpackhi_pd(c0123, c4567));
  sum = _mm256_add_pd(sum, _mm256_setzero_pd());
  if constexpr (Mode == PoolMode::Mean) sum = _mm256_mul_pd(sum, _mm256_set1_pd(0.25));
  return _mm256_cvtpd_ps(_mm256_permute4x64_pd(sum, _MM_SHUFFLE(3, 1, 2, 0)));
}

// Output rows [t0, t1) of a float32 2x2 sum or mean of (B, H, W) images, OW >= 4: four
// outputs at a time, and the last four of a row again when OW is not a multiple of 4 (the
// overlap recomputes equal values), in one loop with no call per row.  Each row pair prefetches
// the input 2 KB further on: the hardware prefetcher alone left the loop waiting on its input
// (70,000 x 28 x 28, fresh output: 18.5 -> 15.5 ms on 2 threads, 30.5 -> 26 ms on one; 1 and
// 4 KB were no better; streaming stores for the output were no faster either).
inline constexpr index_t kPrefetchAhead = 2048;

template <PoolMode Mode>
GLASSBOX_TARGET_AVX2 void sum_rows2_f32_avx2(const float* images, index_t H, index_t W, index_t OH, index_t OW,
                                             index_t t0, index_t t1, float* out) {
  for (index_t task = t0; task < t1; ++task) {
    const float* top = row_pair(images, task, H, W, OH);
    const float* bottom = top + W;
    float* dst = out + task * OW;
    // the row pair kPrefetchAhead bytes on (H even: a later row pair; a prefetch never faults)
    const auto ahead = reinterpret_cast<std::uintptr_t>(top) + kPrefetchAhead;
    for (std::uintptr_t q = ahead & ~std::uintptr_t{63}; q < ahead + 8 * W; q += 64)
      _mm_prefetch(reinterpret_cast<const char*>(q), _MM_HINT_T0);
    index_t oj = 0;
    for (; oj + 4 <= OW; oj += 4) _mm_storeu_ps(dst + oj, sum4_f32_avx2<Mode>(top + 2 * oj, bottom + 2 * oj));
    if (oj < OW) _mm_storeu_ps(dst + OW - 4, sum4_f32_avx2<Mode>(top + 2 * (OW - 4), bottom + 2 * (OW - 4)));
  }
}
#endif

// pool_row for size == stride == 2, with the same operations in the same order (the same
// values to the bit, signed zeros included), written with constant offsets so that the compiler
// vectorises the whole row: the general loops' runtime window left the column step scalar, and
// 2x2 max-pooling of uint8 ran at a twentieth of memory bandwidth, behind OpenCV.  int64 sums
// stay on the general path, which checks them for overflow; uint8 max rows of 8 or more outputs
// go to max_row2_u8.
template <PoolMode Mode, class T, class Out>
void pool_row2(const T* __restrict top, index_t W, index_t OW, Out* __restrict dst) {
  const T* __restrict bottom = top + W;
#ifdef GLASSBOX_SSE2
  if constexpr (Mode == PoolMode::Max && std::is_same_v<T, std::uint8_t> && std::is_same_v<Out, std::uint8_t>) {
    if (OW >= 8) {  // reads columns up to 2 OW - 1 < W of both rows
      max_row2_u8(top, bottom, OW, dst);
      return;
    }
  }
  index_t first = 0;
  if constexpr (Mode != PoolMode::Max && std::is_same_v<T, float> && std::is_same_v<Out, float>) {
    first = sum_row2_f32<Mode>(top, bottom, OW, dst);
  }
#else
  constexpr index_t first = 0;
#endif
  for (index_t oj = first; oj < OW; ++oj) {
    const index_t j = 2 * oj;
    if constexpr (Mode == PoolMode::Max) {
      dst[oj] = static_cast<Out>(std::max(std::max(top[j], bottom[j]), std::max(top[j + 1], bottom[j + 1])));
    } else {
      using A = acc_t<T>;
      const A c0 = (A{0} + static_cast<A>(top[j])) + static_cast<A>(bottom[j]);
      const A c1 = (A{0} + static_cast<A>(top[j + 1])) + static_cast<A>(bottom[j + 1]);
      const A sum = (A{0} + c0) + c1;
      if constexpr (Mode == PoolMode::Sum)
        dst[oj] = static_cast<Out>(sum);
      else
        dst[oj] = static_cast<Out>(static_cast<double>(sum) * 0.25);  // == / 4.0: a power of 2
    }
  }
}

template <PoolMode Mode, class T, class Out>
void pool2(const T* images, index_t B, index_t H, index_t W, index_t OH, index_t OW, Out* out, int nt) {
  const index_t rows = B * OH;
  // output rows handed out as threads come free (see dynamic_chunk), into a fresh output
  constexpr auto in_size = static_cast<index_t>(sizeof(T)), out_size = static_cast<index_t>(sizeof(Out));
  [[maybe_unused]] const index_t chunk =
      fresh_dynamic_chunk(rows, 2 * W * in_size, OW * out_size, nt);  // unused without OpenMP
#ifdef GLASSBOX_AVX2
  if constexpr (Mode != PoolMode::Max && std::is_same_v<T, float> && std::is_same_v<Out, float>) {
    if (OW >= 4 && avx2_enabled()) {
      const index_t blocks = (rows + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
      for (index_t block = 0; block < blocks; ++block)
        sum_rows2_f32_avx2<Mode>(images, H, W, OH, OW, block * chunk, std::min(rows, (block + 1) * chunk), out);
      return;
    }
  }
#endif
#pragma omp parallel for schedule(dynamic, chunk) num_threads(nt) if (nt > 1)
  for (index_t task = 0; task < rows; ++task) {
    const T* top = row_pair(images, task, H, W, OH);
    pool_row2<Mode>(top, W, OW, out + task * OW);
  }
}

}  // namespace

template <class T, class Out>
index_t pool(const T* images, index_t B, index_t H, index_t W, index_t size, index_t stride, PoolMode mode, Out* out,
             int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t OH = pooled_size(H, size, stride), OW = pooled_size(W, size, stride);
  const double area = static_cast<double>(size) * static_cast<double>(size);
  if (size == 2 && stride == 2 && !std::is_same_v<T, std::int64_t>) {
    if (mode == PoolMode::Max)
      pool2<PoolMode::Max>(images, B, H, W, OH, OW, out, nt);
    else if (mode == PoolMode::Sum)
      pool2<PoolMode::Sum>(images, B, H, W, OH, OW, out, nt);
    else
      pool2<PoolMode::Mean>(images, B, H, W, OH, OW, out, nt);
    return 0;
  }
  const index_t rows = B * OH;  // one output row per task
  constexpr auto in_size = static_cast<index_t>(sizeof(T)), out_size = static_cast<index_t>(sizeof(Out));
  [[maybe_unused]] const index_t chunk =
      fresh_dynamic_chunk(rows, std::min(size, H) * W * in_size, OW * out_size, nt);  // unused without OpenMP
  index_t overflows = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : overflows)
  {
    std::vector<acc_t<T>> col(mode == PoolMode::Max ? 0 : static_cast<std::size_t>(W));
    std::vector<T> colmax(mode == PoolMode::Max ? static_cast<std::size_t>(W) : 0);
#pragma omp for schedule(dynamic, chunk)
    for (index_t task = 0; task < rows; ++task) {
      const index_t b = task / OH, oi = task % OH;
      const T* top = images + b * H * W + oi * stride * W;
      Out* o = out + task * OW;
      if (mode == PoolMode::Max)
        overflows += pool_row<PoolMode::Max>(top, W, OW, size, stride, area, col.data(), colmax.data(), o);
      else if (mode == PoolMode::Sum)
        overflows += pool_row<PoolMode::Sum>(top, W, OW, size, stride, area, col.data(), colmax.data(), o);
      else
        overflows += pool_row<PoolMode::Mean>(top, W, OW, size, stride, area, col.data(), colmax.data(), o);
    }
  }
  return overflows;
}

namespace {

// d[i] = max over l of v[l * inner + i], i < n.  The restrict-qualified pointers let the compiler
// vectorise: byte arrays could otherwise alias each other (a char type aliases anything).
template <class T>
inline void max_over_axis(const T* __restrict v, index_t L, index_t inner, index_t n, T* __restrict d) {
  for (index_t i = 0; i < n; ++i) d[i] = v[i];
  for (index_t l = 1; l < L; ++l) {
    const T* __restrict r = v + l * inner;
    for (index_t i = 0; i < n; ++i) d[i] = std::max(d[i], r[i]);
  }
}

// acc[i] = sum over l of v[l * inner + i] in 32 bits, i < n: exact for uint8 / uint16 values
// when L * max(T) < 2^32 (the caller checks), and vectorised without widening to 64 bits.
template <class T>
inline void sum_over_axis_u32(const T* __restrict v, index_t L, index_t inner, index_t n,
                              std::uint32_t* __restrict acc) {
  for (index_t i = 0; i < n; ++i) acc[i] = v[i];
  for (index_t l = 1; l < L; ++l) {
    const T* __restrict r = v + l * inner;
    for (index_t i = 0; i < n; ++i) acc[i] += r[i];
  }
}

}  // namespace

template <class T, class Out>
index_t group_pool(const T* values, index_t outer, index_t L, index_t inner, PoolMode mode, Out* out, int n_threads) {
  [[maybe_unused]] const int nt = usable_threads(n_threads);  // unused without OpenMP
  constexpr index_t kBlock = 256;                             // inner elements per task
  const index_t blocks = (inner + kBlock - 1) / kBlock;
  const index_t tasks = outer * blocks;
  const double count = static_cast<double>(L);
  // uint8 / uint16 sums that cannot pass 2^32 (L up to 2^24 / 2^16) are taken in 32 bits
  constexpr bool small_unsigned = std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t>;
  bool sum32 = false;
  if constexpr (small_unsigned)
    sum32 = L > 0 && L <= (index_t{1} << 32) / (static_cast<index_t>(std::numeric_limits<T>::max()) + 1);
  index_t overflows = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : overflows)
  {
    std::vector<acc_t<T>> acc(kBlock);
    std::vector<std::uint32_t> acc32(sum32 ? kBlock : 0);
    std::vector<double> sorted(static_cast<std::size_t>(L));
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t o = task / blocks;
      const index_t i0 = (task % blocks) * kBlock, i1 = std::min(inner, i0 + kBlock);
      const T* v = values + o * L * inner;
      Out* dst = out + o * inner;
      if (mode == PoolMode::Max) {
        if constexpr (std::is_same_v<T, Out>) {
          max_over_axis(v + i0, L, inner, i1 - i0, dst + i0);
        } else {
          for (index_t i = i0; i < i1; ++i) dst[i] = static_cast<Out>(v[i]);
          for (index_t l = 1; l < L; ++l)
            for (index_t i = i0; i < i1; ++i) dst[i] = std::max(dst[i], static_cast<Out>(v[l * inner + i]));
        }
      } else if (sum32) {
        std::uint32_t* __restrict a = acc32.data();
        sum_over_axis_u32(v + i0, L, inner, i1 - i0, a);
        Out* __restrict d = dst + i0;
        if (mode == PoolMode::Sum) {
          for (index_t i = 0; i < i1 - i0; ++i) d[i] = static_cast<Out>(a[i]);
        } else {
          for (index_t i = 0; i < i1 - i0; ++i) d[i] = static_cast<Out>(static_cast<double>(a[i]) / count);
        }
      } else if constexpr (std::is_integral_v<T>) {
        std::fill(acc.begin(), acc.end(), 0);
        for (index_t l = 0; l < L; ++l)
          for (index_t i = i0; i < i1; ++i) overflows += accumulate<T>(acc[i - i0], v[l * inner + i]);
        for (index_t i = i0; i < i1; ++i)
          dst[i] = mode == PoolMode::Sum ? static_cast<Out>(acc[i - i0])
                                         : static_cast<Out>(static_cast<double>(acc[i - i0]) / count);
      } else {
        for (index_t i = i0; i < i1; ++i) {
          for (index_t l = 0; l < L; ++l) sorted[l] = static_cast<double>(v[l * inner + i]);
          std::sort(sorted.begin(), sorted.end());
          double s = 0.0;
          for (index_t l = 0; l < L; ++l) s += sorted[l];
          dst[i] = mode == PoolMode::Sum ? static_cast<Out>(s) : static_cast<Out>(s / count);
        }
      }
    }
  }
  return overflows;
}

// Max keeps the dtype; Sum gives int64 for integers and the float dtype for floats; Mean gives
// float for bool/uint8/uint16/float32 and double for float64.
#define GLASSBOX_INSTANTIATE_POOLS(T, Out)                                                                   \
  template index_t pool<T, Out>(const T*, index_t, index_t, index_t, index_t, index_t, PoolMode, Out*, int); \
  template index_t group_pool<T, Out>(const T*, index_t, index_t, index_t, PoolMode, Out*, int);
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, std::uint8_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint8_t, float)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, std::uint16_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::uint16_t, float)
GLASSBOX_INSTANTIATE_POOLS(std::int64_t, std::int64_t)
GLASSBOX_INSTANTIATE_POOLS(std::int64_t, double)
GLASSBOX_INSTANTIATE_POOLS(float, float)
GLASSBOX_INSTANTIATE_POOLS(double, double)
#undef GLASSBOX_INSTANTIATE_POOLS

}  // namespace glassbox
