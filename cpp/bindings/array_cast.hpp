// Checked access to NumPy arrays handed to the compiled kernels.  The Python layer validates
// user input with friendly messages; these checks make the _core functions safe on their own
// (a wrong array raises TypeError / ValueError, never reaches a kernel).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "glassbox/binarize.hpp"
#include "glassbox/common.hpp"
#include "glassbox/pool.hpp"

namespace glassbox::bind {

namespace py = pybind11;

// "u1", "f4", "b1", ... : NumPy kind and item size.
inline std::string dtype_code(const py::array& a) {
  return std::string(1, a.dtype().kind()) + std::to_string(a.dtype().itemsize());
}

template <class T>
const char* code_of() {
  if constexpr (std::is_same_v<T, bool>) return "b1";
  if constexpr (std::is_same_v<T, float>) return "f4";
  if constexpr (std::is_same_v<T, double>) return "f8";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "u1";
  if constexpr (std::is_same_v<T, std::uint16_t>) return "u2";
  if constexpr (std::is_same_v<T, std::uint32_t>) return "u4";
  if constexpr (std::is_same_v<T, std::uint64_t>) return "u8";
  if constexpr (std::is_same_v<T, std::int64_t>) return "i8";
  if constexpr (std::is_same_v<T, std::int32_t>) return "i4";
  return "?";
}

// Calls f(T{}) with a value of the element type T of `a`, one of GLASSBOX_IMAGE_TYPES, and
// returns its result; any other dtype is a TypeError naming `name` and the types accepted.
template <class F>
decltype(auto) dispatch_image(const py::array& a, const char* name, F&& f) {
  const std::string code = dtype_code(a);
#define GLASSBOX_DISPATCH_IMAGE(T, C) \
  if (code == C) return f(T{});
  GLASSBOX_IMAGE_TYPES(GLASSBOX_DISPATCH_IMAGE)
#undef GLASSBOX_DISPATCH_IMAGE
  throw py::type_error(std::string(name) + " must be " GLASSBOX_IMAGE_TYPE_NAMES ", got " + code);
}

inline void require_layout(const py::array& a, const char* name) {
  const char order = a.dtype().byteorder();
  if (order == '>') throw py::value_error(std::string(name) + " must be in native byte order");
  if (!(a.flags() & py::array::c_style)) throw py::value_error(std::string(name) + " must be C-contiguous");
  if (reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(a.dtype().itemsize()) != 0)
    throw py::value_error(std::string(name) + " must be aligned");
}

// Pointer to the data of a C-contiguous array whose dtype is `code` (kind + item size).
template <class T>
const T* input_ptr(const py::array& a, const char* name, const char* code = code_of<T>()) {
  if (dtype_code(a) != code)
    throw py::type_error(std::string(name) + " must have dtype code " + code + ", got " + dtype_code(a));
  require_layout(a, name);
  return static_cast<const T*>(a.data());
}

template <class T>
T* output_ptr(py::array& a, const char* name, const char* code = code_of<T>()) {
  input_ptr<T>(a, name, code);
  if (!a.writeable()) throw py::value_error(std::string(name) + " must be writeable");
  return static_cast<T*>(a.mutable_data());
}

inline std::vector<index_t> shape_of(const py::array& a) {
  std::vector<index_t> s(static_cast<std::size_t>(a.ndim()));
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s[static_cast<std::size_t>(i)] = a.shape(i);
  return s;
}

inline std::string shape_str(const std::vector<index_t>& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

inline std::vector<index_t> require_ndim(const py::array& a, py::ssize_t ndim, const char* name) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got " +
                          std::to_string(a.ndim()));
  auto s = shape_of(a);
  for (index_t v : s)
    if (v == 0) throw py::value_error(std::string(name) + " must not be empty, got shape " + shape_str(s));
  return s;
}

inline void require_shape(const py::array& a, const std::vector<index_t>& expected, const char* name) {
  const auto s = shape_of(a);
  if (s != expected)
    throw py::value_error(std::string(name) + " must have shape " + shape_str(expected) + ", got " + shape_str(s));
}

// The D4 codes of a group, checked: G codes in 0..7; with non-square planes, no swapping element.
inline std::vector<std::uint8_t> group_codes(const py::array& elements, index_t H, index_t W) {
  const auto s = require_ndim(elements, 1, "elements");
  const std::uint8_t* p = input_ptr<std::uint8_t>(elements, "elements");
  std::vector<std::uint8_t> codes(p, p + s[0]);
  if (codes.size() > static_cast<std::size_t>(kD4Order))
    throw py::value_error("elements must list at most 8 group elements");
  for (auto c : codes) {
    if (c >= kD4Order) throw py::value_error("elements must be D4 codes in 0..7");
    if (H != W && d4_element(c).swap)
      throw py::value_error("this group does not keep non-square images: planes must be square");
  }
  return codes;
}

// The thresholds array and method of binarize / represent_fused, checked against (H, W).
struct ThresholdArgs {
  ThresholdMethod method;
  const double* values;
  index_t count;
};

inline ThresholdArgs checked_thresholds(int method, const py::array& thresholds, index_t H, index_t W,
                                        bool integral_images) {
  const auto ts = require_ndim(thresholds, 1, "thresholds");
  const double* t = input_ptr<double>(thresholds, "thresholds");
  for (index_t k = 0; k < ts[0]; ++k) {
    if (!std::isfinite(t[k])) throw py::value_error("thresholds must be finite");
    // integer images compare against int64(t): t must be a whole number that converts exactly
    if (integral_images && (t[k] != std::floor(t[k]) || std::fabs(t[k]) > 9007199254740992.0))
      throw py::value_error("thresholds of integer images must be whole numbers of magnitude <= 2**53");
  }
  if (method < 0 || method > 2) throw py::value_error("method must be 0 (fixed), 1 (otsu) or 2 (mean)");
  const auto m = static_cast<ThresholdMethod>(method);
  if (m != ThresholdMethod::Fixed && ts[0] != 1) throw py::value_error("otsu and mean take one threshold slot");
  if (m == ThresholdMethod::Otsu && H * W > kOtsuMaxPixels)
    throw py::value_error("method='otsu' supports images of at most 2**27 pixels");
  return {m, t, ts[0]};
}

// The pooling mode and window shared by pool and represent_fused, checked against (H, W).
inline PoolMode checked_mode(int mode) {
  if (mode < 0 || mode > 2) throw py::value_error("mode must be 0 (max), 1 (mean) or 2 (sum)");
  return static_cast<PoolMode>(mode);
}

inline void check_window(index_t size, index_t stride, index_t H, index_t W) {
  if (size < 1 || stride < 1) throw py::value_error("size and stride must be positive");
  if (size > H || size > W) throw py::value_error("size must not exceed the image height or width");
}

inline int checked_threads(int n_threads) {
  if (n_threads < 1) throw py::value_error("n_threads must be a positive integer");
  return n_threads;
}

}  // namespace glassbox::bind
