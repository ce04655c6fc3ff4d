"""Train CLI: ``/usr/bin/python3 -m qt_training.train --data <csv> --member xgb --out models/store/xgb/<version>``.

Run from ``training/`` or with ``PYTHONPATH=training``. Writes ``model.onnx``, ``card.json`` and ``parity.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

import numpy as np
import onnx
import xgboost

from . import CLASSES, __version__
from .dataset import read_dataset
from .labels import UNKNOWN, LabelSpec, make_labels
from .metrics import (hard_sign_accuracy, last_return_sign_baseline, prior_baseline, scores)
from .onnx_export import INPUT_NAME, LABEL_OUTPUT, ML_OPSET, ONNX_OPSET, PROBA_OUTPUT, booster_to_onnx
from .reference import evaluate
from .split import default_valid_from, time_split
from .xgb_trainer import XgbParams, train_xgb

CARD_SCHEMA_VERSION = 1
SELF_CHECK_TOLERANCE = 1e-5


class TrainError(RuntimeError):
    """Training cannot proceed with these inputs."""


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_time(s: str) -> int:
    if s.isdigit():
        return int(s)
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp() * 1000)


def _range(ds, y) -> dict:
    return {"fromMs": int(ds.open_time.min()), "toMs": int(ds.open_time.max()), "rows": len(ds),
            "symbols": sorted({f"{e}:{s}" for e, s in zip(ds.exchange, ds.symbol)}),
            "classCounts": np.bincount(y, minlength=len(CLASSES)).tolist()}


def _parity_rows(n_valid: int, n: int) -> np.ndarray:
    """Evenly spaced validation rows, so the parity file covers the whole validation period and every symbol."""
    return np.unique(np.linspace(0, n_valid - 1, num=min(n, n_valid)).round().astype(np.int64))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qt_training.train", description=__doc__)
    ap.add_argument("--data", required=True, help="dataset CSV written by pipelines/dataset/export.ts")
    ap.add_argument("--member", default="xgb")
    ap.add_argument("--out", required=True, help="models/store/<member>/<version>")
    ap.add_argument("--version", help="model version (default: the name of --out)")
    ap.add_argument("--horizon", type=int, help="H in bars (default: from the dataset's .meta.json)")
    ap.add_argument("--bar-ms", type=int, help="bar length in ms (default: from .meta.json, else 60000)")
    ap.add_argument("--feature-set", help="feature set name (default: from .meta.json)")
    ap.add_argument("--label-k", type=float, default=0.5, help="neutral band = k * rvol_30 * sqrt(H)")
    ap.add_argument("--valid-from", help="first open time of validation (ISO-8601 UTC or ms)")
    ap.add_argument("--valid-to", help="end (exclusive) of validation (ISO-8601 UTC or ms)")
    ap.add_argument("--valid-fraction", type=float, default=0.3, help="used when --valid-from is absent")
    ap.add_argument("--trees", type=int, default=XgbParams.n_estimators)
    ap.add_argument("--depth", type=int, default=XgbParams.max_depth)
    ap.add_argument("--eta", type=float, default=XgbParams.learning_rate)
    ap.add_argument("--seed", type=int, default=XgbParams.seed)
    ap.add_argument("--threads", type=int, default=XgbParams.threads)
    ap.add_argument("--parity-rows", type=int, default=1024)
    args = ap.parse_args(argv)
    card = train(args)
    m = card["metrics"]
    print(json.dumps({"out": args.out, "sha256": card["onnx"]["sha256"], "model": m["model"],
                      "classPrior": m["baselines"]["classPrior"], "lastReturnSign": m["baselines"]["lastReturnSign"]}))
    return 0


def train(args: argparse.Namespace) -> dict:
    """Trains, evaluates, exports and writes the three artifacts; returns the card."""
    ds = read_dataset(args.data)
    meta = ds.meta
    horizon = args.horizon if args.horizon is not None else meta.get("horizon")
    if horizon is None:
        raise TrainError("horizon unknown: pass --horizon or export the dataset with its .meta.json")
    if meta.get("horizon") is not None and int(meta["horizon"]) != int(horizon):
        raise TrainError(f"--horizon {horizon} but the dataset's fwd_ret was computed for {meta['horizon']}")
    horizon = int(horizon)
    bar_ms = int(args.bar_ms or meta.get("barMs") or 60_000)
    feature_set = args.feature_set or meta.get("featureSet")
    if not feature_set:
        raise TrainError("feature set unknown: pass --feature-set or export the dataset with its .meta.json")

    spec = LabelSpec(horizon=horizon, k=args.label_k)
    y_all = make_labels(ds.fwd_ret, ds.feature(spec.vol_feature), spec)
    ds, y_all = ds.take(y_all != UNKNOWN), y_all[y_all != UNKNOWN]
    valid_from = _parse_time(args.valid_from) if args.valid_from else default_valid_from(ds.open_time, args.valid_fraction, bar_ms)
    valid_to = _parse_time(args.valid_to) if args.valid_to else None
    tr, va = time_split(ds.open_time, valid_from, horizon, bar_ms, valid_to)
    dtr, dva, ytr, yva = ds.take(tr), ds.take(va), y_all[tr], y_all[va]
    if len(dtr) == 0 or len(dva) == 0:
        raise TrainError(f"empty split: {len(dtr)} training rows, {len(dva)} validation rows")

    params = XgbParams(n_estimators=args.trees, max_depth=args.depth, learning_rate=args.eta, seed=args.seed,
                       threads=args.threads)
    clf = train_xgb(dtr.X, ytr, params, len(CLASSES))
    x_va = dva.X.astype(np.float32)
    p_va = clf.predict_proba(x_va)

    ret_tr, ret_va = dtr.feature("ret_1"), dva.feature("ret_1")
    sign_p = last_return_sign_baseline(ret_tr, ytr, ret_va)
    metrics = {
        "model": scores(p_va, yva),
        "baselines": {
            "classPrior": scores(prior_baseline(ytr, len(yva)), yva),
            "lastReturnSign": {**scores(sign_p, yva), "hardAccuracy": hard_sign_accuracy(ret_va, yva)},
        },
    }

    version = args.version or os.path.basename(os.path.normpath(args.out))
    model = booster_to_onnx(clf.get_booster(), len(ds.feature_names), len(CLASSES), list(ds.feature_names),
                            doc=f"qt {args.member} {version}: P(DOWN, FLAT, UP) over {horizon} bars")
    rows = _parity_rows(len(dva), args.parity_rows)
    parity_x = x_va[rows]
    parity_p = p_va[rows]
    _, ref_p = evaluate(model, parity_x)
    worst = float(np.max(np.abs(ref_p - parity_p)))
    if worst > SELF_CHECK_TOLERANCE:
        raise TrainError(f"exported graph differs from predict_proba by {worst:.3g} on the parity rows")

    os.makedirs(args.out, exist_ok=True)
    onnx_bytes = model.SerializeToString()
    with open(os.path.join(args.out, "model.onnx"), "wb") as f:
        f.write(onnx_bytes)
    card = {
        "schemaVersion": CARD_SCHEMA_VERSION,
        "member": args.member,
        "version": version,
        "family": "gbdt-xgboost",
        "trainer": {"name": "qt_training", "version": __version__},
        "library": {"name": "xgboost", "version": xgboost.__version__},
        "createdAt": _iso(max(int(dtr.open_time.max()), int(dva.open_time.max()))),
        "featureSet": feature_set,
        "features": list(ds.feature_names),
        "input": {"name": INPUT_NAME, "kind": "features", "windowLength": 0, "windowChannels": 0},
        "outputs": {"label": LABEL_OUTPUT, "probabilities": PROBA_OUTPUT},
        "barMs": bar_ms,
        "horizonBars": horizon,
        "label": spec.describe(),
        "classes": list(CLASSES),
        "data": {
            "file": os.path.basename(args.data),
            "purgeBars": horizon,
            "validFromMs": int(valid_from),
            "train": _range(dtr, ytr),
            "validation": _range(dva, yva),
        },
        "params": params.as_card(),
        "metrics": metrics,
        "onnx": {"file": "model.onnx", "sha256": hashlib.sha256(onnx_bytes).hexdigest(), "bytes": len(onnx_bytes),
                 "opset": ONNX_OPSET, "mlOpset": ML_OPSET, "selfCheckMaxAbsDiff": worst},
    }
    with open(os.path.join(args.out, "card.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    parity = {
        "member": args.member, "version": version, "features": list(ds.feature_names), "classes": list(CLASSES),
        "rows": int(len(rows)), "source": "validation rows; probabilities from xgboost predict_proba",
        "inputs": [[float(v) for v in r] for r in parity_x],
        "probabilities": [[float(v) for v in r] for r in parity_p],
    }
    with open(os.path.join(args.out, "parity.json"), "w", encoding="utf-8") as f:
        json.dump(parity, f, separators=(",", ":"))
        f.write("\n")
    onnx.checker.check_model(os.path.join(args.out, "model.onnx"))
    return card


if __name__ == "__main__":
    sys.exit(main())
