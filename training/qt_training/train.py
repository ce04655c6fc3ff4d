"""Train CLI: ``/usr/bin/python3 -m qt_training.train --data <csv> --member <member> --out models/store/<member>/<version>``.

Run from ``training/`` or with ``PYTHONPATH=training``. Writes ``model.onnx``, ``card.json`` and ``parity.json``.

Members (one label, one split, one card layout for all):

* ``xgb``: XGBoost on the feature vector (``xgb_trainer``), exported by the project's TreeEnsembleClassifier converter;
* ``lgbm``: leaf-wise GBDT on the feature vector, LightGBM if importable else scikit-learn's HistGradientBoosting
  (``lgbm_trainer``), the same converter;
* ``nhits``, ``patchtst``: PyTorch models of the window (``torch_models``, ``torch_trainer``), torch.onnx.export.
  They need the dataset's window sidecar (``<csv>.window.f32``, written by scripts/train-members.ts).

Tree exports are checked here against the trainer's probabilities with the numpy evaluator (``reference``); the torch
graphs with onnx.checker (onnxruntime is not available in this Python): their parity with the trainer is checked with
onnxruntime-node by scripts/train-members.ts and models/parity.spec.ts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import datetime, timezone

import time
from dataclasses import dataclass

import numpy as np
import onnx

from . import CLASSES, __version__
from .dataset import read_dataset
from .labels import UNKNOWN, LabelSpec, make_labels
from .metrics import (feature_stats, hard_sign_accuracy, last_return_sign_baseline, prediction_shares, prior_baseline,
                      scores)
from .onnx_export import INPUT_NAME, LABEL_OUTPUT, ML_OPSET, ONNX_OPSET, PROBA_OUTPUT, booster_to_onnx
from .reference import evaluate
from .split import default_valid_from, fold_masks, folds_from_json, time_split
from .xgb_trainer import XgbParams, train_xgb
from .lgbm_trainer import LgbmParams, train_leafwise

MEMBERS = ("xgb", "lgbm", "nhits", "patchtst")
WINDOW_MEMBERS = ("nhits", "patchtst")

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
    ap = argparse.ArgumentParser(prog="qt_training.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset CSV written by pipelines/dataset/export.ts")
    ap.add_argument("--member", default="xgb", choices=MEMBERS)
    ap.add_argument("--out", required=True, help="models/store/<member>/<version>")
    ap.add_argument("--version", help="model version (default: the name of --out)")
    ap.add_argument("--horizon", type=int, help="H in bars (default: from the dataset's .meta.json)")
    ap.add_argument("--bar-ms", type=int, help="bar length in ms (default: from .meta.json, else 60000)")
    ap.add_argument("--feature-set", help="feature set name (default: from .meta.json)")
    ap.add_argument("--label-k", type=float,
                    help="neutral band = k * rvol_30 * sqrt(H) (default: the dataset's label spec, else 0.5; a dataset "
                         "with a label column refuses another k)")
    ap.add_argument("--valid-from", help="first open time of validation (ISO-8601 UTC or ms)")
    ap.add_argument("--valid-to", help="end (exclusive) of validation (ISO-8601 UTC or ms)")
    ap.add_argument("--valid-fraction", type=float, default=0.3, help="used when --valid-from is absent")
    ap.add_argument("--splits", help="walk-forward splits file (<csv>.splits.json from qt dataset export); with --fold")
    ap.add_argument("--fold", type=int, help="the fold of --splits to train on (1..N): its training and validation ranges")
    ap.add_argument("--seed", type=int, default=XgbParams.seed)
    ap.add_argument("--threads", type=int, default=XgbParams.threads)
    ap.add_argument("--parity-rows", type=int, default=1024)
    g = ap.add_argument_group("trees (xgb, lgbm)")
    g.add_argument("--trees", type=int, help=f"boosting rounds (default {XgbParams.n_estimators})")
    g.add_argument("--depth", type=int, default=XgbParams.max_depth, help="xgb: max depth")
    g.add_argument("--eta", type=float, help=f"learning rate (default {XgbParams.learning_rate})")
    g.add_argument("--max-leaves", type=int, default=LgbmParams.max_leaves, help="lgbm: leaves per tree")
    g.add_argument("--min-leaf", type=int, default=LgbmParams.min_samples_leaf, help="lgbm: rows per leaf, at least")
    g.add_argument("--engine", choices=("auto", "lightgbm", "sklearn-histgb"), default="auto",
                   help="lgbm: LightGBM if importable (auto), or force one")
    g = ap.add_argument_group("window models (nhits, patchtst)")
    g.add_argument("--epochs", type=int, help="training epochs")
    g.add_argument("--train-rows", type=int, help="random subsample of the training period (0: all)")
    g.add_argument("--batch-size", type=int, help="mini-batch rows")
    g.add_argument("--lr", type=float, help="AdamW learning rate")
    g.add_argument("--arch", action="append", default=[], metavar="KEY=VALUE",
                   help="architecture parameter override, e.g. hidden=64 (see torch_trainer)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    card = train(args)
    m = card["metrics"]
    print(json.dumps({"out": args.out, "member": args.member, "seconds": round(time.perf_counter() - t0, 1),
                      "sha256": card["onnx"]["sha256"], "bytes": card["onnx"]["bytes"], "model": m["model"],
                      "classPrior": m["baselines"]["classPrior"], "lastReturnSign": m["baselines"]["lastReturnSign"]}))
    return 0


@dataclass
class _Fitted:
    """What a member's fit hands to the common part: probabilities, graph, and what the card says about them."""

    family: str
    library: tuple[str, str]
    params: dict
    description: str
    p_valid: np.ndarray  # probabilities of every validation row, as the trainer computes them
    model: onnx.ModelProto
    parity_inputs: np.ndarray  # float32 inputs of the parity rows: [R, F] features or [R, L, C] windows
    parity_p: np.ndarray
    input_kind: str  # 'features' or 'window'
    input_name: str
    columns: list  # the card's `features`: feature names, or window channel names
    window: tuple  # (length, channels), (0, 0) for feature models
    ml_opset: int  # 0: the graph uses no ai.onnx.ml operator
    opset: int
    self_check: float | None  # max |numpy evaluation of the graph - trainer| on the parity rows (trees only)
    source: str


