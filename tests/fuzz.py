"""Fuzz harness for every public glassbox kernel and every file reader.

Each kernel case draws a kernel and arbitrary arguments: dtypes (including complex, object,
strings, float16, big-endian), shapes (including 0 and huge broadcast views), strides (slices,
negative steps, transposes), values (NaN, inf, extremes), thresholds, group names, pool sizes,
outputs and n_threads.  The outcome must be either the NumPy reference's result, or a TypeError /
ValueError with a message: never another exception, never a crash.

Each reader case writes a valid file (an IDX file, gzip or not; an ``.npz`` dataset; a saved
model), damages it at random (flipped, inserted or removed bytes, truncation, data appended, a
changed header field), and reads it back through every path that reads such files.  The outcome
must be a ValueError with a message, or data that the damage could not have changed: a gzip,
zip or model file read without error must give exactly what was written (their checksums
cover every byte that matters), and the IDX reader of ``glassbox.datasets`` and that of
``glassbox.streaming`` must agree.

    python tests/fuzz.py --seconds 60        # what CI runs (under the sanitizer build)
    python tests/fuzz.py --seconds 3600      # a long run

It prints the number of inputs executed.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import io
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import glassbox as gb  # noqa: E402

import _reference as ref  # noqa: E402

DTYPES = [
    np.uint8, np.uint16, np.float32, np.float64, np.bool_, np.int8, np.int16, np.int32,
    np.int64, np.uint32, np.uint64, np.float16, np.complex64, object, ">f4", ">u2", ">f8",
    "<U2", "datetime64[s]",
]  # fmt: skip
GROUPS = list(gb.GROUP_NAMES) + ["D6", "", 3, None]
VALID_IMAGE = [np.uint8, np.uint16, np.float32, np.float64, ">f4", ">u2"]
VALID_POOL = [np.bool_, np.uint8, np.uint16, np.int64, np.float32, np.float64, ">f8"]
VALID_ANY = VALID_POOL + [np.int8, np.int32, np.float16, np.uint64]
VALID_BINARY = [np.uint8, np.bool_]
N_THREADS = [None, 1, 2, 3, 8, -1, -100, 0, 1.5, True, 10**12]
MODES = ["max", "mean", "sum", "median", None]
METHODS = ["fixed", "otsu", "mean", "triangle", 7]


def pick(data, options, n_valid, valid, label):
    """One of options; with `valid`, one of the first n_valid."""
    return data.draw(st.sampled_from(options[:n_valid] if valid else options), label=label)


COUNT = {"cases": 0, "accepted": 0, "rejected": 0}
PER_KERNEL: dict = {}


def _values(rng, dtype, shape, binary):
    dtype = np.dtype(dtype)
    if dtype.kind == "O":
        out = np.empty(shape, dtype=object)
        out.fill(rng.choice([1, None, "x"]))
        return out
    if dtype.kind in "UM":
        return np.zeros(shape, dtype=dtype)
    if binary or dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        wide = np.int64 if dtype.itemsize < 8 else dtype
        return rng.integers(info.min, info.max, shape, dtype=wide, endpoint=True).astype(dtype)
    x = rng.standard_normal(shape) * rng.choice([1.0, 1e3, 1e30])
    if dtype.kind == "f" and x.size and rng.random() < 0.15:
        x.flat[rng.integers(0, x.size)] = rng.choice([np.nan, np.inf, -np.inf])
    if dtype.kind == "c":
        x = x + 1j
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(dtype)


def draw_array(data, *, valid, ndims=(3,), dtypes=VALID_IMAGE, binary=None):
    """An array: with `valid`, of a supported dtype and ndim with positive sides (views and
    non-finite values can still occur); otherwise anything."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    dtype = data.draw(st.sampled_from(dtypes if valid else DTYPES), label="dtype")
    if not valid and data.draw(st.integers(0, 20), label="huge") == 0:  # far larger than memory
        return np.broadcast_to(np.zeros((), dtype=np.uint8), (2**31, 2**15, 2**15))
    ndim = data.draw(st.sampled_from(ndims) if valid else st.integers(0, 5), label="ndim")
    side = st.integers(1, 9) if valid else st.integers(0, 9)
    shape = tuple(data.draw(side, label="dim") for _ in range(ndim))
    if valid and ndim >= 2 and data.draw(st.booleans(), label="square"):
        shape = shape[:-1] + (shape[-2],)
    if binary is None:
        binary = data.draw(st.booleans(), label="binary")
    x = _values(rng, dtype, shape, binary)
    view = data.draw(
        st.sampled_from(["plain", "reversed", "step", "transposed", "fortran"]), label="view"
    )
    if x.ndim and view == "reversed":
        x = x[..., ::-1]
    elif x.ndim and view == "step":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    elif x.ndim >= 2 and view == "transposed":
        x = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, -1, -2)), -1, -2)
    elif view == "fortran":
        x = np.asfortranarray(x)
    return x


