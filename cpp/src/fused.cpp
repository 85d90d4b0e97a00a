#include "glassbox/fused.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "cpu_features.hpp"
#include "fused_generic.hpp"
#include "fused_plan.hpp"
#include "fused_small.hpp"
#include "fused_small_avx2.hpp"
#include "fused_wide.hpp"
#include "glassbox/threads.hpp"
#include "output_sink.hpp"
#include "simd.hpp"
#include "threshold_rules.hpp"

namespace glassbox {

namespace {

// The paths of represent_fused.  The bit paths take uint8 images into uint8 output with 2x2
// max-pooling and a "> t" rule: Small for images 16..32 pixels wide (pooled planes of at most
// 16 x 16, in registers), Wide for at least 32 pooled columns whose rows fit the sink; each with
// AVX2 where the CPU has it.  Everything else, and every plane whose rule is not "> t", takes the
// generic path.
enum class Path { Generic, Small, SmallAvx2, Wide, WideAvx2 };

// [[maybe_unused]]: without the bit paths (simd.hpp) every call takes the generic path.
template <class T, class Out>
Path choose_path([[maybe_unused]] index_t H, [[maybe_unused]] index_t W, [[maybe_unused]] index_t OH,
                 [[maybe_unused]] index_t OW, [[maybe_unused]] index_t size, [[maybe_unused]] index_t stride,
                 [[maybe_unused]] PoolMode mode, [[maybe_unused]] bool avx2) {
  if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<Out, std::uint8_t>) {
#ifdef GLASSBOX_BITPLANE
    if (mode == PoolMode::Max && size == 2 && stride == 2) {
      if (W >= 16 && W <= 32 && H >= 2 && H <= 33) return avx2 ? Path::SmallAvx2 : Path::Small;
      if (OW >= 16 && OW <= OutputSink::kMaxRow && OH >= 1) return avx2 ? Path::WideAvx2 : Path::Wide;
    }
#endif
  }
  return Path::Generic;
}

}  // namespace

