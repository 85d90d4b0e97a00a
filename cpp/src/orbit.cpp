#include "glassbox/orbit.hpp"

#include <vector>

#include "glassbox/threads.hpp"
#include "orbit_small.hpp"
#include "plane_ops.hpp"

namespace glassbox {

template <class T>
void orbit(const T* images, index_t N, index_t C, index_t H, index_t W, const std::uint8_t* elements, int G, T* out,
           int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t plane = H * W;
  const index_t planes = N * C;
  const bool swaps = any_swap(elements, G);
  // planes handed out as threads come free (see dynamic_chunk), into a fresh output
  const index_t item = plane * static_cast<index_t>(sizeof(T));
  [[maybe_unused]] const index_t chunk = fresh_dynamic_chunk(planes, item, G * item, nt);  // unused without OpenMP
#ifdef GLASSBOX_SSE2
  if constexpr (sizeof(T) == 1) {
    if (H <= 16 && W <= 16) {  // the whole plane in registers (see SmallOrbit)
#pragma omp parallel num_threads(nt) if (nt > 1)
      {
        SmallOrbit small(H, W, elements, G);
#pragma omp for schedule(dynamic, chunk)
        for (index_t p = 0; p < planes; ++p) {
          const index_t n = p / C, c = p % C;
          small.apply(reinterpret_cast<const std::uint8_t*>(images + p * plane),
                      reinterpret_cast<std::uint8_t*>(out + (n * G * C + c) * plane), C * plane);
        }
      }
      return;
    }
  }
#endif
  // One task per input plane: its transpose is computed once and serves every swapping element.
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<T> transposed(swaps ? static_cast<std::size_t>(plane) : 0);
#pragma omp for schedule(dynamic, chunk)
    for (index_t p = 0; p < planes; ++p) {
      const index_t n = p / C, c = p % C;
      const T* src = images + p * plane;
      if (swaps) transpose_plane(src, H, W, transposed.data());
      for (int g = 0; g < G; ++g)
        transform_plane(src, transposed.data(), H, W, d4_element(elements[g]), out + ((n * G + g) * C + c) * plane);
    }
  }
}

void orbit_packed(const std::uint8_t* images, index_t N, index_t C, index_t H, index_t W, const std::uint8_t* elements,
                  int G, std::uint8_t* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t Wb = packed_width(W);
  const index_t planes = N * C;
  const bool swaps = any_swap(elements, G);
  // planes handed out as threads come free (see dynamic_chunk), into a fresh output of about the
  // input's size per element
  [[maybe_unused]] const index_t chunk = fresh_dynamic_chunk(planes, H * Wb, G * H * Wb, nt);  // unused without OpenMP
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const auto size = static_cast<std::size_t>(H * W);
    std::vector<std::uint8_t> bits(size), transposed(swaps ? size : 0), moved(size);
#pragma omp for schedule(dynamic, chunk)
    for (index_t p = 0; p < planes; ++p) {
      const index_t n = p / C, c = p % C;
      const std::uint8_t* src = images + p * H * Wb;
      for (index_t r = 0; r < H; ++r) unpack_row(src + r * Wb, W, bits.data() + r * W);
      if (swaps) transpose_plane(bits.data(), H, W, transposed.data());
      for (int g = 0; g < G; ++g) {
        const D4Element e = d4_element(elements[g]);
        transform_plane(bits.data(), transposed.data(), H, W, e, moved.data());
        const index_t OH = e.swap ? W : H, OW = e.swap ? H : W, OWb = packed_width(OW);
        std::uint8_t* dst = out + ((n * G + g) * C + c) * OH * OWb;
        for (index_t r = 0; r < OH; ++r) pack_row(moved.data() + r * OW, OW, dst + r * OWb);
      }
    }
  }
}

template void orbit<std::uint8_t>(const std::uint8_t*, index_t, index_t, index_t, index_t, const std::uint8_t*, int,
                                  std::uint8_t*, int);
template void orbit<std::uint16_t>(const std::uint16_t*, index_t, index_t, index_t, index_t, const std::uint8_t*, int,
                                   std::uint16_t*, int);
template void orbit<std::uint32_t>(const std::uint32_t*, index_t, index_t, index_t, index_t, const std::uint8_t*, int,
                                   std::uint32_t*, int);
template void orbit<std::uint64_t>(const std::uint64_t*, index_t, index_t, index_t, index_t, const std::uint8_t*, int,
                                   std::uint64_t*, int);

}  // namespace glassbox
