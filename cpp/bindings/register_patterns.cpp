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
  m.def(
      "cell_histograms",
      [](const py::array& labels, index_t n_labels, index_t cell, py::array& out, int n_threads) -> index_t {
        const auto s = require_ndim(labels, 3, "labels");
        const std::uint16_t* x = input_ptr<std::uint16_t>(labels, "labels");
        if (n_labels < 1 || n_labels > 65536) throw py::value_error("n_labels must be in [1, 65536]");
        if (cell < 1 || cell > s[1] || cell > s[2]) throw py::value_error("cell must be in [1, min(H, W)]");
        require_shape(out, {s[0], n_labels, s[1] / cell, s[2] / cell}, "out");
        std::int32_t* o = output_ptr<std::int32_t>(out, "out", "i4");
        const int nt = checked_threads(n_threads);
        py::gil_scoped_release release;
        return cell_histograms(x, s[0], s[1], s[2], n_labels, cell, o, nt);
      },
      py::arg("labels"), py::arg("n_labels"), py::arg("cell"), py::arg("out"), py::arg("n_threads"),
      "labels (B, H, W) uint16 -> out (B, n_labels, H // cell, W // cell) int32 counts; returns the "
      "number of labels >= n_labels.");
}

}  // namespace glassbox::bind
