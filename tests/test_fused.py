from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

import _reference as ref
from conftest import GROUPS, THREADS, make_images

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


def thresholds_for(dtype):
    return (
        [30, 127, 200]
        if np.dtype(dtype) == np.uint8
        else ([100, 40000] if np.dtype(dtype) == np.uint16 else [-0.5, 0.3])
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["fixed", "otsu", "mean"])
@pytest.mark.parametrize("mode", ["max", "sum", "mean"])
@pytest.mark.parametrize(
    ("shape", "size", "stride"),
    [((28, 28), 2, None), ((9, 9), 3, 2), ((1, 1), 1, None), ((7, 7), 2, None)],
)
def test_equals_orbit_of_pool_of_binarize(dtype, method, mode, shape, size, stride):
    x = make_images(dtype, shape, n=4)
    t = ref.default_threshold(dtype) if method == "fixed" else None
    got = gb.represent_fused(x, t, method=method, size=size, stride=stride, mode=mode)
    want = ref.represent_fused(x, t, method, "D4", size, stride, mode)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    # and the public kernels composed give the same values
    composed = gb.orbit(gb.pool(gb.binarize(x, t, method=method), size, stride, mode=mode), "D4")
    np.testing.assert_array_equal(got, composed.astype(got.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("n_threads", THREADS)
def test_several_thresholds_and_groups(dtype, group, n_threads):
    x = make_images(dtype, (12, 12), n=3)
    ts = thresholds_for(dtype)
    got = gb.represent_fused(x, ts, group=group, n_threads=n_threads)
    assert got.shape == (3, get_group(group).order, len(ts), 6, 6)
    np.testing.assert_array_equal(got, ref.represent_fused(x, ts, group=group))


@pytest.mark.parametrize("group", ["D4", "C4", "D2", "trivial"])
@pytest.mark.parametrize("shape", [(28, 28), (10, 10), (18, 18)])
def test_packed(group, shape):
    x = make_images(np.uint8, shape, n=3)
    got = gb.represent_fused(x, [60, 127], group=group, packed=True)
    np.testing.assert_array_equal(got, ref.represent_fused(x, [60, 127], group=group, packed=True))
    unpacked = gb.unpack_bits(got, shape[1] // 2)
    np.testing.assert_array_equal(unpacked, gb.represent_fused(x, [60, 127], group=group))


def test_non_square_with_shape_keeping_group():
    x = make_images(np.uint8, (8, 12), n=2)
    np.testing.assert_array_equal(
        gb.represent_fused(x, group="D2"), ref.represent_fused(x, group="D2")
    )
    with pytest.raises(ValueError, match="pooled grid of images"):
        gb.represent_fused(x, group="D4")


@pytest.mark.parametrize(
    ("shape", "size", "stride"), [((28, 28), 2, 2), ((9, 9), 3, 3), ((7, 7), 3, 2), ((8, 8), 2, 1)]
)
@pytest.mark.parametrize("mode", ["max", "sum", "mean"])
def test_pooling_commutes_with_d4_on_symmetric_grids(shape, size, stride, mode):
    """The fused pass pools first, then orbits; on a symmetric grid that equals pooling the
    orbit of the binary images (pool(g.b) == g.pool(b) for every g), which is why pooling can
    run once per image instead of once per group element."""
    x = make_images(np.uint8, shape, n=3)
    fused = gb.represent_fused(x, 127, size=size, stride=stride, mode=mode)
    orbit_then_pool = gb.pool(gb.orbit(gb.binarize(x, 127), "D4"), size, stride, mode=mode)
    np.testing.assert_array_equal(fused, orbit_then_pool.astype(fused.dtype))


def test_preallocated_out():
    x = make_images(np.uint8, (28, 28), n=5)
    out = np.empty((5, 8, 14, 14), dtype=np.uint8)
    res = gb.represent_fused(x, 127, out=out)
    assert res is out
    np.testing.assert_array_equal(out, ref.represent_fused(x, 127))
    packed = np.empty((5, 8, 2, 14, 2), dtype=np.uint8)
    assert gb.represent_fused(x, [50, 127], packed=True, out=packed) is packed
    np.testing.assert_array_equal(packed, ref.represent_fused(x, [50, 127], packed=True))


def test_out_checked():
    x = make_images(np.uint8, (8, 8), n=2)
    with pytest.raises(ValueError, match=r"out must have shape \(2, 8, 4, 4\)"):
        gb.represent_fused(x, out=np.empty((2, 8, 4, 5), np.uint8))
    with pytest.raises(TypeError, match="out must have dtype uint8"):
        gb.represent_fused(x, out=np.empty((2, 8, 4, 4), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        gb.represent_fused(x, out=np.empty((2, 8, 4, 8), np.uint8)[..., ::2])
    ro = np.empty((2, 8, 4, 4), np.uint8)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writeable"):
        gb.represent_fused(x, out=ro)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        gb.represent_fused(x, out=[[0]])
    buf = np.zeros(2 * 8 * 8 * 8, np.uint8)
    with pytest.raises(ValueError, match="share memory"):
        gb.represent_fused(buf[:128].reshape(2, 8, 8), out=buf[:256].reshape(2, 8, 4, 4))
    with pytest.raises(ValueError, match="packed=True needs mode='max'"):
        gb.represent_fused(x, packed=True, mode="sum")


def test_sum_dtype_widens_for_large_windows():
    x = make_images(np.uint8, (16, 16), n=2)
    got = gb.represent_fused(x, 100, size=16, mode="sum", group="trivial")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[:, 0, 0, 0], (x > 100).reshape(2, -1).sum(1))


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("method", ["fixed", "otsu"])
def test_small_image_path_every_size(packed, method):
    """uint8 images 16..32 pixels wide with 2x2 max-pooling take a bit-mask path (pooled rows as
    16-bit masks, the group acting on the masks): equal to the reference for every width and
    height it covers, every D4 element, thresholds at the ends of the range, odd sides (and the
    sides of the copies compiled for 14 x 14 and 16 x 16 pooled planes, 28 / 29 and 32 / 33)."""
    rng = np.random.default_rng(7)
    for H in (2, 3, 15, 16, 17, 28, 29, 32, 33, 34):
        for W in (16, 17, 22, 28, 29, 31, 32, 33):
            x = rng.integers(0, 256, (3, H, W), dtype=np.uint8)
            x[0] = 255
            x[1, ::2] = 0
            group = "D4" if H == W else "D2"
            t = [0, 127, 200, 254] if method == "fixed" else None
            got = gb.represent_fused(x, t, method=method, group=group, packed=packed)
            want = ref.represent_fused(x, t, method, group, 2, 2, "max", packed)
            np.testing.assert_array_equal(got, want, err_msg=f"{H}x{W}")


@pytest.mark.parametrize("side", [64, 70, 100])
def test_large_planes_every_element(side):
    """Pooled planes of 32 to 50 pixels: transposed in 16 x 16 blocks plus edges."""
    x = make_images(np.uint8, (side, side), n=2, seed=side)
    for packed in (False, True):
        got = gb.represent_fused(x, [60, 180], group="D4", packed=packed)
        want = ref.represent_fused(x, [60, 180], "fixed", "D4", 2, 2, "max", packed)
        np.testing.assert_array_equal(got, want)
    got = gb.represent_fused(x, 100, group="D4", mode="sum")
    np.testing.assert_array_equal(
        got, ref.represent_fused(x, 100, "fixed", "D4", 2, 2, "sum", False)
    )


def test_simd_switch_reports_the_cpu():
    before = gb._core._set_fused_avx2(False)
    try:
        assert gb._core._fused_avx2_enabled() is False
        gb._core._set_fused_avx2(True)
        on = gb._core._fused_avx2_enabled()
    finally:
        gb._core._set_fused_avx2(before)
    assert on == before  # on exactly when the CPU supports it, as decided at first use


@pytest.mark.parametrize("packed", [False, True])
def test_bit_paths_every_size(simd, packed):
    """uint8 images with "> t" and 2x2 max-pooling take bit-plane paths: up to 32 columns the
    pooled rows in one register, wider as bit matrices (pooled with 32- or 64-column vectors and
    an overlapping last chunk, transposed in 16 x 128 blocks, reversed by words or, for rows
    of whole bytes with AVX2, by byte shuffles).  Every side
    around the vector and block edges, every D4 element, several thresholds (one output segment
    per plane), a fractional one, one that is never exceeded (255), constant images."""
    rng = np.random.default_rng(11)
    # around vector widths (32 / 64 columns), transpose blocks (16 rows, 128 columns) and the
    # whole-byte row reversal (pooled widths that are multiples of 8, and of 128)
    sides = [16, 17, 28, 33, 34, 35, 63, 64, 65, 66, 97, 128, 129, 130, 161, 224, 256, 258]
    sides += [290, 512]
    for side in sides:
        x = rng.integers(0, 256, (3, side, side), dtype=np.uint8)
        x[0] = 255
        x[1, ::2] = 0
        for t in ([0, 127, 200, 254], 127, [0, 100.5, 255]):
            got = gb.represent_fused(x, t, group="D4", packed=packed)
            want = ref.represent_fused(x, t, "fixed", "D4", 2, 2, "max", packed)
            np.testing.assert_array_equal(got, want, err_msg=f"side {side}, t {t}")


@pytest.mark.parametrize("shape", [(40, 70), (70, 40), (35, 257), (301, 66), (3, 64), (64, 3)])
@pytest.mark.parametrize("group", ["D2", "trivial", "D1h", "D1v"])
def test_bit_paths_non_square(simd, shape, group):
    x = make_images(np.uint8, shape, n=3, seed=sum(shape))
    for packed in (False, True):
        got = gb.represent_fused(x, [50, 127], group=group, packed=packed)
        want = ref.represent_fused(x, [50, 127], "fixed", group, 2, 2, "max", packed)
        np.testing.assert_array_equal(got, want, err_msg=str(shape))


@pytest.mark.parametrize("side", [28, 32, 64, 100])
def test_large_outputs_streamed_equal(simd, side):
    """Outputs of 16 MB and more are written with streaming stores: every byte lands, in a
    caller's out= and in a fresh array, with 1 and 2 threads.  The out= is 64-byte aligned (pooled
    rows of 32 bytes at side 64 then go straight to memory, without the staging buffer) and offset
    by 3 bytes inside a larger buffer (unaligned rows: staged)."""
    n = {28: 12_000, 32: 8_000, 64: 2_000, 100: 900}[side]  # 18.8 / 16.4 / 16.4 / 18 MB of output
    x = make_images(np.uint8, (side, side), n=n, seed=side)
    want = ref.represent_fused(x, 127, "fixed", "D4", 2, 2, "max", False)
    buf = np.full(want.size + 64 + 3, 7, dtype=np.uint8)
    aligned = -buf.ctypes.data % 64
    for offset in (aligned, aligned + 3):
        buf[...] = 7
        out = buf[offset : offset + want.size].reshape(want.shape)
        for n_threads in (1, 2):
            out[...] = 9
            gb.represent_fused(x, 127, out=out, n_threads=n_threads)
            np.testing.assert_array_equal(out, want)
            assert (buf[:offset] == 7).all() and (buf[offset + want.size :] == 7).all()
    for n_threads in (1, 2, 3):  # a fresh output is handed out in wider chunks
        np.testing.assert_array_equal(gb.represent_fused(x, 127, n_threads=n_threads), want)


@pytest.mark.parametrize("shape", [(28, 28), (18, 18), (17, 31), (33, 16), (29, 28), (32, 33)])
def test_small_outputs_written_in_place_stop_at_the_end(simd, shape):
    """Outputs below the streaming size take the small-image path's bytes straight into the
    output, the last row pair of each plane written exactly: nothing lands past the output, nor in
    planes written before (several thresholds interleave the planes), with 1 and 2 threads."""
    x = make_images(np.uint8, shape, n=37, seed=shape[0])
    group = "D4" if shape[0] == shape[1] else "D2"
    want = ref.represent_fused(x, [60, 127, 200], "fixed", group, 2, 2, "max", False)
    buf = np.full(want.size + 64, 7, dtype=np.uint8)
    out = buf[: want.size].reshape(want.shape)
    for n_threads in (1, 2):
        out[...] = 9
        gb.represent_fused(x, [60, 127, 200], group=group, out=out, n_threads=n_threads)
        np.testing.assert_array_equal(out, want)
        assert (buf[want.size :] == 7).all()
