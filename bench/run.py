"""Run the benchmark suite: ``python -m bench [--quick] [--out DIR] [--only NAME ...]``.

Each implementation is checked against glassbox's output (bit-identical, or allclose for float
work, or marked "same job" for a different algorithm with the same purpose), warmed up, then
timed ``--repeat`` times (slow peers fewer, glassbox's 1-/2-thread pairs twice as many); the
report gives median / min / max, each time as a ratio to the fastest peer (non-glassbox) in the
same run, the machine's streaming memory bandwidth and, for memory-bound work, each glassbox
time as a multiple of the time it cannot beat; then scaling in N, in image size and from 1 to 2
threads.  Results go to ``DIR/results.json`` and ``DIR/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import glassbox as gb

from . import bandwidth, families, probe, scale, streaming

GROUPS = (
    "binarize",
    "orbit",
    "pool",
    "group_pool",
    "patterns",
    "fused",
    "representation",
    "scaling",
    "streaming",
    "learning",
)


# At 2 threads within this multiple of its bandwidth bound, a row counts as memory-bound.
MEMORY_BOUND_X = 2.5
# 1-image calls between a cache eviction and a timed batch of the scaling rows (see scaling_rows).
WARM_CALLS = 3


def _time_once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class _Evict:
    """Writes a buffer larger than the last-level cache (this machine reports up to 300 MiB of
    L3), so that the next timing starts with cold caches."""

    def __init__(self, nbytes=512 << 20):
        self.buf = np.zeros(nbytes, dtype=np.uint8)

    def __call__(self):
        self.buf += 1


def _check(impl, got, want):
    if impl.check == "same job":
        return
    if impl.check == "packed":
        want = np.packbits(want, axis=-1, bitorder="little")
    pairs = zip(got, want, strict=True) if isinstance(want, tuple) else [(got, want)]
    for g, w in pairs:
        if impl.check == "allclose":
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=impl.name)
        else:
            np.testing.assert_array_equal(g, w, err_msg=impl.name)


def _bound(moved, fresh, bw):
    """The time a row cannot beat: its bytes in and out at the copy bandwidth, and a new array
    of ``fresh`` bytes no faster than this machine writes fresh memory."""
    bound = moved / bw["copy"]
    if fresh and bw.get("fresh_write"):
        bound = max(bound, fresh / bw["fresh_write"])
    return bound


def _median_ratio(numerators, denominators):
    """The median of the per-round ratios of two series timed in the same rounds: drift from
    round to round falls on both sides of each ratio, unlike a ratio of the two medians."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def _nbytes(result):
    """Bytes of an array, or of a tuple of arrays."""
    if isinstance(result, tuple):
        return sum(np.asarray(r).nbytes for r in result)
    return np.asarray(result).nbytes


def round_orders(n, rounds, seed=0, pairs=()):
    """The order of ``n`` implementations in each of ``rounds`` rounds: shuffled, with a fixed
    seed.  Each ``(a, b)`` of ``pairs`` stays back to back, ``a`` first in even rounds and ``b``
    first in odd ones.

    What ran just before a call can change its time, and in a fixed order one implementation
    would always follow the same one.  On this VM, for one, memory left free for 2 s goes back to
    the host (the balloon's free page reporting) and costs about twice as much to fault in again:
    right after torch's 2-second call at 4,000 x 224 x 224, glassbox's fresh 401 MB output took
    245-293 ms, and 69-87 ms after any other implementation.  Shuffled, each follows the slow
    ones in few rounds, which the median leaves out.  (Rotating one order would not do: every
    implementation would still follow the same one within a round.)"""
    rng = random.Random(seed)
    paired = {i for pair in pairs for i in pair}
    orders = []
    for k in range(rounds):
        units = [list(p) if k % 2 == 0 else list(p)[::-1] for p in pairs]
        units += [[i] for i in range(n) if i not in paired]
        rng.shuffle(units)
        orders.append([i for unit in units for i in unit])
    return orders


