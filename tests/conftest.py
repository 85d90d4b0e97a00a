from __future__ import annotations

import os

# scikit-learn's check_array_api_input runs only when this is set before SciPy is imported
# (it checks that array API dispatch with NumPy inputs changes nothing); see test_sklearn_api.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import gzip
import importlib
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb
from glassbox.groups import get_group

# CI sets GLASSBOX_REQUIRE_OPTIONAL=1: it installs every extra, so that a test which would skip
# for a missing optional dependency fails instead (a skip there would hide untested code).
REQUIRE_OPTIONAL = os.environ.get("GLASSBOX_REQUIRE_OPTIONAL") == "1"


def importorskip(name: str, extra: str):
    """``pytest.importorskip(name)`` for an optional dependency (installed by the ``extra`` of
    glassbox), unless ``GLASSBOX_REQUIRE_OPTIONAL=1``: then a missing one is an error."""
    if REQUIRE_OPTIONAL:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"{name} is required here (GLASSBOX_REQUIRE_OPTIONAL=1): pip install "
                f"'.[{extra}]' ({exc})"
            ) from exc
    return pytest.importorskip(name, reason=f"needs {name}: pip install '.[{extra}]'")


# Shapes (H, W): 1x1, odd, even, non-square.
SHAPES = [(1, 1), (5, 5), (8, 8), (7, 7), (5, 8), (28, 28)]
THREADS = [1, 2, 3]
GROUPS = ["trivial", "C2", "C4", "D1h", "D1v", "D1t", "D2", "D4"]


def make_images(dtype, shape, n=4, seed=0):
    """Random images of a dtype, with repeated values (ties) and the dtype's extremes."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, (n, *shape)).astype(bool)
    if dtype.kind == "u" or dtype.kind == "i":
        info = np.iinfo(dtype)
        hi = min(int(info.max), 2**20)
        x = rng.integers(0, hi + 1, (n, *shape), dtype=np.int64).astype(dtype)
        x.reshape(n, -1)[:, 0] = (
            info.max if dtype.kind == "u" and info.max < 2**20 else x.reshape(n, -1)[:, 0]
        )
        return x
    x = rng.standard_normal((n, *shape)).astype(dtype)
    x.reshape(n, -1)[:, ::3] = np.round(x.reshape(n, -1)[:, ::3])  # ties
    return x


def fits(group, shape):
    return get_group(group).keeps_shape or shape[-2] == shape[-1]


@pytest.fixture(params=["avx2", "sse2"])
def simd(request):
    """Run a test with the AVX2 paths (represent_fused, pool's float32 2x2 sums; when the CPU
    has them) and without."""
    before = gb._core._set_fused_avx2(request.param == "avx2")
    yield request.param
    gb._core._set_fused_avx2(before)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def digits_images():
    """scikit-learn's digits as (images, labels), in their original order."""
    from glassbox import datasets

    ds = datasets.load_digits()
    return ds.images, ds.labels


def write_idx(path, x, compress=False, code=0x08):
    """Array ``x`` as an IDX file at ``path`` (gzip with ``compress``) of type ``code`` (0x08
    uint8, 0x0D big-endian float32); ``path``."""
    x = np.asarray(x)
    head = bytes([0, 0, code, x.ndim]) + np.array(x.shape, ">u4").tobytes()
    data = head + x.astype({0x08: "u1", 0x0D: ">f4"}[code]).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def whole_idx_reads(monkeypatch):
    """The names of the IDX files read whole (``IdxFile.read_all``) from now on, in order."""
    from glassbox import _io

    names = []
    real_read_all = _io.IdxFile.read_all

    def read_all(self):
        names.append(Path(self.path).name)
        return real_read_all(self)

    monkeypatch.setattr(_io.IdxFile, "read_all", read_all)
    return names


def no_temporaries(directory):
    """True when ``directory`` holds no hidden (temporary) file."""
    return not [p for p in Path(directory).iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def images():
    """257 random 28 x 28 uint8 images with some structure (dark top rows): the streaming and
    preprocess tests' data (a module may define its own ``images``)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (257, 28, 28), dtype=np.uint8)
    x[:, :4] = 0
    return x


@pytest.fixture
def small_stages(monkeypatch):
    """kernel-ridge heads of 150 + 200 landmarks: two stages on a few hundred images."""
    from glassbox import classifier
    from glassbox._nystroem import NystroemRidgeClassifier

    def head(self):
        alpha = classifier._RIDGE_C / float(self.C)
        return NystroemRidgeClassifier(
            150, alpha, random_state=self.random_state, refine_landmarks=200
        )

    monkeypatch.setattr(gb.GlassBoxClassifier, "_new_head", head)
