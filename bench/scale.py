"""Learning at scale: ``GlassBoxClassifier(classifier="kernel-ridge")`` trained from an ``.npy``
file of 60,000 / 250,000 / 1,000,000 images, each fit in its own process (its peak resident
memory is that process's own), tested on Fashion-MNIST's 10,000 test images.

The training file holds Fashion-MNIST's 60,000 training images first, then copies of them:
copy ``c`` (c = 1, 2, ...) of image ``i`` is ``i`` moved by D4 element ``c % 8`` and, for
``c >= 8``, shifted by one pixel in a direction drawn per copy (seeded; the uncovered border
is 0, Fashion-MNIST's background).  The first N rows are the training set of size N.

    python -m bench.scale                              # 60k, 250k, 1M (about 15 minutes)
    python -m bench.scale --sizes 60000 250000         # fewer
    python -m bench.scale --json out.json --dir /tmp   # where the 784 MB file goes

Reports time and peak memory against N, time per image relative to the largest size's (a
linear stage keeps it near 1), and the test accuracy with its 95% interval.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.accuracy import wilson

_SHIFTS = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]


def _shift(x, dy, dx):
    out = np.zeros_like(x)
    H, W = x.shape[1:]
    out[:, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = x[
        :, max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)
    ]
    return out


def write_training_file(path, images, labels, n, seed=0, chunk=60_000):
    """The first ``n`` rows of the copies described above, as ``path`` (.npy) and
    ``path`` with ``.labels.npy``; written chunk by chunk (memory: one chunk)."""
    import glassbox as gb

    g = gb.get_group("D4")
    rng = np.random.default_rng(seed)
    base = len(images)
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=images.dtype, shape=(n, *images.shape[1:])
    )
    ys = np.empty(n, dtype=labels.dtype)
    c, a = 0, 0
    while a < n:
        x = np.ascontiguousarray(g.apply(images, g.elements[c % 8]))
        if c >= 8:
            x = _shift(x, *_SHIFTS[rng.integers(len(_SHIFTS))])
        for s in range(0, base, chunk):
            b = min(n, a + min(chunk, base - s))
            out[a:b] = x[s : s + b - a]
            ys[a:b] = labels[s : s + b - a]
            a = b
            if a >= n:
                break
        c += 1
    out.flush()
    del out
    np.save(str(path) + ".labels.npy", ys)


_CHILD = r"""
import json, resource, sys, time
import numpy as np
import glassbox as gb
path, n, test = sys.argv[1], int(sys.argv[2]), sys.argv[3]
y = np.load(path + ".labels.npy")
t0 = time.perf_counter()
clf = gb.GlassBoxClassifier(classifier="kernel-ridge").fit(path, y)  # read, not mapped
fit = time.perf_counter() - t0
d = np.load(test)
t0 = time.perf_counter()
correct = int((clf.predict(d["x"]) == d["y"]).sum())
predict = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"n": n, "fit_s": fit, "predict_s": predict, "correct": correct,
                  "n_test": len(d["y"]), "peak_rss": rss}))
"""


def measure(path, n, test_path):
    """One child process: fit on the first n rows of ``path``; its numbers."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(n), str(test_path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def learning_rows(sizes, log=print, tmp_dir=None):
    """One row per training size (see the module): fit seconds, peak RSS, test accuracy and
    its 95% interval, time per image relative to the largest size's."""
    import glassbox as gb

    x_tr, x_te, y_tr, y_te = gb.datasets.load_fashion_mnist().standard_split()
    sizes = sorted(sizes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-", dir=tmp_dir) as tmp:
        path = Path(tmp) / "train.npy"
        write_training_file(path, x_tr, y_tr, sizes[-1])
        test = Path(tmp) / "test.npz"
        np.savez(test, x=x_te, y=y_te)
        for n in sizes:
            part = path
            if n < sizes[-1]:  # the first n rows, as a file of their own
                part = Path(tmp) / f"train-{n}.npy"
                np.save(part, np.load(path, mmap_mode="r")[:n])
                np.save(str(part) + ".labels.npy", np.load(str(path) + ".labels.npy")[:n])
            row = measure(part, n, test)
            if part != path:
                part.unlink()
            row["accuracy"] = row["correct"] / row["n_test"]
            row["accuracy_95"] = list(wilson(row["correct"], row["n_test"]))
            rows.append(row)
            log(
                f"  kernel-ridge fit on {n:,} images: {row['fit_s']:.1f} s, peak RSS "
                f"{row['peak_rss'] / 2**20:,.0f} MiB, test accuracy {row['accuracy']:.4f}"
            )
    last = rows[-1]
    for r in rows:
        r["per_image_vs_largest"] = (r["fit_s"] / r["n"]) / (last["fit_s"] / last["n"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[60_000, 250_000, 1_000_000])
    p.add_argument("--dir", default=None, help="where the training file is written (temporary)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = learning_rows(args.sizes, lambda m: print(m, file=sys.stderr), args.dir)
    print("| training images | fit | per image vs largest | peak RSS | test accuracy [95%] |")
    print("|---:|---:|---:|---:|---|")
    for r in rows:
        lo, hi = r["accuracy_95"]
        print(
            f"| {r['n']:,} | {r['fit_s']:.1f} s | {r['per_image_vs_largest']:.2f} | "
            f"{r['peak_rss'] / 2**30:.2f} GiB | {r['accuracy']:.4f} [{lo:.3f}, {hi:.3f}] |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
