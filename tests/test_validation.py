"""Bad input gets a clear TypeError or ValueError naming the argument, never a crash."""

from __future__ import annotations

import os

import numpy as np
import pytest

import glassbox as gb
from glassbox import _core

U8 = np.zeros((2, 6, 6), dtype=np.uint8)
F32 = np.zeros((2, 6, 6), dtype=np.float32)

# Every public kernel, called on images-like input, keyed by the argument it names.
KERNELS = {
    "binarize": (lambda x, **kw: gb.binarize(x, **kw), "images"),
    "orbit": (lambda x, **kw: gb.orbit(x, **kw), "images"),
    "pool": (lambda x, **kw: gb.pool(x, **kw), "images"),
    "group_pool": (lambda x, **kw: gb.group_pool(x, **kw), "orbits"),
    "local_patterns": (lambda x, **kw: gb.local_patterns(x, **kw), "binary"),
    "represent_fused": (lambda x, **kw: gb.represent_fused(x, **kw), "images"),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_empty_input(name):
    fn, arg = KERNELS[name]
    for shape in [(0, 6, 6), (2, 0, 6), (2, 6, 0)]:
        with pytest.raises(ValueError, match=f"{arg} must not be empty"):
            fn(np.zeros(shape, dtype=np.uint8))


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", [np.complex64, object, "U3", "datetime64[s]"])
def test_meaningless_dtypes(name, dtype):
    fn, arg = KERNELS[name]
    with pytest.raises(TypeError, match=arg):
        fn(np.zeros((2, 6, 6), dtype=dtype))


@pytest.mark.parametrize("name", ["binarize", "represent_fused"])
def test_bool_images_refused_where_meaningless(name):
    fn, arg = KERNELS[name]
    with pytest.raises(TypeError, match=f"{arg} must have dtype"):
        fn(np.zeros((2, 6, 6), dtype=bool))


@pytest.mark.parametrize("name", ["binarize", "pool", "group_pool", "represent_fused"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(name, bad):
    fn, arg = KERNELS[name]
    x = F32.copy()
    x[1, 2, 3] = bad
    with pytest.raises(ValueError, match=f"{arg} contains 1 NaN or infinite"):
        fn(x)


@pytest.mark.parametrize("mode", ["max", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "size", "stride", "at"),
    [
        ((3, 8, 8), 2, 2, (2, 7, 7)),  # every pixel in a window: sums and means check the output
        ((3, 8, 8), 3, 1, (0, 4, 0)),  # overlapping windows, all pixels covered
        ((3, 9, 8), 2, 2, (1, 8, 3)),  # in the row no window reaches
        ((3, 8, 9), 2, 2, (1, 3, 8)),  # in the column no window reaches
        ((3, 8, 8), 2, 3, (1, 2, 2)),  # between windows (stride > size)
    ],
)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_pool_refuses_nonfinite_pixels_wherever_they_are(mode, dtype, shape, size, stride, at, bad):
    x = np.ones(shape, dtype=dtype)
    x[at] = bad
    for n_threads in (1, 2):
        with pytest.raises(ValueError, match="images contains 1 NaN or infinite"):
            gb.pool(x, size, stride, mode=mode, n_threads=n_threads)


def test_pool_float64_sums_past_the_range_stay_inf():
    """Finite float64 input whose window sum overflows: inf, as before the output check (which
    then reads the input, finds it finite and lets the result through)."""
    top = np.finfo(np.float64).max
    x = np.full((2, 4, 4), 1.0)
    x[1, :2, :2] = top
    for mode in ("sum", "mean"):
        got = gb.pool(x, 2, mode=mode)
        assert np.isposinf(got[1, 0, 0]) and np.isfinite(np.delete(got.ravel(), 4)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nonfinite_counted_in_every_block_with_any_threads(dtype):
    n = 3 * 65536 + 5  # the count runs in blocks of 65,536 values: two whole blocks, a part
    x = np.zeros(n, dtype=dtype)
    where = [0, 65535, 65536, 2 * 65536 + 7, n - 1]
    x[where] = [np.nan, np.inf, -np.inf, np.nan, np.inf]
    for n_threads in (1, 2, 3):
        assert _core.count_nonfinite(x, n_threads) == len(where)
        assert _core.count_nonfinite(x[:65536], n_threads) == 2
        assert _core.count_nonfinite(x[1:65535], n_threads) == 0
        assert _core.count_nonfinite(x[:0], n_threads) == 0


def test_wrong_ndim():
    for fn, x, arg in [
        (gb.binarize, np.zeros((6, 6), np.uint8), "images must be 3-dimensional"),
        (gb.binarize, np.zeros((1, 2, 6, 6), np.uint8), "images must be 3-dimensional"),
        (gb.orbit, np.zeros((6, 6), np.uint8), "images must be 3 or 4-dimensional"),
        (gb.orbit, np.zeros((1, 1, 1, 6, 6), np.uint8), "images must be 3 or 4-dimensional"),
        (gb.pool, np.zeros(6, np.uint8), "images must have at least 2 dimensions"),
        (gb.local_patterns, np.zeros(6, np.uint8), "binary must have at least 2 dimensions"),
        (gb.represent_fused, np.zeros((6, 6), np.uint8), "images must be 3-dimensional"),
        (gb.group_pool, np.uint8(3), "orbits must have at least 1 dimensions"),
    ]:
        with pytest.raises(ValueError, match=arg):
            fn(x)


def test_huge_shapes_refused_before_allocation():
    huge = np.broadcast_to(np.uint8(0), (2**31, 2**15, 2**15))  # a view of one byte
    for fn in (gb.binarize, gb.orbit, gb.pool, gb.represent_fused):
        with pytest.raises(ValueError, match="more than this machine's memory"):
            fn(huge)
    with pytest.raises(
        ValueError, match=r"the output of binarize would have shape \(1000, 3000, 100, 100\)"
    ):
        gb.binarize(np.zeros((1000, 100, 100), np.uint8), np.full(3000, 100))
    tall = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (2**34, 16, 16), (0, 0, 0))
    with pytest.raises(ValueError, match="more than this machine's memory"):
        gb.orbit(tall)


def test_absurd_parameters():
    with pytest.raises(ValueError, match="size=7 is larger than the images"):
        gb.pool(U8, 7)
    with pytest.raises(ValueError, match="size=2\\*\\*70|size=1180591620717411303424 is larger"):
        gb.pool(U8, 2**70)
    np.testing.assert_array_equal(gb.pool(U8, 2, 2**70), gb.pool(U8, 2, 6))  # one window per axis
    with pytest.raises(ValueError, match="size must be a positive int"):
        gb.pool(U8, 0)
    with pytest.raises(TypeError, match="stride must be a positive int"):
        gb.pool(U8, 2, 1.5)
    with pytest.raises(TypeError, match="size must be a positive int"):
        gb.pool(U8, True)
    with pytest.raises(ValueError, match="size=9 is larger"):
        gb.represent_fused(U8, size=9)
    with pytest.raises(ValueError, match="mode must be one of"):
        gb.pool(U8, mode="median")
    with pytest.raises(ValueError, match="method must be one of"):
        gb.binarize(U8, method="triangle")


@pytest.mark.parametrize("thresholds", [-1, 256, [10, 300], 1e9])
def test_thresholds_out_of_range(thresholds):
    with pytest.raises(ValueError, match=r"thresholds must lie in \[0, 255\]"):
        gb.binarize(U8, thresholds)
    with pytest.raises(ValueError, match=r"thresholds must lie in \[0, 255\]"):
        gb.represent_fused(U8, thresholds)


def test_scalar_threshold_forms_agree():
    """A plain Python number takes a shortcut past NumPy; it must mean what the same value means
    as a NumPy scalar or a one-element list, for integer (floored) and float images."""
    rng = np.random.default_rng(5)
    u8 = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    u16 = u8.astype(np.uint16) * 250
    f32 = rng.random((3, 8, 8), dtype=np.float32)
    for x, t in ((u8, 100), (u8, 100.7), (u16, 30000.5), (f32, 0.25), (f32, -1)):
        want = gb.binarize(x, [t])[:, 0]
        np.testing.assert_array_equal(gb.binarize(x, t), want)
        np.testing.assert_array_equal(gb.binarize(x, np.float64(t)), want)
        np.testing.assert_array_equal(gb.represent_fused(x, t), gb.represent_fused(x, [t])[:, :, 0])
    with pytest.raises(TypeError, match="thresholds must be real numbers"):
        gb.binarize(F32, 10**400)  # too large for a float: the general path's message


def test_bad_thresholds():
    with pytest.raises(ValueError, match="thresholds must be finite"):
        gb.binarize(F32, np.nan)
    with pytest.raises(ValueError, match="thresholds must be finite"):
        gb.binarize(F32, [0.1, np.inf])
    with pytest.raises(TypeError, match="thresholds must be real numbers"):
        gb.binarize(F32, "0.5")
    with pytest.raises(TypeError, match="thresholds must be real numbers"):
        gb.binarize(F32, 1j)
    with pytest.raises(ValueError, match="thresholds must not be empty"):
        gb.binarize(F32, [])
    with pytest.raises(ValueError, match="thresholds must be a scalar or a 1-D"):
        gb.binarize(F32, [[0.1]])
    with pytest.raises(ValueError, match="thresholds must be None with method='otsu'"):
        gb.binarize(U8, 100, method="otsu")
    with pytest.raises(ValueError, match="thresholds must lie in \\[0, 65535\\]"):
        gb.binarize(U8.astype(np.uint16), 70000)


@pytest.mark.parametrize("name", ["orbit", "local_patterns", "represent_fused"])
def test_unknown_group(name):
    fn, _ = KERNELS[name]
    with pytest.raises(ValueError, match="unknown group 'D6'"):
        fn(U8, group="D6")
    with pytest.raises(TypeError, match="group must be a group name"):
        fn(U8, group=8)


@pytest.mark.parametrize("name", list(KERNELS))
def test_bad_n_threads(name):
    fn, _ = KERNELS[name]
    with pytest.raises(ValueError, match="n_threads must not be 0"):
        fn(U8, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an int"):
        fn(U8, n_threads=1.5)
    with pytest.raises(TypeError, match="n_threads must be an int"):
        fn(U8, n_threads=True)
    with pytest.raises(ValueError, match="n_threads=.* is absurd"):
        fn(U8, n_threads=2**40)


def test_ragged_input():
    with pytest.raises(TypeError, match="images must be an array"):
        gb.binarize([[[1, 2]], [[1]]])


def test_core_checks_its_own_arguments():
    """The compiled functions refuse wrong arrays even when called directly."""
    out = np.empty((2, 1, 6, 6), np.uint8)
    t = np.array([1.0])
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.binarize(np.zeros((2, 6, 12), np.uint8)[:, :, ::2], 0, t, False, out, 1)
    with pytest.raises(TypeError, match="images must be uint8"):
        _core.binarize(np.zeros((2, 6, 6), np.int8), 0, t, False, out, 1)
    with pytest.raises(ValueError, match="out must have shape"):
        _core.binarize(U8, 0, t, False, np.empty((2, 1, 6, 5), np.uint8), 1)
    with pytest.raises(ValueError, match="n_threads must be a positive"):
        _core.binarize(U8, 0, t, False, out, 0)
    with pytest.raises(ValueError, match="elements must be D4 codes"):
        _core.orbit(U8[:, None], np.array([9], np.uint8), np.empty((2, 1, 1, 6, 6), np.uint8), 1)
    with pytest.raises(ValueError, match="planes must be square"):
        _core.orbit(
            np.zeros((1, 1, 2, 3), np.uint8),
            np.array([1], np.uint8),
            np.empty((1, 1, 1, 2, 3), np.uint8),
            1,
        )
    with pytest.raises(ValueError, match="size must not exceed"):
        _core.pool(U8, 7, 1, 0, np.empty((2, 1, 1), np.uint8), 1)
    with pytest.raises(ValueError, match="class_lut must have shape"):
        _core.local_patterns(
            U8,
            3,
            np.zeros(5, np.uint16),
            np.zeros(512, np.uint8),
            np.empty((2, 6, 6), np.uint16),
            np.empty((2, 6, 6), np.uint8),
            1,
        )
    with pytest.raises(TypeError, match="wrong dtype for this pooling mode"):
        _core.represent_fused(
            U8,
            0,
            t,
            2,
            2,
            1,
            np.array([0], np.uint8),
            False,
            np.empty((2, 1, 1, 3, 3), np.uint8),
            1,
        )
    ro = np.empty((2, 1, 6, 6), np.uint8)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="out must be writeable"):
        _core.binarize(U8, 0, t, False, ro, 1)


def test_int64_sums_that_overflow_are_refused():
    """Found by the fuzzer under UBSan: int64 window sums overflowed (undefined behaviour)."""
    big = np.full((1, 2, 2), 2**62, dtype=np.int64)
    with pytest.raises(ValueError, match=r"images: 3 window sum\(s\) overflow int64"):
        gb.pool(big, 2, mode="sum")
    with pytest.raises(ValueError, match="overflow int64"):
        gb.pool(big, 2, mode="mean")
    np.testing.assert_array_equal(gb.pool(big, 2, mode="max"), [[[2**62]]])
    with pytest.raises(ValueError, match=r"orbits: 4 sum\(s\) overflow"):
        gb.group_pool(np.full((2, 4), 2**62, dtype=np.int64), mode="sum", axis=0)
    np.testing.assert_array_equal(gb.pool(big // 4, 2, mode="sum"), [[[2**62]]])  # no overflow


def test_float32_sums_beyond_float32_are_refused():
    """A float32 window sum past float32's largest value would round to inf."""
    top = np.finfo(np.float32).max
    big = np.full((1, 2, 2), top, dtype=np.float32)
    with pytest.raises(ValueError, match=r"images: 1 window sum\(s\) overflow float32"):
        gb.pool(big, 2, mode="sum")
    with pytest.raises(ValueError, match=r"orbits: 2 sum\(s\) overflow float32"):
        gb.group_pool(np.full((2, 2), top, dtype=np.float32), mode="sum", axis=0)
    # the same values are fine where the result stays in range, or in float64
    np.testing.assert_array_equal(gb.pool(big, 2, mode="mean"), [[[top]]])
    np.testing.assert_array_equal(gb.pool(big, 2, mode="max"), [[[top]]])
    assert gb.pool(big.astype(np.float64), 2, mode="sum")[0, 0, 0] == 4.0 * float(top)
    half = np.full((1, 2, 2), top / 4, dtype=np.float32)
    assert np.isfinite(gb.pool(half, 2, mode="sum")).all()
    assert np.isfinite(gb.group_pool(np.full((2, 2), top, np.float32), mode="mean", axis=0)).all()


def test_core_refuses_thresholds_it_cannot_convert():
    out = np.empty((2, 1, 6, 6), np.uint8)
    for bad in (np.nan, 1e300, 0.5):
        with pytest.raises(ValueError, match="thresholds"):
            _core.binarize(U8, 0, np.array([bad]), False, out, 1)
    with pytest.raises(ValueError, match="thresholds must be finite"):
        _core.binarize(F32, 0, np.array([np.inf]), False, out, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: gb.pool(x[0], 2),
        lambda x: gb.binarize(x),
        lambda x: gb.orbit(x, "D4"),
        lambda x: gb.local_patterns(x[0], "D4"),
        lambda x: gb.group_pool(x[0]),
        lambda x: gb.represent_fused(x),
    ],
)
def test_shapes_beyond_memory_refused_with_their_size(call):
    """A (2**31, 2**31) view (one byte of data) must be refused before any allocation, with the
    size in the message, not by an out-of-memory kill."""
    x = np.broadcast_to(np.uint8(0), (1, 2**31, 2**31))
    with pytest.raises(
        ValueError, match=r"\(1?,? ?2147483648, 2147483648\) and need 4611686018427387904 bytes"
    ):
        call(x)


# -- unaligned arrays are copied, not refused -------------------------------------------------


def _unaligned(x):
    """A C-contiguous copy of ``x`` at an odd address (not aligned for its dtype)."""
    raw = np.zeros(x.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(x.dtype).reshape(x.shape)
    out[...] = x
    assert out.flags.c_contiguous and not out.flags.aligned
    return out


@pytest.mark.parametrize(
    "call",
    [
        lambda x: gb.binarize(x, 0.5),
        lambda x: gb.orbit(x, "D4"),
        lambda x: gb.pool(x, 2, mode="sum"),
        lambda x: gb.group_pool(x),
        lambda x: gb.represent_fused(x, 0.5),
        lambda x: gb.GlassBoxRepresentation(thresholds=[0.0, 0.5]).fit(x).transform(x),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16])
def test_unaligned_arrays_are_accepted_as_copies(call, dtype):
    x = np.random.default_rng(0).random((3, 8, 8)).astype(dtype)
    np.testing.assert_array_equal(call(_unaligned(x)), call(x))


# -- masked arrays: refused everywhere, never with their mask silently dropped ----------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m: gb.binarize(m), "images"),
        (lambda m: gb.orbit(m), "images"),
        (lambda m: gb.pool(m), "images"),
        (lambda m: gb.group_pool(m), "orbits"),
        (lambda m: gb.local_patterns(m > 100), "binary"),
        (lambda m: gb.represent_fused(m), "images"),
        (lambda m: gb.GlassBoxRepresentation().fit(m), "X"),
        (lambda m: gb.GlassBoxRepresentation(thresholds=4).fit(m.data).transform(m), "X"),
        (lambda m: gb.GlassBoxClassifier(n_components=3).fit(m, np.arange(12) % 2), "X"),
        (
            lambda m: gb.GlassBoxClassifier(n_components=3).fit(
                m.data, np.ma.masked_array(np.arange(12) % 2)
            ),
            "y",
        ),  # fmt: skip
        (lambda m: gb.metrics.separability(m.reshape(12, -1), np.arange(12) % 2), "X"),
        (lambda m: gb.metrics.relative_error(m, m.data), "actual"),
    ],
)
def test_masked_arrays_are_refused(call, name):
    x = np.random.default_rng(0).integers(0, 256, (12, 8, 8), dtype=np.uint8)
    m = np.ma.masked_array(x, mask=x > 200)
    with pytest.raises(TypeError, match=f"{name}: masked arrays are not supported"):
        call(m)


# -- outputs larger than the memory available: refused by every kernel -----------------------


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda x: gb.pool(x, 1, mode="sum"), "the output of pool"),  # int64: 8 bytes a pixel
        (lambda x: gb.group_pool(x[:, None], mode="sum"), "the output of group_pool"),
        (lambda x: gb.local_patterns(x > 100), "the outputs of local_patterns"),
        (lambda x: gb.orbit(x), "the output of orbit"),
        (lambda x: gb.binarize(x, [1, 2, 3, 4, 5, 6, 7, 8, 9]), "the output of binarize"),
    ],
)
def test_kernel_outputs_beyond_available_memory_are_refused(monkeypatch, call, what):
    from glassbox import _validation

    x = np.zeros((100, 100, 100), np.uint8)  # 1 MB in, 3 to 9 MB out
    monkeypatch.setattr(_validation, "memory_limit", lambda: 2_500_000)
    monkeypatch.setattr(_validation, "_ALWAYS_ALLOWED", 0)
    with pytest.raises(ValueError, match=f"{what} would have shape"):
        call(x)


