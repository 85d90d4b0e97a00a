// Binary planes as bit matrices, for the fused path's hot case (uint8 pixels, "> t", 2x2
// max-pooling): pooling straight into bits, and the group acting on the bits (row order, bit
// reversal of words, a bit transpose in 16 x 128 blocks), so that a pooled plane and its
// transforms are 1/8 of the bytes and stay in cache.  Layout: row i at byte i * stride, column j = bit j % 8 of byte
// j / 8 (NumPy's packbits(bitorder="little")), every bit past the last column zero.
#pragma once

#include <cstdint>
#include <cstring>

#include "plane_ops.hpp"
#include "simd.hpp"

#ifdef GLASSBOX_BITPLANE

namespace glassbox::bits {

// Row stride in bytes for planes up to n bits wide: whole 64-bit words, plus one spare word
// that the 32-bit read-modify-write of pool_row's last chunk, expand_row_avx2's 32-bit reads
// and transpose's 16-byte blocks may touch.
inline index_t row_stride(index_t n) {
  return 8 * ((n + 63) / 64 + 1);
}

// Ask for the cache lines of bytes [offset, offset + n) from p, in integer arithmetic (the range
// may lie past the end of the input; a prefetch never faults).  On the project's machines the
// hardware prefetcher alone leaves the kernels waiting on their input half of the time.
inline void prefetch(const void* p, index_t offset, index_t n) {
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p) + static_cast<std::uintptr_t>(offset);
  for (std::uintptr_t q = begin & ~std::uintptr_t{63}; q < begin + static_cast<std::uintptr_t>(n); q += 64)
    _mm_prefetch(reinterpret_cast<const char*>(q), _MM_HINT_T0);
}

// 16 pooled bits from 32 input columns of rows a and b: bit m = max of a[2m], a[2m+1], b[2m],
// b[2m+1] > t (tt = t ^ 0x80 broadcast: unsigned compare through a signed one).
inline std::uint32_t pool32(const std::uint8_t* a, const std::uint8_t* b, __m128i tt) {
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80));
  const __m128i low = _mm_set1_epi16(0x00FF);
  auto pairs = [&](index_t o) {
    __m128i v = _mm_max_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + o)),
                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + o)));
    v = _mm_max_epu8(v, _mm_srli_epi16(v, 8));  // byte 2m: max of columns 2m, 2m + 1
    return _mm_and_si128(v, low);
  };
  const __m128i p = _mm_packus_epi16(pairs(0), pairs(16));  // 16 pair maxima, in order
  return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_xor_si128(p, bias), tt)));
}

// One pooled row: OW = W2 / 2 bits from the first W2 >= 32 (even) columns of rows a and b,
// prefetching the bytes `ahead` further on.  The row's bytes past its bits are zeroed.
inline void pool_row(const std::uint8_t* a, const std::uint8_t* b, index_t W2, std::uint8_t t, std::uint8_t* row,
                     index_t stride, index_t ahead) {
  const __m128i tt = _mm_set1_epi8(static_cast<char>(t ^ 0x80));
  index_t c = 0;
  prefetch(a, ahead, W2);
  prefetch(b, ahead, W2);
  for (; c + 32 <= W2; c += 32) {
    const auto m = static_cast<std::uint16_t>(pool32(a + c, b + c, tt));
    std::memcpy(row + c / 16, &m, 2);
  }
  std::memset(row + c / 16, 0, static_cast<std::size_t>(stride - c / 16));
  if (c < W2) {                       // the last 32 columns again, overlapping: equal bits where they overlap
    const index_t o = (W2 - 32) / 2;  // first output bit of the chunk
    std::uint32_t word;
    std::memcpy(&word, row + o / 8, 4);
    word |= pool32(a + W2 - 32, b + W2 - 32, tt) << (o % 8);
    std::memcpy(row + o / 8, &word, 4);
  }
}

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store64(std::uint8_t* p, std::uint64_t v) {
  std::memcpy(p, &v, 8);
}