def _tree_fit(args, member: str, dtr, ytr, dva, rows: np.ndarray, doc: str) -> _Fitted:
    x_va = dva.X.astype(np.float32)
    names = list(dva.feature_names)
    if member == "xgb":
        params = XgbParams(n_estimators=args.trees or XgbParams.n_estimators, max_depth=args.depth,
                           learning_rate=args.eta or XgbParams.learning_rate, seed=args.seed, threads=args.threads)
        clf = train_xgb(dtr.X, ytr, params, len(CLASSES))
        p_va = clf.predict_proba(x_va)
        model = booster_to_onnx(clf.get_booster(), len(names), len(CLASSES), names, doc=doc)
        import xgboost
        family, library, source = "gbdt-xgboost", ("xgboost", xgboost.__version__), "xgboost predict_proba"
        description = (f"XGBoost multi:softprob, {params.n_estimators} rounds of depth-{params.max_depth} trees (one per "
                       f"class per round) on the {len(names)} features; softmax over the summed margins.")
    else:
        params = LgbmParams(n_estimators=args.trees or LgbmParams.n_estimators, max_leaves=args.max_leaves,
                            learning_rate=args.eta or LgbmParams.learning_rate, min_samples_leaf=args.min_leaf,
                            seed=args.seed, threads=args.threads)
        fit = train_leafwise(dtr.X, ytr, params, len(CLASSES), engine=None if args.engine == "auto" else args.engine)
        p_va = fit.predict_proba(x_va)
        model = fit.to_onnx(len(names), len(CLASSES), names, doc=doc)
        family, library = fit.family, (fit.library, fit.library_version)
        impl = ("LightGBM (LGBMClassifier, multiclass)" if fit.engine == "lightgbm" else
                "scikit-learn's HistGradientBoostingClassifier (LightGBM is not importable here)")
        source = f"{fit.library} predict_proba"
        description = (f"Gradient-boosted trees grown leaf-wise (best-first, at most {params.max_leaves} leaves per tree) "
                       f"by {impl}: {params.n_estimators} iterations x one tree per class on the {len(names)} features, "
                       f"softmax over the summed leaf values; exported by the project's TreeEnsembleClassifier converter.")
    parity_x, parity_p = x_va[rows], p_va[rows]
    _, ref_p = evaluate(model, parity_x)
    worst = float(np.max(np.abs(ref_p - parity_p)))
    if worst > SELF_CHECK_TOLERANCE:
        raise TrainError(f"exported graph differs from predict_proba by {worst:.3g} on the parity rows")
    return _Fitted(family=family, library=library, params=params.as_card(), description=description, p_valid=p_va,
                   model=model, parity_inputs=parity_x, parity_p=parity_p, input_kind="features", input_name=INPUT_NAME,
                   columns=names, window=(0, 0), ml_opset=ML_OPSET, opset=ONNX_OPSET, self_check=worst, source=source)