def draw_thresholds(data, valid, method):
    if valid:
        if method != "fixed" or data.draw(st.booleans()):
            return None
        return data.draw(
            st.one_of(st.integers(0, 255), st.lists(st.integers(0, 255), min_size=1, max_size=3))
        )
    kind = data.draw(st.integers(0, 5), label="thresholds kind")
    scalar = st.one_of(
        st.integers(-300, 70000), st.floats(allow_nan=True, allow_infinity=True), st.just(2**70)
    )
    if kind == 0:
        return None
    if kind in (1, 2):
        return data.draw(scalar, label="threshold")
    if kind == 3:
        return data.draw(st.lists(scalar, min_size=0, max_size=4), label="thresholds")
    if kind == 4:
        return data.draw(
            st.sampled_from(["0.5", [[1, 2]], [None], True, 1j]), label="odd thresholds"
        )
    return data.draw(st.lists(st.integers(0, 255), min_size=1, max_size=3), label="thresholds")


def small_int(data, label, valid, lo=1, hi=4):
    if valid:
        return data.draw(st.integers(lo, hi), label=label)
    return data.draw(
        st.one_of(st.integers(-2, 6), st.just(2**70), st.just(1.5), st.none()), label=label
    )


def _reference_cell_histograms(labels, n_labels, cell):
    *lead, H, W = labels.shape
    ch, cw = H // cell, W // cell
    flat = labels.reshape(-1, H, W)
    out = np.zeros((flat.shape[0], n_labels, ch, cw), dtype=np.int32)
    for b in range(flat.shape[0]):
        for i in range(ch):
            for j in range(cw):
                block = flat[b, i * cell : (i + 1) * cell, j * cell : (j + 1) * cell].ravel()
                out[b, :, i, j] = np.bincount(block, minlength=n_labels)
    return out.reshape(*lead, n_labels, ch, cw)


def _native(x):
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


_WORK = {}
_FILES = itertools.count()  # a fresh name for every file a reader case writes


def _workdir() -> Path:
    """A temporary directory for the reader cases, removed when the process exits."""
    if "dir" not in _WORK:
        _WORK["dir"] = Path(tempfile.mkdtemp(prefix="glassbox-fuzz-"))
        atexit.register(shutil.rmtree, _WORK["dir"], True)
    return _WORK["dir"]


def damage(data, raw: bytes, header: int) -> tuple[bytes, str]:
    """``raw`` damaged in one of several ways (or not at all); the name of the damage."""
    kind = data.draw(
        st.sampled_from(["none", "flip", "insert", "remove", "truncate", "append", "header"]),
        label="damage",
    )
    b = bytearray(raw)
    if kind == "none" or not b:
        return bytes(b), "none"
    pos = data.draw(st.integers(0, len(b) - 1), label="position")
    if kind == "flip":
        b[pos] ^= data.draw(st.integers(1, 255), label="xor")
    elif kind == "insert":
        b[pos:pos] = data.draw(st.binary(min_size=1, max_size=8), label="inserted")
    elif kind == "remove":
        del b[pos : pos + data.draw(st.integers(1, 8), label="removed")]
    elif kind == "truncate":
        del b[pos:]
    elif kind == "append":
        b += data.draw(st.binary(min_size=1, max_size=64), label="appended")
    else:  # a byte of the header (dimensions, type code, magic)
        i = data.draw(st.integers(0, max(0, min(header, len(b)) - 1)), label="header byte")
        b[i] = data.draw(st.integers(0, 255), label="value")
    return bytes(b), kind


