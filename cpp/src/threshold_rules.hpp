// Internal: per-image threshold rules shared by binarize and represent_fused.
//
// A rule decides "pixel is 1" for one plane of one image.  It is computed once per image and
// then applied through a comparator type chosen once, so the per-pixel loop has no branches on
// the method.  Every rule is exactly reproducible by a NumPy reference:
//   fixed, integer T:  x > floor(t)                     (int64 comparison)
//   fixed, float T:    double(x) > t
//   mean,  integer T:  x > floor(sum / n)                (== x * n > sum; int64 exact)
//   mean,  float T:    double(x) > (sequential double sum) / n
//   otsu,  uint8:      x > t*, t* maximising the between-class variance of the 256-bin
//                      value histogram (first maximum; no split -> all zero)
//   otsu,  uint16:     bin(x) > t*, bin(x) = (x - min) * 256 // (max - min + 1)
//   otsu,  float T:    bin(x) > t*, bin(x) = clamp(floor((double(x) - min) * scale), 0, 255),
//                      scale = 256.0 / (double(max) - double(min)); NaN -> 0
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "glassbox/binarize.hpp"
#include "simd.hpp"

namespace glassbox::detail {

template <class T>
struct Gt {  // x > t in T's own domain (integer T)
  T t;
  bool operator()(T x) const { return x > t; }
};
template <class T>
struct DoubleGt {  // double(x) > t (float T)
  double t;
  bool operator()(T x) const { return static_cast<double>(x) > t; }
};
template <class T>
struct FloatBinGt {  // bin(x) > t  <=>  (double(x) - mn) * scale >= t + 1   (t <= 254)
  double mn, scale, t_plus_1;
  bool operator()(T x) const { return (static_cast<double>(x) - mn) * scale >= t_plus_1; }
};
template <class T>
struct Never {
  bool operator()(T) const { return false; }
};
template <class T>
struct Always {
  bool operator()(T) const { return true; }
};

enum class RuleKind { IntGt, DoubleGt, FloatBinGt, Never, Always };

struct Rule {
  RuleKind kind = RuleKind::Never;
  std::int64_t ithr = 0;
  double dthr = 0.0, mn = 0.0, scale = 0.0;
};

// Calls f(comparator) with the comparator of rule r.
template <class T, class F>
void with_comparator(const Rule& r, F&& f) {
  switch (r.kind) {
    case RuleKind::IntGt:
      if constexpr (std::is_integral_v<T>) f(Gt<T>{static_cast<T>(r.ithr)});
      return;
    case RuleKind::DoubleGt:
      f(DoubleGt<T>{r.dthr});
      return;
    case RuleKind::FloatBinGt:
      f(FloatBinGt<T>{r.mn, r.scale, r.dthr});
      return;
    case RuleKind::Never:
      f(Never<T>{});
      return;
    case RuleKind::Always:
      f(Always<T>{});
      return;
  }
}

// x > thr for integer T, with thr anywhere in int64.
template <class T>
Rule int_rule(std::int64_t thr) {
  Rule r;
  if (thr < static_cast<std::int64_t>(std::numeric_limits<T>::min())) {
    r.kind = RuleKind::Always;
  } else if (thr >= static_cast<std::int64_t>(std::numeric_limits<T>::max())) {
    r.kind = RuleKind::Never;
  } else {
    r.kind = RuleKind::IntGt;
    r.ithr = thr;
  }
  return r;
}

template <class T>
Rule fixed_rule(double t) {
  if constexpr (std::is_integral_v<T>) {
    return int_rule<T>(static_cast<std::int64_t>(t));  // t is whole and in range (caller)
  } else {
    Rule r;
    r.kind = RuleKind::DoubleGt;
    r.dthr = t;
    return r;
  }
}

// Otsu's split of a 256-bin histogram: the first t in [0, 254] maximising
// (s0 * n - w0 * s)^2 / (w0 * w1) over splits with both classes non-empty; -1 if none.
inline int otsu_split_scalar(const std::int64_t* hist, std::int64_t n) {
  std::int64_t s = 0;
  for (int b = 0; b < 256; ++b) s += b * hist[b];
  std::int64_t w0 = 0, s0 = 0;
  double best = -1.0;
  int best_t = -1;
  for (int t = 0; t < 255; ++t) {
    w0 += hist[t];
    s0 += t * hist[t];
    const std::int64_t w1 = n - w0;
    if (w0 == 0 || w1 == 0) continue;
    const std::int64_t d = s0 * n - w0 * s;  // |d| <= 255 n^2 < 2^63 for n <= 2^27
    const double dd = static_cast<double>(d);
    const double var = dd * dd / (static_cast<double>(w0) * static_cast<double>(w1));
    if (var > best) {
      best = var;
      best_t = t;
    }
  }
  return best_t;
}

// otsu_split_scalar's result, its quotients computed two at a time for up to 2^21 values:
// the prefix sums first (no multiplication but t * hist[t]), then in SSE2 the same double
// operations on the same values (w0 and s0 below 2^52 convert exactly by the magic-number
// trick, and s0 * n, w0 * s are integers below 2^53, so d is exact as the int64 one is), and
// the first t holding the largest quotient.  A split with an empty class gives 0 / 0 = NaN,
// which neither wins the maximum nor equals it.  The scalar loop's branch on each new maximum
// and its three int64 products per bin took 475 ns a histogram; 335 ns here.
inline int otsu_split(const std::int64_t* hist, std::int64_t n) {
#ifdef GLASSBOX_SSE2
  if (n > (std::int64_t{1} << 21)) return otsu_split_scalar(hist, n);
  alignas(16) std::int64_t w0s[256], s0s[256];
  std::int64_t w0 = 0, s0 = 0;
  for (int t = 0; t < 256; ++t) {
    w0 += hist[t];
    s0 += t * hist[t];
    w0s[t] = w0;
    s0s[t] = s0;
  }
  const __m128i magic_bits = _mm_set1_epi64x(0x4330000000000000LL);  // 2^52
  const __m128d magic = _mm_castsi128_pd(magic_bits);
  const __m128d nd = _mm_set1_pd(static_cast<double>(n)), sd = _mm_set1_pd(static_cast<double>(s0));
  auto two = [&](const std::int64_t* p) {  // two values in [0, 2^52) as doubles
    const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(p));
    return _mm_sub_pd(_mm_castsi128_pd(_mm_or_si128(v, magic_bits)), magic);
  };
  auto quotients = [&](int t) {
    const __m128d w = two(w0s + t);
    const __m128d d = _mm_sub_pd(_mm_mul_pd(two(s0s + t), nd), _mm_mul_pd(w, sd));
    return _mm_div_pd(_mm_mul_pd(d, d), _mm_mul_pd(w, _mm_sub_pd(nd, w)));
  };
  alignas(16) double var[256];  // t = 255 (w1 = 0) is NaN
  __m128d m0 = _mm_set1_pd(-1.0), m1 = m0;
  for (int t = 0; t < 256; t += 4) {
    const __m128d a = quotients(t), b = quotients(t + 2);
    _mm_store_pd(var + t, a);
    _mm_store_pd(var + t + 2, b);
    m0 = _mm_max_pd(a, m0);  // MAXPD returns its second operand when the first is NaN
    m1 = _mm_max_pd(b, m1);
  }
  alignas(16) double m[4];
  _mm_store_pd(m, m0);
  _mm_store_pd(m + 2, m1);
  double best = -1.0;
  for (double v : m) best = v > best ? v : best;
  if (best < 0.0) return -1;
  int t = 0;
  while (var[t] != best) ++t;
  return t;
#else
  return otsu_split_scalar(hist, n);
#endif
}

