from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

import _reference as ref
from conftest import SHAPES, THREADS, make_images

DTYPES = [np.bool_, np.uint8, np.uint16, np.int64, np.float32, np.float64]
MODES = ["max", "mean", "sum"]
WINDOWS = [(1, None), (2, None), (2, 1), (3, 2), (3, None), (5, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n_threads", THREADS)
def test_matches_reference(dtype, shape, mode, n_threads):
    x = make_images(dtype, shape, n=3)
    for size, stride in WINDOWS:
        if size > min(shape):
            with pytest.raises(ValueError, match="larger than the images"):
                gb.pool(x, size, stride, mode=mode)
            continue
        got = gb.pool(x, size, stride, mode=mode, n_threads=n_threads)
        want = ref.pool(x, size, stride, mode)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_2x2_sums_keep_the_documented_order_to_the_sign_of_zero(dtype, mode, simd):
    # each sum starts from +0.0, so four -0.0 give +0.0, not -0.0; tiny values may round
    x = np.array([-0.0, -0.0, 1e-300, -1e-300, 3.0, -3.0, 0.1, 0.2], dtype=dtype).reshape(1, 2, 4)
    x = np.concatenate([x, -x, np.full_like(x, -0.0)])
    # rows of 1 to 8 outputs: the AVX2 step of 4 (and its overlapping last step), the SSE2
    # step of 2 and the scalar tail give the same values
    x = np.concatenate([x, x[..., ::-1]], axis=-1)
    x = np.concatenate([x, x[..., ::-1]], axis=-1)
    for width in range(2, 17, 2):
        got = gb.pool(x[..., :width], 2, mode=mode)
        want = ref.pool(x[..., :width], 2, None, mode)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
        assert not np.signbit(got[2]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(9, 10), (10, 9), (6, 33), (2, 2), (4, 14), (2, 18)])
@pytest.mark.parametrize("mode", MODES)
def test_2x2_many_images_every_thread_count(dtype, shape, mode, simd):
    # odd heights leave a row out of each image, so row pairs do not follow each other
    x = make_images(dtype, shape, n=101)
    want = ref.pool(x, 2, None, mode)
    for n_threads in THREADS:
        np.testing.assert_array_equal(gb.pool(x, 2, mode=mode, n_threads=n_threads), want)


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_])
def test_2x2_max_of_bytes_every_width(dtype):
    """uint8 (and bool) 2x2 max-pooling takes 16 columns at a time from 8 outputs a row on, the
    last 16 overlapping the previous ones: equal to the reference on both sides of 8 outputs,
    for whole and partial chunks, odd widths (last column dropped) and odd heights."""
    rng = np.random.default_rng(3)
    for W in [*range(14, 36), 47, 48, 49, 64]:
        for H in (2, 5, 28):
            x = rng.integers(0, 256, (3, H, W), dtype=np.uint8)
            x[0, :, -1] = 255  # a dropped column must not leak into the last output
            x = (x > 127) if dtype == np.bool_ else x
            for n_threads in (1, 2):
                got = gb.pool(x, 2, mode="max", n_threads=n_threads)
                np.testing.assert_array_equal(got, ref.pool(x, 2, None, "max"), err_msg=f"{H}x{W}")


def test_border_rule_drops_partial_windows():
    x = np.arange(25, dtype=np.uint8).reshape(1, 5, 5)
    got = gb.pool(x, 2)
    assert got.shape == (1, 2, 2)
    np.testing.assert_array_equal(got, [[[6, 8], [16, 18]]])  # row and column 4 are ignored


def test_any_leading_dims():
    x = make_images(np.float32, (6, 6), n=6).reshape(2, 3, 6, 6)
    np.testing.assert_array_equal(gb.pool(x, 2, mode="mean"), ref.pool(x, 2, None, "mean"))
    np.testing.assert_array_equal(gb.pool(x[0, 0], 3), ref.pool(x[0, 0], 3))


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.uint16, np.int64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("shape", "size", "stride"), [((8, 8), 2, 2), ((9, 9), 3, 3), ((7, 7), 3, 2), ((28, 28), 2, 2)]
)
def test_commutes_with_d4_on_symmetric_grids(dtype, mode, shape, size, stride):
    assert (shape[0] - size) % stride == 0
    x = make_images(dtype, shape, n=3)
    g = get_group("D4")
    for i in range(g.order):
        np.testing.assert_array_equal(
            gb.pool(np.ascontiguousarray(g.apply(x, i)), size, stride, mode=mode),
            g.apply(gb.pool(x, size, stride, mode=mode), i),
        )


@pytest.mark.parametrize("mode", ["mean", "sum"])
def test_float_sums_commute_up_to_rounding(mode):
    x = make_images(np.float32, (8, 8), n=3)
    g = get_group("D4")
    for i in range(g.order):
        np.testing.assert_allclose(
            gb.pool(np.ascontiguousarray(g.apply(x, i)), 2, mode=mode),
            g.apply(gb.pool(x, 2, mode=mode), i),
            rtol=1e-6,
        )


def test_asymmetric_grid_does_not_commute():
    # H - size not a multiple of stride: the last row is dropped, so a flip moves the grid.
    x = np.zeros((1, 5, 5), dtype=np.uint8)
    x[0, 4, 0] = 1
    g = get_group("D4")
    assert not np.array_equal(gb.pool(g.apply(x, "fv").copy(), 2), g.apply(gb.pool(x, 2), "fv"))
