#include <cmath>
#include <functional>
#include <limits>

#include "array_cast.hpp"
#include "glassbox/features.hpp"

namespace glassbox::bind {

namespace {

template <class T>
void run_features(const py::array& images, const double* t, index_t K, const FeatureLayout& layout, float* out,
                  int nt) {
  const auto s = shape_of(images);
  const T* x = input_ptr<T>(images, "images");
  py::gil_scoped_release release;
  glass_features<T>(x, s[0], s[1], s[2], t, K, layout, out, nt);
}

}  // namespace

void register_features(py::module_& m) {
  m.def(
      "glass_features",
      [](const py::array& images, const py::array& thresholds, index_t pool, index_t cell, const py::array& dists,
         const py::array& inv_index, index_t n_inv, bool write_inv, bool write_eq, py::array& out, int n_threads,
         bool smooth, bool second_order, bool root) {
        const auto s = require_ndim(images, 3, "images");
        const index_t H = s[1], W = s[2];
        const auto ts = require_ndim(thresholds, 1, "thresholds");
        const double* t = input_ptr<double>(thresholds, "thresholds");
        for (index_t k = 0; k < ts[0]; ++k) {
          if (!std::isfinite(t[k])) throw py::value_error("thresholds must be finite");
          if (k && !(t[k - 1] < t[k])) throw py::value_error("thresholds must be strictly increasing");
        }
        if (pool < 1 || cell < 1 || H % pool || W % pool || H % cell || W % cell)
          throw py::value_error("pool and cell must be positive and divide the image sides");
        if (second_order && cell % 2)
          throw py::value_error("second_order needs an even cell (its maps are half the image's size)");
        // a column of a window sums weight x value in int32: levels and steps are <= K, the
        // second order's half-size maps <= 4 K
        constexpr index_t kMax = std::numeric_limits<std::int32_t>::max();
        auto column_bound = [&](index_t size, index_t value) {
          index_t total = 0;
          for (const std::int32_t w : window_weights(size, smooth).weights) total += w;
          return value > 0 && total > kMax / value;
        };
        if (smooth && (pool > 15 || cell > 15))
          throw py::value_error("smooth windows need pool and cell <= 15 (32-bit weights)");
        if (column_bound(pool, ts[0]) || column_bound(cell, ts[0]) ||
            (second_order && column_bound(cell / 2, 4 * ts[0])))
          throw py::value_error("too many thresholds for these windows (32-bit column sums)");
        if (dists.ndim() != 1) throw py::value_error("dists must be 1-D");
        const auto ds = shape_of(dists);  // may be empty: level maps only
        const index_t* d = input_ptr<index_t>(dists, "dists", "i8");
        for (index_t i = 0; i < ds[0]; ++i)
          if (d[i] < 1 || d[i] >= H || d[i] >= W) throw py::value_error("dists must lie in [1, min(H, W))");
        FeatureLayout layout;
        layout.pool = pool;
        layout.cell = cell;
        layout.dists = d;
        layout.n_dists = ds[0];
        layout.smooth = smooth;
        layout.second_order = second_order;
        layout.root = root;
        const index_t n_eq = equivariant_size(H, W, layout);
        if (n_inv < 0) throw py::value_error("n_inv must be >= 0");
        if (write_inv) {
          require_shape(inv_index, {n_eq}, "inv_index");
          const std::int32_t* ii = input_ptr<std::int32_t>(inv_index, "inv_index");
          for (index_t j = 0; j < n_eq; ++j)
            if (ii[j] < 0 || ii[j] >= n_inv) throw py::value_error("inv_index must lie in [0, n_inv)");
          layout.inv_index = ii;
          layout.n_inv = n_inv;
        }
        layout.write_inv = write_inv;
        layout.write_eq = write_eq;
        const index_t row = (write_inv ? n_inv : 0) + (write_eq ? n_eq : 0);
        require_shape(out, {s[0], row}, "out");
        float* o = output_ptr<float>(out, "out");
        const int nt = checked_threads(n_threads);
        dispatch_image(images, "images",
                       [&](auto pixel) { run_features<decltype(pixel)>(images, t, ts[0], layout, o, nt); });
      },
      py::arg("images"), py::arg("thresholds"), py::arg("pool"), py::arg("cell"), py::arg("dists"),
      py::arg("inv_index"), py::arg("n_inv"), py::arg("write_inv"), py::arg("write_eq"), py::arg("out"),
      py::arg("n_threads"), py::arg("smooth") = false, py::arg("second_order") = false, py::arg("root") = false,
      "images (N, H, W) -> out (N, row) float32: [invariant | equivariant] glass-box features "
      "(see cpp/include/glassbox/features.hpp).");
  m.def(
      "take_columns",
      [](const py::array& rows, const py::array& index, py::array& out, int n_threads) {
        const auto s = require_ndim(rows, 2, "rows");
        const float* r = input_ptr<float>(rows, "rows");
        if (index.ndim() != 1) throw py::value_error("index must be 1-D");
        const index_t M_out = shape_of(index)[0];
        const index_t* idx = input_ptr<index_t>(index, "index", "i8");
        for (index_t j = 0; j < M_out; ++j)
          if (idx[j] < 0 || idx[j] >= s[1]) throw py::value_error("index values must lie in [0, rows.shape[1])");
        require_shape(out, {s[0], M_out}, "out");
        float* o = output_ptr<float>(out, "out");
        const auto* ob = reinterpret_cast<const char*>(o);
        const auto* rb = reinterpret_cast<const char*>(r);
        const auto out_bytes = static_cast<std::size_t>(s[0] * M_out) * sizeof(float);
        const auto rows_bytes = static_cast<std::size_t>(s[0] * s[1]) * sizeof(float);
        if (out_bytes && rows_bytes && std::less<const char*>{}(ob, rb + rows_bytes) &&
            std::less<const char*>{}(rb, ob + out_bytes))
          throw py::value_error("out must not overlap rows");
        const int nt = checked_threads(n_threads);
        py::gil_scoped_release release;
        take_columns(r, s[0], s[1], idx, M_out, o, nt);
      },
      py::arg("rows"), py::arg("index"), py::arg("out"), py::arg("n_threads"),
      "rows (N, M) float32, index (K,) int64 -> out (N, K): out[n, j] = rows[n, index[j]].");
}

}  // namespace glassbox::bind
