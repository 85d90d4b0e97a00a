"""glassbox: a convolutional network's early layers as an analytical, inspectable model.

The representation layer is built from a few exact, fast kernels (C++ with OpenMP):

- :func:`binarize`: binary planes ``pixel > threshold`` (fixed, Otsu or mean thresholds);
- :func:`orbit`: every element of a symmetry group (D4 and its subgroups, :mod:`glassbox.groups`)
  applied to every image;
- :func:`pool` and :func:`group_pool`: spatial pooling, and pooling over the group (exactly
  invariant);
- :func:`local_patterns`: each pixel's 3x3 pattern as an orbit class (invariant) and an
  orientation (equivariant);
- :func:`represent_fused`: binarize, pool and orbit in one pass per image.

:class:`GlassBoxClassifier` adds scaling, PCA and a classifier; its ``explain`` breaks every
decision down into features, planes, patterns, group elements and pixels
(:mod:`glassbox.explain`), and :func:`save_model` / :func:`load_model` store it without pickle.
"""

from __future__ import annotations

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "glassbox's compiled core (glassbox._core) could not be imported. Did you build it? "
        "Install glassbox with `pip install .` from the source tree (a plain checkout on "
        f"sys.path has no compiled module). Original error: {exc}"
    ) from exc

from . import datasets, explain, groups, metrics, streaming
from ._kernels import (
    LocalPatterns,
    PatternTable,
    binarize,
    cell_histograms,
    group_pool,
    local_patterns,
    orbit,
    pattern_table,
    pool,
    represent_fused,
    unpack_bits,
)
from .classifier import CLASSIFIERS, GlassBoxClassifier
from .groups import GROUP_NAMES, Group, get_group
from .persistence import load_model, save_model
from .representation import GlassBoxRepresentation

__version__ = _core.__version__

__all__ = [
    "CLASSIFIERS",
    "GROUP_NAMES",
    "GlassBoxClassifier",
    "GlassBoxRepresentation",
    "Group",
    "LocalPatterns",
    "PatternTable",
    "__version__",
    "binarize",
    "cell_histograms",
    "datasets",
    "explain",
    "get_group",
    "group_pool",
    "groups",
    "load_model",
    "local_patterns",
    "metrics",
    "orbit",
    "pattern_table",
    "pool",
    "represent_fused",
    "save_model",
    "streaming",
    "unpack_bits",
]