inline std::uint64_t reverse64(std::uint64_t x) {
  x = detail::byteswap64(x);
  x = ((x >> 1) & 0x5555555555555555ull) | ((x & 0x5555555555555555ull) << 1);
  x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
  x = ((x >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((x & 0x0F0F0F0F0F0F0F0Full) << 4);
  return x;
}

// dst row = src row of n bits with its columns in reverse order.
inline void reverse_row(const std::uint8_t* src, index_t n, std::uint8_t* dst) {
  const index_t words = (n + 63) / 64;
  const int s = static_cast<int>(64 * words - n);  // the reversed row starts s bits in
  std::uint64_t next = reverse64(load64(src + 8 * (words - 1)));
  for (index_t i = 0; i < words; ++i) {
    const std::uint64_t cur = next;
    next = i + 1 < words ? reverse64(load64(src + 8 * (words - 2 - i))) : 0;
    store64(dst + 8 * i, s ? (cur >> s) | (next << (64 - s)) : cur);
  }
}

// d[0, n) = row[0, n) in 16-byte moves: reads up to 15 bytes past the row (inside its stride,
// see row_stride) and writes up to 15 past d + n.
inline void copy_row(const std::uint8_t* row, index_t n, std::uint8_t* d) {
  for (index_t j = 0; j < n; j += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + j), _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j)));
}

// Rows to allocate for an n x n plane that transpose() reads and writes.
inline index_t rows_allocated(index_t n) {
  return (n + 127) / 128 * 128;
}

// dst (n x n) = transpose of src (n x n).  Both have rows_allocated(n) rows, src's rows past n
// zero.  Blocks of 16 rows x 128 columns: a 16 x 16 byte transpose puts each byte column of the
// 16 rows in one register, where bit j of its 16 bytes (shifted to bit 7, collected by movemask)
// is the 16-bit piece of transposed row 8 c + j that these rows make.
inline void transpose(const std::uint8_t* src, index_t n, index_t stride, std::uint8_t* dst) {
  const index_t row_blocks = (n + 15) / 16, col_blocks = (n + 127) / 128;
  alignas(16) std::uint8_t bytes[16 * 16];
  for (index_t bi = 0; bi < row_blocks; ++bi) {
    for (index_t bc = 0; bc < col_blocks; ++bc) {
      transpose16x16_bytes(src + 16 * bi * stride + 16 * bc, stride, bytes, 16);
      std::uint8_t* d = dst + 128 * bc * stride + 2 * bi;
      for (int c = 0; c < 16; ++c, d += 8 * stride) {
        const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes + 16 * c));
#define GLASSBOX_BITS_COLUMN(j)                                                               \
  {                                                                                           \
    const auto m = static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_slli_epi64(v, 7 - (j)))); \
    std::memcpy(d + (j) * stride, &m, 2);                                                     \
  }
        // clang-format off: statements without semicolons, which it cannot lay out stably
        GLASSBOX_BITS_COLUMN(0) GLASSBOX_BITS_COLUMN(1) GLASSBOX_BITS_COLUMN(2) GLASSBOX_BITS_COLUMN(3)
        GLASSBOX_BITS_COLUMN(4) GLASSBOX_BITS_COLUMN(5) GLASSBOX_BITS_COLUMN(6) GLASSBOX_BITS_COLUMN(7)
        // clang-format on
#undef GLASSBOX_BITS_COLUMN
      }
    }
  }
}

struct ExpandTable {  // byte b of bytes[m] = bit b of m
  std::uint64_t bytes[256];
  constexpr ExpandTable() : bytes() {
    for (int m = 0; m < 256; ++m) {
      std::uint64_t v = 0;
      for (int b = 0; b < 8; ++b) v |= static_cast<std::uint64_t>((m >> b) & 1) << (8 * b);
      bytes[m] = v;
    }
  }
};
inline constexpr ExpandTable kExpand{};

// dst[j] = bit j of the row, j < n; writes up to 7 bytes past dst + n.
inline void expand_row(const std::uint8_t* row, index_t n, std::uint8_t* dst) {
  for (index_t b = 0; 8 * b < n; ++b) store64(dst + 8 * b, kExpand.bytes[row[b]]);
}

}  // namespace glassbox::bits
#endif
