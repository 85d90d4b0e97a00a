"""Argument checks shared by the public functions: every error names the argument."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import _core

# Dtypes by role.  Kernels take C-contiguous, native-byte-order arrays of exactly these.
IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))
POOL_DTYPES = (
    np.dtype(np.bool_),
    np.dtype(np.uint8),
    np.dtype(np.uint16),
    np.dtype(np.int64),
    np.dtype(np.float32),
    np.dtype(np.float64),
)

# Thread counts beyond this are refused: results never depend on the count, and an absurd value
# would only ask OpenMP for thousands of threads.
_MAX_THREADS_FACTOR = 64


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _is_int(value) -> bool:
    """An integer and not a bool (Python's or NumPy's).  A plain int skips the abstract-class
    check, which costs tens of microseconds when a call finds the caches cold."""
    if type(value) is int:
        return True
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral)


def resolve_n_threads(n_threads: int | None) -> int:
    """scikit-learn's rules: None = effective default (honours ``OMP_NUM_THREADS``), negative
    counts back from the number of CPUs (-1 = all), 0 is an error."""
    cpus = cpu_count()
    if n_threads is None:
        return max(1, min(_core.max_threads(), cpus))
    if not _is_int(n_threads):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    n = int(n_threads)
    if n == 0:
        raise ValueError("n_threads must not be 0 (use None for the default, -1 for all CPUs)")
    if n < 0:
        return max(1, cpus + 1 + n)
    limit = max(256, _MAX_THREADS_FACTOR * cpus)
    if n > limit:
        raise ValueError(
            f"n_threads={n} is absurd on this machine ({cpus} CPUs); use at most {limit}"
        )
    return n


# Below this many bytes an allocation is never refused: reading what is available costs tens of
# microseconds, which the smallest kernel calls would feel, and numpy's own MemoryError covers it.
_ALWAYS_ALLOWED = 64 * 2**20


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """What the process's cgroup (v2) still allows: ``memory.max - memory.current``."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            path = next((ln.split("::", 1)[1].strip() for ln in f if ln.startswith("0::")), None)
        if path is None:
            return None
        base = Path("/sys/fs/cgroup") / path.lstrip("/")
        limit = (base / "memory.max").read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        current = (base / "memory.current").read_text(encoding="ascii").strip()
        return max(0, int(limit) - int(current))
    except (OSError, ValueError, StopIteration):
        return None


def memory_limit() -> int:
    """Bytes of memory available now (Linux: ``MemAvailable``, within the process's cgroup
    limit; elsewhere the physical memory): what glassbox refuses to exceed."""
    candidates = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if candidates:
        return min(candidates)
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 2**62


def _human(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} B"  # pragma: no cover


def _refuse_beyond_memory(nbytes: int, lead: str, hint: str = "") -> None:
    if nbytes <= _ALWAYS_ALLOWED:
        return
    limit = memory_limit()
    if nbytes > limit:
        raise ValueError(
            f"{lead} {nbytes} bytes ({_human(nbytes)}), more than this machine's memory "
            f"available now ({_human(limit)})" + (f"; {hint}" if hint else "")
        )


def check_memory(nbytes: int, what: str, hint: str = "") -> None:
    """Refuse, before allocating, ``nbytes`` that the memory available now cannot hold.

    ``what`` starts the message: it names what would be allocated and the argument or file
    that asks for it (``"--images 100000000: the images"``); ``hint`` ends it (what to do)."""
    _refuse_beyond_memory(int(nbytes), f"{what} would need", hint)


def check_allocation(shape: Sequence[int], dtype: np.dtype, what: str) -> None:
    """Refuse, before allocating, an array larger than the memory available now."""
    # exact Python ints (no overflow), and a tenth of np.prod's time on cold caches
    shape = tuple(int(s) for s in shape)
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    _refuse_beyond_memory(nbytes, f"{what} would have shape {shape} and need")