// Adds the 256-bin histogram of n bytes to hist, in eight 16-bit histograms that take the
// bytes in turn, eight from each 8-byte load: a run of equal bytes (an image's background) then
// updates eight counters in turn instead of waiting on one store after another.  One thread, in
// cache, per image: 28 x 28 with half its pixels 0, 644 -> 316 ns; 224 x 224, 42 -> 13 us;
// uniformly random bytes 238 -> 310 ns at 28 x 28 (the eight histograms' zeroing and sum) and
// the same at 224 x 224.  Bytes are counted kMaxBytes at a time, so that no counter passes
// 65535 (each takes an eighth of them, and the first at most 7 more).
inline void add_byte_histogram(const std::uint8_t* x, index_t n, std::int64_t* hist) {
  constexpr index_t kMaxBytes = 8 * index_t{65528};
  alignas(32) std::uint16_t sub[8][256];
  for (index_t start = 0; start < n; start += kMaxBytes) {
    const std::uint8_t* p = x + start;
    const index_t len = std::min(kMaxBytes, n - start);
    std::memset(sub, 0, sizeof sub);
    index_t i = 0;
    for (; i + 8 <= len; i += 8) {
      std::uint64_t v;
      std::memcpy(&v, p + i, 8);
      ++sub[0][v & 255];
      ++sub[1][(v >> 8) & 255];
      ++sub[2][(v >> 16) & 255];
      ++sub[3][(v >> 24) & 255];
      ++sub[4][(v >> 32) & 255];
      ++sub[5][(v >> 40) & 255];
      ++sub[6][(v >> 48) & 255];
      ++sub[7][v >> 56];
    }
    for (; i < len; ++i) ++sub[0][p[i]];
    for (int b = 0; b < 256; ++b) {
      std::int64_t c = 0;
      for (int j = 0; j < 8; ++j) c += sub[j][b];
      hist[b] += c;
    }
  }
}

