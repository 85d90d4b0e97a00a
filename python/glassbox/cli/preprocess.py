"""``glassbox preprocess INPUT OUTPUT``: features of a large image collection, streamed.

The fit (the representation's thresholds and, with ``--n-components``, the scaler and the PCA)
is saved beside the output in glassbox's model format, and ``--fitted DIR`` applies a saved fit
instead of fitting again: files preprocessed separately then share one coordinate system.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from .. import _io, streaming
from ..groups import GROUP_NAMES
from ..persistence import load_model, preprocessing, save_model
from ..representation import GlassBoxRepresentation
from ._common import MODEL_FILES, add_image_size, positive, prepare_outputs, seed_value
from ._progress import Stage

# Options that shape a fit: with --fitted, the saved fit decides them.
_FIT_OPTIONS = {
    "group": "--group",
    "fit_sample": "--fit-sample",
    "n_components": "--n-components",
    "seed": "--seed",
}
_DEFAULT_FIT_SAMPLE = 10_000


def default_fitted_dir(output) -> Path:
    """Where the fit of ``OUTPUT`` is saved by default: ``features.npy`` -> ``features.fitted``."""
    return Path(output).with_suffix(".fitted")


def load_fitted(path):
    """The representation, scaler and PCA of a fit saved by ``glassbox preprocess``."""
    from sklearn.pipeline import Pipeline

    pipe, meta = load_model(path, with_metadata=True)
    if not isinstance(pipe, Pipeline):
        raise ValueError(
            f"--fitted {str(path)!r} holds a classifier (glassbox run --save-model), not the fit "
            "of glassbox preprocess"
        )
    steps = dict(pipe.steps)
    return steps["representation"], steps.get("scaler"), steps.get("pca"), meta


def _check_fitted_options(args) -> None:
    given = [opt for key, opt in _FIT_OPTIONS.items() if getattr(args, key) is not None]
    if args.no_scale:
        given.append("--no-scale")
    if given:
        raise ValueError(
            f"--fitted {args.fitted!r} fixes the fit: {', '.join(given)} cannot change it (leave "
            "them out, or fit again without --fitted)"
        )


def add_parser(subparsers) -> None:
    """Add ``glassbox preprocess`` and its arguments to ``subparsers``."""
    parser = subparsers.add_parser(
        "preprocess",
        help="features of a large image collection, streamed to an .npy file",
        description=(
            "Fit the representation's thresholds on a random sample of INPUT (and, with "
            "--n-components, a scaler and PCA over all of it), then stream every image through "
            "the fit in chunks and write the result to OUTPUT (.npy) with bounded memory. The "
            "fit is saved beside OUTPUT (OUTPUT without .npy, plus .fitted/; or --save-fitted "
            "DIR) in glassbox's model format; --fitted DIR applies a saved fit instead of "
            "fitting, so that training, validation and test files share one fit. INPUT: an .npy "
            "file, an IDX file (gzip or not) or a folder of images. OUTPUT appears only when "
            "complete (a temporary file is renamed at the end), and never over INPUT."
        ),
    )
    parser.add_argument("input", metavar="INPUT", help=".npy file, IDX file or image folder")
    parser.add_argument("output", metavar="OUTPUT", help="the .npy file to write")
    parser.add_argument(
        "--fitted",
        default=None,
        metavar="DIR",
        help="apply the fit saved by an earlier glassbox preprocess (its thresholds, scaler and "
        "PCA) instead of fitting on INPUT; the options that shape a fit are then refused",
    )
    parser.add_argument(
        "--save-fitted",
        default=None,
        metavar="DIR",
        help="where to save the fit (default: beside OUTPUT, OUTPUT's name with .fitted "
        "instead of .npy; with --fitted, not saved again unless this is given)",
    )
    parser.add_argument(
        "--group", default=None, choices=GROUP_NAMES, help="symmetry group (default D4)"
    )
    parser.add_argument(
        "--chunk-size", type=positive, default=10_000, help="images per chunk (10000)"
    )
    parser.add_argument(
        "--fit-sample",
        type=positive,
        default=None,
        metavar="N",
        help="images the thresholds are fitted on (a random sample; default 10000)",
    )
    parser.add_argument(
        "--n-components",
        type=positive,
        default=None,
        metavar="K",
        help="write K principal components instead of the features (scaler and "
        "IncrementalPCA fitted over all images in chunks: two more passes)",
    )
    parser.add_argument("--no-scale", action="store_true", help="PCA without standardising first")
    add_image_size(
        parser,
        "size images of a folder are resized to (default: the first image's, or the fitted "
        "size with --fitted)",
    )
    parser.add_argument(
        "--seed",
        type=seed_value,
        default=None,
        help="seed of the fit sample, in [0, 2**32 - 1] (0)",
    )
    parser.add_argument("--n-threads", type=positive, default=None, help="kernel threads (all)")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    """Run ``glassbox preprocess`` with parsed arguments; returns the exit status."""
    say = (lambda *a: None) if args.quiet else print
    inputs = [args.input]
    if args.fitted is not None:
        _check_fitted_options(args)
        inputs += [Path(args.fitted) / n for n in MODEL_FILES]
    # every output checked before the fit and the passes: never over an input
    output = streaming.check_output_path(args.output, "OUTPUT", inputs)
    for stale, size in _io.remove_stale_temporaries(output):
        if not args.quiet:
            print(f"removed {stale} ({size:,} bytes), left by an interrupted run", file=sys.stderr)
    save_dir = args.save_fitted
    if save_dir is None and args.fitted is None:
        save_dir = default_fitted_dir(output)
    if save_dir is not None:
        # created only when the fit is saved, after every image was read
        prepare_outputs(
            "--save-fitted", save_dir, MODEL_FILES, inputs, quiet=args.quiet, create=False
        )
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if args.fitted is not None:
        rep, scaler, pca, _ = load_fitted(args.fitted)
        if args.n_threads is not None:
            rep.set_params(n_threads=args.n_threads)
        if args.image_size is not None and tuple(args.image_size) != rep.image_shape_:
            raise ValueError(
                f"--image-size {args.image_size[0]} {args.image_size[1]}: the fit in "
                f"{args.fitted!r} is for images of {rep.image_shape_[0]}x{rep.image_shape_[1]}"
            )
        image_shape = rep.image_shape_
    else:
        rep = scaler = pca = None
        image_shape = tuple(args.image_size) if args.image_size else None
    with streaming.open_images(args.input, image_shape=image_shape) as src:
        n = len(src)
        if n == 0:
            raise ValueError(f"{src.name}: holds no images")
        say(f"{src.name}: {n:,} images of {src.image_shape[0]}x{src.image_shape[1]}")
        if rep is None:
            rep, scaler, pca = _fit(args, src, timings)
        else:
            say(f"fit: {args.fitted} (thresholds{', scaler' * (scaler is not None)}"
                f"{', PCA' * (pca is not None)})")  # fmt: skip
        with Stage(f"write {output}", timings, "write", total=n, quiet=args.quiet) as stage:
            kw = {"chunk_size": args.chunk_size, "progress": lambda d, t: stage.advance(d)}
            if pca is None:
                result = streaming.transform_chunked(rep, src, output, **kw)
            else:
                result = streaming.transform_reduced(rep, scaler, pca, src, output, **kw)
    if save_dir is not None:
        # only now: every image has been read and verified (a gzip file's CRC is checked at
        # its end), so the fit saved was not made from a file found corrupt afterwards
        meta = {
            "kind": "glassbox preprocess",
            "input": str(Path(args.input).resolve()),
            "n_images": n,
            "fitted_from": None if args.fitted is None else str(Path(args.fitted).resolve()),
        }
        save_model(preprocessing(rep, scaler, pca), save_dir, metadata=meta)
    total = time.perf_counter() - t0
    say(
        f"{output}: {result.shape[0]:,} x {result.shape[1]:,} float32 "
        f"({'principal components' if pca is not None else 'features'}), "
        f"{n / timings['write']:,.0f} images/s while writing, {total:.1f} s in all"
    )
    if save_dir is not None:
        say(f"fit: {save_dir} (apply it to other files with --fitted {save_dir})")
    return 0


def _fit(args, src, timings):
    """Thresholds on a random sample; with --n-components, scaler and PCA over every image."""
    n = len(src)
    k = min(args.fit_sample or _DEFAULT_FIT_SAMPLE, n)
    rng = np.random.default_rng(0 if args.seed is None else args.seed)
    idx = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
    with Stage(f"read a sample of {k:,} images", timings, "sample", quiet=args.quiet):
        sample = src.take(idx)
    rep = GlassBoxRepresentation(
        group=args.group or "D4", image_shape=tuple(src.image_shape), n_threads=args.n_threads
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
    return rep, scaler, pca