def as_array(
    x,
    name: str,
    *,
    dtypes: Sequence[np.dtype],
    ndims: Sequence[int] | None = None,
    min_ndim: int | None = None,
    finite: bool = True,
    n_threads: int = 1,
) -> np.ndarray:
    """Check an input array and return it C-contiguous, in native byte order.

    Strided, negative-stride and non-native views are accepted and copied; everything else that
    is wrong (dtype, ndim, empty, NaN / inf where ``finite``) raises naming ``name``.
    """
    if isinstance(x, np.ma.MaskedArray):
        refuse_sparse_or_masked(x, name)
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} must be an array, got {type(x).__name__}: {exc}") from None
    native = arr.dtype.newbyteorder("=")
    if native not in dtypes:
        allowed = ", ".join(str(d) for d in dtypes)
        raise TypeError(
            f"{name} must have dtype {allowed}; got {arr.dtype} (cast with .astype first)"
        )
    if ndims is not None and arr.ndim not in ndims:
        want = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must be {want}-dimensional, got shape {arr.shape}")
    if min_ndim is not None and arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not (arr.flags.c_contiguous and arr.flags.aligned and arr.dtype == native):
        check_allocation(arr.shape, native, f"a contiguous copy of {name}")
        # np.array, not np.ascontiguousarray: that returns a contiguous but unaligned array as it is
        arr = np.array(arr, dtype=native, order="C")
    if finite:
        refuse_nonfinite(arr, name, n_threads)
    return arr


def refuse_nonfinite(arr: np.ndarray, name: str, n_threads: int = 1) -> None:
    """Raise ValueError naming ``name`` when the C-contiguous ``arr`` holds NaN or inf (a no-op
    for other than float dtypes)."""
    if arr.dtype.kind == "f":
        bad = _core.count_nonfinite(arr, n_threads)
        if bad:
            raise ValueError(
                f"{name} contains {bad} NaN or infinite value(s); glassbox needs finite input"
            )


def check_int(
    value,
    name: str,
    *,
    min_val: int | None = 1,
    max_val: int | None = None,
    none_ok: bool = False,
    type_error: type[Exception] = ValueError,
    hint: str = "",
) -> int | None:
    """The one check of glassbox's integer arguments (after scikit-learn's ``check_scalar``).

    Parameters
    ----------
    value : object
        A Python or NumPy integer (not a bool) in ``[min_val, max_val]``; or None with
        ``none_ok``.
    name : str
        The argument, named in the error.
    min_val, max_val : int or None
        Bounds (inclusive); None for none.
    none_ok : bool
        Accept None (returned as is).
    type_error : type
        What a value that is not an integer raises: ValueError for the estimators' parameters
        and the metrics (scikit-learn's estimator checks expect it), TypeError for the kernels.
    hint : str
        Appended to the message in parentheses.

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        Out of bounds (and, with the default ``type_error``, not an integer).
    """
    if value is None and none_ok:
        return None
    is_int = _is_int(value)
    if is_int and (min_val is None or value >= min_val) and (max_val is None or value <= max_val):
        return int(value)
    if min_val == 1 and max_val is None:
        want = "a positive int"
    elif max_val is not None:
        want = f"an int in [{min_val}, {max_val}]"
    elif min_val is not None:
        want = f"an int >= {min_val}"
    else:
        want = "an int"
    want = f"None or {want}" if none_ok else want
    extra = f" ({hint})" if hint else ""
    if not is_int:
        got = type(value).__name__ if type_error is TypeError else repr(value)
        raise type_error(f"{name} must be {want}{extra}, got {got}")
    raise ValueError(f"{name} must be {want}{extra}, got {int(value)}")


def choice(value, name: str, options: Sequence[str]) -> str:
    """One of ``options``, or a clear error naming the argument."""
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a str, one of {', '.join(options)}; got {type(value).__name__}"
        )
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def check_out(
    out, shape: tuple[int, ...], dtype: np.dtype, inputs: Sequence[np.ndarray]
) -> np.ndarray:
    """Check a caller-provided output array: exact shape and dtype, C-contiguous, writeable,
    not sharing memory with any input."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.c_contiguous or not out.flags.aligned:
        raise ValueError("out must be C-contiguous and aligned")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    for arr in inputs:
        if np.shares_memory(out, arr):
            raise ValueError("out must not share memory with the input")
    return out


def refuse_sparse_or_masked(x, name: str = "X") -> None:
    """Raise ``TypeError`` for a SciPy sparse matrix or array (``np.asarray`` would silently make
    it a 0-d object array) and for a NumPy masked array (``np.asarray`` would drop its mask, and
    the masked values would count as pixels)."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name}: masked arrays are not supported (their mask would be ignored); pass "
            f"{name}.filled(value), or only the unmasked images"
        )
    import scipy.sparse

    if scipy.sparse.issparse(x):
        raise TypeError(f"{name}: sparse input is not supported; pass dense images")