def _twins(impls):
    """{index of a glassbox "..., 1 thread" row: index of its row at the default threads}."""
    names = [impl.name for impl in impls]
    twins = {}
    for i, impl in enumerate(impls):
        twin = impl.name.replace(", 1 thread", "")
        if impl.glassbox and impl.threads == 1 and twin in names:
            twins[i] = names.index(twin)
    return twins


def run_case(case, repeat, slow_repeat, bw, log, machine=None, meter=None, pair_repeat=None):
    """Time every implementation of a case; return its rows.

    Each implementation is checked against glassbox (which also warms it up), then the
    implementations are timed in turns, one repetition each per round: on a shared machine the
    background load drifts over seconds, and timing them round robin lets that drift fall on all
    of them alike, so their ratios (speed-ups, 1 vs 2 threads) hold.  The order within each round
    is shuffled (see :func:`round_orders`).  A glassbox row and its 1-thread twin run back to
    back, and their speed-up is the median over rounds of the ratio of their two times: the drift
    then falls on both sides of each ratio.  With ``machine`` (a :class:`bench.probe.ComputeProbe`
    with as many workers as the default threads), the machine's own speed-up is timed the same
    way in the same rounds, right after the pair, and reported beside it.  With ``meter`` (a
    :class:`bench.bandwidth.Meter`), the copy and fresh-write bandwidths are measured at the end
    of every round of a memory-bound case, and each glassbox time is compared with the bound of
    its own round (``x_bound`` is the median of those ratios); without it, with ``bw``.

    The rows of a 1-/2-thread pair are timed ``pair_repeat`` times (default ``repeat``), the
    others stop after their own count: the suite's thread point is the worst of several pairs'
    medians, and with few rounds that minimum mostly picks the pair that met the most noise."""
    ref_impl = next(i for i in case.impls if i.glassbox)
    want = ref_impl.fn()
    n_case = case.shape[0]
    fresh = []  # bytes of the new array(s) a glassbox row returns (0: none, or not glassbox)
    for impl in case.impls:
        got = impl.fn()  # also the warm-up
        _check(impl, got, want)
        if impl.fresh_bytes is not None:
            fresh.append(impl.fresh_bytes)
        else:
            fresh.append(_nbytes(got) if impl.glassbox and not impl.into_out else 0)
        del got
    del want
    twins = _twins(case.impls)
    pairs = [(j, i) for i, j in twins.items()]
    paired = {i for pair in pairs for i in pair}
    counts = [
        slow_repeat if impl.slow else (pair_repeat or repeat) if i in paired else repeat
        for i, impl in enumerate(case.impls)
    ]
    raw = [[] for _ in case.impls]
    own = []  # the probe's 1-CPU time over its n-CPU time, per round
    round_bw = []  # {"copy", "fresh_write"} measured at the end of each round
    metered = meter is not None and case.bytes_moved
    for k, order in enumerate(round_orders(len(case.impls), max(counts), pairs=pairs)):
        # the probe runs right after the first pair, in the same alternating order
        probe_after = max(order.index(i) for i in pairs[0]) if machine and pairs else None
        for pos, i in enumerate(order):
            if k < counts[i]:
                raw[i].append(_time_once(case.impls[i].fn))
            if pos == probe_after:
                n = machine.n_workers
                first, second = (n, 1) if k % 2 == 0 else (1, n)
                t = {first: machine.time(first)}
                t[second] = machine.time(second)
                own.append(t[1] / t[n])
        if metered:
            round_bw.append(
                {"copy": meter.copy(), "fresh_write": meter.fresh_write() if any(fresh) else None}
            )
    timed = []
    for impl, times in zip(case.impls, raw, strict=True):
        scale = n_case / impl.n_images if impl.n_images else 1.0
        times = [t * scale for t in times]
        timed.append((impl, times))
        log(
            f"  {case.benchmark[:44]:<44} {'x'.join(map(str, case.shape)):<14} "
            f"{impl.name[:52]:<52} {statistics.median(times) * 1e3:10.2f} ms"
        )
    peers = [statistics.median(t) for i, t in timed if not i.glassbox]
    best_peer = min(peers) if peers else None
    rows = []
    for i, (impl, times) in enumerate(timed):
        med = statistics.median(times)
        row = {
            "benchmark": case.benchmark,
            "shape": list(case.shape),
            "implementation": impl.name,
            "glassbox": impl.glassbox,
            "threads": impl.threads,
            "check": impl.check,
            "median_s": med,
            "min_s": min(times),
            "max_s": max(times),
            "repeats": len(times),
            "per_image_s": med / n_case,
            "speedup_vs_best_peer": best_peer / med if best_peer else None,
        }
        if i in twins:
            row["speedup_1_to_2_threads"] = _median_ratio(raw[i], raw[twins[i]])
            if own:
                row["machine_speedup_1_to_2"] = statistics.median(own)
        if impl.n_images:
            row["note"] = f"timed on {impl.n_images} images, scaled to {n_case}"
        row.update(_bound_fields(case, impl, times, fresh[i], round_bw if metered else None, bw))
        rows.append(row)
    return rows


