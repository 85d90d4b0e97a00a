"""Streaming benchmark: ``transform_chunked`` from an ``.npy`` file into an ``.npy`` file against
the in-memory ``transform`` of the same images, each in a fresh process so that its peak
resident memory is its own.  The streamed file is checked against ``transform`` on a sample of
rows before its time is reported."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import glassbox as gb
mode, src, out = sys.argv[1], sys.argv[2], sys.argv[3]
with gb.streaming.open_images(src) as images:  # the fit sample, read (not mapped), as preprocess
    n = len(images)
    idx = np.sort(np.random.default_rng(0).choice(n, min(10_000, n), replace=False))
    rep = gb.GlassBoxRepresentation(image_shape=images.image_shape).fit(images.take(idx))
if mode == "memory":
    x = np.load(src)  # the images in memory, as a user of transform has them
    t = time.perf_counter()
    F = rep.transform(x)
    seconds = time.perf_counter() - t
else:
    t = time.perf_counter()
    F = rep.transform_chunked(src, out, chunk_size=10_000)
    seconds = time.perf_counter() - t
if mode == "stream":  # the file holds what transform gives: check 2,000 rows
    rows = np.sort(np.random.default_rng(1).choice(len(F), min(2_000, len(F)), replace=False))
    with gb.streaming.open_images(src) as images:
        assert np.array_equal(np.asarray(F[rows]), rep.transform(images.take(rows)))
try:  # VmHWM: this process's peak since exec (ru_maxrss would include the parent's at fork)
    status = open("/proc/self/status").read()
    peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
except (OSError, IndexError, ValueError):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_rss_bytes": peak, "shape": list(F.shape)}))
"""


def _images(n):
    """n 28x28 images: Fashion-MNIST repeated when it is installed, else random."""
    try:
        import glassbox as gb

        base = gb.datasets.load_fashion_mnist().images
    except (FileNotFoundError, OSError, ValueError):
        base = np.random.default_rng(0).integers(0, 256, (70_000, 28, 28), dtype=np.uint8)
    return base, n


def streaming_rows(n, log, repeat=1):
    """Rows for the streaming benchmark with n images (written to a temporary .npy first)."""
    base, n = _images(n)
    rows = []
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-") as tmp:
        src = Path(tmp) / "images.npy"
        x = np.lib.format.open_memmap(src, "w+", np.uint8, (n, 28, 28))
        for a in range(0, n, len(base)):
            b = min(n, a + len(base))
            x[a:b] = base[: b - a]
        x.flush()
        del x
        for mode in ("memory", "stream"):
            runs = []
            for _ in range(repeat):
                out = Path(tmp) / "features.npy"
                res = subprocess.run(
                    [sys.executable, "-c", _CHILD, mode, str(src), str(out)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
                out.unlink(missing_ok=True)
            secs = sorted(r["seconds"] for r in runs)
            peak = max(r["peak_rss_bytes"] for r in runs)
            row = {
                "mode": mode,
                "n": n,
                "median_s": secs[len(secs) // 2],
                "min_s": secs[0],
                "max_s": secs[-1],
                "images_per_s": n / secs[len(secs) // 2],
                "peak_rss_bytes": peak,
                "repeats": repeat,
            }
            rows.append(row)
            log(
                f"  streaming N={n:,} {mode:6s}: {row['median_s']:.2f} s "
                f"({row['images_per_s']:,.0f} images/s), peak RSS {peak / 2**20:,.0f} MiB"
            )
    return rows