template <class T, class Out>
void represent_fused(const T* images, index_t N, index_t H, index_t W, ThresholdMethod method, const double* thresholds,
                     index_t K, index_t size, index_t stride, PoolMode mode, const std::uint8_t* elements, int G,
                     bool packed, Out* out, int n_threads, bool fresh_out) {
  const int nt = usable_threads(n_threads);
  const index_t npix = H * W;
  const index_t OH = pooled_size(H, size, stride), OW = pooled_size(W, size, stride);
  // Every element of the group keeps the pooled plane's size (square, or no swapping element),
  // so all output planes have the same size.
  const index_t plane_out = packed ? OH * packed_width(OW) : OH * OW;
  const index_t image_out = static_cast<index_t>(G) * K * plane_out;
  const fused::GenericShape shape{
      W,     OH, OW, size, stride, mode, static_cast<double>(size) * static_cast<double>(size), any_swap(elements, G),
      packed};
  // chosen once, before the parallel loop
  const Path path = choose_path<T, Out>(H, W, OH, OW, size, stride, mode, avx2_enabled());
  [[maybe_unused]] const bool stream =
      !fresh_out && N * image_out * static_cast<index_t>(sizeof(Out)) >= kStreamOutputBytes;
  // what the bit paths share, read only
  std::unique_ptr<const fused::GroupPlan> plan;
  if (path != Path::Generic) plan = std::make_unique<const fused::GroupPlan>(OH, OW, elements, G);
#ifdef GLASSBOX_AVX2
  std::unique_ptr<const fused::RowFlips> flips;
  fused::SmallPlaneAvx2 small_avx2 = nullptr;
  if (path == Path::SmallAvx2) {
    flips = std::make_unique<const fused::RowFlips>(OH, OW);
    small_avx2 = fused::small_plane_avx2(H, W, !packed && !stream);
  }
#endif
  const index_t in_bytes = npix * static_cast<index_t>(sizeof(T));
  const index_t out_bytes = image_out * static_cast<index_t>(sizeof(Out));
  [[maybe_unused]] const index_t chunk =
      fresh_out ? fresh_dynamic_chunk(N, in_bytes, out_bytes, nt) : dynamic_chunk(N, in_bytes, nt);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    fused::GenericBuffers<Out> buffers(OH, OW, W, shape.swaps, packed);
#ifdef GLASSBOX_BITPLANE
    std::unique_ptr<OutputSink> sink;
    std::unique_ptr<fused::WidePlanes> wplanes;
    std::vector<std::uint8_t> padded;  // the last image, for the small AVX2 path
    if (path != Path::Generic) sink = std::make_unique<OutputSink>(stream);
    if (path == Path::Wide || path == Path::WideAvx2) wplanes = std::make_unique<fused::WidePlanes>(OH, OW, *plan);
#endif
#pragma omp for schedule(dynamic, chunk)
    for (index_t n = 0; n < N; ++n) {
      const T* x = images + n * npix;
      Out* img_out = out + n * image_out;
      for (index_t k = 0; k < K; ++k) {
        const detail::Rule rule = detail::image_rule(x, npix, method, thresholds, k);
#ifdef GLASSBOX_BITPLANE
        if constexpr (std::is_same_v<T, std::uint8_t> && std::is_same_v<Out, std::uint8_t>) {
          if (path != Path::Generic && rule.kind == detail::RuleKind::IntGt) {
            const auto t = static_cast<std::uint8_t>(rule.ithr);
            switch (path) {
              case Path::Small:
                if (k == 0) bits::prefetch(x, fused::kPrefetchBytes, npix);
                fused::fast_small_plane(x, H, W, t, *plan, packed, K, k, plane_out, img_out, *sink);
                break;
#ifdef GLASSBOX_AVX2
              case Path::SmallAvx2: {
                if (k == 0) bits::prefetch(x, fused::kPrefetchBytes, npix);
                // the 32-byte row loads read up to 32 - W bytes past the image: only the last
                // image's may leave the input, so it is read from a padded copy
                const std::uint8_t* xs = x;
                if (n == N - 1) {
                  padded.assign(static_cast<std::size_t>(npix + 32), 0);
                  std::memcpy(padded.data(), x, static_cast<std::size_t>(npix));
                  xs = padded.data();
                }
                small_avx2(xs, H, W, t, *plan, *flips, packed, K, k, plane_out, img_out, *sink);
                break;
              }
              case Path::WideAvx2:
                fused::wide_plane<true>(x, W, OH, OW, t, *plan, packed, K, k, plane_out, img_out, *wplanes, *sink);
                break;
#endif
              default:  // Path::Wide
                fused::wide_plane<false>(x, W, OH, OW, t, *plan, packed, K, k, plane_out, img_out, *wplanes, *sink);
                break;
            }
            continue;
          }
        }
#endif
        fused::generic_plane(x, rule, shape, elements, G, K, k, plane_out, buffers, img_out);
      }
    }
#ifdef GLASSBOX_BITPLANE
    if (sink) sink->end();
#endif
  }
}

#define GLASSBOX_INSTANTIATE_FUSED(T, code)                                                                            \
  template void represent_fused<T, std::uint8_t>(const T*, index_t, index_t, index_t, ThresholdMethod, const double*,  \
                                                 index_t, index_t, index_t, PoolMode, const std::uint8_t*, int, bool,  \
                                                 std::uint8_t*, int, bool);                                            \
  template void represent_fused<T, std::uint16_t>(const T*, index_t, index_t, index_t, ThresholdMethod, const double*, \
                                                  index_t, index_t, index_t, PoolMode, const std::uint8_t*, int, bool, \
                                                  std::uint16_t*, int, bool);                                          \
  template void represent_fused<T, float>(const T*, index_t, index_t, index_t, ThresholdMethod, const double*,         \
                                          index_t, index_t, index_t, PoolMode, const std::uint8_t*, int, bool, float*, \
                                          int, bool);
GLASSBOX_IMAGE_TYPES(GLASSBOX_INSTANTIATE_FUSED)
#undef GLASSBOX_INSTANTIATE_FUSED

}  // namespace glassbox
