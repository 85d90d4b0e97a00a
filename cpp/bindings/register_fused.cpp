#include <type_traits>

#include "array_cast.hpp"
#include "glassbox/fused.hpp"

namespace glassbox::bind {

namespace {

template <class T, class Out>
void run_fused(const py::array& images, int method, const py::array& thresholds, index_t size, index_t stride, int mode,
               const py::array& elements, bool packed, py::array& out, int n_threads, bool fresh_out) {
  const auto s = require_ndim(images, 3, "images");
  const index_t N = s[0], H = s[1], W = s[2];
  const T* x = input_ptr<T>(images, "images");
  const ThresholdArgs ta = checked_thresholds(method, thresholds, H, W, std::is_integral_v<T>);
  const ThresholdMethod m = ta.method;
  const double* t = ta.values;
  const index_t K = ta.count;
  const PoolMode pm = checked_mode(mode);
  check_window(size, stride, H, W);
  if (size * size > 65535) throw py::value_error("size is too large");
  if (packed && pm != PoolMode::Max) throw py::value_error("packed output needs mode max");
  // The output dtype that holds the pooled values exactly (see fused.hpp).
  const bool out_ok = pm == PoolMode::Max    ? std::is_same_v<Out, std::uint8_t>
                      : pm == PoolMode::Mean ? std::is_same_v<Out, float>
                      : size * size <= 255   ? std::is_same_v<Out, std::uint8_t>
                                             : std::is_same_v<Out, std::uint16_t>;
  if (!out_ok) throw py::type_error("out has the wrong dtype for this pooling mode and size");
  const index_t OH = pooled_size(H, size, stride), OW = pooled_size(W, size, stride);
  const auto codes = group_codes(elements, OH, OW);
  const int G = static_cast<int>(codes.size());
  require_shape(out, {N, G, K, OH, packed ? packed_width(OW) : OW}, "out");
  Out* o = output_ptr<Out>(out, "out");
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  represent_fused<T, Out>(x, N, H, W, m, t, K, size, stride, pm, codes.data(), G, packed, o, nt, fresh_out);
}

template <class T>
void run_fused_out(const py::array& images, int method, const py::array& thresholds, index_t size, index_t stride,
                   int mode, const py::array& elements, bool packed, py::array& out, int n_threads, bool fresh_out) {
  const std::string oc = dtype_code(out);
  if (oc == "u1")
    return run_fused<T, std::uint8_t>(images, method, thresholds, size, stride, mode, elements, packed, out, n_threads,
                                      fresh_out);
  if (oc == "u2")
    return run_fused<T, std::uint16_t>(images, method, thresholds, size, stride, mode, elements, packed, out, n_threads,
                                       fresh_out);
  if (oc == "f4")
    return run_fused<T, float>(images, method, thresholds, size, stride, mode, elements, packed, out, n_threads,
                               fresh_out);
  throw py::type_error("out must be uint8, uint16 or float32, got " + oc);
}

}  // namespace

void register_fused(py::module_& m) {
  m.def(
      "represent_fused",
      [](const py::array& images, int method, const py::array& thresholds, index_t size, index_t stride, int mode,
         const py::array& elements, bool packed, py::array& out, int n_threads, bool fresh_out) {
        dispatch_image(images, "images", [&](auto pixel) {
          run_fused_out<decltype(pixel)>(images, method, thresholds, size, stride, mode, elements, packed, out,
                                         n_threads, fresh_out);
        });
      },
      py::arg("images"), py::arg("method"), py::arg("thresholds"), py::arg("size"), py::arg("stride"), py::arg("mode"),
      py::arg("elements"), py::arg("packed"), py::arg("out"), py::arg("n_threads"), py::arg("fresh_out") = false,
      "images (N, H, W) -> out (N, G, K, OH, OW): binarize, pool, orbit in one pass per image.");
  m.def("_fused_avx2_enabled", &fused_avx2_enabled,
        "Whether the AVX2 paths (represent_fused's uint8 2x2 max-pooling, pool's float32 2x2 sums) are "
        "used (the CPU has AVX2 and BMI2, not switched off).");
  m.def("_set_fused_avx2", &set_fused_avx2, py::arg("enabled"),
        "Switch the AVX2 paths (represent_fused, pool) off (tests run the SSE2 code too); returns the "
        "previous setting.  Results are identical either way.");
}

}  // namespace glassbox::bind
