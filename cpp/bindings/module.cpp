// The compiled core of glassbox: only the module definition; each kernel family registers
// itself from register_<family>.cpp.
#include <pybind11/pybind11.h>

#include "glassbox/threads.hpp"

namespace py = pybind11;

namespace glassbox::bind {
void register_binarize(py::module_& m);
void register_orbit(py::module_& m);
void register_pool(py::module_& m);
void register_patterns(py::module_& m);
void register_fused(py::module_& m);
void register_features(py::module_& m);
}  // namespace glassbox::bind

PYBIND11_MODULE(_core, m) {
  m.doc() = "glassbox compiled kernels (internal: use the functions of the glassbox package)";
  m.attr("__version__") = GLASSBOX_VERSION;
  m.def("openmp_enabled", &glassbox::openmp_enabled, "True when the kernels were compiled with OpenMP.");
  m.def("max_threads", &glassbox::max_threads,
        "omp_get_max_threads(): the default thread count, honouring OMP_NUM_THREADS (1 without OpenMP).");
  glassbox::bind::register_binarize(m);
  glassbox::bind::register_orbit(m);
  glassbox::bind::register_pool(m);
  glassbox::bind::register_patterns(m);
  glassbox::bind::register_fused(m);
  glassbox::bind::register_features(m);
}
