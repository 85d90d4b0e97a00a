from __future__ import annotations

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

import _reference as ref
from conftest import GROUPS, SHAPES, THREADS, fits, make_images

DTYPES = [np.uint8, np.bool_, np.float32, np.float64, np.uint16, np.int64, np.int32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("group", GROUPS)
def test_matches_reference(dtype, shape, group):
    x = make_images(dtype, shape, n=3)
    if not fits(group, shape):
        with pytest.raises(ValueError, match="non-square"):
            gb.orbit(x, group)
        return
    got = gb.orbit(x, group)
    assert got.dtype == x.dtype and got.shape == (3, get_group(group).order, *shape)
    np.testing.assert_array_equal(got, ref.orbit(x, group))
    g = get_group(group)
    for i in range(g.order):  # the contract, stated directly
        np.testing.assert_array_equal(got[:, i], g.apply(x, i))


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape", [(5, 5), (40, 40), (3, 6)])
def test_channels(n_threads, shape):
    x = make_images(np.float32, shape, n=2).reshape(2, 1, *shape).repeat(3, axis=1) * np.arange(
        3
    ).reshape(1, 3, 1, 1)
    x = np.ascontiguousarray(x, dtype=np.float32)
    group = "D4" if shape[0] == shape[1] else "D2"
    got = gb.orbit(x, group, n_threads=n_threads)
    assert got.shape == (2, get_group(group).order, 3, *shape)
    np.testing.assert_array_equal(got, ref.orbit(x, group))


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (8, 8), (13, 13), (3, 10), (28, 28)])
def test_packed(group, shape):
    x = make_images(np.uint8, shape, n=3)
    planes = gb.binarize(x, [50, 200])
    packed = gb.binarize(x, [50, 200], packed=True)
    if not fits(group, shape):
        with pytest.raises(ValueError, match="non-square"):
            gb.orbit(packed, group, packed_width=shape[1])
        return
    got = gb.orbit(packed, group, packed_width=shape[1])
    np.testing.assert_array_equal(
        got, np.packbits(ref.orbit(planes, group), axis=-1, bitorder="little")
    )
    got3 = gb.orbit(packed[:, 0], group, packed_width=shape[1])
    np.testing.assert_array_equal(gb.unpack_bits(got3, shape[1]), ref.orbit(planes[:, 0], group))


def test_packed_width_checked():
    packed = gb.binarize(make_images(np.uint8, (8, 8)), 100, packed=True)
    with pytest.raises(ValueError, match="packed_width=9 needs 2"):
        gb.orbit(packed, packed_width=9)
    with pytest.raises(TypeError, match="uint8"):
        gb.orbit(packed.astype(np.uint16), packed_width=8)


def test_nan_and_inf_are_carried_unchanged():
    x = np.array([[[np.nan, 1.0], [np.inf, -np.inf]]])
    got = gb.orbit(x, "D4")
    np.testing.assert_array_equal(got, ref.orbit(x, "D4"))  # assert_array_equal: NaN == NaN


def test_large_image_tiles():
    # larger than the 16-row tile of the transposing kernels, and not a multiple of it
    x = make_images(np.uint8, (67, 67), n=2)
    np.testing.assert_array_equal(gb.orbit(x, "D4", n_threads=2), ref.orbit(x, "D4"))


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.uint16, np.float32])
@pytest.mark.parametrize("side", [15, 16, 17, 23, 24, 28, 31, 32, 40, 47, 64])
def test_transposing_elements_on_blocked_sizes(dtype, side):
    """Byte planes are transposed in 16 x 16 SSE2 blocks, the last ones moved back to overlap
    when 8 or more rows or columns remain, plus scalar edges: sides below, at and around
    multiples of 16, and remainders on either side of 8, give the reference's result for every
    D4 element."""
    x = make_images(dtype, (side, side), n=3, seed=side)
    np.testing.assert_array_equal(gb.orbit(x, "D4"), ref.orbit(x, "D4"))
    y = make_images(dtype, (side, side + 16), n=2, seed=side)
    np.testing.assert_array_equal(gb.orbit(y, "D2"), ref.orbit(y, "D2"))


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_])
@pytest.mark.parametrize("n_threads", THREADS)
def test_small_planes_moved_in_registers(dtype, n_threads):
    """Byte planes of up to 16 x 16 are moved as one 16 x 16 block in registers (row order,
    reversed rows, one block transpose) and leave a staging buffer whole: every side up to and
    past 16, non-square planes under the groups that keep the shape, several channels, every
    group, give the reference's result."""
    shapes = [(s, s) for s in range(1, 18)] + [(1, 16), (16, 1), (3, 14), (14, 3), (7, 9), (16, 15)]
    for h, w in shapes:
        x = make_images(dtype, (h, w), n=5, seed=h * 17 + w)
        for group in GROUPS:
            if fits(group, (h, w)):
                np.testing.assert_array_equal(
                    gb.orbit(x, group, n_threads=n_threads), ref.orbit(x, group), err_msg=group
                )
        c = np.ascontiguousarray(np.stack([x, x[::-1], x[:, ::-1]], axis=1))
        group = "D4" if h == w else "D2"
        np.testing.assert_array_equal(gb.orbit(c, group, n_threads=n_threads), ref.orbit(c, group))