// Adds the histogram of the bins (values in [0, 255]) of n pixels to hist: fill(p, len, bins)
// writes the bins of a block of pixels first, in a loop of its own, then the byte histogram
// counts them.  Counting each bin as it was computed waited on the counter of the last one
// (with an integer division per uint16 pixel, a 28 x 28 uint16 Fashion-MNIST image took 2.7 us
// in binarize(method='otsu'), one thread, in cache; 1.6 us now).
template <class T, class Fill>
inline void add_binned_histogram(const T* x, index_t n, Fill fill, std::int64_t* hist) {
  constexpr index_t kBlock = 4096;
  alignas(16) std::uint8_t bins[kBlock];
  for (index_t start = 0; start < n; start += kBlock) {
    const index_t len = std::min(kBlock, n - start);
    fill(x + start, len, bins);
    add_byte_histogram(bins, len, hist);
  }
}

// lo, hi = the least and greatest of n >= 1 values, as a scan from x[0] keeping
// `x < lo ? x : lo` and `x > hi ? x : hi` finds them, in four interleaved scans combined at the
// end: one scan waited on each compare, and four the compiler vectorises (784 values in a
// microbenchmark beside other work: float32 1,877 -> 253 ns, float64 1,771 -> 264 ns, uint16
// 1,651 -> 157 ns).  Combining the scans changes which of +0 and -0 comes out when the least
// or the greatest value is a zero, and no rule depends on that sign (see otsu_rule).
template <class T>
inline void min_max(const T* x, index_t n, T& lo, T& hi) {
  T l[4] = {x[0], x[0], x[0], x[0]}, h[4] = {x[0], x[0], x[0], x[0]};
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) {
      l[k] = x[i + k] < l[k] ? x[i + k] : l[k];
      h[k] = x[i + k] > h[k] ? x[i + k] : h[k];
    }
  }
  lo = l[0];
  hi = h[0];
  for (int k = 1; k < 4; ++k) {
    lo = l[k] < lo ? l[k] : lo;
    hi = h[k] > hi ? h[k] : hi;
  }
  for (; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
}

// The bin of a float value in [mn, mx]: clamp(floor((double(x) - mn) * scale), 0, 255), NaN
// -> 0.  float_bins' SSE2 form computes the same expression a vector at a time.
struct FloatBin {
  double mn, scale;
  template <class T>
  std::uint8_t operator()(T value) const {
    const double v = (static_cast<double>(value) - mn) * scale;
    return static_cast<std::uint8_t>(v >= 255.0 ? 255 : (v >= 1.0 ? static_cast<int>(v) : 0));
  }
};

// bins[i] = bin(p[i]) for i < len; with SSE2 four at a time, where the compiler's loop stayed
// scalar (1.3 us for the bins and histogram of a 28 x 28 float32 image, one thread, in cache).
template <class T>
inline void float_bins(const T* p, index_t len, FloatBin bin, std::uint8_t* bins) {
  index_t i = 0;
#ifdef GLASSBOX_SSE2
  const __m128d mn = _mm_set1_pd(bin.mn), scale = _mm_set1_pd(bin.scale);
  const __m128d one = _mm_set1_pd(1.0), top = _mm_set1_pd(255.0);
  // two bins as int32 in the low lanes: v >= 1 ? (v < 255 ? v : 255) : 0, truncated (v in
  // [1, 255) truncates to the int the scalar form gives; NaN fails v >= 1)
  auto two = [&](__m128d d) {
    const __m128d v = _mm_mul_pd(_mm_sub_pd(d, mn), scale);
    const __m128d below = _mm_cmplt_pd(v, top);
    const __m128d c = _mm_or_pd(_mm_and_pd(below, v), _mm_andnot_pd(below, top));
    return _mm_cvttpd_epi32(_mm_and_pd(_mm_cmpge_pd(v, one), c));
  };
  for (; i + 4 <= len; i += 4) {
    __m128i lo, hi;
    if constexpr (std::is_same_v<T, float>) {
      const __m128 f = _mm_loadu_ps(p + i);
      lo = two(_mm_cvtps_pd(f));
      hi = two(_mm_cvtps_pd(_mm_movehl_ps(f, f)));
    } else {
      lo = two(_mm_loadu_pd(p + i));
      hi = two(_mm_loadu_pd(p + i + 2));
    }
    const __m128i q = _mm_unpacklo_epi64(lo, hi);  // four int32 in [0, 255]
    const __m128i b = _mm_packus_epi16(_mm_packs_epi32(q, q), _mm_setzero_si128());
    const auto word = static_cast<std::uint32_t>(_mm_cvtsi128_si32(b));
    std::memcpy(bins + i, &word, 4);
  }
#endif
  for (; i < len; ++i) bins[i] = bin(p[i]);
}