def _bound_fields(case, impl, times, fresh, round_bw, bw):
    """A glassbox row's bandwidth bound: from the bandwidths measured in each of its rounds
    (``round_bw``), else from ``bw``; nothing for a peer or a case without a byte count."""
    moved = case.bytes_moved
    if impl.check == "packed":
        moved = case.tags.get("packed_bytes_moved")
    if impl.bytes_moved is not None:
        moved = impl.bytes_moved
    if not (moved and impl.glassbox):
        return {}
    row = {"bytes_moved": moved}
    if fresh:
        row["fresh_bytes"] = fresh
    if round_bw is not None:
        bounds = [_bound(moved, fresh, b) for b in round_bw[: len(times)]]
        row["bound_s"] = statistics.median(bounds)
        row["x_bound"] = _median_ratio(times, bounds)
        row["copy_bandwidth"] = statistics.median(b["copy"] for b in round_bw)
    else:
        row["bound_s"] = _bound(moved, fresh, bw)
        row["x_bound"] = statistics.median(times) / row["bound_s"]
    return row


def scaling_rows(repeat, log, sizes=(100, 10_000, 35_000, 70_000), evict_bytes=512 << 20):
    """R with out= at N = 10k, 35k, 70k (linear in N?); the first size measures a call's fixed
    cost.

    Each call starts with cold data: warm, the smaller batches would sit in the last-level
    cache and look faster per image.  Evicting the cache also evicts the interpreter's, NumPy's
    and the kernel's own code and data, and the threads fall asleep meanwhile, so a 100-image
    call straight after it measures the fixed cost of a cold call.  The batches are timed after
    ``WARM_CALLS`` 1-image calls that bring code and threads back (not the batch's data), so
    that they compare the work that grows with N.  One such call is not enough: here, 1-image
    calls in a row after an eviction took 318-335, 82-96, 37-46, then 27-33 us (steady: 20-30
    us), so a batch timed after a single one still carried some 60 us of the cold start, 4% of a
    10k batch.  The sizes are timed in turns, one repetition each per round, like the
    implementations of a case, and each size's per-image time relative to the largest is the
    median over rounds of that ratio within the round: the machine's drift from round to round
    (here 96-157 ns an image at 70k, a few seconds apart) then falls on both sides of each
    ratio, as in the thread speed-ups."""
    evict = _Evict(evict_bytes)
    tiny = np.zeros((1, 28, 28), dtype=np.uint8)
    tiny_out = np.empty((1, 8, 14, 14), dtype=np.uint8)
    data = {}
    for n in sizes:
        x = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)
        out = np.empty((n, 8, 14, 14), dtype=np.uint8)
        gb.represent_fused(x, 127, out=out)  # warm-up, and faults the output in
        data[n] = (x, out)
    times = {n: [] for n in sizes}
    for _ in range(repeat):
        for n in sizes:
            x, out = data[n]
            evict()
            if n != sizes[0]:
                for _ in range(WARM_CALLS):
                    gb.represent_fused(tiny, 127, out=tiny_out)
            times[n].append(_time_once(lambda x=x, out=out: gb.represent_fused(x, 127, out=out)))
    rows = []
    for n in sizes:
        med = statistics.median(times[n])
        rows.append(
            {
                "n": n,
                "median_s": med,
                "min_s": min(times[n]),
                "max_s": max(times[n]),
                "per_image_s": med / n,
                "fixed_cost": n == sizes[0],
            }
        )
        log(f"  scaling R out= N={n:>6}: {med * 1e3:8.2f} ms ({med / n * 1e9:.1f} ns / image)")
    largest = sizes[-1]
    prev = None
    for r in rows:
        n = r["n"]
        r["per_image_vs_70k"] = _median_ratio(times[n], times[largest]) * largest / n
        if prev is not None and not prev["fixed_cost"]:
            r["marginal_per_image_s"] = (r["median_s"] - prev["median_s"]) / (r["n"] - prev["n"])
        prev = r
    return rows