def _parse_arch(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            raise TrainError(f"--arch {item!r}: expected KEY=VALUE")
        out[k.strip()] = float(v)
    return out


def _window_fit(args, member: str, dtr, ytr, dva, rows: np.ndarray, horizon: int, bar_ms: int, doc: str) -> _Fitted:
    import torch

    from .torch_trainer import DEFAULT_PARAMS, TORCH_OPSET, TorchParams, export_onnx, train_window_model
    from .torch_trainer import INPUT_NAME as WINDOW_INPUT

    if dtr.window is None or dva.window is None:
        raise TrainError(f"{member} reads the window: the dataset has no window sidecar")
    defaults = DEFAULT_PARAMS[member]
    params = TorchParams(weight_decay=defaults.weight_decay, epochs=args.epochs or defaults.epochs, batch_size=args.batch_size or defaults.batch_size,
                         learning_rate=args.lr or defaults.learning_rate,
                         train_rows=defaults.train_rows if args.train_rows is None else args.train_rows,
                         seed=args.seed, threads=args.threads)
    fit = train_window_model(member, dtr.window, ytr, dtr.open_time, horizon, bar_ms, params, _parse_arch(args.arch),
                             log=lambda s: print(s, file=sys.stderr, flush=True))
    p_va = fit.predict_proba(dva.window).astype(np.float64)
    length, channels = dva.window.shape[1], dva.window.shape[2]
    model = export_onnx(fit.model, length, channels, doc=doc)
    a = fit.arch
    norm = ("Input normalised in the graph: per channel by the training mean/std, then per window and channel "
            "(instance normalisation, RevIN without affine)." if a["instance_norm"] else
            "Input normalised in the graph: per channel by the training mean/std (no per-window normalisation).")
    trained = (f" Trained with cross-entropy (AdamW, cosine decay) on {fit.train_rows_used} training rows; epoch "
               f"{fit.best_epoch} of {params.epochs} kept, by log loss on the last "
               f"{params.inner_fraction:.0%} of the training period.")
    if member == "nhits":
        n = int(a["stacks"])
        pools = [int(a[f"pool_kernel_{i}"]) for i in range(n)]
        ratios = [int(a[f"ratio_{i}"]) for i in range(n)]
        description = (
            f"N-HiTS (Challu et al. 2023) on the window ({length} bars x {channels} channels): {n} stacks of one MLP "
            f"block ({int(a['mlp_layers'])} x {int(a['hidden'])} ReLU) each; multi-rate input sampling by MaxPool1d "
            f"with kernels {pools}; each block outputs a backcast (subtracted from the next block's input) and "
            f"forecast coefficients interpolated linearly to the {horizon}-bar horizon with expressiveness ratios "
            f"{ratios}. Classification head: the summed forecast ({channels} x {horizon}, a latent forecast learned end "
            f"to end with cross-entropy, not fitted to future values) maps linearly to 3 logits, softmax -> "
            f"P(DOWN, FLAT, UP). " + norm + trained)
        family = "nhits"
    else:
        n_patches = (length + int(a["stride"]) - int(a["patch_len"])) // int(a["stride"]) + 1
        description = (
            f"PatchTST (Nie et al. 2023) on the window ({length} bars x {channels} channels): channel-independent "
            f"patching of each channel's series (patch length {int(a['patch_len'])}, stride {int(a['stride'])}, end "
            f"padded by repetition: {n_patches} patches), linear patch embedding (d_model {int(a['d_model'])}) + "
            f"learnable positional encoding, a Transformer encoder shared across channels ({int(a['layers'])} layers, "
            f"{int(a['heads'])} heads, feed-forward {int(a['d_ff'])}, BatchNorm), flatten head per channel. "
            f"Classification head: a linear map of the {channels} concatenated channel representations to 3 logits, "
            f"softmax -> P(DOWN, FLAT, UP). " + norm + trained)
        family = "patchtst"
    card_params = {**params.as_card(), **{k: float(v) if isinstance(v, float) else int(v) for k, v in a.items()},
                   "best_epoch": fit.best_epoch, "train_rows_used": fit.train_rows_used,
                   **{f"channel_mean_{i}": float(v) for i, v in enumerate(fit.mean)},
                   **{f"channel_std_{i}": float(v) for i, v in enumerate(fit.std)}}
    parity_x = dva.window[rows]
    return _Fitted(family=family, library=("torch", torch.__version__), params=card_params, description=description,
                   p_valid=p_va, model=model, parity_inputs=parity_x, parity_p=p_va[rows], input_kind="window",
                   input_name=WINDOW_INPUT, columns=list(dva.window_channels), window=(length, channels), ml_opset=0,
                   opset=TORCH_OPSET, self_check=None, source="torch forward (eval mode, float32)")


def _label_spec(ds, horizon: int, label_k: float | None) -> LabelSpec:
    """The label: the dataset's spec when its meta has one (a different --label-k is refused when the CSV carries the
    label column, whose labels were made with the dataset's k), else --label-k or 0.5."""
    recorded = ds.label_spec
    if recorded is not None and recorded.horizon != horizon:
        raise TrainError(f"the dataset's label spec has H={recorded.horizon}, training asks for {horizon}")
    if ds.label is not None and label_k is not None and label_k != recorded.k:
        raise TrainError(f"--label-k {label_k} but the dataset's label column was made with k={recorded.k} "
                         f"(export again with qt dataset export --band-k {label_k})")
    if label_k is not None:
        return LabelSpec(horizon=horizon, k=label_k)
    return recorded if recorded is not None else LabelSpec(horizon=horizon)


def _f32(v) -> float:
    """A float32 value as the shortest decimal that reads back as the same float32 (smaller parity files)."""
    return float(str(np.float32(v)))


def train(args: argparse.Namespace) -> dict:
    """Trains, evaluates, exports and writes the three artifacts; returns the card."""
    member = args.member
    is_window = member in WINDOW_MEMBERS
    ds = read_dataset(args.data, with_window=is_window)
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
    if is_window and ds.window_meta.get("featureSet", feature_set) != feature_set:
        raise TrainError(f"window sidecar of feature set {ds.window_meta['featureSet']}, dataset of {feature_set}")

    spec = _label_spec(ds, horizon, args.label_k)
    # The CSV's label column is the definition (read_dataset has checked it against make_labels on every row).
    y_all = ds.label if ds.label is not None else make_labels(ds.fwd_ret, ds.feature(spec.vol_feature), spec)
    ds, y_all = ds.take(y_all != UNKNOWN), y_all[y_all != UNKNOWN]
    split_card = None
    purge_bars = horizon
    if args.splits is not None or args.fold is not None:
        if args.splits is None or args.fold is None:
            raise TrainError("--splits and --fold go together")
        if args.valid_from or args.valid_to:
            raise TrainError("--splits/--fold or --valid-from/--valid-to, not both")
        splits = folds_from_json(args.splits)
        if splits.horizon != horizon or splits.bar_ms != bar_ms:
            raise TrainError(f"{args.splits}: splits for H={splits.horizon}, bar {splits.bar_ms} ms; the dataset has "
                             f"H={horizon}, bar {bar_ms} ms")
        fold = splits.fold(args.fold)
        tr, va = fold_masks(ds.open_time, fold)
        valid_from = fold.validation[0]
        purge_bars = splits.purge_bars
        split_card = {"kind": splits.kind, "file": os.path.basename(args.splits), "fold": fold.fold,
                      "folds": len(splits.folds), "embargoBars": splits.embargo_bars}
    else:
        valid_from = _parse_time(args.valid_from) if args.valid_from else default_valid_from(ds.open_time, args.valid_fraction, bar_ms)
        valid_to = _parse_time(args.valid_to) if args.valid_to else None
        tr, va = time_split(ds.open_time, valid_from, horizon, bar_ms, valid_to)
    dtr, dva, ytr, yva = ds.take(tr), ds.take(va), y_all[tr], y_all[va]
    if len(dtr) == 0 or len(dva) == 0:
        raise TrainError(f"empty split: {len(dtr)} training rows, {len(dva)} validation rows")

    version = args.version or os.path.basename(os.path.normpath(args.out))
    doc = f"qt {member} {version}: P(DOWN, FLAT, UP) over {horizon} bars"
    rows = _parity_rows(len(dva), args.parity_rows)
    if is_window:
        fit = _window_fit(args, member, dtr, ytr, dva, rows, horizon, bar_ms, doc)
    else:
        fit = _tree_fit(args, member, dtr, ytr, dva, rows, doc)
    p_va = fit.p_valid

    ret_tr, ret_va = dtr.feature("ret_1"), dva.feature("ret_1")
    sign_p = last_return_sign_baseline(ret_tr, ytr, ret_va)
    metrics = {
        "model": scores(p_va, yva),
        "baselines": {
            "classPrior": scores(prior_baseline(ytr, len(yva)), yva),
            "lastReturnSign": {**scores(sign_p, yva), "hardAccuracy": hard_sign_accuracy(ret_va, yva)},
        },
    }

    os.makedirs(args.out, exist_ok=True)
    onnx_bytes = fit.model.SerializeToString()
    with open(os.path.join(args.out, "model.onnx"), "wb") as f:
        f.write(onnx_bytes)
    onnx_info = {"file": "model.onnx", "sha256": hashlib.sha256(onnx_bytes).hexdigest(), "bytes": len(onnx_bytes),
                 "opset": fit.opset, "mlOpset": fit.ml_opset}
    if fit.self_check is not None:
        onnx_info["selfCheckMaxAbsDiff"] = fit.self_check
    length, channels = fit.window
    card = {
        "schemaVersion": CARD_SCHEMA_VERSION,
        "member": member,
        "version": version,
        "family": fit.family,
        "description": fit.description,
        "trainer": {"name": "qt_training", "version": __version__},
        "library": {"name": fit.library[0], "version": fit.library[1]},
        "createdAt": _iso(max(int(dtr.open_time.max()), int(dva.open_time.max()))),
        "featureSet": feature_set,
        "features": list(fit.columns),
        "input": {"name": fit.input_name, "kind": fit.input_kind, "windowLength": length, "windowChannels": channels},
        "outputs": {"label": LABEL_OUTPUT, "probabilities": PROBA_OUTPUT},
        "barMs": bar_ms,
        "horizonBars": horizon,
        "label": spec.describe(),
        "classes": list(CLASSES),
        "data": {
            "file": os.path.basename(args.data),
            "purgeBars": purge_bars,
            "validFromMs": int(valid_from),
            **({"split": split_card} if split_card else {}),
            # The supervisor compares live feature vectors with these deciles, for every member (window ones too).
            "train": {**_range(dtr, ytr), "featureStats": feature_stats(dtr.X, dtr.feature_names)},
            "validation": {**_range(dva, yva), "predictionShares": prediction_shares(p_va)},
        },
        "params": fit.params,
        "metrics": metrics,
        "onnx": onnx_info,
    }
    with open(os.path.join(args.out, "card.json"), "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    parity = {"member": member, "version": version, "input": fit.input_kind, "features": list(fit.columns)}
    if is_window:
        parity.update({"windowLength": length, "windowChannels": channels})
        inputs = [[_f32(v) for v in r.reshape(-1)] for r in fit.parity_inputs]  # row-major L x C, as served
    else:
        inputs = [[float(v) for v in r] for r in fit.parity_inputs]
    parity.update({"classes": list(CLASSES), "rows": int(len(rows)), "source": f"validation rows; probabilities from {fit.source}",
                   "inputs": inputs, "probabilities": [[float(v) for v in r] for r in fit.parity_p]})
    with open(os.path.join(args.out, "parity.json"), "w", encoding="utf-8") as f:
        json.dump(parity, f, separators=(",", ":"))
        f.write("\n")
    onnx.checker.check_model(os.path.join(args.out, "model.onnx"))
    return card


if __name__ == "__main__":
    sys.exit(main())