template <class T>
Rule otsu_rule(const T* x, index_t n) {
  std::int64_t hist[256] = {0};
  if constexpr (std::is_same_v<T, std::uint8_t>) {
    add_byte_histogram(x, n, hist);
    const int t = otsu_split(hist, n);
    return t < 0 ? Rule{} : int_rule<T>(t);
  } else {
    T lo, hi;
    min_max(x, n, lo, hi);
    if constexpr (std::is_integral_v<T>) {
      static_assert(sizeof(T) <= 2, "bins by double arithmetic: (x - mn) * 256 < 2^24");
      const std::int64_t mn = lo, range = static_cast<std::int64_t>(hi) - mn + 1;
      // ((x - mn) * 256) // range without a division per pixel: a = (x - mn) * 256 < 2^24 and
      // range <= 2^16, so a / range is an integer k or at least 1 / range >= 2^-16 below the
      // next; a * fl(1 / range) is within 2^-43 of a / range (two roundings, k <= 256), and
      // adding 2^-30 lifts an exact k that rounded below it without reaching the next integer.
      const double inv = 1.0 / static_cast<double>(range), lift = 0x1p-30;
      const double mnd = static_cast<double>(mn);
      auto fill = [=](const T* p, index_t len, std::uint8_t* bins) {
        for (index_t i = 0; i < len; ++i)
          bins[i] = static_cast<std::uint8_t>((static_cast<double>(p[i]) - mnd) * 256.0 * inv + lift);
      };
      add_binned_histogram(x, n, fill, hist);
      const int t = otsu_split(hist, n);
      if (t < 0) return Rule{};
      // bin(x) > t  <=>  x - mn >= ceil((t + 1) * range / 256)
      return int_rule<T>(mn + ((t + 1) * range + 255) / 256 - 1);
    } else {
      // When the least (greatest) value is a zero, min_max may give either zero; nothing
      // below changes: x - mn differs only for a zero x (then a zero, bin 0, below every
      // threshold), hi - mn only when both are zeros (every value is: no split).
      const double mn = static_cast<double>(lo);
      const double scale = 256.0 / (static_cast<double>(hi) - mn);
      const FloatBin bin{mn, scale};
      add_binned_histogram(
          x, n, [bin](const T* p, index_t len, std::uint8_t* bins) { float_bins(p, len, bin, bins); }, hist);
      const int t = otsu_split(hist, n);
      if (t < 0) return Rule{};
      Rule r;
      r.kind = RuleKind::FloatBinGt;
      r.mn = mn;
      r.scale = scale;
      r.dthr = static_cast<double>(t + 1);
      return r;
    }
  }
}

template <class T>
Rule mean_rule(const T* x, index_t n) {
  if constexpr (std::is_integral_v<T>) {
    std::int64_t s = 0;
    for (index_t i = 0; i < n; ++i) s += x[i];
    return int_rule<T>(s / n);  // x > s / n  <=>  x > floor(s / n) for integer x
  } else {
    double s = 0.0;
    for (index_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
    Rule r;
    r.kind = RuleKind::DoubleGt;
    r.dthr = s / static_cast<double>(n);
    return r;
  }
}

// The rule of plane k of one image.
template <class T>
Rule image_rule(const T* x, index_t n, ThresholdMethod method, const double* thresholds, index_t k) {
  switch (method) {
    case ThresholdMethod::Otsu:
      return otsu_rule(x, n);
    case ThresholdMethod::Mean:
      return mean_rule(x, n);
    case ThresholdMethod::Fixed:
    default:
      return fixed_rule<T>(thresholds[k]);
  }
}

}  // namespace glassbox::detail
