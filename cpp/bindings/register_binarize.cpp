#include <type_traits>

#include "array_cast.hpp"
#include "glassbox/binarize.hpp"

namespace glassbox::bind {

namespace {

template <class T>
void run_binarize(const py::array& images, int method, const py::array& thresholds, bool packed, py::array& out,
                  int n_threads) {
  const auto s = require_ndim(images, 3, "images");
  const index_t N = s[0], H = s[1], W = s[2];
  const T* x = input_ptr<T>(images, "images");
  const ThresholdArgs ta = checked_thresholds(method, thresholds, H, W, std::is_integral_v<T>);
  const ThresholdMethod m = ta.method;
  const double* t = ta.values;
  const index_t K = ta.count;
  require_shape(out, {N, K, H, packed ? packed_width(W) : W}, "out");
  std::uint8_t* o = output_ptr<std::uint8_t>(out, "out");
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  binarize<T>(x, N, H, W, m, t, K, packed, o, nt);
}

template <class T>
index_t run_count_nonfinite(const py::array& a, int n_threads) {
  const T* p = input_ptr<T>(a, "array");
  const index_t n = a.size();
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  return count_nonfinite<T>(p, n, nt);
}

}  // namespace

void register_binarize(py::module_& m) {
  m.attr("OTSU_MAX_PIXELS") = kOtsuMaxPixels;  // the largest image method otsu takes
  m.def(
      "binarize",
      [](const py::array& images, int method, const py::array& thresholds, bool packed, py::array& out, int n_threads) {
        dispatch_image(images, "images", [&](auto pixel) {
          run_binarize<decltype(pixel)>(images, method, thresholds, packed, out, n_threads);
        });
      },
      py::arg("images"), py::arg("method"), py::arg("thresholds"), py::arg("packed"), py::arg("out"),
      py::arg("n_threads"),
      "images (N, H, W) -> out (N, K, H, W or packed). Float images must be finite (not checked here).");
  m.def(
      "count_nonfinite",
      [](const py::array& a, int n_threads) -> index_t {
        const std::string code = dtype_code(a);
        if (code == "f4") return run_count_nonfinite<float>(a, n_threads);
        if (code == "f8") return run_count_nonfinite<double>(a, n_threads);
        throw py::type_error("count_nonfinite takes float32 or float64, got " + code);
      },
      py::arg("array"), py::arg("n_threads"), "Number of NaN or infinite values in a C-contiguous float array.");
}

}  // namespace glassbox::bind
