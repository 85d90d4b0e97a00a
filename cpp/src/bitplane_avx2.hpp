// AVX2 versions of the bit-plane steps, compiled for those instructions (and BMI2, which AVX2
// CPUs have too) through function attributes (the rest of the library stays baseline x86-64) and
// chosen at run time when the CPU has both (see cpu_features.hpp).  Each returns exactly what its SSE2
// counterpart returns; the tests run both.  No lambdas in here: GCC does not give them the
// enclosing function's target.
#pragma once

#include "bitplane.hpp"

#ifdef GLASSBOX_AVX2

namespace glassbox::bits {

// Bit j: column j of rows a and b has a pixel > t, for 32 columns (tt = t ^ 0x80 broadcast:
// unsigned compare through a signed one).
GLASSBOX_TARGET_AVX2 inline std::uint32_t above32(const std::uint8_t* a, const std::uint8_t* b, __m256i tt) {
  const __m256i v = _mm256_max_epu8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)),
                                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)));
  const __m256i gt = _mm256_cmpgt_epi8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80))), tt);
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(gt));
}

// Pooled bit m = bit 2m or bit 2m + 1 of k (columns 2m and 2m + 1).
GLASSBOX_TARGET_AVX2 inline std::uint32_t pair_or32(std::uint64_t k) {
  return static_cast<std::uint32_t>(_pext_u64(k | (k >> 1), 0x5555555555555555ull));
}

// The pooled plane of pool_row, all OH rows at once: row oi (OW = W2 / 2 bits from the first
// W2 >= 32 columns of image rows 2 oi and 2 oi + 1, image row stride W) at m + oi * stride,
// prefetching the bytes `ahead` further on.  Bytes of m past a row stay as they were, except
// for the 8 bytes after the last whole chunk when the last 32 columns overlap it: the caller's
// rows must be zero past their bits (as WidePlanes makes them), as pool_row leaves them.
GLASSBOX_TARGET_AVX2 inline void pool_plane_avx2(const std::uint8_t* x, index_t W, index_t OH, index_t W2,
                                                 std::uint8_t t, std::uint8_t* m, index_t stride, index_t ahead) {
  const __m256i tt = _mm256_set1_epi8(static_cast<char>(t ^ 0x80));
  for (index_t oi = 0; oi < OH; ++oi) {
    const std::uint8_t* a = x + 2 * oi * W;
    const std::uint8_t* b = a + W;
    std::uint8_t* row = m + oi * stride;
    index_t c = 0;
    for (; c + 64 <= W2; c += 64) {
      prefetch(a + c, ahead, 1);
      prefetch(b + c, ahead, 1);
      const std::uint64_t k = above32(a + c, b + c, tt) | std::uint64_t{above32(a + c + 32, b + c + 32, tt)} << 32;
      const std::uint32_t bits = pair_or32(k);
      std::memcpy(row + c / 16, &bits, 4);
    }
    if (c + 32 <= W2) {
      prefetch(a + c, ahead, 1);
      prefetch(b + c, ahead, 1);
      const auto bits = static_cast<std::uint16_t>(pair_or32(above32(a + c, b + c, tt)));
      std::memcpy(row + c / 16, &bits, 2);
      c += 32;
    }
    if (c < W2) {                    // the last 32 columns again, overlapping: equal bits where they overlap
      const std::uint64_t zero = 0;  // clears the bits of the previous image (stride >= c / 16 + 8)
      std::memcpy(row + c / 16, &zero, 8);
      const index_t o = (W2 - 32) / 2;  // first output bit of the chunk
      std::uint32_t word;
      std::memcpy(&word, row + o / 8, 4);
      word |= pair_or32(above32(a + W2 - 32, b + W2 - 32, tt)) << (o % 8);
      std::memcpy(row + o / 8, &word, 4);
    }
  }
}

// Bytes 0 / 1 from the 32 bits of m: byte j = bit j.
GLASSBOX_TARGET_AVX2 inline __m256i expand32(std::uint32_t m) {
  const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                       2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(m)), idx);
  return _mm256_min_epu8(_mm256_and_si256(v, bit), _mm256_set1_epi8(1));  // 0, or the bit's value -> 1
}

// expand_row: dst[j] = bit j of the row, j < n; writes up to 31 bytes past dst + n and reads
// up to 3 bytes past the row's last byte (inside its row stride).
GLASSBOX_TARGET_AVX2 inline void expand_row_avx2(const std::uint8_t* row, index_t n, std::uint8_t* dst) {
  for (index_t j = 0; j < n; j += 32) {
    std::uint32_t m;
    std::memcpy(&m, row + j / 8, 4);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), expand32(m));
  }
}

