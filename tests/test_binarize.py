from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb

import _reference as ref
from conftest import SHAPES, THREADS, make_images

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


def thresholds_for(dtype):
    if np.dtype(dtype).kind == "u":
        return [0, 1, 99.5, int(np.iinfo(dtype).max) - 1, int(np.iinfo(dtype).max)]
    return [-1.0, 0.0, 0.25, 1.5]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n_threads", THREADS)
def test_fixed_matches_reference(dtype, shape, n_threads):
    x = make_images(dtype, shape, n=5)
    ts = thresholds_for(dtype)
    for t in ts:
        got = gb.binarize(x, t, n_threads=n_threads)
        assert got.dtype == np.uint8 and got.shape == x.shape
        np.testing.assert_array_equal(got, ref.binarize(x, t))
    got = gb.binarize(x, ts, n_threads=n_threads)
    assert got.shape == (5, len(ts), *shape)
    np.testing.assert_array_equal(got, ref.binarize(x, ts))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["otsu", "mean"])
@pytest.mark.parametrize("n_threads", THREADS)
def test_per_image_methods_match_reference(dtype, shape, method, n_threads):
    x = make_images(dtype, shape, n=6, seed=3)
    x[0] = x[0].flat[0]  # a constant image
    got = gb.binarize(x, method=method, n_threads=n_threads)
    np.testing.assert_array_equal(got, ref.binarize(x, method=method))


def test_otsu_separates_two_levels():
    x = np.full((1, 10, 10), 40, dtype=np.uint8)
    x[0, :, 5:] = 200
    np.testing.assert_array_equal(gb.binarize(x, method="otsu")[0], x[0] == 200)
    np.testing.assert_array_equal(gb.binarize(x.astype(np.float32), method="otsu")[0], x[0] == 200)
    np.testing.assert_array_equal(
        gb.binarize((x.astype(np.uint16) * 300), method="otsu")[0], x[0] == 200
    )
    np.testing.assert_array_equal(gb.binarize(np.full((1, 4, 4), 7.0), method="otsu"), 0)


@pytest.mark.parametrize("shape", [(28, 28), (3, 5), (1, 8), (9, 17), (64, 64)])
def test_otsu_of_images_with_a_background(shape):
    # long runs of one value (the histogram's counters in turn) and lengths not a multiple of 8
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (7, *shape), dtype=np.uint8)
    x[rng.random(x.shape) < 0.7] = 0
    x[1] = 255
    x[2, : shape[0] // 2] = 17
    x[3] = np.where(x[3] > 0, 200, 40)
    want = ref.binarize(x, method="otsu")
    np.testing.assert_array_equal(gb.binarize(x, method="otsu"), want)
    np.testing.assert_array_equal(gb.binarize(x, method="otsu", n_threads=1), want)
    fused = gb.represent_fused(x, method="otsu", group="trivial", size=1)
    np.testing.assert_array_equal(fused[:, 0], want)


def test_otsu_of_an_image_past_the_16_bit_counters():
    # more than 8 x 65,528 bytes are counted a block at a time: counted at once, the zeros'
    # 16-bit counters (66,000 each here) would wrap and the split move above the 100s
    x = np.zeros((1, 730, 730), dtype=np.uint8)
    x[0, -4:-2] = 100
    x[0, -2:] = 230
    want = ref.binarize(x, method="otsu")
    assert want[0, -4:].all()
    np.testing.assert_array_equal(gb.binarize(x, method="otsu"), want)
    rng = np.random.default_rng(6)
    for side in (724, 725):  # 524,176 and 525,625 pixels: one block, two blocks
        x = np.zeros((1, side, side), dtype=np.uint8)
        x[0, side // 3 :] = rng.integers(0, 256, (side - side // 3, side), dtype=np.uint8)
        np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))


