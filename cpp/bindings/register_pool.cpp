#include "array_cast.hpp"
#include "glassbox/pool.hpp"

namespace glassbox::bind {

namespace {

template <class T, class Out>
index_t run_pool(const py::array& images, index_t size, index_t stride, PoolMode mode, py::array& out, int n_threads,
                 const char* in_code, const char* out_code) {
  const auto s = require_ndim(images, 3, "images");
  const index_t B = s[0], H = s[1], W = s[2];
  check_window(size, stride, H, W);
  const T* x = input_ptr<T>(images, "images", in_code);
  require_shape(out, {B, pooled_size(H, size, stride), pooled_size(W, size, stride)}, "out");
  Out* o = output_ptr<Out>(out, "out", out_code);
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  return pool<T, Out>(x, B, H, W, size, stride, mode, o, nt);
}

template <class T, class Out>
index_t run_group_pool(const py::array& values, PoolMode mode, py::array& out, int n_threads, const char* in_code,
                       const char* out_code) {
  const auto s = require_ndim(values, 3, "values");
  const T* x = input_ptr<T>(values, "values", in_code);
  require_shape(out, {s[0], s[2]}, "out");
  Out* o = output_ptr<Out>(out, "out", out_code);
  const int nt = checked_threads(n_threads);
  py::gil_scoped_release release;
  return group_pool<T, Out>(x, s[0], s[1], s[2], mode, o, nt);
}

// Calls run<T, Out> for the (input, output) dtype pair; the pairs follow pool.hpp.
template <template <class, class> class Runner, class... Args>
index_t dispatch(const std::string& in, PoolMode mode, Args&&... args) {
  const bool mx = mode == PoolMode::Max, sum = mode == PoolMode::Sum;
  const char* inc = in.c_str();
  if (in == "u1" || in == "b1") {
    if (mx) return Runner<std::uint8_t, std::uint8_t>::run(std::forward<Args>(args)..., inc, inc);
    if (sum) return Runner<std::uint8_t, std::int64_t>::run(std::forward<Args>(args)..., inc, "i8");
    return Runner<std::uint8_t, float>::run(std::forward<Args>(args)..., inc, "f4");
  }
  if (in == "u2") {
    if (mx) return Runner<std::uint16_t, std::uint16_t>::run(std::forward<Args>(args)..., inc, inc);
    if (sum) return Runner<std::uint16_t, std::int64_t>::run(std::forward<Args>(args)..., inc, "i8");
    return Runner<std::uint16_t, float>::run(std::forward<Args>(args)..., inc, "f4");
  }
  if (in == "i8") {
    if (mx || sum) return Runner<std::int64_t, std::int64_t>::run(std::forward<Args>(args)..., inc, inc);
    return Runner<std::int64_t, double>::run(std::forward<Args>(args)..., inc, "f8");
  }
  if (in == "f4") return Runner<float, float>::run(std::forward<Args>(args)..., inc, inc);
  if (in == "f8") return Runner<double, double>::run(std::forward<Args>(args)..., inc, inc);
  throw py::type_error("dtype must be bool, uint8, uint16, int64, float32 or float64, got " + in);
}

template <class T, class Out>
struct PoolRunner {
  static index_t run(const py::array& images, index_t size, index_t stride, PoolMode mode, py::array& out,
                     int n_threads, const char* in_code, const char* out_code) {
    return run_pool<T, Out>(images, size, stride, mode, out, n_threads, in_code, out_code);
  }
};

template <class T, class Out>
struct GroupPoolRunner {
  static index_t run(const py::array& values, PoolMode mode, py::array& out, int n_threads, const char* in_code,
                     const char* out_code) {
    return run_group_pool<T, Out>(values, mode, out, n_threads, in_code, out_code);
  }
};

}  // namespace

void register_pool(py::module_& m) {
  m.def(
      "pool",
      [](const py::array& images, index_t size, index_t stride, int mode, py::array& out, int n_threads) {
        const PoolMode pm = checked_mode(mode);
        return dispatch<PoolRunner>(dtype_code(images), pm, images, size, stride, pm, out, n_threads);
      },
      py::arg("images"), py::arg("size"), py::arg("stride"), py::arg("mode"), py::arg("out"), py::arg("n_threads"),
      "images (B, H, W) -> out (B, OH, OW), valid windows only; returns the number of overflowed "
      "int64 sums.");
  m.def(
      "group_pool",
      [](const py::array& values, int mode, py::array& out, int n_threads) {
        const PoolMode pm = checked_mode(mode);
        return dispatch<GroupPoolRunner>(dtype_code(values), pm, values, pm, out, n_threads);
      },
      py::arg("values"), py::arg("mode"), py::arg("out"), py::arg("n_threads"),
      "values (outer, L, inner) -> out (outer, inner), reduced over L; returns the number of "
      "overflowed int64 sums.");
}

}  // namespace glassbox::bind
