#include "array_cast.hpp"
#include "glassbox/orbit.hpp"

namespace glassbox::bind {

namespace {

template <class T>
void run_orbit(const py::array& images, const py::array& elements, py::array& out, int n_threads, const char* code) {
  const auto s = require_ndim(images, 4, "images");
  const index_t N = s[0], C = s[1], H = s[2], W = s[3];
  const T* x = input_ptr<T>(images, "images", code);
  const auto codes = group_codes(elements, H, W);
  const int G = static_cast<int>(codes.size());
  // group_codes refuses swapping elements on non-square planes: every output plane is H x W.
  require_shape(out, {N, G, C, H, W}, "out");
  T* o = output_ptr<T>(out, "out", code);
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  orbit<T>(x, N, C, H, W, codes.data(), G, o, nt);
}

}  // namespace

void register_orbit(py::module_& m) {
  m.def(
      "orbit",
      [](const py::array& images, const py::array& elements, py::array& out, int n_threads) {
        const std::string code = dtype_code(images);
        const char k = code[0];
        if (k != 'b' && k != 'u' && k != 'i' && k != 'f')
          throw py::type_error("images must be a boolean, integer or float array, got " + code);
        switch (images.dtype().itemsize()) {
          case 1:
            return run_orbit<std::uint8_t>(images, elements, out, n_threads, code.c_str());
          case 2:
            return run_orbit<std::uint16_t>(images, elements, out, n_threads, code.c_str());
          case 4:
            return run_orbit<std::uint32_t>(images, elements, out, n_threads, code.c_str());
          case 8:
            return run_orbit<std::uint64_t>(images, elements, out, n_threads, code.c_str());
          default:
            throw py::type_error("images must have an item size of 1, 2, 4 or 8 bytes, got " + code);
        }
      },
      py::arg("images"), py::arg("elements"), py::arg("out"), py::arg("n_threads"),
      "images (N, C, H, W) -> out (N, G, C, H, W); non-square planes only with non-swapping elements.");
  m.def(
      "orbit_packed",
      [](const py::array& images, index_t width, const py::array& elements, py::array& out, int n_threads) {
        const auto s = require_ndim(images, 4, "images");
        const index_t N = s[0], C = s[1], H = s[2], Wb = s[3];
        if (width < 1 || packed_width(width) != Wb)
          throw py::value_error("width does not match the packed row length of images");
        const std::uint8_t* x = input_ptr<std::uint8_t>(images, "images");
        const auto codes = group_codes(elements, H, width);
        const int G = static_cast<int>(codes.size());
        require_shape(out, {N, G, C, H, Wb}, "out");
        std::uint8_t* o = output_ptr<std::uint8_t>(out, "out");
        const int nt = checked_threads(n_threads);
        py::gil_scoped_release release;
        orbit_packed(x, N, C, H, width, codes.data(), G, o, nt);
      },
      py::arg("images"), py::arg("width"), py::arg("elements"), py::arg("out"), py::arg("n_threads"),
      "Bit-packed planes (N, C, H, ceil(width / 8)) -> out (N, G, C, H, ceil(width / 8)).");
}

}  // namespace glassbox::bind