// A plane of SH rows of SW bits (row r at src + r * stride; rows in reverse order when
// flip_rows) expanded to bytes 0 / 1 straight into memory with non-temporal stores, skipping the
// staging buffer: SW % 16 == 0 and dst 16-byte aligned; writes exactly SH * SW bytes.  The
// caller orders the stores with a fence before the output is read.
GLASSBOX_TARGET_AVX2 inline void expand_plane_stream_avx2(const std::uint8_t* src, index_t stride, index_t SH,
                                                          index_t SW, bool flip_rows, std::uint8_t* dst) {
  for (index_t r = 0; r < SH; ++r, dst += SW) {
    const std::uint8_t* row = src + (flip_rows ? SH - 1 - r : r) * stride;
    index_t j = 0;
    for (; j + 32 <= SW; j += 32) {
      std::uint32_t m;
      std::memcpy(&m, row + j / 8, 4);
      const __m256i e = expand32(m);
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + j), _mm256_castsi256_si128(e));
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + j + 16), _mm256_extracti128_si256(e, 1));
    }
    if (j < SW) {  // 16 columns left
      std::uint16_t m;
      std::memcpy(&m, row + j / 8, 2);
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + j), _mm256_castsi256_si128(expand32(m)));
    }
  }
}

// Every byte's bits in reverse order.
GLASSBOX_TARGET_AVX2 inline __m128i reverse_bits_in_bytes(__m128i v) {
  const __m128i lut = _mm_setr_epi8(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
  const __m128i nib = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(lut, _mm_and_si128(v, nib));
  const __m128i hi = _mm_shuffle_epi8(lut, _mm_and_si128(_mm_srli_epi16(v, 4), nib));
  return _mm_or_si128(_mm_slli_epi16(lo, 4), hi);  // lut values < 16: no bits cross bytes
}

// reverse_row for `rows` rows of whole bytes (n % 8 == 0), row r at src + r * stride and
// dst + r * stride: byte order reversed by a shuffle, bits within bytes by a nibble table, 16
// bytes at a time, the constants loaded once per plane.  Rows of at most 16 bytes are written as
// 16 (zeros past the row); longer rows must be whole 16-byte chunks.  Returns false (and writes
// nothing) for other rows.
GLASSBOX_TARGET_AVX2 inline bool reverse_rows_avx2(const std::uint8_t* src, index_t rows, index_t n, index_t stride,
                                                   std::uint8_t* dst) {
  const index_t nb = n / 8;
  if (n % 8 != 0 || (nb > 16 && nb % 16 != 0)) return false;
  const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  if (nb <= 16) {  // byte i <- byte nb - 1 - i; negative indices (i >= nb) shuffle in zeros
    const __m128i idx = _mm_sub_epi8(_mm_set1_epi8(static_cast<char>(nb - 1)), iota);
    for (index_t r = 0; r < rows; ++r) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + r * stride));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + r * stride), reverse_bits_in_bytes(_mm_shuffle_epi8(v, idx)));
    }
    return true;
  }
  const __m128i rev = _mm_sub_epi8(_mm_set1_epi8(15), iota);
  for (index_t r = 0; r < rows; ++r) {
    const std::uint8_t* s = src + r * stride;
    std::uint8_t* d = dst + r * stride;
    for (index_t j = 0; j < nb; j += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + nb - 16 - j));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + j), reverse_bits_in_bytes(_mm_shuffle_epi8(v, rev)));
    }
  }
  return true;
}

// Planes of at most 16 x 16 bits held as 16 rows of 16 bits in one register (row i = lane i).

// Every row's bits in reverse order (bit j -> bit 15 - j).
GLASSBOX_TARGET_AVX2 inline __m256i reverse_bits16(__m256i v) {
  const __m256i lut = _mm256_setr_epi8(0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15,  //
                                       0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15);
  const __m256i swap = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14,  //
                                        1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
  const __m256i nib = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, nib));
  const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
  // lut values are < 16: shifting 16-bit lanes by 4 keeps every byte's bits in that byte
  return _mm256_shuffle_epi8(_mm256_or_si256(_mm256_slli_epi16(lo, 4), hi), swap);
}

// The 16 x 16 bit transpose: bit c of row r -> bit r of row c.  Assembled in registers: eight
// 16-bit stores read back as one vector could not be forwarded from the store buffer and would
// stall.
GLASSBOX_TARGET_AVX2 inline __m256i transpose16(__m256i v) {
  const __m256i low = _mm256_set1_epi16(0x00FF);
  // bytes 0..15: the low bytes of rows 0..15; bytes 16..31: their high bytes
  const __m256i p =
      _mm256_permute4x64_epi64(_mm256_packus_epi16(_mm256_and_si256(v, low), _mm256_srli_epi16(v, 8)), 0xD8);
  // bit 7 of every byte after a shift by 7 - j within 64-bit lanes is bit j of that byte:
  // movemask j holds transposed row j (low half) and row j + 8 (high half)
#define GLASSBOX_T16(j) _mm256_movemask_epi8(_mm256_slli_epi64(p, 7 - j))
  const __m256i d = _mm256_setr_epi32(GLASSBOX_T16(0), GLASSBOX_T16(1), GLASSBOX_T16(2), GLASSBOX_T16(3),
                                      GLASSBOX_T16(4), GLASSBOX_T16(5), GLASSBOX_T16(6), GLASSBOX_T16(7));
#undef GLASSBOX_T16
  // within lanes: the four low halves, then the four high halves; then rows 0..3 | 4..7 | 8..11 | 12..15
  const __m256i halves = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15,  //
                                          0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
  return _mm256_permute4x64_epi64(_mm256_shuffle_epi8(d, halves), 0xD8);
}

}  // namespace glassbox::bits
#endif
