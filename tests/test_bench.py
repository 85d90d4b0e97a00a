"""The benchmark suite's machinery on tiny inputs: every peer agrees with glassbox (the suite
asserts it before timing), rows and summary are computed and written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import glassbox as gb

# the suite lives beside the package, at the repository root (which holds no `glassbox`
# directory, so this cannot shadow the installed package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import accuracy, bandwidth, families, representation, scale  # noqa: E402
from bench import run as bench_run  # noqa: E402


@pytest.fixture(scope="module")
def small():
    return np.random.default_rng(1).integers(0, 256, (300, 28, 28), dtype=np.uint8)


def _cases(x):
    return (
        families.binarize_cases(x)
        + families.orbit_cases(x)
        + families.pool_cases(x)
        + families.group_pool_cases(x)
        + families.patterns_cases(x, quick=True)
        + families.fused_cases([(40, 28), (2, 64)], quick=False)
    )


def test_every_case_checks_and_times(small):
    bw = {"read": 1e10, "write": 1e10, "copy": 2e10}
    rows = []
    for case in _cases(small):
        rows += bench_run.run_case(case, 1, 1, bw, lambda msg: None)
    names = {r["implementation"] for r in rows}
    assert (
        "glassbox fused, bit-packed out=" in names and "numpy literal (orbit, then pool)" in names
    )
    for r in rows:
        assert r["median_s"] > 0 and r["repeats"] == 1
        if r["glassbox"] and r["benchmark"].startswith("R:"):
            assert r["x_bound"] == pytest.approx(r["median_s"] / (r["bytes_moved"] / 2e10))
    summary = bench_run.summarise(rows, [])
    assert "R 28 uint8 out= x bound" in summary and "R 64 fresh vs best peer" in summary
    assert any(k.startswith("threads 1->2: orbit D4") for k in summary)
    # the composed public kernels: their own bytes (every intermediate written and read again)
    composed = _one(rows, "glassbox composed kernels (orbit(pool(binarize)))", [40, 28, 28])
    assert composed["bytes_moved"] == 40 * 784 * (2 + 5 / 4 + 9 / 4)
    assert composed["fresh_bytes"] == 40 * 784 * (1 + 1 / 4 + 2)
    assert summary["R 28 composed kernels vs best peer"] == composed["speedup_vs_best_peer"]
    # the worst multiple of its bound for every kernel family, at both sizes
    for family in ("binarize", "orbit", "pool max", "group_pool max", "local_patterns"):
        assert any(k.startswith(f"{family}: worst x bound") for k in summary), family
    worst_orbit = max(
        r["x_bound"]
        for r in rows
        if r["implementation"] == "glassbox orbit" and r["x_bound"] is not None
    )
    assert [v for k, v in summary.items() if k.startswith("orbit: worst")] == [worst_orbit]
    bound = {
        (r["benchmark"], tuple(r["shape"]), r["implementation"]): r for r in rows if r["glassbox"]
    }
    compute_bound = [
        r["speedup_1_to_2_threads"]
        for (b, shape, name), r in bound.items()
        if name.endswith(", 1 thread")
        and bound[(b, shape, name.replace(", 1 thread", ""))]["x_bound"] > bench_run.MEMORY_BOUND_X
    ]
    key = f"threads 1->2: worst of {len(compute_bound)} compute-bound rows"
    assert summary[key] == pytest.approx(min(compute_bound))
    md = bench_run.markdown(
        rows,
        [],
        summary,
        {"glassbox": "x", "numpy": "y", "cpus": 2, "n_threads": 2, "date": "today"},
        bw,
    )
    assert md.count("\n| ") > len(rows)


def _one(rows, name, shape, benchmark=None):
    (row,) = (
        r
        for r in rows
        if r["implementation"] == name
        and r["shape"] == shape
        and benchmark in (None, r["benchmark"])
    )
    return row


def test_a_new_output_is_bounded_by_the_fresh_write_rate(small):
    # fresh memory written far slower than copied: the new arrays' page faults set the bound
    bw = {"read": 1e14, "write": 1e14, "copy": 2e14, "fresh_write": 2e8}
    rows = []
    for case in families.orbit_cases(small) + families.fused_cases([(40, 28)], quick=False):
        rows += bench_run.run_case(case, 1, 1, bw, lambda msg: None)
    by_name = {(r["benchmark"], r["implementation"]): r for r in rows if r["glassbox"]}
    orbit = _one(rows, "glassbox orbit", list(small.shape), "orbit D4")
    assert orbit["fresh_bytes"] == 8 * small.nbytes
    assert orbit["bound_s"] == pytest.approx(8 * small.nbytes / 2e8)
    r_case = "R: binarize>127 + D4 orbit + 2x2 max-pool"
    fresh = by_name[(r_case, "glassbox fused, fresh output")]
    assert fresh["fresh_bytes"] == 40 * 8 * 14 * 14
    for name in ("glassbox fused, out=", "glassbox fused, out=, 1 thread"):
        into_out = by_name[(r_case, name)]
        assert "fresh_bytes" not in into_out
        assert into_out["bound_s"] == pytest.approx(into_out["bytes_moved"] / 2e14)
    # a row within MEMORY_BOUND_X of its fresh-write bound is not counted as compute-bound;
    # every such row with a 1-thread twin gets its time set here (the composed kernels too:
    # measured, on a loaded machine they ran past 2.5x their bound and counted)
    fresh_rows = ("glassbox orbit", "glassbox composed kernels (orbit(pool(binarize)))")
    for r in rows:
        if r["implementation"] in fresh_rows:
            r["median_s"], r["x_bound"] = 2 * r["bound_s"], 2.0
    summary = bench_run.summarise(rows, [])
    worst = [k for k in summary if k.startswith("threads 1->2: worst of")]
    assert worst == ["threads 1->2: worst of 1 compute-bound rows"]  # R out= at 40 images only


def test_stolen_time_and_memory_events_are_read_and_reported():
    stolen = bench_run._stolen_seconds()
    if Path("/proc/stat").exists():
        assert stolen is not None and stolen >= 0
    meta = {"glassbox": "x", "numpy": "y", "cpus": 2, "n_threads": 2, "date": "today"}
    bw = {"read": 1e10, "write": 1e10, "copy": 2e10}
    assert "steal" not in bench_run.markdown([], [], {}, meta, bw)
    meta["host_steal_share"] = 0.125
    assert "the host took 12.5% of the CPUs' time" in bench_run.markdown([], [], {}, meta, bw)
    events = bench_run._vmstat()
    if Path("/proc/vmstat").exists():
        assert set(events) == {"thp_fault_fallback", "compact_stall"}
        assert all(v >= 0 for v in events.values())
    meta["kernel_memory_events"] = {"thp_fault_fallback": 3, "compact_stall": 7}
    md = bench_run.markdown([], [], {}, meta, bw)
    assert "fell back to 4 KB pages 3 times and stalled for compaction 7 times" in md


def test_a_wrong_peer_is_caught(small):
    case = families.Case(
        "binarize > 127",
        small.shape,
        [
            families.Impl("glassbox binarize", lambda: gb.binarize(small, 127), True),
            families.Impl("off by one", lambda: np.greater(small, 128).view(np.uint8)),
        ],
    )
    with pytest.raises(AssertionError, match="off by one"):
        bench_run.run_case(case, 1, 1, {"copy": 1e10}, lambda msg: None)


@pytest.mark.parametrize(
    "params",
    [{}, {"pooling": "cells", "normalize": None}, {"pooling": "smooth", "normalize": None}],
)
def test_numpy_representation_peer_is_exact(small, params):
    rep = gb.GlassBoxRepresentation(**params).fit(small)
    np.testing.assert_array_equal(representation.numpy_features(rep)(small), rep.transform(small))


def test_representation_options_are_timed_and_summarised(small):
    """The configurations beside the defaults are timed as the transform of a representation with
    their parameters, and each gets its images/s and ratio to kymatio in the summary."""
    x = np.concatenate([small] * 4)
    rows = representation.option_implementations(x)
    assert [name for name, _ in rows] == [
        f"glassbox GlassBoxRepresentation.transform, {label}" for label in representation.OPTIONS
    ]
    for (_, fn), params in zip(rows, representation.OPTIONS.values(), strict=True):
        want = gb.GlassBoxRepresentation(**params).fit(x).transform(x)
        np.testing.assert_array_equal(fn(x), want)
    times = {
        "glassbox GlassBoxRepresentation.transform": 0.5,
        rows[0][0]: 0.7,
        "kymatio scattering (J=2, L=8, NumPy), 3000 images": 70.0,
    }
    fake = [
        {"benchmark": "GlassBoxRepresentation.transform (defaults), x", "shape": (70_000, 28, 28),
         "implementation": name, "median_s": t}
        for name, t in times.items()
    ]  # fmt: skip
    out = {}
    bench_run._summarise_representation(out, fake)
    label = next(iter(representation.OPTIONS))
    assert out["representation images/s"] == 140_000
    assert out[f"representation ({label}) images/s"] == 100_000
    assert out[f"representation ({label}) vs kymatio"] == 100


def test_exactness_check_passes_and_catches_a_broken_contract(small, monkeypatch):
    from bench import exactness

    lines = []
    n = exactness.check(small, small[:20], {"smooth": {"pooling": "smooth"}}, say=lines.append)
    assert n == 3 * 8 and len(lines) == 3 and "bit for bit" in lines[0]
    real = gb.GlassBoxRepresentation.feature_permutation

    def off_by_one(self, element):  # a permutation that is wrong for every element but e
        perm = real(self, element)
        return perm if self.group == "trivial" or element in (0, "e") else np.roll(perm, 1)

    monkeypatch.setattr(gb.GlassBoxRepresentation, "feature_permutation", off_by_one)
    with pytest.raises(AssertionError, match="breaks the contract"):
        exactness.check(small, small[:20], {"smooth": {"pooling": "smooth"}}, say=lines.append)


def test_invariance_rows_and_a_broken_invariance_is_caught(digits_images, monkeypatch):
    from bench import invariance

    X, y = digits_images
    x_tr, x_te, y_tr, y_te = X[:300], X[300:400], y[:300], y[300:400]
    lines = []
    row = invariance.measure(
        "invariant", {"invariance": "D4", "classifier": "lda", "n_components": 20},
        x_tr, x_te, y_tr, y_te, say=lines.append,
    )  # fmt: skip
    assert row["scores_identical_under_all_elements"] is True and row["spread"] == 0
    assert row["randomised"] == row["upright"] == row["per_element"]["e"]
    plain = invariance.measure("default", {"n_components": 20}, x_tr, x_te, y_tr, y_te,
                               say=lines.append)  # fmt: skip
    assert plain["scores_identical_under_all_elements"] is None and plain["spread"] > 0.3
    drawn = np.random.default_rng(0).integers(0, 8, len(y_te))
    assert plain["randomised"] == pytest.approx(
        np.mean([plain["per_element"][gb.get_group("D4").elements[i]] for i in drawn]), abs=0.2
    )
    assert "| invariant |" in invariance.markdown([row, plain]) and len(lines) == 2
    real = gb.GlassBoxClassifier._orbit_scores

    def unsorted(self, F, kind="scores"):  # scores that see the copies in element order
        s, e, p = real(self, F, kind)
        return s + 1e-9 * F[:, -1:], e, p  # an equivariant feature moves with h

    monkeypatch.setattr(gb.GlassBoxClassifier, "_orbit_scores", unsorted)
    with pytest.raises(AssertionError, match="scores differ"):
        invariance.measure("broken", {"invariance": "D4", "classifier": "lda",
                                      "n_components": 20}, x_tr, x_te, y_tr, y_te,
                           say=lines.append)  # fmt: skip


def test_bandwidth_and_scaling_helpers():
    bw = bandwidth.measure(2, nbytes=1 << 22, repeat=1)
    assert set(bw) == {"read", "write", "copy", "fresh_write", "fresh_write_1_thread"}
    assert all(v > 0 for v in bw.values())
    machine = bench_run.summarise([], [], bw=bw)[
        "threads 1->2: writing fresh pages (the machine's own)"
    ]
    assert machine == pytest.approx(bw["fresh_write"] / bw["fresh_write_1_thread"])
    scaling = [
        {"n": 1, "median_s": 0.5, "per_image_s": 0.5, "per_image_vs_70k": 5.0, "fixed_cost": True},
        {"n": 10, "median_s": 1.0, "per_image_s": 0.1, "per_image_vs_70k": 1.1},
        {
            "n": 30,
            "median_s": 3.0,
            "per_image_s": 0.1,
            "per_image_vs_70k": 1.1,
            "marginal_per_image_s": 0.1,
        },
        {
            "n": 70,
            "median_s": 6.0,
            "per_image_s": 0.09,
            "per_image_vs_70k": 1.0,
            "marginal_per_image_s": 0.075,
        },
    ]
    summary = bench_run.summarise([], scaling)
    assert summary["linearity: worst per-image time vs 70k"] == pytest.approx(0.1)
    assert summary["linearity: marginal cost per image, first step vs last"] == pytest.approx(1 / 3)
    assert summary["fixed cost of a call, ms (100 images, cold)"] == pytest.approx(500.0)


def test_scaling_rows_time_every_size():
    rows = bench_run.scaling_rows(2, lambda msg: None, sizes=(5, 40, 120), evict_bytes=1 << 20)
    assert [r["n"] for r in rows] == [5, 40, 120]
    assert [r["fixed_cost"] for r in rows] == [True, False, False]
    for r in rows:
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
        assert r["per_image_s"] == pytest.approx(r["median_s"] / r["n"])
    assert rows[-1]["per_image_vs_70k"] == 1.0
    assert rows[2]["marginal_per_image_s"] == pytest.approx(
        (rows[2]["median_s"] - rows[1]["median_s"]) / 80
    )
    assert "marginal_per_image_s" not in rows[1]  # its predecessor is the fixed-cost call


def test_scaling_batches_follow_warm_up_calls(monkeypatch):
    # after an eviction, one 1-image call leaves part of the cold start to the next call: each
    # batch is timed right after WARM_CALLS of them, the 100-image fixed-cost call after none
    calls = []
    real = gb.represent_fused

    def counting(images, *args, **kwargs):
        calls.append(len(images))
        return real(images, *args, **kwargs)

    monkeypatch.setattr(gb, "represent_fused", counting)
    warm = []  # 1-image calls since the previous timed call, at each timed call

    def timing(fn):
        warm.append(calls.count(1))
        fn()
        calls.clear()
        return 1.0

    monkeypatch.setattr(bench_run, "_time_once", timing)
    bench_run.scaling_rows(2, lambda msg: None, sizes=(5, 40, 120), evict_bytes=1 << 20)
    assert bench_run.WARM_CALLS >= 2
    assert warm == [0, bench_run.WARM_CALLS, bench_run.WARM_CALLS] * 2


def test_scaling_compares_sizes_within_each_round(monkeypatch):
    # per image, N=40: 1, 2, 3 and N=120: 1, 1, 3 over three rounds -> ratios 1, 2, 1: median 1,
    # where the ratio of the medians would be 2
    clock = iter([1.0, 40.0, 120.0, 1.0, 80.0, 120.0, 1.0, 120.0, 360.0])
    monkeypatch.setattr(bench_run, "_time_once", lambda fn: next(clock))
    rows = bench_run.scaling_rows(3, lambda msg: None, sizes=(5, 40, 120), evict_bytes=1 << 20)
    assert [r["per_image_vs_70k"] for r in rows] == pytest.approx([0.2, 1.0, 1.0])
    assert rows[1]["per_image_s"] == pytest.approx(2.0)  # the median time, as before


def test_round_orders_vary_what_runs_before_each():
    rounds = 9
    orders = bench_run.round_orders(8, rounds)
    assert len(orders) == rounds
    assert all(sorted(o) == list(range(8)) for o in orders)
    assert orders == bench_run.round_orders(8, rounds)  # fixed seed: reproducible
    for i in range(8):
        before = [o[o.index(i) - 1] for o in orders if o.index(i) > 0]
        # no implementation follows the same one in most rounds, so the median is free of it
        assert max(before.count(j) for j in set(before)) <= rounds // 2


def test_round_orders_keep_pairs_back_to_back_in_alternating_order():
    orders = bench_run.round_orders(6, 8, pairs=[(4, 1), (0, 5)])
    firsts = set()
    for k, order in enumerate(orders):
        assert sorted(order) == list(range(6))
        for a, b in [(4, 1), (0, 5)]:
            first = order.index(a) < order.index(b)
            assert abs(order.index(a) - order.index(b)) == 1 and first == (k % 2 == 0)
        firsts.add(order[0])
    assert len(firsts) > 1  # the units themselves are shuffled


def test_thread_speedup_is_the_median_of_per_round_ratios(monkeypatch):
    impls = [
        families.Impl("peer", lambda: np.zeros(3)),
        families.Impl("glassbox k", lambda: np.zeros(3), True),
        families.Impl("glassbox k, 1 thread", lambda: np.zeros(3), True, threads=1),
    ]
    # per round, 1 thread / 2 threads: 10 / 5, 2 / 1, 6 / 4 -> ratios 2, 2, 1.5: median 2,
    # where the ratio of the medians would be 6 / 4
    clocks = {"peer": iter([1.0] * 3), "glassbox k": iter([5.0, 1.0, 4.0])}
    clocks["glassbox k, 1 thread"] = iter([10.0, 2.0, 6.0])
    by_fn = {id(i.fn): i.name for i in impls}
    monkeypatch.setattr(bench_run, "_time_once", lambda fn: next(clocks[by_fn[id(fn)]]))
    case = families.Case("k", (3,), impls)
    rows = {r["implementation"]: r for r in bench_run.run_case(case, 3, 1, {}, lambda m: None)}
    assert rows["glassbox k, 1 thread"]["speedup_1_to_2_threads"] == pytest.approx(2.0)
    assert "speedup_1_to_2_threads" not in rows["glassbox k"]
    summary = bench_run.summarise(list(rows.values()), [])
    assert summary["threads 1->2: k 3"] == pytest.approx(2.0)


def test_thread_pairs_get_their_own_number_of_rounds(monkeypatch):
    impls = [
        families.Impl("peer", lambda: np.zeros(3)),
        families.Impl("slow peer", lambda: np.zeros(3), slow=True),
        families.Impl("glassbox k", lambda: np.zeros(3), True),
        families.Impl("glassbox k, 1 thread", lambda: np.zeros(3), True, threads=1),
        families.Impl("glassbox k, out=", lambda: np.zeros(3), True),
    ]
    by_fn = {id(i.fn): i.name for i in impls}
    calls = []
    monkeypatch.setattr(bench_run, "_time_once", lambda fn: calls.append(by_fn[id(fn)]) or 1.0)
    case = families.Case("k", (3,), impls)
    rows = {
        r["implementation"]: r
        for r in bench_run.run_case(case, 3, 1, {}, lambda m: None, pair_repeat=7)
    }
    repeats = {name: row["repeats"] for name, row in rows.items()}
    assert repeats == {
        "peer": 3,
        "slow peer": 1,
        "glassbox k": 7,
        "glassbox k, 1 thread": 7,
        "glassbox k, out=": 3,
    }
    assert len(calls) == sum(repeats.values())
    # the pair stays back to back in every round, the extra ones too
    pair = {"glassbox k", "glassbox k, 1 thread"}
    at = [i for i, c in enumerate(calls) if c in pair]
    assert all(b == a + 1 for a, b in zip(at[::2], at[1::2], strict=True))


def test_machine_probe_runs_right_after_the_pair_in_its_order(monkeypatch):
    impls = [
        families.Impl("peer", lambda: np.zeros(3)),
        families.Impl("glassbox k", lambda: np.zeros(3), True),
        families.Impl("glassbox k, 1 thread", lambda: np.zeros(3), True, threads=1),
    ]
    by_fn = {id(i.fn): i.name for i in impls}
    calls = []
    monkeypatch.setattr(bench_run, "_time_once", lambda fn: calls.append(by_fn[id(fn)]) or 1.0)

    class Probe:  # 1 CPU: 4, 2, 6 s; 2 CPUs: 2 s -> ratios 2, 1, 3: median 2
        n_workers = 2
        one = iter([4.0, 2.0, 6.0])

        def time(self, n):
            calls.append(f"probe {n}")
            return next(self.one) if n == 1 else 2.0

    case = families.Case("k", (3,), impls)
    rows = {r["implementation"]: r for r in bench_run.run_case(case, 3, 1, {}, print, Probe())}
    assert rows["glassbox k, 1 thread"]["machine_speedup_1_to_2"] == pytest.approx(2.0)
    rounds = [calls[i : i + 5] for i in range(0, 15, 5)]
    for k, rnd in enumerate(rounds):
        pair = ["glassbox k", "glassbox k, 1 thread"]
        probe = ["probe 2", "probe 1"]
        if k % 2:
            pair, probe = pair[::-1], probe[::-1]
        at = rnd.index(pair[0])
        assert rnd[at : at + 4] == pair + probe
    summary = bench_run.summarise(list(rows.values()), [])
    assert summary["threads 1->2, the machine's own in the same rounds: k 3"] == pytest.approx(2.0)
    assert summary["threads 1->2: the machine's own in that row's rounds"] == pytest.approx(2.0)


def test_bound_is_measured_in_each_round(monkeypatch):
    impls = [
        families.Impl("peer", lambda: np.zeros(3)),
        families.Impl("glassbox k", lambda: np.zeros(3), True),  # a new array of 24 bytes
    ]
    by_fn = {id(i.fn): i.name for i in impls}
    clocks = {"peer": iter([1.0] * 3), "glassbox k": iter([1.0, 8.0, 4.0])}
    monkeypatch.setattr(bench_run, "_time_once", lambda fn: next(clocks[by_fn[id(fn)]]))

    class Meter:  # copy: 100, 50, 25 B/s -> bounds of 100 B: 1, 2, 4 s
        copies = iter([100.0, 50.0, 25.0])

        def copy(self):
            return next(self.copies)

        def fresh_write(self):
            return 1e9

    case = families.Case("k", (3,), impls, bytes_moved=100)
    rows = {
        r["implementation"]: r for r in bench_run.run_case(case, 3, 1, {}, print, None, Meter())
    }
    row = rows["glassbox k"]
    # per round 1 / 1, 8 / 2, 4 / 4: median 1, where the ratio of the medians would be 4 / 2
    assert row["x_bound"] == pytest.approx(1.0)
    assert row["bound_s"] == pytest.approx(2.0) and row["copy_bandwidth"] == pytest.approx(50.0)
    assert row["fresh_bytes"] == 24
    assert "x_bound" not in rows["peer"]
    # the fresh-write rate sets the bound when it is the slower: 24 B at 2 B/s = 12 s
    assert bench_run._bound(100, 24, {"copy": 100.0, "fresh_write": 2.0}) == pytest.approx(12.0)
    assert bench_run._bound(100, 0, {"copy": 100.0, "fresh_write": 2.0}) == pytest.approx(1.0)


def test_meter_times_single_passes():
    meter = bandwidth.Meter(2, nbytes=1 << 22)
    assert all(getattr(meter, m)() > 0 for m in ("read", "write", "copy", "fresh_write"))
    assert meter.fresh_write(1) > 0


def test_compute_probe_times_one_and_two_workers():
    from bench import probe

    with probe.ComputeProbe(2, iterations=20_000) as p:
        assert p.time(1) > 0 and p.time(2) > 0
        with pytest.raises(ValueError, match="n_cpus"):
            p.time(3)
        procs = list(p._procs)
    assert not any(proc.is_alive() for proc in procs)
    with pytest.raises(ValueError, match="n_workers"):
        probe.ComputeProbe(0)


def test_main_writes_results(tmp_path, monkeypatch):
    monkeypatch.setattr(
        bandwidth, "measure", lambda *a, **k: {"read": 1e10, "write": 1e10, "copy": 2e10}
    )
    monkeypatch.setattr(families, "representation_cases", lambda quick: [])
    meter = bandwidth.Meter
    monkeypatch.setattr(bandwidth, "Meter", lambda n, nbytes: meter(n, 1 << 20))
    assert (
        bench_run.main(["--quick", "--repeat", "1", "--only", "binarize", "--out", str(tmp_path)])
        == 0
    )
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["meta"]["quick"] and result["results"]
    assert (tmp_path / "results.md").read_text().startswith("# glassbox benchmark results")


def test_streaming_rows_and_summary():
    from bench import streaming

    rows = streaming.streaming_rows(3_000, lambda msg: None)
    assert [r["mode"] for r in rows] == ["memory", "stream"]
    for r in rows:
        assert r["n"] == 3_000 and r["median_s"] > 0 and r["peak_rss_bytes"] > 10 * 2**20
    summary = bench_run.summarise([], [], rows)
    ratio = summary["streaming 3k: throughput vs in-memory transform"]
    assert ratio == pytest.approx(rows[1]["images_per_s"] / rows[0]["images_per_s"])
    assert summary["streaming 3k: peak RSS, MiB"] == pytest.approx(
        rows[1]["peak_rss_bytes"] / 2**20
    )
    md = bench_run.markdown([], [], summary, {"glassbox": "x", "numpy": "y", "cpus": 2,
                            "n_threads": 2, "date": "today"}, {"read": 1e10, "write": 1e10,
                            "copy": 2e10}, rows)  # fmt: skip
    assert "## Streaming" in md and "| stream | 3,000 |" in md


# -- bench.accuracy: validation accuracy in one pipeline --------------------------------------


def test_wilson_interval():
    lo, hi = accuracy.wilson(50, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)  # the textbook values
    assert accuracy.wilson(0, 10)[0] == 0.0 and accuracy.wilson(10, 10)[1] == pytest.approx(1.0)
    lo, hi = accuracy.wilson(95, 100)
    assert lo < 0.95 < hi and hi - lo < accuracy.wilson(19, 20)[1] - accuracy.wilson(19, 20)[0]
    with pytest.raises(ValueError, match="n must be positive"):
        accuracy.wilson(0, 0)


@pytest.mark.parametrize("name", ["digits8", "digits28"])
def test_validation_datasets_come_from_training_images_only(name):
    """digits: the training 75% of the split glassbox run tests on, never its test images."""
    from sklearn.model_selection import train_test_split

    x, y = accuracy.load(name)
    ds = gb.datasets.load_digits()
    x_train, _, y_train, _ = train_test_split(
        ds.images, ds.labels, test_size=0.25, stratify=ds.labels, random_state=0
    )
    np.testing.assert_array_equal(y, y_train)
    assert x.dtype == np.uint8 and x.shape[1:] == ((8, 8) if name == "digits8" else (28, 28))
    if name == "digits8":  # exactly those training images, scaled to 0..255
        np.testing.assert_array_equal(x, (x_train * (255 / 16)).round().astype(np.uint8))
    np.testing.assert_array_equal(accuracy.load(name)[0], x)  # seeded: the same every time


def test_accuracy_rows_and_table():
    rows = accuracy.run(["digits8"], ["raw", "glassbox"], log=lambda *a: None)
    assert [r["method"] for r in rows] == ["raw", "glassbox"]
    for r in rows:
        assert r["n_train"] + r["n_val"] == 1347 and r["n_val"] == 337
        assert r["ci95"][0] <= r["accuracy"] <= r["ci95"][1]
        assert r["accuracy"] > 0.9
    table = accuracy.markdown(rows)
    assert "| digits8 (1,010 / 337) |" in table and table.count("[") == 2


def test_accuracy_pipeline_takes_the_classifiers_components():
    """The pipeline's PCA keeps GlassBoxClassifier's default number of components unless told
    (at most the features and the rows)."""
    assert gb.GlassBoxClassifier().n_components == accuracy.N_COMPONENTS
    rows = accuracy.run(["digits8"], ["raw"], log=lambda *a: None)
    assert rows[0]["n_components"] == min(accuracy.N_COMPONENTS, 64)
    few = accuracy.run(["digits8"], ["raw"], log=lambda *a: None, n_components=5)
    assert few[0]["n_components"] == 5 and few[0]["accuracy"] != rows[0]["accuracy"]


def test_a_representation_a_dataset_cannot_take_is_reported_not_fatal():
    """cell_size=7 does not divide 8x8 digits: that row says so, the other rows run."""
    rows = accuracy.run(
        ["digits8"], ["raw", "glassbox"], glassbox_params={"cell_size": 7}, log=lambda *a: None
    )
    assert "accuracy" in rows[0] and "cell_size=7 must divide" in rows[1]["error"]
    assert "| digits8 (1,010 / 337) | 0." in accuracy.markdown(rows)
    assert accuracy.markdown(rows).rstrip().endswith("| error |")


def test_scale_training_file_and_one_measured_fit(digits_images, tmp_path):
    X, y = digits_images
    X, y = X[:300], y[:300]
    path = tmp_path / "train.npy"
    scale.write_training_file(path, X, y, 2500, chunk=128)
    big, labels = np.load(path), np.load(str(path) + ".labels.npy")
    assert big.shape == (2500, 8, 8) and labels.shape == (2500,)
    g = gb.get_group("D4")
    np.testing.assert_array_equal(big[:300], X)  # the originals first
    np.testing.assert_array_equal(big[300 * 3 : 300 * 4], g.apply(X, g.elements[3]))
    np.testing.assert_array_equal(labels, np.tile(y, 9)[:2500])
    # copies 8 and on are also shifted by one pixel: same pixels, one row or column moved
    moved = g.apply(X, g.elements[0])
    assert not np.array_equal(big[2400:2500], moved[:100])
    test = tmp_path / "test.npz"
    np.savez(test, x=X[:50], y=y[:50])
    row = scale.measure(path, 2500, test)
    assert row["n"] == 2500 and row["n_test"] == 50 and row["fit_s"] > 0
    assert row["peak_rss"] > 0 and 0 <= row["correct"] <= 50


def test_learning_rows_are_summarised():
    rows = [
        {
            "n": 60_000,
            "fit_s": 16.0,
            "peak_rss": 2**30,
            "accuracy": 0.9,
            "per_image_vs_largest": 1.5,
        },
        {
            "n": 1_000_000,
            "fit_s": 180.0,
            "peak_rss": 2**30,
            "accuracy": 0.8,
            "per_image_vs_largest": 1.0,
        },
    ]
    out = bench_run.summarise([], [], learning=rows)
    assert out["kernel-ridge fit 60k: seconds"] == 16.0
    assert out["kernel-ridge fit 1M: time per image vs largest"] == 1.0
    assert out["kernel-ridge fit 1M: peak RSS, MiB"] == 1024
    assert out["kernel-ridge fit 60k: test accuracy"] == 0.9
