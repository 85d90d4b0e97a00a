"""``glassbox preprocess INPUT OUTPUT``: features of a large image collection, streamed."""

from __future__ import annotations

import time

import numpy as np

from . import streaming
from ._progress import Stage
from .representation import GlassBoxRepresentation


def run(args) -> int:
    """Run ``glassbox preprocess`` with parsed arguments; returns the exit status."""
    say = (lambda *a: None) if args.quiet else print
    streaming.check_output_path(args.output, "OUTPUT")  # before the fit and the passes
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    image_shape = tuple(args.image_size) if args.image_size else None
    with streaming.open_images(args.input, image_shape=image_shape) as src:
        n = len(src)
        if n == 0:
            raise ValueError(f"{src.name}: holds no images")
        k = min(args.fit_sample, n)
        rng = np.random.default_rng(args.seed)
        idx = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
        with Stage(f"read a sample of {k:,} images", timings, "sample", quiet=args.quiet):
            sample = src.take(idx)
        say(f"{src.name}: {n:,} images of {src.image_shape[0]}x{src.image_shape[1]}")
        rep = GlassBoxRepresentation(
            group=args.group, image_shape=tuple(src.image_shape), n_threads=args.n_threads
        )
        with Stage("fit the representation on the sample", timings, "fit", quiet=args.quiet):
            rep.fit(sample)
        del sample
        scaler = pca = None
        if args.n_components is not None:
            passes = 2 if not args.no_scale else 1
            with Stage(
                f"fit {'scaler + ' if passes == 2 else ''}IncrementalPCA ({args.n_components})",
                timings,
                "reduction",
                total=passes * n,
                quiet=args.quiet,
            ) as stage:
                scaler, pca = streaming.fit_reduction(
                    rep,
                    src,
                    args.n_components,
                    scale=not args.no_scale,
                    chunk_size=args.chunk_size,
                    progress=lambda d, t: stage.advance(d),
                )
        with Stage(f"write {args.output}", timings, "write", total=n, quiet=args.quiet) as stage:
            kw = {"chunk_size": args.chunk_size, "progress": lambda d, t: stage.advance(d)}
            if pca is None:
                result = streaming.transform_chunked(rep, src, args.output, **kw)
            else:
                result = streaming.transform_reduced(rep, scaler, pca, src, args.output, **kw)
    total = time.perf_counter() - t0
    say(
        f"{args.output}: {result.shape[0]:,} x {result.shape[1]:,} float32 "
        f"({'principal components' if pca is not None else 'features'}), "
        f"{n / timings['write']:,.0f} images/s while writing, {total:.1f} s in all"
    )
    return 0
