"""The dihedral group D4 of the square and its subgroups, acting on the last two array axes.

Element names and their action on an array ``x`` (always on the last two axes)::

    e     x
    r90   np.rot90(x, 1, axes=(-2, -1))      rotation by 90 degrees (counter-clockwise)
    r180  np.rot90(x, 2, axes=(-2, -1))
    r270  np.rot90(x, 3, axes=(-2, -1))
    fh    x[..., ::-1]                       left-right flip
    fv    x[..., ::-1, :]                    up-down flip
    t     np.swapaxes(x, -1, -2)             transpose
    at    np.swapaxes(x[..., ::-1, ::-1], -1, -2)   anti-transpose

Subgroups list their elements in this same order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

__all__ = ["GROUP_NAMES", "Group", "get_group"]

D4_ELEMENTS: tuple[str, ...] = ("e", "r90", "r180", "r270", "fh", "fv", "t", "at")

# Each element as the 2x2 matrix that moves a pixel's centred (row, column) coordinates:
# the pixel at p lands at M @ p.  Composition is matrix multiplication.
_MATRICES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "e": ((1, 0), (0, 1)),
    "r90": ((0, -1), (1, 0)),
    "r180": ((-1, 0), (0, -1)),
    "r270": ((0, 1), (-1, 0)),
    "fh": ((1, 0), (0, -1)),
    "fv": ((-1, 0), (0, 1)),
    "t": ((0, 1), (1, 0)),
    "at": ((0, -1), (-1, 0)),
}

_ACTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "e": lambda x: x,
    "r90": lambda x: np.rot90(x, 1, axes=(-2, -1)),
    "r180": lambda x: np.rot90(x, 2, axes=(-2, -1)),
    "r270": lambda x: np.rot90(x, 3, axes=(-2, -1)),
    "fh": lambda x: x[..., ::-1],
    "fv": lambda x: x[..., ::-1, :],
    "t": lambda x: np.swapaxes(x, -1, -2),
    "at": lambda x: np.swapaxes(x[..., ::-1, ::-1], -1, -2),
}

# Elements that exchange the two axes: a group containing one needs square images.
_SWAPPING = frozenset({"r90", "r270", "t", "at"})

_SUBGROUPS: dict[str, tuple[str, ...]] = {
    "trivial": ("e",),
    "C2": ("e", "r180"),
    "C4": ("e", "r90", "r180", "r270"),
    "D1h": ("e", "fh"),
    "D1v": ("e", "fv"),
    "D1t": ("e", "t"),
    "D2": ("e", "r180", "fh", "fv"),
    "D4": D4_ELEMENTS,
}

GROUP_NAMES: tuple[str, ...] = tuple(_SUBGROUPS)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class Group:
    """A subgroup of D4 acting on the last two axes of arrays.

    Use :func:`get_group` to obtain one; groups are immutable and shared.

    Attributes
    ----------
    name : str
        One of :data:`GROUP_NAMES`.
    elements : tuple of str
        Element names, in D4's fixed order ``e, r90, r180, r270, fh, fv, t, at``.
    order : int
        Number of elements.
    cayley : ndarray of int, shape (order, order)
        ``cayley[i, j]`` is the index of ``g_i ∘ g_j`` (apply ``g_j`` first, then ``g_i``).
    inverse : ndarray of int, shape (order,)
        ``inverse[i]`` is the index of the inverse of ``g_i``.
    codes : ndarray of uint8, shape (order,)
        Index of each element in D4's order (what the compiled kernels take).
    keeps_shape : bool
        False when an element exchanges the two axes (``C4``, ``D1t``, ``D4``): such groups act
        only on square images.
    """

    def __init__(self, name: str, elements: tuple[str, ...]) -> None:
        self.name = name
        self.elements = elements
        self.order = len(elements)
        self.codes = _readonly(np.array([D4_ELEMENTS.index(e) for e in elements], dtype=np.uint8))
        self.keeps_shape = not (_SWAPPING & set(elements))
        mats = [np.array(_MATRICES[e]) for e in elements]
        lookup = {m.tobytes(): k for k, m in enumerate(mats)}
        cayley = np.empty((self.order, self.order), dtype=np.intp)
        for i, mi in enumerate(mats):
            for j, mj in enumerate(mats):
                k = lookup.get((mi @ mj).tobytes())
                if k is None:  # pragma: no cover - the table above is closed
                    raise AssertionError(f"{name} is not closed under composition")
                cayley[i, j] = k
        self.cayley = _readonly(cayley)
        self.inverse = _readonly(np.argmax(cayley == 0, axis=1).astype(np.intp))

    def __repr__(self) -> str:
        return f"Group({self.name!r}, elements={self.elements})"

    def __reduce__(self):
        return (get_group, (self.name,))

    def index(self, element: int | str) -> int:
        """Index of an element given by name or index.

        Parameters
        ----------
        element : int or str
            An index in ``range(order)`` or a name from :attr:`elements`.

        Returns
        -------
        int
        """
        if isinstance(element, str):
            try:
                return self.elements.index(element)
            except ValueError:
                raise ValueError(
                    f"element {element!r} is not in group {self.name} (elements: {self.elements})"
                ) from None
        if isinstance(element, (bool, np.bool_)) or not isinstance(element, (int, np.integer)):
            raise TypeError(f"element must be an int or a name, got {type(element).__name__}")
        if not -self.order <= element < self.order:
            raise ValueError(
                f"element index {element} is out of range for {self.name} (order {self.order})"
            )
        return int(element) % self.order

    def check_shape(self, shape: tuple[int, ...], name: str = "images") -> None:
        """Raise ``ValueError`` when this group cannot act on arrays of this shape.

        Parameters
        ----------
        shape : tuple of int
            Array shape; the group acts on its last two axes.
        name : str
            Argument name used in the message.
        """
        if len(shape) < 2:
            raise ValueError(f"{name} must have at least 2 dimensions, got shape {shape}")
        if not self.keeps_shape and shape[-2] != shape[-1]:
            raise ValueError(
                f"group {self.name} contains rotations by 90 degrees or transposes, which do not "
                f"keep a non-square shape: {name} has shape {shape[-2]}x{shape[-1]}; use a square "
                f"image or "
                f"one of the groups trivial, C2, D1h, D1v, D2"
            )

    def apply(self, x: np.ndarray, element: int | str) -> np.ndarray:
        """Apply one element to the last two axes of ``x``.

        Parameters
        ----------
        x : array_like, at least 2-D
        element : int or str
            Index in :attr:`elements`, or the element's name.

        Returns
        -------
        ndarray
            A view of ``x`` (as NumPy's ``rot90`` and slicing return), transformed.
        """
        x = np.asarray(x)
        self.check_shape(x.shape, "x")
        return _ACTIONS[self.elements[self.index(element)]](x)

    def act_on_index(self, element: int | str, H: int, W: int) -> np.ndarray:
        """Where each pixel goes under one element.

        Parameters
        ----------
        element : int or str
            Index in :attr:`elements`, or the element's name.
        H, W : int
            Image height and width.

        Returns
        -------
        ndarray of intp, shape (H, W)
            ``dest[r, c]`` is the flat index, in the transformed image, of pixel ``(r, c)``:
            ``self.apply(x, element).ravel()[dest] == x`` for any ``x`` of shape (H, W).
        """
        for v, label in ((H, "H"), (W, "W")):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{label} must be a positive integer, got {v!r}")
        src = self.apply(np.arange(H * W, dtype=np.intp).reshape(H, W), element).ravel()
        dest = np.empty(H * W, dtype=np.intp)
        dest[src] = np.arange(H * W, dtype=np.intp)
        return dest.reshape(H, W)


@functools.cache
def _make_group(name: str) -> Group:
    return Group(name, _SUBGROUPS[name])


def get_group(name: str | Group) -> Group:
    """The subgroup of D4 with this name.

    Parameters
    ----------
    name : str or Group
        ``"trivial"``, ``"C2"`` (rotation by 180 degrees), ``"C4"`` (rotations), ``"D1h"``
        (left-right flip), ``"D1v"`` (up-down flip), ``"D1t"`` (transpose), ``"D2"`` (both flips)
        or ``"D4"`` (all eight symmetries of the square).  A :class:`Group` is returned as is.

    Returns
    -------
    Group

    Examples
    --------
    >>> from glassbox.groups import get_group
    >>> g = get_group("C4")
    >>> g.elements
    ('e', 'r90', 'r180', 'r270')
    >>> int(g.cayley[1, 1]) == g.index("r180")
    True
    """
    if isinstance(name, Group):
        return name
    if not isinstance(name, str):
        raise TypeError(f"group must be a group name (str), got {type(name).__name__}")
    if name not in _SUBGROUPS:
        raise ValueError(f"unknown group {name!r}; expected one of {', '.join(GROUP_NAMES)}")
    return _make_group(name)