def _stolen_seconds():
    """CPU time the hypervisor has taken from this machine's CPUs since boot (the "steal"
    column of /proc/stat), or None where that is not available."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


_VMSTAT_EVENTS = ("thp_fault_fallback", "compact_stall")


def _vmstat():
    """The kernel's counts of huge-page faults that fell back to 4 KB pages and of direct
    compaction stalls (from /proc/vmstat), or None where that is not available."""
    try:
        with open("/proc/vmstat") as f:
            fields = (line.split() for line in f)
            counts = {name: int(value) for name, value, *_ in fields if name in _VMSTAT_EVENTS}
        return {k: counts[k] for k in _VMSTAT_EVENTS}
    except (OSError, KeyError, ValueError):
        return None


def _fmt_ms(s):
    return f"{s * 1e3:.2f}"


def summarise(rows, scaling, stream=(), bw=None, learning=()):
    """The acceptance numbers, computed from the rows of this run."""
    out = {}
    _summarise_streaming(out, stream)
    _summarise_learning(out, learning)
    _summarise_fused(out, rows)
    _summarise_kernels(out, rows)
    _summarise_representation(out, rows)
    _summarise_threads(out, rows, bw)
    _summarise_linearity(out, scaling)
    return out


def _find(rows, bench_prefix, impl_name, shape=None):
    for r in rows:
        if (
            r["benchmark"].startswith(bench_prefix)
            and r["implementation"] == impl_name
            and (shape is None or r["shape"] == list(shape))
        ):
            return r
    return None


def _summarise_streaming(out, stream):
    by_mode = {r["mode"]: r for r in stream}
    if {"memory", "stream"} <= set(by_mode):
        mem, st = by_mode["memory"], by_mode["stream"]
        n = f"{st['n'] // 1000}k" if st["n"] < 1_000_000 else f"{st['n'] / 1e6:g}M"
        out[f"streaming {n}: throughput vs in-memory transform"] = (
            st["images_per_s"] / mem["images_per_s"]
        )
        out[f"streaming {n}: peak RSS, MiB"] = st["peak_rss_bytes"] / 2**20
        out[f"in-memory transform {n}: peak RSS, MiB"] = mem["peak_rss_bytes"] / 2**20


def _summarise_learning(out, learning):
    for r in learning:
        n = f"{r['n'] // 1000}k" if r["n"] < 1_000_000 else f"{r['n'] / 1e6:g}M"
        out[f"kernel-ridge fit {n}: seconds"] = r["fit_s"]
        out[f"kernel-ridge fit {n}: time per image vs largest"] = r["per_image_vs_largest"]
        out[f"kernel-ridge fit {n}: peak RSS, MiB"] = r["peak_rss"] / 2**20
        out[f"kernel-ridge fit {n}: test accuracy"] = r["accuracy"]


def _summarise_fused(out, rows):
    for r in rows:
        if r["benchmark"].startswith("R:") and r["implementation"] in (
            "glassbox fused, out=",
            "glassbox fused, bit-packed out=",
        ):
            key = f"R {r['shape'][1]} {'packed' if 'packed' in r['implementation'] else 'uint8'}"
            out[f"{key} out= x bound"] = r.get("x_bound")
        if (
            r["benchmark"].startswith("R:")
            and r["implementation"] == "glassbox fused, fresh output"
        ):
            out[f"R {r['shape'][1]} fresh vs best peer"] = r["speedup_vs_best_peer"]


def _summarise_kernels(out, rows):
    # every glassbox row at the default threads that has a bound: the worst multiple per kernel
    # family (its row named), and the composed kernels against the peers of work R
    worst = {}
    for r in rows:
        if not (r["glassbox"] and r["threads"] is None and r.get("x_bound") is not None):
            continue
        family = r["implementation"].removeprefix("glassbox ").split(",")[0]
        if r["benchmark"].startswith("R:"):
            family = "composed" if "composed" in r["implementation"] else "represent_fused"
        what = f"{family}: worst x bound ({r['benchmark']} {'x'.join(map(str, r['shape']))})"
        if family not in worst or r["x_bound"] > worst[family][1]:
            worst[family] = (what, r["x_bound"])
    for what, xb in worst.values():
        out[what] = xb
    for r in rows:
        if (
            r["benchmark"].startswith("R:")
            and r["implementation"].startswith("glassbox composed")
            and r["threads"] is None
        ):
            out[f"R {r['shape'][1]} composed kernels vs best peer"] = r["speedup_vs_best_peer"]


def _summarise_representation(out, rows):
    rep = [r for r in rows if r["benchmark"].startswith("GlassBoxRepresentation")]
    gbrep = next(
        (r for r in rep if r["implementation"] == "glassbox GlassBoxRepresentation.transform"), None
    )
    if gbrep:
        out["representation images/s"] = gbrep["shape"][0] / gbrep["median_s"]
        for r in rep:
            if "kymatio" in r["implementation"]:
                out["representation vs kymatio"] = r["median_s"] / gbrep["median_s"]
            if "HOG" in r["implementation"]:
                out["representation vs HOG"] = r["median_s"] / gbrep["median_s"]
    kymatio = next((r for r in rep if "kymatio" in r["implementation"]), None)
    prefix = "glassbox GlassBoxRepresentation.transform, "
    for r in rep:
        name = r["implementation"]
        if name.startswith(prefix) and "=" in name:  # a configuration beside the defaults
            label = name[len(prefix) :]
            out[f"representation ({label}) images/s"] = r["shape"][0] / r["median_s"]
            if kymatio:
                out[f"representation ({label}) vs kymatio"] = kymatio["median_s"] / r["median_s"]


def _summarise_threads(out, rows, bw):
    # 1 -> 2 threads, for every glassbox row that has a 1-thread twin; a row is compute-bound
    # when its 2-thread time is more than MEMORY_BOUND_X times its bound (within it, the
    # acceptance line for the fused rows, a second core mostly waits on the same memory, or on
    # the page faults of a new output)
    compute_bound = []
    for r in rows:
        if r["glassbox"] and r["threads"] == 1:
            twin_name = r["implementation"].replace(", 1 thread", "")
            twin = _find(rows, r["benchmark"], twin_name, r["shape"])
            if twin:
                speedup = r["speedup_1_to_2_threads"]  # paired in run_case
                what = f"{r['benchmark']} {'x'.join(map(str, r['shape']))}"
                out[f"threads 1->2: {what}"] = speedup
                machine = r.get("machine_speedup_1_to_2")
                if machine is not None:
                    out[f"threads 1->2, the machine's own in the same rounds: {what}"] = machine
                if twin.get("x_bound") is None or twin["x_bound"] > MEMORY_BOUND_X:
                    compute_bound.append((speedup, machine))
    if compute_bound:
        worst, machine = min(compute_bound, key=lambda sm: sm[0])
        out[f"threads 1->2: worst of {len(compute_bound)} compute-bound rows"] = worst
        if machine is not None:
            out["threads 1->2: the machine's own in that row's rounds"] = machine
    if bw and "fresh_write" in bw:
        # the page faults of a fresh output scale this much, whatever the kernel does
        out["threads 1->2: writing fresh pages (the machine's own)"] = (
            bw["fresh_write"] / bw["fresh_write_1_thread"]
        )


def _summarise_linearity(out, scaling):
    batches = [r for r in scaling if not r.get("fixed_cost")]
    if batches:
        out["linearity: worst per-image time vs 70k"] = max(
            abs(r["per_image_vs_70k"] - 1) for r in batches
        )
    marginal = [r["marginal_per_image_s"] for r in batches if r.get("marginal_per_image_s")]
    if len(marginal) >= 2:
        out["linearity: marginal cost per image, first step vs last"] = abs(
            marginal[0] / marginal[-1] - 1
        )
    fixed = [r for r in scaling if r.get("fixed_cost")]
    if fixed:
        out["fixed cost of a call, ms (100 images, cold)"] = fixed[0]["median_s"] * 1e3


def markdown(rows, scaling, summary, meta, bw, stream=()):
    lines = [
        "# glassbox benchmark results",
        "",
        f"glassbox {meta['glassbox']}, numpy {meta['numpy']}, {meta['cpus']} CPUs, "
        f"default threads {meta['n_threads']}, {meta['date']}"
        + (
            f"; the host took {100 * meta['host_steal_share']:.1f}% of the CPUs' time during "
            "the run (steal)"
            if meta.get("host_steal_share") is not None
            else ""
        )
        + (
            f"; the kernel's huge-page faults fell back to 4 KB pages "
            f"{meta['kernel_memory_events']['thp_fault_fallback']} times and stalled for "
            f"compaction {meta['kernel_memory_events']['compact_stall']} times (/proc/vmstat)"
            if meta.get("kernel_memory_events") is not None
            else ""
        ),
        "",
        f"Streaming bandwidth at the start ({meta['n_threads']} threads, "
        f"{meta.get('bandwidth_buffer_mib', 1024)} MiB buffers, best of 5 passes): read "
        f"{bw['read'] / 1e9:.1f} GB/s, write {bw['write'] / 1e9:.1f} GB/s, copy (read + write) "
        f"{bw['copy'] / 1e9:.1f} GB/s"
        + (
            f"; writing fresh memory (page faults included, as a new output array does): "
            f"{bw['fresh_write'] / 1e9:.1f} GB/s, {bw['fresh_write_1_thread'] / 1e9:.1f} GB/s on "
            "1 thread"
            if "fresh_write" in bw
            else ""
        )
        + ". Copy and fresh writes are measured again, one pass each, at the end of every round "
        "of a memory-bound benchmark (the bandwidth left to a VM moves with its neighbours' "
        "load). A row's bound in a round is (bytes in + bytes out) / that round's copy "
        "bandwidth and, for a row that returns a new array, no less than the array's bytes over "
        "that round's fresh-write rate; `x bound` is the median over rounds of the glassbox "
        "time over its round's bound, and `copy GB/s` the median copy bandwidth of the rounds.",
        "",
        "| benchmark | shape | implementation | check | median ms | min ms | max ms "
        "| vs best peer | x bound | copy GB/s |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        vs = r["speedup_vs_best_peer"]
        xb = r.get("x_bound")
        cb = r.get("copy_bandwidth")
        lines.append(
            f"| {r['benchmark']} | {'x'.join(map(str, r['shape']))} | {r['implementation']} | "
            f"{r['check']} | {_fmt_ms(r['median_s'])} | {_fmt_ms(r['min_s'])} | "
            f"{_fmt_ms(r['max_s'])} | {'' if vs is None else f'{vs:.2f}'} | "
            f"{'' if xb is None else f'{xb:.2f}'} | "
            f"{'' if cb is None else f'{cb / 1e9:.1f}'} |"
        )
    if scaling:
        lines += [
            "",
            "## Scaling in N (R, out=, 28x28, cold data)",
            "",
            "| N | median ms | ns / image | per image vs 70k | marginal ns / image |",
            "|---:|---:|---:|---:|---:|",
        ]
        for r in scaling:
            m = r.get("marginal_per_image_s")
            lines.append(
                f"| {r['n']:,} | {_fmt_ms(r['median_s'])} | {r['per_image_s'] * 1e9:.1f} | "
                f"{r['per_image_vs_70k']:.3f} | {'' if m is None else f'{m * 1e9:.1f}'} |"
            )
        lines += [
            "",
            "Every call starts from evicted caches, the sizes timed in turns. The 100-image row "
            "is the fixed cost of a call from a cold start (code out of cache, threads asleep); "
            f"the batches are timed after {WARM_CALLS} 1-image calls that bring code and threads "
            "back, not their data. Per image vs 70k is the median over rounds of that ratio "
            "within each round. Marginal = (time - time at the previous N) / (N - previous N).",
        ]
    if stream:
        lines += [
            "",
            "## Streaming (.npy file -> transform_chunked -> .npy file, vs in-memory transform)",
            "",
            "| mode | N | median s | min s | max s | images / s | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in stream:
            lines.append(
                f"| {r['mode']} | {r['n']:,} | {r['median_s']:.2f} | {r['min_s']:.2f} | "
                f"{r['max_s']:.2f} | {r['images_per_s']:,.0f} | "
                f"{r['peak_rss_bytes'] / 2**20:,.0f} |"
            )
        lines += [
            "",
            "Each mode runs in a fresh process (its own peak resident memory): `memory` loads the "
            "images and calls `transform`; `stream` reads the .npy in chunks of 10,000 and writes "
            "the features to an .npy (through a temporary file, fsync'ed and renamed).",
        ]
    lines += ["", "## Summary", "", "| measure | value |", "|---|---:|"]
    for k, v in summary.items():
        lines.append(f"| {k} | {'' if v is None else f'{v:.3g}'} |")
    lines += [
        "",
        "check: exact = bit-identical to glassbox; allclose = float results within 1e-6; "
        "same job = a different algorithm for the same purpose (not comparable value for "
        "value); packed = equal after np.packbits(bitorder='little').",
        "",
        "threads 1->2: each round times a glassbox row and its 1-thread twin back to back; the "
        "speed-up is the median over rounds of the 1-thread time over the other (the pair "
        "runs twice as many rounds as the other rows: `repeats` in results.json). A row is "
        f"compute-bound when its time is more than {MEMORY_BOUND_X}x its bound. The machine's "
        "own: a pure integer loop in two worker processes, the same work on one CPU and split "
        "over two, timed right after the pair in the same rounds (on a shared VM the host's "
        "other guests change what a second vCPU is worth from second to second).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (CI)")
    parser.add_argument("--repeat", type=int, default=None, help="timed repeats per implementation")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output directory")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=GROUPS,
        default=None,
        help="run only these groups of benchmarks",
    )
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 9)
    if repeat < 1:
        parser.error("--repeat must be positive")
    slow_repeat = 1 if args.quick else 3
    groups = set(args.only or GROUPS)
    if args.quick:
        sizes = [(70_000, 28), (500, 224), (8, 1024)]
    else:
        sizes = [(70_000, 28), (4_000, 224), (64, 1024)]

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
        "quick": args.quick,
    }
    log(f"glassbox benchmark suite: {meta}")
    t_start = time.perf_counter()
    stolen_start = _stolen_seconds()
    vmstat_start = _vmstat()
    bw_bytes = (1 << 28) if args.quick else (1 << 30)
    meta["bandwidth_buffer_mib"] = bw_bytes >> 20
    bw = bandwidth.measure(meta["n_threads"], nbytes=bw_bytes)
    log("bandwidth: " + ", ".join(f"{k} {v / 1e9:.1f} GB/s" for k, v in bw.items()))
    # every kernel family at the small images of the datasets and at ImageNet-sized ones
    family_sizes = [(20_000, 28), (500, 224)] if args.quick else [(70_000, 28), (4_000, 224)]
    cases = []
    for n, side in family_sizes:
        x = np.random.default_rng(0).integers(0, 256, (n, side, side), dtype=np.uint8)
        if "binarize" in groups:
            cases += families.binarize_cases(x)
        if "orbit" in groups:
            cases += families.orbit_cases(x)
        if "pool" in groups:
            cases += families.pool_cases(x)
        if "group_pool" in groups:
            cases += families.group_pool_cases(x)
        if "patterns" in groups:
            cases += families.patterns_cases(x, args.quick)
        del x
    if "fused" in groups:
        cases += families.fused_cases(sizes, args.quick)
    if "representation" in groups:
        cases += families.representation_cases(args.quick)
    rows = []
    # its copy works on 2 x 512 MiB (2 x 256 MiB with --quick): beyond the 300 MiB of L3
    meter = bandwidth.Meter(meta["n_threads"], nbytes=(1 << 28) if args.quick else (1 << 29))
    with probe.ComputeProbe(meta["n_threads"]) as machine:
        for case in cases:
            rows += run_case(
                case, repeat, slow_repeat, bw, log, machine, meter, pair_repeat=2 * repeat
            )
            case.impls = None  # free the inputs' closures
    del meter
    # the scaling calls are short (2-10 ms, about 0.2 s a round with the evictions) and their
    # ratio is sensitive to a few slow rounds: three times the rounds, for little time
    scaling = scaling_rows(3 * repeat, log) if "scaling" in groups else []
    stream = (
        streaming.streaming_rows(100_000 if args.quick else 1_000_000, log, 1 if args.quick else 3)
        if "streaming" in groups
        else []
    )
    # kernel-ridge fits from .npy files of Fashion-MNIST and its copies (needs the dataset)
    learning = (
        scale.learning_rows([20_000, 80_000] if args.quick else [60_000, 250_000, 1_000_000], log)
        if "learning" in groups
        else []
    )
    summary = summarise(rows, scaling, stream, bw, learning)
    meta["seconds"] = time.perf_counter() - t_start
    stolen_end = _stolen_seconds()
    if stolen_start is not None and stolen_end is not None:
        # time the host ran something else on our CPUs: it slows 2-thread rows most
        meta["host_steal_share"] = (stolen_end - stolen_start) / (meta["seconds"] * meta["cpus"])
    vmstat_end = _vmstat()
    if vmstat_start is not None and vmstat_end is not None:
        # a new array of 4 KB pages, or one whose faults waited for compaction, is slower to
        # fill and to read (one suspect for a run whose 35k scaling batch ran 23% slower per
        # image than 10k and 70k in every round, which standalone runs never showed)
        meta["kernel_memory_events"] = {k: vmstat_end[k] - vmstat_start[k] for k in vmstat_end}
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "meta": meta,
        "bandwidth": bw,
        "results": rows,
        "scaling": scaling,
        "streaming": stream,
        "learning": learning,
        "summary": summary,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    md = markdown(rows, scaling, summary, meta, bw, stream)
    (args.out / "results.md").write_text(md)
    print()
    print(md)
    log(f"{meta['seconds']:.0f} s; results in {args.out}/results.json and results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
