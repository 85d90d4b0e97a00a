# Type stub of the compiled module glassbox._core (internal: use the glassbox functions, which
# validate their arguments; these only check array layouts).
import numpy as np
from numpy.typing import NDArray

__version__: str
OTSU_MAX_PIXELS: int

def openmp_enabled() -> bool: ...
def max_threads() -> int: ...
def count_nonfinite(array: np.ndarray, n_threads: int) -> int: ...
def binarize(
    images: np.ndarray,
    method: int,
    thresholds: NDArray[np.float64],
    packed: bool,
    out: NDArray[np.uint8],
    n_threads: int,
) -> None: ...
def orbit(
    images: np.ndarray, elements: NDArray[np.uint8], out: np.ndarray, n_threads: int
) -> None: ...
def orbit_packed(
    images: NDArray[np.uint8],
    width: int,
    elements: NDArray[np.uint8],
    out: NDArray[np.uint8],
    n_threads: int,
) -> None: ...
def pool(
    images: np.ndarray, size: int, stride: int, mode: int, out: np.ndarray, n_threads: int
) -> None: ...
def group_pool(values: np.ndarray, mode: int, out: np.ndarray, n_threads: int) -> None: ...
def local_patterns(
    binary: np.ndarray,
    size: int,
    class_lut: NDArray[np.uint16],
    element_lut: NDArray[np.uint8],
    classes: NDArray[np.uint16],
    elements: NDArray[np.uint8],
    n_threads: int,
) -> int: ...
def represent_fused(
    images: np.ndarray,
    method: int,
    thresholds: NDArray[np.float64],
    size: int,
    stride: int,
    mode: int,
    elements: NDArray[np.uint8],
    packed: bool,
    out: np.ndarray,
    n_threads: int,
    fresh_out: bool = False,
) -> None: ...
def _fused_avx2_enabled() -> bool: ...
def _set_fused_avx2(enabled: bool) -> bool: ...
def cell_histograms(
    labels: NDArray[np.uint16], n_labels: int, cell: int, out: NDArray[np.int32], n_threads: int
) -> int: ...
def take_columns(
    rows: NDArray[np.float32], index: NDArray[np.int64], out: NDArray[np.float32], n_threads: int
) -> None: ...
def glass_features(
    images: np.ndarray,
    thresholds: NDArray[np.float64],
    pool: int,
    cell: int,
    dists: NDArray[np.int64],
    inv_index: NDArray[np.int32],
    n_inv: int,
    write_inv: bool,
    write_eq: bool,
    out: NDArray[np.float32],
    n_threads: int,
    smooth: bool = False,
    second_order: bool = False,
    root: bool = False,
) -> None: ...
