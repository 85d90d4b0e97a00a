#include "array_cast.hpp"
#include "glassbox/patterns.hpp"

namespace glassbox::bind {

void register_patterns(py::module_& m) {
  m.def(
      "local_patterns",
      [](const py::array& binary, int size, const py::array& class_lut, const py::array& element_lut,
         py::array& classes, py::array& elements, int n_threads) -> index_t {
        const auto s = require_ndim(binary, 3, "binary");
        const std::string code = dtype_code(binary);
        if (code != "u1" && code != "b1") throw py::type_error("binary must be uint8 or bool, got " + code);
        const std::uint8_t* x = input_ptr<std::uint8_t>(binary, "binary", code.c_str());
        if (size < 1 || size % 2 == 0 || size * size > 16)
          throw py::value_error("size must be odd with size * size <= 16");
        const index_t n_codes = index_t{1} << (size * size);
        require_shape(class_lut, {n_codes}, "class_lut");
        require_shape(element_lut, {n_codes}, "element_lut");
        const std::uint16_t* cl = input_ptr<std::uint16_t>(class_lut, "class_lut");
        const std::uint8_t* el = input_ptr<std::uint8_t>(element_lut, "element_lut");
        require_shape(classes, s, "classes");
        require_shape(elements, s, "elements");
        std::uint16_t* co = output_ptr<std::uint16_t>(classes, "classes");
        std::uint8_t* eo = output_ptr<std::uint8_t>(elements, "elements");
        const int nt = checked_threads(n_threads);
        py::gil_scoped_release release;
        return local_patterns(x, s[0], s[1], s[2], size, cl, el, co, eo, nt);
      },
      py::arg("binary"), py::arg("size"), py::arg("class_lut"), py::arg("element_lut"), py::arg("classes"),
      py::arg("elements"), py::arg("n_threads"),
      "binary (B, H, W) -> classes, elements (B, H, W) through the lookup tables; returns the number of "
      "values other than 0 and 1 (read as 1).");
}

}  // namespace glassbox::bind