@pytest.mark.parametrize("rng_size", [1, 2, 3, 255, 256, 257, 1000, 4096, 65535, 65536])
def test_otsu_bins_of_uint16_at_every_value_of_the_range(rng_size):
    # every value of [lo, lo + range) once (where (x - lo) * 256 / range is a whole number
    # or just below one), in an image wide enough for several blocks of bins
    lo = 65536 - rng_size if rng_size > 60000 else 1000
    values = np.arange(lo, lo + rng_size, dtype=np.uint16)
    reps = -(-5000 // rng_size)
    x = np.tile(values, reps)[: max(rng_size, 5000)]
    x = np.random.default_rng(rng_size).permutation(x).reshape(1, 1, -1)
    np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))
    y = np.concatenate([x, x[..., ::-1] // 3 + 7])  # a second image, another range
    np.testing.assert_array_equal(gb.binarize(y, method="otsu"), ref.binarize(y, method="otsu"))


@pytest.mark.parametrize("rng_size", [196, 392, 412, 1000, 4104, 20040, 20144, 65280, 65536])
def test_otsu_bins_of_uint16_values_on_a_bin_edge(rng_size):
    # three levels: lo (bin 0), v on an exact bin edge ((v - lo) * 256 / range a whole
    # number k <= 100) and hi (bin 255); the best split falls just above v, so a v binned to
    # k - 1 moves the threshold to v and turns v's pixels on.  (For these ranges a product
    # by a rounded 1 / range falls just short of some k.)
    lo = 65536 - rng_size
    step = rng_size // np.gcd(rng_size, 256)  # the smallest v - lo on an edge
    edges = np.arange(step, rng_size * 100 // 256 + 1, step)
    assert edges.size > 0
    for d in edges:
        x = np.full((1, 1, 30), lo, dtype=np.uint16)
        x[0, 0, 10:20] = lo + d
        x[0, 0, 20:] = 65535
        got = gb.binarize(x, method="otsu")
        np.testing.assert_array_equal(got, ref.binarize(x, method="otsu"))
        assert not got[0, 0, :20].any() and got[0, 0, 20:].all()


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64])
def test_otsu_of_non_byte_images_with_a_background(dtype):
    rng = np.random.default_rng(8)
    x = (rng.random((5, 70, 90)) * 1000).astype(dtype)  # 6,300 pixels: two blocks of bins
    x[rng.random(x.shape) < 0.6] = 0
    x[1, :35] = 999
    np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hi", [256.0, 512.0, 0.5])
def test_otsu_bins_of_float_values_on_a_bin_edge(dtype, hi):
    # as for uint16: lo, v with (v - lo) * 256 / (hi - lo) a whole number k, and hi, so that
    # a v binned below k turns v's pixels on; v's pixels in the vector part (first image) or
    # in the scalar tail (second: 31 pixels, 28 four at a time)
    for k in (1, 2, 5, 31, 64, 100):
        x = np.zeros((2, 1, 31), dtype=dtype)
        v = dtype(k * hi / 256)
        assert (np.float64(v) - 0.0) * (256.0 / np.float64(dtype(hi))) == k
        x[0, 0, 8:16] = v
        x[1, 0, 28:] = v
        x[:, 0, 16:26] = hi
        got = gb.binarize(x, method="otsu")
        np.testing.assert_array_equal(got, ref.binarize(x, method="otsu"))
        assert not got[x < hi].any() and got[x == hi].all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_otsu_with_signed_zeros_at_the_extremes(dtype):
    # the least or greatest value a zero of either sign, in lanes of a vector scan or after it
    rng = np.random.default_rng(9)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        x = rng.choice(np.array([-0.0, 0.0, 1.5, 3.0, 7.25, 100.0], dtype=dtype), (3, 1, n))
        x[1] = -np.abs(x[1])  # non-positive: the greatest value a zero
        x[2, 0, rng.random(n) < 0.5] = -0.0
        x[2] = np.where(x[2] == 0, x[2], 0.0).astype(dtype)  # zeros only, of both signs
        np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))


def test_otsu_either_side_of_the_vector_split():
    # up to 2^21 pixels the split's quotients are computed two at a time, beyond that one by one
    rng = np.random.default_rng(10)
    for rows in (1024, 1025):  # 2^21 pixels, and 2,048 more
        x = np.zeros((1, rows, 2048), dtype=np.uint8)
        x[0, rows // 4 :] = rng.integers(0, 256, (rows - rows // 4, 2048), dtype=np.uint8) // 2
        x[0, -50:] = 230
        np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))


def test_otsu_extreme_float_range():
    x = np.array([[[-1e308, 1e308], [0.0, 5.0]]])
    np.testing.assert_array_equal(gb.binarize(x, method="otsu"), ref.binarize(x, method="otsu"))
    y = np.array([[[0.0, 5e-324], [5e-324, 0.0]]])  # range is the smallest subnormal
    np.testing.assert_array_equal(gb.binarize(y, method="otsu"), ref.binarize(y, method="otsu"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_default_thresholds(dtype):
    x = make_images(dtype, (6, 6))
    np.testing.assert_array_equal(gb.binarize(x), ref.binarize(x, ref.default_threshold(dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (4, 8), (5, 9), (28, 28), (2, 17)])
@pytest.mark.parametrize("method", ["fixed", "otsu"])
def test_packed(dtype, shape, method):
    x = make_images(dtype, shape, n=3)
    t = [0, 1] if method == "fixed" else None
    got = gb.binarize(x, t, method=method, packed=True)
    want = ref.binarize(x, t, method=method, packed=True)
    assert got.shape[-1] == (shape[1] + 7) // 8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gb.unpack_bits(got, shape[1]), ref.binarize(x, t, method=method))


def test_unpack_bits_layout():
    # pixel j is bit j % 8 of byte j // 8, least significant first
    row = np.zeros((1, 1, 10), dtype=np.uint8)
    row[0, 0, [0, 3, 9]] = 1
    packed = gb.binarize(row, 0, packed=True)
    np.testing.assert_array_equal(packed, [[[0b00001001, 0b00000010]]])
    np.testing.assert_array_equal(gb.unpack_bits(packed, 10), row)
    with pytest.raises(ValueError, match="width=20 needs 3"):
        gb.unpack_bits(packed, 20)
    with pytest.raises(TypeError, match="packed must have dtype uint8"):
        gb.unpack_bits(packed.astype(np.int16), 10)


def test_views_are_copied():
    x = make_images(np.uint8, (9, 12), n=4)
    for view in (x[:, ::2, ::3], x[::-1, :, ::-1], np.asfortranarray(x)):
        np.testing.assert_array_equal(
            gb.binarize(view, 100), ref.binarize(np.ascontiguousarray(view), 100)
        )
    big = x.astype(">f8") / 255
    np.testing.assert_array_equal(gb.binarize(big, 0.4), ref.binarize(big.astype("<f8"), 0.4))


def test_list_input():
    assert gb.binarize(np.array([[[1.0, 2.0]]]).tolist(), 1.5).tolist() == [[[0, 1]]]
