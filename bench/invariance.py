"""Accuracy of models under the group's elements: the default model, the exactly invariant
mode (``GlassBoxClassifier(invariance=...)``) and the invariant block alone, trained on upright
training images and tested on the test images moved by each element of D4, and on the test
images each moved by its own random element (seeded).

For the invariant mode the scores of the 8 moved copies of every test image are asserted equal
bit for bit (computed from the moved images themselves, not from permuted features).

    python -m bench.invariance                               # Fashion-MNIST, standard split
    python -m bench.invariance --dataset digits
    python -m bench.invariance --models invariant "invariant (lda)" --train-size 20000
    python -m bench.invariance --json out.json               # the rows, machine-readable
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import glassbox as gb
from bench.accuracy import wilson

#: label -> GlassBoxClassifier parameters (representation parameters under "representation")
MODELS = {
    "default": {},
    "invariant": {"invariance": "D4", "classifier": "mlp"},
    "invariant (lda)": {"invariance": "D4", "classifier": "lda"},  # exact explanations
    "invariant block": {"representation": {"blocks": "invariant"}},
}


def load(name, train_size=None, seed=0):
    """(x_train, x_test, y_train, y_test): Fashion-MNIST's standard split, its silhouettes
    (binarised at > 0), or digits' stratified 75 / 25 split (random_state=0)."""
    if name in ("fashion", "silhouettes"):
        x_tr, x_te, y_tr, y_te = gb.datasets.load_fashion_mnist().standard_split()
        if name == "silhouettes":
            x_tr, x_te = (((x > 0) * 255).astype(np.uint8) for x in (x_tr, x_te))
    elif name == "digits":
        from sklearn.model_selection import train_test_split

        ds = gb.datasets.load_digits()
        x_tr, x_te, y_tr, y_te = train_test_split(
            ds.images, ds.labels, test_size=0.25, stratify=ds.labels, random_state=0
        )
    else:
        raise ValueError(f"dataset must be fashion, silhouettes or digits, got {name!r}")
    if train_size is not None and train_size < len(y_tr):
        from sklearn.model_selection import train_test_split

        x_tr, _, y_tr, _ = train_test_split(
            x_tr, y_tr, train_size=train_size, stratify=y_tr, random_state=seed
        )
    return x_tr, x_te, y_tr, y_te


def _scores(clf, X):
    if hasattr(clf, "decision_function"):
        return clf.decision_function(X)
    return clf.predict_proba(X)


def measure(label, params, x_tr, x_te, y_tr, y_te, seed=0, say=print):
    """One row: upright, per-element and randomised accuracy of a model fitted on x_tr."""
    g = gb.get_group("D4")
    params = dict(params)
    rep = gb.GlassBoxRepresentation(**params.pop("representation", {}))
    t0 = time.perf_counter()
    clf = gb.GlassBoxClassifier(rep, random_state=seed, **params).fit(x_tr, y_tr)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    elements = np.random.default_rng(seed).integers(0, g.order, len(y_te))
    per_element, correct_random, identical = {}, np.zeros(len(y_te), bool), None
    first = None
    for i, h in enumerate(g.elements):
        moved = np.ascontiguousarray(g.apply(x_te, h))
        if params.get("invariance") is not None:
            s = _scores(clf, moved)
            first = s if first is None else first
            identical = (identical is not False) and np.array_equal(s, first)
        pred = clf.predict(moved)
        per_element[h] = float(np.mean(pred == y_te))
        pick = elements == i
        correct_random[pick] = pred[pick] == y_te[pick]
    if identical is False:
        raise AssertionError(f"{label}: scores differ between the moved copies of an image")
    n_ok = int(correct_random.sum())
    row = {
        "model": label,
        "params": dict(params.items()),
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "upright": per_element["e"],
        "upright_ci95": list(wilson(int(round(per_element["e"] * len(y_te))), len(y_te))),
        "randomised": n_ok / len(y_te),
        "randomised_ci95": list(wilson(n_ok, len(y_te))),
        "per_element": per_element,
        "worst": min(per_element.values()),
        "spread": max(per_element.values()) - min(per_element.values()),
        "scores_identical_under_all_elements": identical,
        "fit_seconds": fit_s,
        "test_seconds": time.perf_counter() - t0,
    }
    say(
        f"{label:16s} upright {row['upright']:.4f}  D4-randomised {row['randomised']:.4f}  "
        f"spread {row['spread']:.4f}  identical {identical}  (fit {fit_s:.0f} s, "
        f"8 test sets {row['test_seconds']:.0f} s)"
    )
    return row


def markdown(rows) -> str:
    out = [
        "| model | upright | D4-randomised | worst element | spread over the 8 "
        "| scores identical |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lo, hi = r["randomised_ci95"]
        same = {None: "-", True: "yes (all 8)", False: "no"}[
            r["scores_identical_under_all_elements"]
        ]
        out.append(
            f"| {r['model']} | {r['upright']:.4f} | {r['randomised']:.4f} [{lo:.3f}, {hi:.3f}] "
            f"| {r['worst']:.4f} | {r['spread']:.4f} | {same} |"
        )
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.invariance", description=__doc__)
    parser.add_argument(
        "--dataset", default="fashion", choices=("fashion", "silhouettes", "digits")
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    try:
        x_tr, x_te, y_tr, y_te = load(args.dataset, args.train_size, args.seed)
    except FileNotFoundError as exc:
        print(f"bench.invariance: {exc}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: {len(y_tr):,} training, {len(y_te):,} test images")
    rows = [measure(m, MODELS[m], x_tr, x_te, y_tr, y_te, args.seed) for m in args.models]
    print()
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