def _idx_file(data, rng):
    ndim = data.draw(st.integers(1, 3), label="idx ndim")
    code, dtype = data.draw(
        st.sampled_from([(0x08, "u1"), (0x09, "i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"),
                         (0x0E, ">f8")]), label="idx type")  # fmt: skip
    shape = tuple(data.draw(st.integers(0, 6), label="idx dim") for _ in range(ndim))
    x = (rng.integers(0, 120, shape) - (0 if dtype == "u1" else 30)).astype(dtype)
    raw = bytes([0, 0, code, ndim]) + np.array(shape, ">u4").tobytes() + x.tobytes()
    return x.astype(np.dtype(dtype).newbyteorder("=")), raw, 4 + 4 * ndim


def _read_both_idx(path, ndim):
    """read_idx, and (when ``ndim`` is 3) streaming in about four chunks: ("ok", array) or
    ("error", text) for each."""
    outcomes = []
    try:
        outcomes.append(("ok", gb.datasets.read_idx(path)))
    except ValueError as exc:
        assert str(exc)
        outcomes.append(("error", str(exc)))
    if ndim == 3:
        try:
            with gb.streaming.open_images(path) as src:
                step = max(2, -(-len(src) // 4))
                bounds = [(a, min(len(src), a + step)) for a in range(0, len(src), step)]
                bounds = bounds or [(0, 0)]  # no images: the reader still checks the end
                outcomes.append(("ok", np.concatenate([src.read(a, b) for a, b in bounds])))
        except ValueError as exc:
            assert str(exc)
            outcomes.append(("error", str(exc)))
    return outcomes


def check_reader(data, reader):
    """Write, damage and read back one file; returns "accepted" or "rejected"."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    path = _workdir() / f"case-{next(_FILES)}"
    if reader == "idx":
        x, raw, header = _idx_file(data, rng)
        compressed = data.draw(st.booleans(), label="gzip")
        stored = gzip.compress(raw, mtime=0) if compressed else raw
        bad, kind = damage(data, stored, 10 if compressed else header)
        path.write_bytes(bad)
        outcomes = _read_both_idx(path, 3)  # streaming tried on every file
        (kind_a, a), (kind_b, b) = outcomes
        if kind_a == "error":  # what read_idx refuses, streaming refuses too
            assert kind_b == "error", outcomes
        elif a.ndim == 3 and 0 not in a.shape[1:]:  # images: streaming reads the same
            finite = np.isfinite(a).all(axis=(1, 2))
            if finite.all():
                same = b.dtype == a.dtype and np.array_equal(a, b)
                assert kind_b == "ok" and same, outcomes
            else:  # (a damaged type code can make NaNs) not images: the first one is named
                bad = f"image {int(np.argmin(finite))} contains NaN or infinite values"
                assert kind_b == "error" and bad in b, outcomes
        # (other arrays, damage may make a valid IDX file of another shape, are read_idx's
        # alone: streaming wants images with pixels)
        oks = [v for k, v in outcomes if k == "ok"]
        for got in oks:
            if compressed or kind == "none":
                assert got.shape == x.shape and np.array_equal(got, x), kind
        path.unlink()
        return "accepted" if oks else "rejected"
    if reader == "npz":
        n = data.draw(st.integers(1, 6), label="n")
        images = rng.integers(0, 256, (n, 3, 3)).astype(np.uint8)
        labels = rng.integers(0, 3, n)
        buf = io.BytesIO()
        extra = {"n_train": np.array(data.draw(st.integers(-1, n + 1)))} if n > 1 else {}
        savez = np.savez_compressed if data.draw(st.booleans()) else np.savez
        savez(buf, images=images, labels=labels, **extra)
        bad, kind = damage(data, buf.getvalue(), 64)
        path.write_bytes(bad)
        try:
            ds = gb.datasets.load_npz(path)
        except ValueError as exc:
            assert str(exc)
            return "rejected"
        finally:
            path.unlink()
        # read without error: what was written (zip members carry CRC-32s)
        assert np.array_equal(ds.images, images), kind
        present = np.unique(labels)
        assert ds.class_names == tuple(str(v) for v in present)
        assert np.array_equal(present[ds.labels], labels)
        return "accepted"
    model_dir = _saved_model()
    name = data.draw(st.sampled_from(["model.json", "arrays.npz"]), label="model file")
    target = _workdir() / f"model-{next(_FILES)}"
    target.mkdir()
    for f in ("model.json", "arrays.npz"):
        (target / f).write_bytes((model_dir / f).read_bytes())
    bad, kind = damage(data, (model_dir / name).read_bytes(), 32)
    (target / name).write_bytes(bad)
    try:
        model = gb.load_model(target)
    except ValueError as exc:
        assert str(exc)
        return "rejected"
    finally:
        for f in target.iterdir():
            f.unlink()
        target.rmdir()
    X, expected = _WORK["probe"]
    assert np.array_equal(model.predict(X), expected), kind
    return "accepted"


def _saved_model() -> Path:
    if "model" not in _WORK:
        ds = gb.datasets.load_digits()
        clf = gb.GlassBoxClassifier(
            gb.GlassBoxRepresentation(thresholds=6),
            n_components=8,
            classifier="lda",
            invariance="D2",  # damaged files may also name another group
        ).fit(ds.images[:200], ds.labels[:200])
        _WORK["model"] = gb.save_model(clf, _workdir() / "saved", metadata={"k": [1, "a"]})
        _WORK["probe"] = (ds.images[200:260], clf.predict(ds.images[200:260]))
    return _WORK["model"]


def check_case(data):  # noqa: C901 - one flat branch per kernel reads best
    """Draw one kernel call or file read; assert its outcome.  Returns "accepted" or
    "rejected"."""
    if data.draw(st.integers(0, 4), label="reader?") == 0:
        reader = data.draw(st.sampled_from(["idx", "npz", "model"]), label="reader")
        outcome = check_reader(data, reader)
        COUNT[outcome] += 1
        PER_KERNEL[f"read {reader}", outcome] = PER_KERNEL.get((f"read {reader}", outcome), 0) + 1
        return outcome
    kernel = data.draw(
        st.sampled_from(
            [
                "binarize",
                "orbit",
                "pool",
                "group_pool",
                "local_patterns",
                "represent_fused",
                "unpack_bits",
                "orbit_packed",
                "cell_histograms",
                "representation",
            ]
        ),
        label="kernel",
    )
    valid = data.draw(st.booleans(), label="valid")
    nt = pick(data, N_THREADS, 5, valid, "n_threads")
    group = pick(data, GROUPS, len(gb.GROUP_NAMES), valid, "group")
    mode = pick(data, MODES, 3, valid, "mode")
    method = pick(data, METHODS, 3, valid, "method")
    try:
        if kernel == "binarize":
            x = draw_array(data, valid=valid)
            t, packed = draw_thresholds(data, valid, method), data.draw(st.booleans())
            got = gb.binarize(x, t, method=method, packed=packed, n_threads=nt)
            want = ref.binarize(_native(x), t, method, packed)
        elif kernel == "orbit":
            x = draw_array(data, valid=valid, ndims=(3, 4), dtypes=VALID_ANY)
            got = gb.orbit(x, group, n_threads=nt)
            want = ref.orbit(_native(x), group)
        elif kernel == "orbit_packed":
            x = draw_array(data, valid=valid, ndims=(3, 4), dtypes=[np.uint8])
            width = (
                x.shape[-1] * 8 - data.draw(st.integers(0, 7))
                if valid
                else small_int(data, "width", valid)
            )
            got = gb.orbit(x, group, packed_width=width, n_threads=nt)
            if width is None:  # not packed: a plain orbit of the bytes
                want = ref.orbit(_native(x), group)
            else:
                bits = np.unpackbits(_native(x), axis=-1, count=width, bitorder="little")
                want = np.packbits(ref.orbit(bits, group), axis=-1, bitorder="little")
        elif kernel == "pool":
            x = draw_array(data, valid=valid, ndims=(2, 3, 4), dtypes=VALID_POOL)
            size, stride = small_int(data, "size", valid), small_int(data, "stride", valid)
            got = gb.pool(x, size, stride, mode=mode, n_threads=nt)
            want = ref.pool(_native(x), size, stride, mode)
        elif kernel == "group_pool":
            x = draw_array(data, valid=valid, ndims=(1, 2, 3, 4), dtypes=VALID_POOL)
            axis = data.draw(
                st.integers(-x.ndim, x.ndim - 1)
                if valid and x.ndim
                else st.one_of(st.integers(-6, 6), st.just(1.0))
            )
            got = gb.group_pool(x, mode=mode, axis=axis, n_threads=nt)
            want = ref.group_pool(_native(x), mode, axis)
        elif kernel == "local_patterns":
            x = draw_array(
                data, valid=valid, ndims=(2, 3, 4), dtypes=VALID_BINARY, binary=valid or None
            )
            size = data.draw(st.sampled_from([1, 3])) if valid else small_int(data, "size", valid)
            got = gb.local_patterns(x, group, size=size, n_threads=nt)
            want = ref.local_patterns(_native(x), group, size)
        elif kernel == "unpack_bits":
            x = draw_array(data, valid=valid, ndims=(1, 2, 3), dtypes=[np.uint8])
            width = (
                x.shape[-1] * 8 - data.draw(st.integers(0, 7))
                if valid
                else small_int(data, "width", valid)
            )
            got = gb.unpack_bits(x, width)
            want = np.unpackbits(_native(x), axis=-1, count=width, bitorder="little")
        elif kernel == "cell_histograms":
            x = draw_array(data, valid=valid, ndims=(2, 3, 4), dtypes=[np.uint16])
            n_labels = (
                data.draw(st.integers(1, 70000)) if valid else small_int(data, "n_labels", valid)
            )
            if valid:
                x = x % np.uint16(min(n_labels, 65535))
            cell = small_int(data, "cell", valid)
            got = gb.cell_histograms(x, n_labels, cell, n_threads=nt)
            want = _reference_cell_histograms(_native(x), n_labels, cell)
        elif kernel == "representation":
            x = draw_array(data, valid=valid, ndims=(3,))
            cell = small_int(data, "cell_size", valid, 1, 3)
            pool = small_int(data, "pool_size", valid, 1, 3)
            if valid:
                side = cell * pool * data.draw(st.integers(1, 3))
                x = np.resize(x, (x.shape[0], side, side))
            side_min = min(x.shape[1:])
            dists = data.draw(
                st.lists(st.integers(1, max(1, side_min - 1)), min_size=1, max_size=2, unique=True)
            )
            smooth = data.draw(st.booleans(), label="smooth")
            second = data.draw(st.booleans(), label="second order") and (cell % 2 == 0 or not valid)
            root = data.draw(st.booleans(), label="sqrt")
            rep = gb.GlassBoxRepresentation(
                group=group,
                thresholds=data.draw(st.integers(1, 40)),
                cell_size=cell,
                pool_size=pool,
                distances=dists,
                pooling="smooth" if smooth else "cells",
                second_order=second,
                normalize="sqrt" if root else None,
                blocks=data.draw(st.sampled_from(["both", "invariant", "equivariant"])),
                n_threads=nt,
            )
            base = rep.fit(x).transform(x)
            if rep.blocks != "invariant":  # the kernel against the position-by-position definition
                blocks = ref.glass_features_full(
                    _native(x), rep.thresholds_, pool, cell, dists, smooth, second
                )
                want = np.concatenate([b.reshape(len(x), -1) for b in blocks], 1)
                np.testing.assert_array_equal(
                    base[:, rep.n_invariant_ :],
                    (np.sqrt(want) if root else want).astype(np.float32),
                )
            h = data.draw(st.integers(0, gb.get_group(group).order - 1))
            got = rep.transform(np.ascontiguousarray(gb.get_group(group).apply(x, h)))
            want = base[:, rep.feature_permutation(h)]  # the exactness contract
        else:
            x = draw_array(data, valid=valid)
            t = draw_thresholds(data, valid, method)
            size, stride = small_int(data, "size", valid), small_int(data, "stride", valid)
            if valid and data.draw(st.booleans(), label="bit path"):
                # uint8 images 16-300 pixels wide, 2x2 max-pooling: the bit-plane paths
                h = data.draw(st.integers(2, 300), label="height")
                square = not gb.get_group(group).keeps_shape
                w = h if square else data.draw(st.integers(16, 300), label="w")
                if w < 16:
                    w = h = 16
                seed = data.draw(st.integers(0, 2**32 - 1), label="bit seed")
                rng = np.random.default_rng(seed)
                x = rng.integers(0, 256, (data.draw(st.integers(1, 3), label="n"), h, w), np.uint8)
                size, stride, mode = 2, 2, "max"
            packed = data.draw(st.booleans()) and (mode == "max" or not valid)
            got = gb.represent_fused(
                x,
                t,
                method=method,
                group=group,
                size=size,
                stride=stride,
                mode=mode,
                packed=packed,
                n_threads=nt,
            )
            want = ref.represent_fused(_native(x), t, method, group, size, stride, mode, packed)
    except (TypeError, ValueError) as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        COUNT["rejected"] += 1
        PER_KERNEL[kernel, "rejected"] = PER_KERNEL.get((kernel, "rejected"), 0) + 1
        return "rejected"
    if isinstance(got, tuple):  # local_patterns
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    else:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        np.testing.assert_array_equal(got, want)
    COUNT["accepted"] += 1
    PER_KERNEL[kernel, "accepted"] = PER_KERNEL.get((kernel, "accepted"), 0) + 1
    return "accepted"


FUZZ_SETTINGS = dict(  # noqa: C408 - keyword names as hypothesis.settings takes them
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def run(seconds: float) -> dict:
    """Run fuzz cases until `seconds` have passed; return the counts."""

    # derandomize=False explicitly: with CI set, Hypothesis's "ci" profile derandomizes, and every
    # batch would replay the same cases.
    @settings(max_examples=250, derandomize=False, **FUZZ_SETTINGS)
    @given(st.data())
    def batch(data):
        COUNT["cases"] += 1
        check_case(data)

    start = time.monotonic()
    while time.monotonic() - start < seconds:
        batch()
    return dict(COUNT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    counts = run(args.seconds)
    print(
        f"fuzz: {counts['cases']} inputs in {time.monotonic() - t0:.0f} s "
        f"({counts['accepted']} results checked against the reference, "
        f"{counts['rejected']} rejected with TypeError/ValueError); no failure"
    )
    kernels = sorted({k for k, _ in PER_KERNEL})
    print(
        "per kernel (checked / rejected): "
        + ", ".join(
            f"{k} {PER_KERNEL.get((k, 'accepted'), 0)}/{PER_KERNEL.get((k, 'rejected'), 0)}"
            for k in kernels
        )
    )
    print(f"fuzz: {counts['accepted'] + counts['rejected']} passed, 0 failed")  # any failure raised
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
