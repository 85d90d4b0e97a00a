#include "glassbox/orbit.hpp"

#include <vector>

#include "glassbox/threads.hpp"

namespace glassbox {

template <class T>
void orbit(const T* images, index_t N, index_t C, index_t H, index_t W, const std::uint8_t* elements,
           int G, T* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t plane = H * W;
  const index_t tasks = N * G * C;  // one output plane each: balanced even when N is small
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (index_t task = 0; task < tasks; ++task) {
    const index_t c = task % C;
    const index_t g = (task / C) % G;
    const index_t n = task / (C * G);
    transform_plane(images + (n * C + c) * plane, H, W, d4_element(elements[g]), out + task * plane);
  }
}

void orbit_packed(const std::uint8_t* images, index_t N, index_t C, index_t H, index_t W,
                  const std::uint8_t* elements, int G, std::uint8_t* out, int n_threads) {
  const int nt = usable_threads(n_threads);
  const index_t Wb = packed_width(W);
  const index_t tasks = N * G * C;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    std::vector<std::uint8_t> bits(static_cast<std::size_t>(H * W)), moved(bits.size());
#pragma omp for schedule(static)
    for (index_t task = 0; task < tasks; ++task) {
      const index_t c = task % C;
      const index_t g = (task / C) % G;
      const index_t n = task / (C * G);
      const std::uint8_t* src = images + (n * C + c) * H * Wb;
      for (index_t r = 0; r < H; ++r) unpack_row(src + r * Wb, W, bits.data() + r * W);
      const D4Element e = d4_element(elements[g]);
      transform_plane(bits.data(), H, W, e, moved.data());
      const index_t OH = e.swap ? W : H, OW = e.swap ? H : W, OWb = packed_width(OW);
      std::uint8_t* dst = out + task * OH * OWb;
      for (index_t r = 0; r < OH; ++r) pack_row(moved.data() + r * OW, OW, dst + r * OWb);
    }
  }
}

template void orbit<std::uint8_t>(const std::uint8_t*, index_t, index_t, index_t, index_t,
                                  const std::uint8_t*, int, std::uint8_t*, int);
template void orbit<std::uint16_t>(const std::uint16_t*, index_t, index_t, index_t, index_t,
                                   const std::uint8_t*, int, std::uint16_t*, int);
template void orbit<std::uint32_t>(const std::uint32_t*, index_t, index_t, index_t, index_t,
                                   const std::uint8_t*, int, std::uint32_t*, int);
template void orbit<std::uint64_t>(const std::uint64_t*, index_t, index_t, index_t, index_t,
                                   const std::uint8_t*, int, std::uint64_t*, int);

}  // namespace glassbox
