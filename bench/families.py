"""Benchmarks of each kernel family against its peers.

Every case is a list of implementations of one job.  ``check`` says how an implementation's
output is compared with the glassbox result before timing: ``"exact"`` (bit-identical),
``"allclose"`` (float work, stated in the report) or ``"same job"`` (a different algorithm for the
same purpose, e.g. scikit-image's LBP for local patterns: not comparable value for value, timed
as the tool a user would otherwise reach for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import glassbox as gb

from . import peers, representation, work_r

D4 = gb.get_group("D4")
C4 = gb.get_group("C4")


@dataclass
class Impl:
    name: str
    fn: object  # () -> output
    glassbox: bool = False
    slow: bool = False
    check: str = "exact"
    threads: int | None = None  # glassbox rows: explicit thread count (None: default)
    n_images: int | None = None  # per-image peers run on a slice: times are scaled to the case
    into_out: bool = False  # glassbox rows: writes into the caller's out= (no new memory)
    # glassbox rows that do more than one pass (the composed kernels): their own bytes in + out
    # and new-array bytes, intermediates included, instead of the case's and the result's
    bytes_moved: int | None = None
    fresh_bytes: int | None = None


@dataclass
class Case:
    benchmark: str
    shape: tuple
    impls: list
    bytes_moved: int | None = None  # input + output bytes of the glassbox result (memory bound)
    tags: dict = field(default_factory=dict)


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def binarize_cases(x):
    import cv2

    t4 = np.array([51, 102, 153, 204])
    n = x.nbytes
    return [
        Case(
            "binarize > 127",
            x.shape,
            [
                Impl("numpy x > 127", lambda: np.greater(x, 127).view(np.uint8)),
                Impl("opencv threshold", lambda: peers.cv_threshold(x, 127)),
                Impl("glassbox binarize", lambda: gb.binarize(x, 127), True),
                Impl(
                    "glassbox binarize, 1 thread",
                    lambda: gb.binarize(x, 127, n_threads=1),
                    True,
                    threads=1,
                ),
            ],
            bytes_moved=2 * n,
        ),
        Case(
            "binarize, 4 thresholds",
            x.shape,
            [
                Impl(
                    "numpy broadcast",
                    lambda: np.greater(x[:, None], t4[:, None, None]).view(np.uint8),
                ),
                Impl(
                    "opencv threshold per plane",
                    lambda: np.stack([peers.cv_threshold(x, int(t)) for t in t4], axis=1),
                ),
                Impl("glassbox binarize", lambda: gb.binarize(x, t4), True),
                Impl(
                    "glassbox binarize, 1 thread",
                    lambda: gb.binarize(x, t4, n_threads=1),
                    True,
                    threads=1,
                ),
            ],
            bytes_moved=5 * n,
        ),
        Case(
            "binarize, Otsu per image",
            x.shape,
            [
                Impl(
                    "opencv THRESH_OTSU per image",
                    lambda: np.stack(
                        [
                            cv2.threshold(im, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
                            for im in x
                        ]
                    ),
                    slow=True,
                ),
                Impl("glassbox binarize otsu", lambda: gb.binarize(x, method="otsu"), True),
                Impl(
                    "glassbox binarize otsu, 1 thread",
                    lambda: gb.binarize(x, method="otsu", n_threads=1),
                    True,
                    threads=1,
                ),
            ],
            bytes_moved=2 * n,
        ),
    ]


def orbit_cases(x):
    """The D4 and C4 orbits of the images, and the D4 orbit of their 2x2-pooled planes (the
    planes the composed pipeline orbits: 14 x 14 for 28 x 28 images)."""
    pooled = gb.pool(x, 2)
    cases = []
    for group, y in ((D4, x), (C4, x), (D4, pooled)):
        impls = [
            Impl(
                "numpy views copied into one array",
                lambda g=group, y=y: peers.orbit_numpy(y, g),
            )
        ]
        if _has("torch"):
            impls.append(
                Impl(
                    "torch rot90 / flip, stacked",
                    lambda g=group, y=y: peers.orbit_torch(y, g).numpy(),
                )
            )
        impls += [
            Impl("glassbox orbit", lambda g=group, y=y: gb.orbit(y, g), True),
            Impl(
                "glassbox orbit, 1 thread",
                lambda g=group, y=y: gb.orbit(y, g, n_threads=1),
                True,
                threads=1,
            ),
        ]
        cases.append(
            Case(f"orbit {group.name}", y.shape, impls, bytes_moved=(1 + group.order) * y.nbytes)
        )
    return cases


def pool_cases(x):
    import cv2

    xf = x.astype(np.float32)
    n, h, w = x.shape
    cases = []

    impls = [
        Impl("numpy max of 4 strided views", lambda: peers.max_pool2_numpy(x)),
        Impl("opencv max of row / column pairs", lambda: peers.max_pool2_opencv(x)),
    ]
    if _has("torch"):
        import torch

        impls.append(
            Impl(
                "torch max_pool2d (uint8 as float)",
                lambda: (
                    torch.nn.functional.max_pool2d(torch.from_numpy(x).unsqueeze(1).float(), 2)
                    .squeeze(1)
                    .to(torch.uint8)
                    .numpy()
                ),
            )
        )
    impls += [
        Impl("glassbox pool max", lambda: gb.pool(x, 2), True),
        Impl("glassbox pool max, 1 thread", lambda: gb.pool(x, 2, n_threads=1), True, threads=1),
    ]
    cases.append(Case("pool 2x2 max, uint8", x.shape, impls, bytes_moved=x.nbytes * 5 // 4))

    def np_mean():
        return xf.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32)

    impls = [
        Impl("numpy reshape mean", np_mean, check="allclose"),
        Impl(
            "opencv resize INTER_AREA per image",
            lambda: np.stack(
                [cv2.resize(im, (w // 2, h // 2), interpolation=cv2.INTER_AREA) for im in xf]
            ),
            check="allclose",
            slow=True,
        ),
    ]
    if _has("torch"):
        import torch

        impls.append(
            Impl(
                "torch avg_pool2d",
                lambda: (
                    torch.nn.functional.avg_pool2d(torch.from_numpy(xf).unsqueeze(1), 2)
                    .squeeze(1)
                    .numpy()
                ),
                check="allclose",
            )
        )
    impls += [
        Impl("glassbox pool mean", lambda: gb.pool(xf, 2, mode="mean"), True),
        Impl(
            "glassbox pool mean, 1 thread",
            lambda: gb.pool(xf, 2, mode="mean", n_threads=1),
            True,
            threads=1,
        ),
    ]
    cases.append(Case("pool 2x2 mean, float32", x.shape, impls, bytes_moved=xf.nbytes * 5 // 4))
    return cases


def group_pool_cases(x):
    """Pooling over the group axis of a D4 orbit of the 2x2-pooled images (the shapes the
    composed pipeline gives it): (N, 8, H/2, W/2) uint8 -> (N, H/2, W/2)."""
    o = gb.orbit(gb.pool(x, 2), D4)
    cases = []
    for mode, peer in (("max", np.max), ("sum", np.sum)):
        out_dtype = gb.group_pool(o[:1], mode=mode).dtype
        impls = [
            Impl(
                f"numpy {peer.__name__}(axis=1)",
                (lambda p=peer, dt=out_dtype: p(o, axis=1).astype(dt, copy=False)),
            ),
        ]
        if _has("torch"):
            import torch

            if mode == "max":
                impls.append(
                    Impl(
                        "torch amax(dim=1)",
                        lambda: torch.amax(torch.from_numpy(o), dim=1).numpy(),
                    )
                )
            else:
                impls.append(
                    Impl(
                        "torch sum(dim=1, dtype=int64)",
                        lambda dt=out_dtype: (
                            torch.sum(torch.from_numpy(o), dim=1).numpy().astype(dt, copy=False)
                        ),
                    )
                )
        impls += [
            Impl(f"glassbox group_pool {mode}", (lambda m=mode: gb.group_pool(o, mode=m)), True),
            Impl(
                f"glassbox group_pool {mode}, 1 thread",
                (lambda m=mode: gb.group_pool(o, mode=m, n_threads=1)),
                True,
                threads=1,
            ),
        ]
        out_bytes = o.nbytes // D4.order * np.dtype(out_dtype).itemsize
        cases.append(
            Case(
                f"group_pool {mode} over D4",
                o.shape,
                impls,
                bytes_moved=o.nbytes + out_bytes,
            )
        )
    return cases


def patterns_cases(x, quick=False):
    # scikit-image works image by image: timed on a slice (of as many pixels as 5,000 28 x 28
    # images; 1,000 with --quick)
    m = max(1, (1000 if quick else 5000) * 784 // (x.shape[1] * x.shape[2]))
    b = gb.binarize(x, 127)
    table = gb.pattern_table("D4")
    n, h, w = b.shape

    def np_patterns():
        pad = np.zeros((n, h + 2, w + 2), dtype=np.uint16)
        pad[:, 1:-1, 1:-1] = b
        code = np.zeros((n, h, w), dtype=np.uint16)
        for r in range(3):
            for c in range(3):
                code |= pad[:, r : r + h, c : c + w] << np.uint16(3 * r + c)
        return table.class_of_code[code], table.element_of_code[code]

    impls = [Impl("numpy shifted codes + lookup", np_patterns)]
    if _has("skimage"):
        from skimage.feature import local_binary_pattern

        impls.append(
            Impl(
                "scikit-image local_binary_pattern(P=8, R=1), per image",
                lambda: np.stack([local_binary_pattern(im, 8, 1) for im in x[:m]]),
                check="same job",
                slow=True,
                n_images=m,
            )
        )
    impls += [
        Impl("glassbox local_patterns", lambda: tuple(gb.local_patterns(b, "D4")), True),
        Impl(
            "glassbox local_patterns, 1 thread",
            lambda: tuple(gb.local_patterns(b, "D4", n_threads=1)),
            True,
            threads=1,
        ),
    ]
    return [Case("local 3x3 patterns, D4 classes", b.shape, impls, bytes_moved=4 * b.nbytes)]


def fused_cases(sizes, quick):
    cases = []
    for n, side in sizes:
        x = np.random.default_rng(0).integers(0, 256, (n, side, side), dtype=np.uint8)
        impls = []
        for name, factory, packed, slow in work_r.implementations():
            if slow and (quick or side > 28):
                continue  # the literal NumPy version: minutes at the large sizes
            fn = factory(x)
            impls.append(
                Impl(
                    name,
                    (lambda f=fn, x=x: f(x)),
                    name.startswith("glassbox"),
                    slow,
                    check="packed" if packed else "exact",
                    into_out="out=" in name,
                )
            )
        # the public kernels composed as the seed describes the model, each with a new output
        composed_moved = x.nbytes * 2 + x.nbytes * 5 // 4 + x.nbytes // 4 * 9
        composed_fresh = x.nbytes + x.nbytes // 4 + x.nbytes * 2
        for threads in (None, 1):
            impls.append(
                Impl(
                    "glassbox composed kernels (orbit(pool(binarize)))"
                    + (", 1 thread" if threads == 1 else ""),
                    (lambda x=x, t=threads: work_r.glassbox_composed(x, t)),
                    True,
                    threads=threads,
                    bytes_moved=composed_moved,
                    fresh_bytes=composed_fresh,
                )
            )
        out = np.empty((n, 8, side // 2, side // 2), dtype=np.uint8)
        impls.append(
            Impl(
                "glassbox fused, out=, 1 thread",
                lambda x=x, out=out: gb.represent_fused(x, 127, out=out, n_threads=1),
                True,
                threads=1,
                into_out=True,
            )
        )
        out_bytes = n * 8 * (side // 2) ** 2
        packed_bytes = n * 8 * (side // 2) * ((side // 2 + 7) // 8)
        cases.append(
            Case(
                "R: binarize>127 + D4 orbit + 2x2 max-pool",
                x.shape,
                impls,
                bytes_moved=x.nbytes + out_bytes,
                tags={"packed_bytes_moved": x.nbytes + packed_bytes},
            )
        )
    return cases


def representation_cases(quick):
    x, source = representation.images()
    reps = representation.implementations(x)
    impls = []
    for name, fn, slow in reps:
        impls.append(
            Impl(
                name,
                (lambda f=fn: f(x)),
                name.startswith("glassbox"),
                slow,
                threads=1 if "1 thread" in name else None,
            )
        )
    for name, fn in representation.option_implementations(x):
        impls.append(Impl(name, (lambda f=fn: f(x)), True, check="same job"))
    m = 300 if quick else 3000  # per-image peers: timed on a slice, reported per image
    xs = x[:m]
    if _has("skimage"):
        from skimage.feature import hog

        impls.append(
            Impl(
                f"scikit-image HOG (4x4 cells, 2x2 blocks), {m} images",
                lambda: np.stack(
                    [hog(im, pixels_per_cell=(4, 4), cells_per_block=(2, 2)) for im in xs]
                ),
                check="same job",
                slow=True,
                n_images=m,
            )
        )
    if _has("kymatio"):
        try:
            from kymatio.scattering2d.frontend.numpy_frontend import ScatteringNumPy2D

            scat = ScatteringNumPy2D(J=2, shape=x.shape[1:], L=8)
            xf = xs.astype(np.float32) / 255
            impls.append(
                Impl(
                    f"kymatio scattering (J=2, L=8, NumPy), {m} images",
                    lambda: scat(xf),
                    check="same job",
                    slow=True,
                    n_images=m,
                )
            )
        except Exception:  # noqa: BLE001 - an optional peer that does not import is left out
            pass
    return [Case(f"GlassBoxRepresentation.transform (defaults), {source}", x.shape, impls)]
