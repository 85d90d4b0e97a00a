"""Run the benchmark suite: ``python -m bench [--quick] [--out DIR]``.

Each implementation is checked against the reference output, warmed up, then timed
``--repeat`` times (slow peers fewer); the report gives median / min / max and each time as a
ratio to the fastest peer (non-glassbox) in the same run.  Results go to ``DIR/results.json``
and ``DIR/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import glassbox as gb

from . import representation, work_r


def _time(fn, x, repeat):
    fn(x)  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return times


def bench_work_r(sizes, repeat, slow_repeat, log):
    rows = []
    for n, side in sizes:
        x = np.random.default_rng(0).integers(0, 256, (n, side, side), dtype=np.uint8)
        want = work_r.numpy_pool_first(x)
        want_packed = np.packbits(want, axis=-1, bitorder="little")
        results = []
        for name, factory, packed, slow in work_r.implementations():
            fn = factory(x)
            got = fn(x)
            np.testing.assert_array_equal(got, want_packed if packed else want, err_msg=name)
            times = _time(fn, x, slow_repeat if slow else repeat)
            results.append((name, times))
            log(
                f"  R {n}x{side}x{side}  {name:<36} median {statistics.median(times) * 1e3:9.2f} ms"
            )
        best_peer = min(
            statistics.median(t) for name, t in results if not name.startswith("glassbox")
        )
        for name, times in results:
            med = statistics.median(times)
            rows.append(
                {
                    "benchmark": "R: binarize>127 + D4 orbit + 2x2 max-pool",
                    "shape": [n, side, side],
                    "implementation": name,
                    "median_s": med,
                    "min_s": min(times),
                    "max_s": max(times),
                    "repeats": len(times),
                    "speedup_vs_best_peer": best_peer / med,
                }
            )
    return rows


def bench_representation(repeat, slow_repeat, log):
    x, source = representation.images()
    impls = representation.implementations(x)
    want = impls[-1][1](x)
    results = []
    for name, fn, slow in impls:
        np.testing.assert_array_equal(fn(x), want, err_msg=name)
        times = _time(fn, x, slow_repeat if slow else repeat)
        results.append((name, times))
        med = statistics.median(times)
        log(
            f"  representation {len(x)} {source:<14} {name:<52} median {med * 1e3:9.1f} ms "
            f"({len(x) / med:,.0f} images/s)"
        )
    best_peer = min(statistics.median(t) for name, t in results if not name.startswith("glassbox"))
    rows = []
    for name, times in results:
        med = statistics.median(times)
        rows.append(
            {
                "benchmark": f"GlassBoxRepresentation.transform (defaults), {source}",
                "shape": list(x.shape),
                "implementation": name,
                "median_s": med,
                "min_s": min(times),
                "max_s": max(times),
                "repeats": len(times),
                "images_per_s": len(x) / med,
                "speedup_vs_best_peer": best_peer / med,
            }
        )
    return rows


def _markdown(rows, meta):
    lines = [
        "# glassbox benchmark results",
        "",
        f"glassbox {meta['glassbox']}, numpy {meta['numpy']}, {meta['cpus']} CPUs, "
        f"n_threads default {meta['n_threads']}, {meta['date']}",
        "",
        "| benchmark | shape | implementation | median ms | min ms | max ms "
        "| speed-up vs best peer |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {'x'.join(map(str, r['shape']))} | {r['implementation']} | "
            f"{r['median_s'] * 1e3:.2f} | {r['min_s'] * 1e3:.2f} | {r['max_s'] * 1e3:.2f} | "
            f"{r['speedup_vs_best_peer']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI-sized)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repeats per implementation")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output directory")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 11)
    if repeat < 1:
        parser.error("--repeat must be positive")
    slow_repeat = 1 if args.quick else 3
    sizes = [(70_000, 28)]

    def log(msg):
        print(msg, flush=True)

    from glassbox._validation import resolve_n_threads

    meta = {
        "glassbox": gb.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "n_threads": resolve_n_threads(None),
        "openmp": gb._core.openmp_enabled(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    log(f"glassbox benchmark suite: {meta}")
    rows = bench_work_r(sizes, repeat, slow_repeat, log)
    rows += bench_representation(repeat, slow_repeat, log)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    md = _markdown(rows, meta)
    (args.out / "results.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
