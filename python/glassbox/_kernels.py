"""Public kernel functions: thin, validated wrappers around the compiled core.

Each function checks its arguments (errors name the argument), makes the input C-contiguous in
native byte order (strided and negative-stride views are copied, never rejected), allocates the
output and makes one call into C++, which runs without the GIL on ``n_threads`` OpenMP threads.
Results never depend on ``n_threads``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from . import _core
from ._validation import (
    IMAGE_DTYPES,
    POOL_DTYPES,
    as_array,
    check_allocation,
    check_int,
    check_out,
    choice,
    refuse_nonfinite,
    resolve_n_threads,
)
from .groups import get_group

__all__ = [
    "LocalPatterns",
    "PatternTable",
    "binarize",
    "cell_histograms",
    "group_pool",
    "local_patterns",
    "orbit",
    "pattern_table",
    "pool",
    "represent_fused",
    "unpack_bits",
]

_METHODS = ("fixed", "otsu", "mean")
_POOL_MODES = ("max", "mean", "sum")
_OTSU_MAX_PIXELS = _core.OTSU_MAX_PIXELS  # 2**27


_UINT_RANGE = {1: (0, 255), 2: (0, 65535)}  # by itemsize: the unsigned image dtypes
_NOT_FINITE = "thresholds must be finite (no NaN or inf)"


def _out_of_range(dtype: np.dtype, values: list) -> ValueError:
    low, high = _UINT_RANGE[dtype.itemsize]
    return ValueError(f"thresholds must lie in [{low}, {high}] for {dtype} images, got {values}")


def _default_threshold(dtype: np.dtype) -> float:
    if dtype.kind == "u":
        return float(_UINT_RANGE[dtype.itemsize][1] // 2)  # 127 for uint8, 32767 for uint16
    return 0.5


def _thresholds(thresholds, method: str, dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """Threshold values as float64 (floored for integer images) and whether one plane was asked
    for with a scalar (output without the plane axis)."""
    if method != "fixed":
        if thresholds is not None:
            raise ValueError(
                f"thresholds must be None with method={method!r} (one per image is computed)"
            )
        return np.zeros(1), True
    if thresholds is None:
        thresholds = _default_threshold(dtype)
    # the common case, a plain Python number, without a dozen tiny NumPy calls (each costs tens
    # of microseconds when the caches are cold, which is what a call after idle time meets)
    if type(thresholds) is float or (type(thresholds) is int and abs(thresholds) < 2**53):
        value = float(thresholds)
        if not math.isfinite(value):
            raise ValueError(_NOT_FINITE)
        if dtype.kind == "u":
            low, high = _UINT_RANGE[dtype.itemsize]
            if not low <= value <= high:
                raise _out_of_range(dtype, [value])
            value = float(math.floor(value))
        return np.array([value]), True
    t = np.asarray(thresholds)
    if t.dtype.kind not in "uif":
        raise TypeError(f"thresholds must be real numbers, got dtype {t.dtype}")
    if t.ndim > 1:
        raise ValueError(f"thresholds must be a scalar or a 1-D sequence, got shape {t.shape}")
    if t.size == 0:
        raise ValueError("thresholds must not be empty")
    scalar = t.ndim == 0
    t = np.atleast_1d(t).astype(np.float64)
    if not np.all(np.isfinite(t)):
        raise ValueError(_NOT_FINITE)
    if dtype.kind == "u":
        low, high = _UINT_RANGE[dtype.itemsize]
        if np.any(t < low) or np.any(t > high):
            raise _out_of_range(dtype, t.tolist())
        t = np.floor(t)  # x > t  <=>  x > floor(t) for integer x
    return np.ascontiguousarray(t), scalar


def _method_code(method: str) -> int:
    return _METHODS.index(choice(method, "method", _METHODS))


def _images_and_thresholds(images, thresholds, method, n_threads: int):
    """The checked images, method code, thresholds and scalar flag of binarize-like calls."""
    images = as_array(images, "images", dtypes=IMAGE_DTYPES, ndims=(3,), n_threads=n_threads)
    code = _method_code(method)
    _, H, W = images.shape
    if method == "otsu" and H * W > _OTSU_MAX_PIXELS:
        raise ValueError(
            f"method='otsu' supports images of at most 2**27 pixels; images are {H}x{W}"
        )
    t, scalar = _thresholds(thresholds, method, images.dtype)
    return images, code, t, scalar


def binarize(images, thresholds=None, *, method="fixed", packed=False, n_threads=None):
    """Binary planes ``pixel > threshold``.

    Parameters
    ----------
    images : array_like of uint8, uint16, float32 or float64, shape (N, H, W)
        A batch of grey-level images.  Float images must be finite.
    thresholds : scalar or 1-D sequence of K numbers, optional
        With ``method="fixed"``: the thresholds.  A scalar gives one plane per image, shape
        (N, H, W); a sequence gives K planes, shape (N, K, H, W) (also for K = 1).  For integer
        images they must lie within the dtype's range (a pixel ``x`` is 1 when ``x > t``, i.e.
        ``x > floor(t)``).  Default: 127 for uint8, 32767 for uint16, 0.5 for floats.  Must be
        None for the other methods.
    method : {"fixed", "otsu", "mean"}
        ``"otsu"``: one threshold per image maximising the between-class variance of a 256-bin
        histogram (uint8: the grey values themselves; other dtypes: 256 equal bins spanning the
        image's [min, max], a pixel is 1 when its bin is above the chosen one).  A constant image
        gives all zeros.  Images may have at most 2**27 pixels.  ``"mean"``: one threshold per
        image, its mean (exact for integer images; a sequential float64 sum for floats).
    packed : bool
        Return bit-packed planes: the last axis becomes ``ceil(W / 8)`` bytes, pixel ``j`` of a
        row being bit ``j % 8`` (least significant first) of byte ``j // 8``, padding bits 0.
        This is ``np.packbits(planes, axis=-1, bitorder="little")``; :func:`unpack_bits` inverts
        it.
    n_threads : int, optional
        OpenMP threads.  None: the default (honours ``OMP_NUM_THREADS``); negative values count
        back from the number of CPUs (-1 = all); 0 is an error.

    Returns
    -------
    ndarray of uint8 in {0, 1}
        (N, H, W) or (N, K, H, W); with ``packed``, the last axis is ``ceil(W / 8)``.

    Raises
    ------
    TypeError
        Unsupported dtype of ``images`` or ``thresholds``.
    ValueError
        Wrong shape, empty input, NaN or inf, thresholds outside the dtype's range, unknown method.

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.array([[[0, 100, 200]]], dtype=np.uint8)
    >>> glassbox.binarize(x, 127)
    array([[[0, 0, 1]]], dtype=uint8)
    >>> glassbox.binarize(x, [50, 150]).shape
    (1, 2, 1, 3)
    """
    nt = resolve_n_threads(n_threads)
    images, code, t, scalar = _images_and_thresholds(images, thresholds, method, nt)
    N, H, W = images.shape
    packed = bool(packed)
    shape = (N, t.size, H, (W + 7) // 8 if packed else W)
    check_allocation(shape, np.uint8, "the output of binarize")
    out = np.empty(shape, dtype=np.uint8)
    _core.binarize(images, code, t, packed, out, nt)
    return out[:, 0] if scalar else out


def unpack_bits(packed, width):
    """Invert the bit packing of :func:`binarize` and :func:`represent_fused`.

    Parameters
    ----------
    packed : array_like of uint8, shape (..., ceil(width / 8))
        Bit-packed rows.
    width : int
        Number of pixels per row.

    Returns
    -------
    ndarray of uint8 in {0, 1}, shape (..., width)

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> glassbox.unpack_bits(np.array([[0b101]], dtype=np.uint8), 3)
    array([[1, 0, 1]], dtype=uint8)
    """
    width = check_int(width, "width", type_error=TypeError)
    packed = as_array(packed, "packed", dtypes=(np.dtype(np.uint8),), min_ndim=1)
    if packed.shape[-1] != (width + 7) // 8:
        raise ValueError(
            f"packed has {packed.shape[-1]} bytes per row but width={width} "
            f"needs {(width + 7) // 8}"
        )
    return np.unpackbits(packed, axis=-1, count=width, bitorder="little")


def _orbit_dtype_ok(dtype: np.dtype) -> bool:
    return dtype.kind in "buif" and dtype.itemsize in (1, 2, 4, 8)


def orbit(images, group="D4", *, packed_width=None, n_threads=None):
    """Every element of a group applied to every image.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
        Boolean, integer or float images (or, with ``packed_width``, bit-packed planes of uint8
        as returned by ``binarize(..., packed=True)``, shape (N, [C,] H, ceil(packed_width / 8))).
        Values are only moved, never inspected: NaN and inf are carried unchanged.
    group : str or Group
        A subgroup of D4 (see :mod:`glassbox.groups`).  Groups with 90-degree rotations or
        transposes (``C4``, ``D1t``, ``D4``) need square images.
    packed_width : int, optional
        The logical width W of bit-packed input; the output is bit-packed the same way.
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    ndarray, same dtype as ``images``
        Shape (N, |G|, H, W) or (N, |G|, C, H, W), with ``out[:, i] == group.apply(images, i)``.

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.arange(4, dtype=np.uint8).reshape(1, 2, 2)
    >>> o = glassbox.orbit(x, "C4")
    >>> o.shape
    (1, 4, 2, 2)
    >>> bool((o[:, 1] == np.rot90(x, 1, axes=(-2, -1))).all())
    True
    """
    nt = resolve_n_threads(n_threads)
    g = get_group(group)
    if packed_width is not None:
        width = check_int(packed_width, "packed_width", type_error=TypeError)
        images = as_array(
            images, "images", dtypes=(np.dtype(np.uint8),), ndims=(3, 4), n_threads=nt
        )
        if images.shape[-1] != (width + 7) // 8:
            raise ValueError(
                f"images has {images.shape[-1]} bytes per row but packed_width={width} needs "
                f"{(width + 7) // 8}"
            )
        g.check_shape(images.shape[:-1] + (width,))
    else:
        arr = images if isinstance(images, np.ndarray) else np.asarray(images)
        if not _orbit_dtype_ok(arr.dtype):
            raise TypeError(
                f"images must be a boolean, integer or float array, got dtype {arr.dtype}"
            )
        images = as_array(
            arr, "images", dtypes=(arr.dtype.newbyteorder("="),), ndims=(3, 4), finite=False
        )
        g.check_shape(images.shape)
    squeeze = images.ndim == 3
    x4 = images[:, None] if squeeze else images
    N, C, H, Wlast = x4.shape
    shape = (N, g.order, C, H, Wlast)
    check_allocation(shape, images.dtype, "the output of orbit")
    out = np.empty(shape, dtype=images.dtype)
    if packed_width is not None:
        _core.orbit_packed(x4, width, g.codes, out, nt)
    else:
        _core.orbit(x4, g.codes, out, nt)
    return out[:, :, 0] if squeeze else out


def _pool_out_dtype(dtype: np.dtype, mode: str) -> np.dtype:
    if mode == "max":
        return dtype
    if mode == "sum":
        return np.dtype(np.int64) if dtype.kind in "biu" else dtype
    return (
        np.dtype(np.float64)
        if dtype in (np.dtype(np.float64), np.dtype(np.int64))
        else np.dtype(np.float32)
    )


def pool(images, size=2, stride=None, *, mode="max", n_threads=None):
    """Spatial pooling over the last two axes.

    Border rule: only windows that fit entirely are used ("valid" pooling, as PyTorch's
    ``ceil_mode=False``); the output has ``(H - size) // stride + 1`` rows (likewise columns),
    and rows or columns left over at the bottom and right are ignored.  When
    ``(H - size) % stride == 0`` (and likewise for W) the windows cover the image symmetrically and
    pooling commutes with the D4 actions: ``pool(g·x) == g·pool(x)`` (exactly for ``"max"`` and for
    integer and boolean input; for float sums and means up to the rounding of the summation order).

    Parameters
    ----------
    images : array_like, shape (..., H, W)
        bool, uint8, uint16, int64, float32 or float64; float input must be finite.
    size : int
        Window side.  Must not exceed H or W.
    stride : int, optional
        Step between windows; default ``size``.
    mode : {"max", "mean", "sum"}
        ``"max"`` keeps the dtype.  ``"sum"``: int64 for boolean and integer input (exact; int64
        sums that would overflow raise ``ValueError``), the input dtype for floats (accumulated
        in float64 from zero: each window column top to bottom, then the column sums left to
        right; float32 sums beyond float32's range raise ``ValueError``).  ``"mean"``: the sum
        divided by ``size**2``, float32 (float64 for float64 and int64 input).
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    ndarray, shape (..., OH, OW)

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    >>> glassbox.pool(x, 2)
    array([[[ 5,  7],
            [13, 15]]], dtype=uint8)
    """
    nt = resolve_n_threads(n_threads)
    mode = choice(mode, "mode", _POOL_MODES)
    images = as_array(images, "images", dtypes=POOL_DTYPES, min_ndim=2, finite=False)
    size = check_int(size, "size", type_error=TypeError)
    stride = size if stride is None else check_int(stride, "stride", type_error=TypeError)
    *lead, H, W = images.shape
    if size > H or size > W:
        raise ValueError(f"size={size} is larger than the images ({H}x{W})")
    stride = min(stride, max(H, W))  # any larger stride gives the same single window per axis
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
    # Float input must be finite.  When every pixel lies in a window, a sum (or mean) is NaN or
    # inf exactly when one of its pixels is, or when it overflowed: the output, a quarter of
    # the input's bytes at 2x2, is checked instead, and the input only to tell which.
    covered = stride <= size and (H - size) % stride == 0 and (W - size) % stride == 0
    check_output = mode != "max" and covered and images.dtype.kind == "f"
    if not check_output:
        refuse_nonfinite(images, "images", nt)
    B = math.prod(lead)
    out_dtype = _pool_out_dtype(images.dtype, mode)
    check_allocation((*lead, OH, OW), out_dtype, "the output of pool")
    out = np.empty((B, OH, OW), dtype=out_dtype)
    overflows = _core.pool(images.reshape(B, H, W), size, stride, _POOL_MODES.index(mode), out, nt)
    if overflows:
        raise ValueError(f"images: {overflows} window sum(s) overflow int64; use float64 input")
    if not check_output or _core.count_nonfinite(out, nt):
        if check_output:
            refuse_nonfinite(images, "images", nt)
        _refuse_float32_overflow(out, mode, "images: {} window sum(s)", nt)
    return out.reshape(*lead, OH, OW)


def _refuse_float32_overflow(out, mode, what, nt):
    """float32 sums are accumulated in float64 and rounded to float32 at the end: one beyond
    float32's range (finite input, checked before) would come out as inf.  Refused like an int64
    overflow, rather than returned without a word."""
    if mode == "sum" and out.dtype == np.float32:
        bad = _core.count_nonfinite(out, nt)
        if bad:
            raise ValueError(f"{what.format(bad)} overflow float32; use float64 input")


def group_pool(orbits, *, mode="mean", axis=1, n_threads=None):
    """Pooling over the group axis of an orbit: a result exactly invariant under the group.

    Parameters
    ----------
    orbits : array_like
        For example the output of :func:`orbit` (group axis 1).  bool, uint8, uint16, int64,
        float32 or float64; float input must be finite.
    mode : {"mean", "max", "sum"}
        Reduction over the axis.  The result depends only on the multiset of values along the
        axis, so permuting it (which is what a group element does to an orbit) changes nothing,
        bit for bit: integer sums are exact, and float values are sorted before being summed in
        float64.  Output dtypes follow :func:`pool`.
    axis : int
        The group axis.
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    ndarray
        ``orbits`` without ``axis``.

    Raises
    ------
    ValueError
        Also when an int64 sum would overflow, or a float32 sum would pass float32's range.

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.arange(9, dtype=np.uint8).reshape(1, 3, 3)
    >>> inv = glassbox.group_pool(glassbox.orbit(x, "D4"), mode="max")
    >>> rx = np.rot90(x, axes=(1, 2))
    >>> bool((inv == glassbox.group_pool(glassbox.orbit(rx, "D4"), mode="max")).all())
    True
    """
    nt = resolve_n_threads(n_threads)
    mode = choice(mode, "mode", _POOL_MODES)
    orbits = as_array(orbits, "orbits", dtypes=POOL_DTYPES, min_ndim=1, n_threads=nt)
    axis = check_int(axis, "axis", min_val=None, type_error=TypeError)
    if not -orbits.ndim <= axis < orbits.ndim:
        raise ValueError(f"axis={axis} is out of range for orbits with {orbits.ndim} dimensions")
    axis = int(axis) % orbits.ndim
    shape = orbits.shape
    outer, L, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
    out_dtype = _pool_out_dtype(orbits.dtype, mode)
    check_allocation(shape[:axis] + shape[axis + 1 :], out_dtype, "the output of group_pool")
    out = np.empty((outer, inner), dtype=out_dtype)
    overflows = _core.group_pool(orbits.reshape(outer, L, inner), _POOL_MODES.index(mode), out, nt)
    if overflows:
        raise ValueError(f"orbits: {overflows} sum(s) overflow int64; use float64 input")
    _refuse_float32_overflow(out, mode, "orbits: {} sum(s)", nt)
    return out.reshape(shape[:axis] + shape[axis + 1 :])


class PatternTable(NamedTuple):
    """Lookup tables of local binary patterns under a group (see :func:`pattern_table`)."""

    canonical_codes: np.ndarray
    """(n_classes,) the smallest code of each orbit class, ascending (class i is code
    canonical_codes[i])."""
    class_of_code: np.ndarray
    """(2**(size*size),) uint16: the class index of every code."""
    element_of_code: np.ndarray
    """(2**(size*size),) uint8: the first group element (index) carrying the code to its class's
    canonical code."""


class LocalPatterns(NamedTuple):
    """Result of :func:`local_patterns`: per-pixel orbit classes and group elements."""

    classes: np.ndarray
    """uint16, the orbit class of each pixel's neighbourhood (invariant part)."""
    elements: np.ndarray
    """uint8, a group element carrying the neighbourhood to its canonical form (equivariant
    part)."""


def _check_pattern_size(size) -> int:
    size = check_int(size, "size", type_error=TypeError)
    if size not in (1, 3):
        raise ValueError(f"size must be 1 or 3, got {size} (a 5x5 table would have 2**25 entries)")
    return size


@functools.cache
def _pattern_table(group_name: str, size: int) -> PatternTable:
    g = get_group(group_name)
    n_bits = size * size
    codes = np.arange(2**n_bits, dtype=np.int64)
    bits = (codes[:, None] >> np.arange(n_bits)) & 1  # bit k = patch position k (row-major)
    moved = np.empty((g.order, codes.size), dtype=np.int64)
    for i in range(g.order):
        dest = g.act_on_index(i, size, size).ravel()  # patch position k goes to dest[k]
        moved[i] = (bits << dest).sum(axis=1)
    canonical = moved.min(axis=0)
    element = np.argmax(moved == canonical, axis=0).astype(np.uint8)
    classes, class_of_code = np.unique(canonical, return_inverse=True)
    table = PatternTable(classes, class_of_code.astype(np.uint16).ravel(), element)
    for a in table:
        a.setflags(write=False)
    return table


def pattern_table(group="D4", size=3):
    """Orbit classes of the size x size binary patterns under a group.

    A pattern's code has bit ``r * size + c`` set when the neighbour at row offset
    ``r - size // 2`` and column offset ``c - size // 2`` is 1.  The group acts on the patch as on
    an image (about its centre pixel); a class is an orbit of codes, represented by its smallest
    code.  The number of classes is Burnside's count: 102 for D4, 140 for C4 and 512 for the
    trivial group with 3x3 patches.

    Parameters
    ----------
    group : str or Group
    size : {1, 3}

    Returns
    -------
    PatternTable
        Read-only arrays ``canonical_codes``, ``class_of_code``, ``element_of_code``.

    Examples
    --------
    >>> import glassbox
    >>> len(glassbox.pattern_table("D4", 3).canonical_codes)
    102
    """
    return _pattern_table(get_group(group).name, _check_pattern_size(size))


def local_patterns(binary, group="D4", *, size=3, n_threads=None):
    """The orbit class and orientation of every pixel's neighbourhood.

    For every pixel, the code of its ``size`` x ``size`` neighbourhood (zero padding outside the
    image; see :func:`pattern_table` for the bit layout) is mapped through lookup tables built
    once per group to (a) the index of its orbit class under the group (invariant: the class of
    ``g·x`` at pixel ``g(p)`` is the class of ``x`` at ``p``) and (b) the index of a group element
    carrying the code to its class's canonical code (equivariant: it says how the pattern is
    oriented).

    Parameters
    ----------
    binary : array_like of bool or uint8 in {0, 1}, shape (..., H, W)
    group : str or Group
        Groups with 90-degree rotations or transposes need square images.
    size : {1, 3}
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    LocalPatterns
        ``classes`` (uint16) and ``elements`` (uint8), each shaped like ``binary``.

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.zeros((1, 3, 3), dtype=np.uint8); x[0, 1, 1] = 1
    >>> lp = glassbox.local_patterns(x, "D4")
    >>> int(glassbox.pattern_table("D4").canonical_codes[lp.classes[0, 1, 1]])  # centre only: bit 4
    16
    """
    nt = resolve_n_threads(n_threads)
    g = get_group(group)
    size = _check_pattern_size(size)
    binary = as_array(binary, "binary", dtypes=(np.dtype(np.bool_), np.dtype(np.uint8)), min_ndim=2)
    g.check_shape(binary.shape, "binary")
    table = _pattern_table(g.name, size)
    *lead, H, W = binary.shape
    B = math.prod(lead)
    # two outputs: uint16 classes and uint8 elements, 3 bytes a pixel
    check_allocation((*binary.shape, 3), np.uint8, "the outputs of local_patterns")
    classes = np.empty((B, H, W), dtype=np.uint16)
    elements = np.empty((B, H, W), dtype=np.uint8)
    bad = _core.local_patterns(
        binary.reshape(B, H, W),
        size,
        table.class_of_code,
        table.element_of_code,
        classes,
        elements,
        nt,
    )
    if bad:
        raise ValueError(f"binary must contain only 0 and 1; {bad} other value(s) found")
    return LocalPatterns(classes.reshape(binary.shape), elements.reshape(binary.shape))


def represent_fused(
    images,
    thresholds=None,
    *,
    method="fixed",
    group="D4",
    size=2,
    stride=None,
    mode="max",
    packed=False,
    out=None,
    n_threads=None,
):
    """Binarize, pool and orbit in one pass per image.

    The result equals ``orbit(pool(binarize(images, thresholds, method=method), size, stride,
    mode=mode), group)`` value for value (``packed`` as in :func:`binarize`), without any
    intermediate array.  When the pooling grid covers the image symmetrically
    (``(H - size) % stride == 0``, likewise W) pooling commutes with the group, so this is also
    the pooled orbit of the binary images.

    Parameters
    ----------
    images : array_like of uint8, uint16, float32 or float64, shape (N, H, W)
    thresholds, method :
        As in :func:`binarize`.  A scalar threshold (or ``"otsu"`` / ``"mean"``) gives output
        (N, |G|, OH, OW); a sequence of K thresholds gives (N, |G|, K, OH, OW).
    group : str or Group
        Groups with 90-degree rotations or transposes need a square pooled grid.
    size, stride : int
        Pooling window and step (see :func:`pool`).
    mode : {"max", "sum", "mean"}
        ``"max"``: uint8 in {0, 1}; ``"sum"``: the count of 1-pixels per window, uint8 (uint16 when
        ``size**2 > 255``); ``"mean"``: that count / ``size**2`` as float32.
    packed : bool
        Bit-pack the last axis as :func:`binarize` does (``mode="max"`` only).
    out : ndarray, optional
        Preallocated C-contiguous output of the exact shape and dtype; returned.
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    ndarray

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    >>> glassbox.represent_fused(x, 127).shape
    (2, 8, 14, 14)
    """
    nt = resolve_n_threads(n_threads)
    g = get_group(group)
    mode = choice(mode, "mode", _POOL_MODES)
    images, code, t, scalar = _images_and_thresholds(images, thresholds, method, nt)
    N, H, W = images.shape
    size = check_int(size, "size", type_error=TypeError)
    stride = size if stride is None else check_int(stride, "stride", type_error=TypeError)
    if size > H or size > W:
        raise ValueError(f"size={size} is larger than the images ({H}x{W})")
    if size > 255:
        raise ValueError(f"size={size} is too large for represent_fused (at most 255)")
    stride = min(stride, max(H, W))  # any larger stride gives the same single window per axis
    packed = bool(packed)
    if packed and mode != "max":
        raise ValueError(f"packed=True needs mode='max' (binary output), got mode={mode!r}")
    OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
    g.check_shape((OH, OW), "the pooled grid of images")
    if mode == "max":
        dtype = np.dtype(np.uint8)
    elif mode == "sum":
        dtype = np.dtype(np.uint8) if size * size <= 255 else np.dtype(np.uint16)
    else:
        dtype = np.dtype(np.float32)
    full = (N, g.order, t.size, OH, (OW + 7) // 8 if packed else OW)
    shape = full[:2] + full[3:] if scalar else full
    if out is None:
        check_allocation(shape, dtype, "the output of represent_fused")
        result = np.empty(shape, dtype=dtype)
    else:
        result = check_out(out, shape, dtype, (images,))
    _core.represent_fused(
        images,
        code,
        t,
        size,
        stride,
        _POOL_MODES.index(mode),
        g.codes,
        packed,
        result.reshape(full),
        nt,
        fresh_out=out is None,
    )
    return result


def cell_histograms(labels, n_labels, cell, *, n_threads=None):
    """Per-cell histograms of integer labels (for example the classes of :func:`local_patterns`).

    Parameters
    ----------
    labels : array_like of uint16, shape (..., H, W)
        Values in ``[0, n_labels)``.
    n_labels : int
        Number of histogram bins.
    cell : int
        Cells of ``cell`` x ``cell`` pixels tile the image from the top-left; a partial last row
        or column of cells is ignored.
    n_threads : int, optional
        See :func:`binarize`.

    Returns
    -------
    ndarray of int32, shape (..., n_labels, H // cell, W // cell)
        Counts, with the cell grid on the last two axes (so that a group acts on them as on an
        image).

    Examples
    --------
    >>> import numpy as np, glassbox
    >>> lab = np.array([[[0, 1], [1, 1]]], dtype=np.uint16)
    >>> glassbox.cell_histograms(lab, 2, 1)[0, 1]
    array([[0, 1],
           [1, 1]], dtype=int32)
    """
    nt = resolve_n_threads(n_threads)
    labels = as_array(labels, "labels", dtypes=(np.dtype(np.uint16),), min_ndim=2)
    n_labels = check_int(n_labels, "n_labels", type_error=TypeError)
    cell = check_int(cell, "cell", type_error=TypeError)
    *lead, H, W = labels.shape
    if cell > min(H, W):
        raise ValueError(f"cell={cell} is larger than the images ({H}x{W})")
    if n_labels > 65536:
        raise ValueError(f"n_labels={n_labels} exceeds the uint16 label range")
    B = math.prod(lead)
    shape = (B, n_labels, H // cell, W // cell)
    check_allocation(shape, np.int32, "the output of cell_histograms")
    out = np.empty(shape, dtype=np.int32)
    bad = _core.cell_histograms(labels.reshape(B, H, W), n_labels, cell, out, nt)
    if bad:
        raise ValueError(f"labels: {bad} value(s) are >= n_labels={n_labels}")
    return out.reshape(*lead, *shape[1:])


def permuted_copies(rows, permutations, *, n_threads=None):
    """``np.concatenate([rows[:, p] for p in permutations])`` in one compiled pass per copy.

    Internal (not exported): the features of moved images from those of the images (each
    ``p`` a ``feature_permutation``), for augmentation and transformed test sets.

    Parameters
    ----------
    rows : ndarray of float32, shape (N, M)
    permutations : sequence of int arrays, each of shape (K,) with values in [0, M)
    n_threads : int, optional

    Returns
    -------
    ndarray of float32, shape (len(permutations) * N, K), copies in order
    """
    rows = as_array(rows, "rows", dtypes=[np.dtype(np.float32)], ndims=[2], finite=False)
    perms = [np.ascontiguousarray(p, dtype=np.int64) for p in permutations]
    if not perms:
        raise ValueError("permutations must hold at least one index array")
    K = perms[0].shape[0] if perms[0].ndim == 1 else -1
    if any(p.ndim != 1 or p.shape[0] != K for p in perms):
        raise ValueError("permutations must be 1-D index arrays of one length")
    N = rows.shape[0]
    check_allocation((len(perms) * N, K), np.float32, "the permuted copies")
    out = np.empty((len(perms) * N, K), dtype=np.float32)
    nt = resolve_n_threads(n_threads)
    for i, p in enumerate(perms):
        _core.take_columns(rows, p, out[i * N : (i + 1) * N], nt)
    return out