def test_the_limit_is_the_memory_available_not_the_total():
    from glassbox import _validation

    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    limit = _validation.memory_limit()
    assert limit < total
    assert abs(limit - info["MemAvailable"]) < 0.2 * total or limit < info["MemAvailable"]


# -- check_int: the one check of integer arguments -------------------------------------------


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(200)])
def test_check_int_accepts_python_and_numpy_integers(value):
    from glassbox._validation import check_int

    got = check_int(value, "n")
    assert got == int(value) and type(got) is int


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (0, {}, ValueError, "n must be a positive int, got 0"),
        (np.int64(-2), {}, ValueError, "n must be a positive int, got -2"),
        (True, {}, ValueError, "n must be a positive int, got True"),
        (2.0, {}, ValueError, "n must be a positive int, got 2.0"),
        ("3", {}, ValueError, "n must be a positive int, got '3'"),
        (None, {}, ValueError, "n must be a positive int, got None"),
        (2.0, {"type_error": TypeError}, TypeError, "n must be a positive int, got float"),
        (1, {"min_val": 2}, ValueError, "n must be an int >= 2, got 1"),
        (9, {"max_val": 8}, ValueError, r"n must be an int in \[1, 8\], got 9"),
        (0, {"none_ok": True}, ValueError, "n must be None or a positive int, got 0"),
        (1.5, {"min_val": None, "none_ok": True}, ValueError, "n must be None or an int, got 1.5"),
        (0, {"hint": "why"}, ValueError, r"n must be a positive int \(why\), got 0"),
    ],
)
def test_check_int_refuses_naming_the_argument(value, kwargs, error, message):
    from glassbox._validation import check_int

    with pytest.raises(error, match=f"^{message}$"):
        check_int(value, "n", **kwargs)


def test_check_int_passes_none_through_when_allowed():
    from glassbox._validation import check_int

    assert check_int(None, "n", none_ok=True) is None
    assert check_int(-5, "n", min_val=None) == -5