def image_shape_for(image_shape, n_features: int) -> tuple[int, int]:
    """The (H, W) that rows of ``n_features`` values are reshaped to, from an ``image_shape``
    parameter (one side may be -1, as in NumPy's reshape)."""
    try:
        h, w = (int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_shape must be a pair of ints (H, W), got {image_shape!r}"
        ) from None
    if h == -1 and w > 0 and n_features % w == 0:
        h = n_features // w
    elif w == -1 and h > 0 and n_features % h == 0:
        w = n_features // h
    if h < 1 or w < 1 or h * w != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which image_shape={image_shape!r} cannot hold"
        )
    return (h, w)


def check_images(X, *, fitted_shape=None, image_shape=None, estimator="GlassBoxRepresentation"):
    """Images as the kernels take them, or an error naming ``X``.

    Parameters
    ----------
    X : array_like, shape (N, H, W) or (N, H * W)
        Numbers: booleans, integers of magnitude <= 2**53 or floats, finite; not sparse, masked,
        complex or empty.
    fitted_shape : (int, int), optional
        The (H, W) an estimator was fitted on: images must have it, rows are reshaped to it.
    image_shape : (int, int), optional
        Before fitting, how rows are reshaped (see :func:`image_shape_for`); without it rows
        must be square images.
    estimator : str
        How a shape mismatch names the estimator.

    Returns
    -------
    ndarray, shape (N, H, W)
        C-contiguous and native, of dtype uint8 / uint16 (integers that fit), float32 or
        float64 (other numbers): every comparison with a threshold stays exact.
    """
    X = _numeric_images(X)
    if X.ndim == 2:
        X = _rows_as_images(X, fitted_shape, image_shape, estimator)
    elif X.ndim != 3:
        raise ValueError(
            f"X must be (N, H, W) images or (N, H*W) rows, got shape {X.shape}. Reshape your "
            "data: X.reshape(1, -1) for a single flattened image, X[None] for one (H, W) image"
        )
    elif fitted_shape is not None and X.shape[1:] != tuple(fitted_shape):
        raise ValueError(f"X has images of shape {X.shape[1:]}, fitted on {tuple(fitted_shape)}")
    # C-contiguous, native, finite (NaN / inf refused naming X), non-empty
    return as_array(X, "X", dtypes=IMAGE_DTYPES, ndims=(3,))


def _numeric_images(X) -> np.ndarray:
    """X as an array of one of IMAGE_DTYPES (converted only when it is not one)."""
    refuse_sparse_or_masked(X)
    X = np.asarray(X)
    if X.dtype.kind == "c":
        raise ValueError("X: Complex data not supported")
    if X.dtype.kind == "O":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"X must hold numbers: {exc}") from None
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}")
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    native = X.dtype.newbyteorder("=")
    if native not in IMAGE_DTYPES or not X.flags.c_contiguous:
        # a copy or conversion follows: refuse it before allocating (or scanning) anything
        # that cannot fit, e.g. a broadcast view far larger than memory
        itemsize = native.itemsize if native in IMAGE_DTYPES else (8 if X.dtype.kind == "f" else 2)
        check_allocation(X.shape, np.dtype(f"u{itemsize}"), "a copy of X")
    if native in IMAGE_DTYPES:
        return X
    if X.dtype.kind in "biu" and X.size:
        lo, hi = int(X.min()), int(X.max())
        if lo >= 0 and hi <= 65535:
            return X.astype(np.uint16 if hi > 255 else np.uint8)
        if max(-lo, hi) <= 2**53:  # exact in float64, so every comparison is exact
            return X.astype(np.float64)
        raise ValueError("X: integer values must have magnitude <= 2**53")
    return X.astype(np.float64)


def _rows_as_images(X, fitted_shape, image_shape, estimator) -> np.ndarray:
    """(N, H * W) rows as (N, H, W) images."""
    n_features = X.shape[1]
    shape = fitted_shape
    if shape is not None and n_features != shape[0] * shape[1]:
        raise ValueError(
            f"X has {n_features} features, but {estimator} is expecting "
            f"{shape[0] * shape[1]} features as input (images of shape {shape})"
        )
    if shape is None:
        if image_shape is not None:
            shape = image_shape_for(image_shape, n_features)
        else:
            side = int(round(n_features**0.5))
            if side * side != n_features:
                raise ValueError(
                    f"X has {n_features} features per row, not a square image: "
                    "pass image_shape=(H, W)"
                )
            shape = (side, side)
    if shape[0] * shape[1] != n_features:
        raise ValueError(f"X has {n_features} features per row but image_shape is {shape}")
    return X.reshape(X.shape[0], *shape)
