"""The leaf-wise GBDT member (`lgbm`): HistGradientBoosting (or LightGBM when importable) and the project's converter."""

import json
import os

import numpy as np
import onnx
import pytest

from conftest import card_schema_errors, feature_names, write_synthetic_csv
from qt_training import train as train_cli
from qt_training.lgbm_trainer import HISTGB, LIGHTGBM, LgbmParams, lightgbm_available, train_leafwise
from qt_training.onnx_export import histgb_to_onnx, leq_threshold_f32
from qt_training.reference import evaluate


def _attrs(model: onnx.ModelProto) -> dict:
    (node,) = model.graph.node
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.fixture(scope="module")
def trained(synthetic_csv, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("store") / "lgbm" / "t1")
    rc = train_cli.main(["--data", synthetic_csv, "--member", "lgbm", "--out", out, "--trees", "20", "--max-leaves", "7",
                         "--min-leaf", "20", "--threads", "1"])
    assert rc == 0
    return out


def _load(out, name):
    with open(os.path.join(out, name), encoding="utf-8") as f:
        return json.load(f)


def test_card_says_which_engine_grew_the_trees(trained):
    card = _load(trained, "card.json")
    assert card["member"] == "lgbm" and card["input"]["kind"] == "features"
    assert card["features"] == feature_names()
    if lightgbm_available():
        assert card["family"] == "gbdt-lightgbm" and card["library"]["name"] == "lightgbm"
    else:
        assert card["family"] == "gbdt-sklearn-histgb" and card["library"]["name"] == "scikit-learn"
        assert "HistGradientBoosting" in card["description"] and "LightGBM is not importable" in card["description"]
    assert card["params"]["max_leaves"] == 7 and card["params"]["n_estimators"] == 20
    assert card_schema_errors(card) == []
    m = card["metrics"]
    assert set(m["model"]) == {"logLoss", "brier", "accuracy", "ece"}
    assert m["model"]["logLoss"] < m["baselines"]["classPrior"]["logLoss"]
    assert m["model"]["logLoss"] < m["baselines"]["lastReturnSign"]["logLoss"]


def test_card_has_feature_stats_prediction_shares_and_ece(trained, synthetic_csv):
    from qt_training.dataset import read_dataset
    from qt_training.labels import UNKNOWN, LabelSpec, make_labels
    from test_train_export import _check_annotations
    card = _load(trained, "card.json")
    ds = read_dataset(synthetic_csv)
    ds = ds.take(make_labels(ds.fwd_ret, ds.feature("rvol_30"), LabelSpec(horizon=5)) != UNKNOWN)
    d = card["data"]
    tr = (ds.open_time >= d["train"]["fromMs"]) & (ds.open_time <= d["train"]["toMs"])
    va = (ds.open_time >= d["validation"]["fromMs"]) & (ds.open_time <= d["validation"]["toMs"])
    _, p = evaluate(onnx.load(os.path.join(trained, "model.onnx")), ds.X[va].astype(np.float32))
    _check_annotations(card, ds.X[tr], p)


def test_graph_is_one_tree_ensemble_with_leq_splits_and_dynamic_batch(trained):
    model = onnx.load(os.path.join(trained, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["TreeEnsembleClassifier"]
    (inp,) = model.graph.input
    assert inp.name == "features" and inp.type.tensor_type.shape.dim[0].dim_param == "N"
    a = _attrs(model)
    assert set(a["nodes_modes"]) == {b"BRANCH_LEQ", b"LEAF"}
    assert a["post_transform"] == b"SOFTMAX"
    # 20 iterations x 3 classes, at most 7 leaves each
    assert len(set(a["nodes_treeids"])) == 60
    assert a["class_ids"].count(0) <= 20 * 7


def test_parity_file_matches_the_numpy_evaluation_of_the_graph(trained):
    parity = _load(trained, "parity.json")
    assert parity["rows"] >= 1000 and parity["input"] == "features"
    x = np.asarray(parity["inputs"], dtype=np.float32)
    _, p = evaluate(onnx.load(os.path.join(trained, "model.onnx")), x)
    assert np.max(np.abs(p - np.asarray(parity["probabilities"]))) < 1e-5


def test_leq_threshold_is_the_largest_float32_not_above():
    a = np.float32(1.0)
    b = np.nextafter(a, np.float32(2))
    mid = (float(a) + float(b)) / 2  # float32(mid) rounds to even: b here
    t = leq_threshold_f32(mid)
    assert t == float(a)
    for x in (a, b):
        assert (x <= mid) == (np.float32(x) <= np.float32(t))
    assert leq_threshold_f32(0.5) == 0.5
    assert leq_threshold_f32(float("inf")) == float("inf")


def test_rows_on_and_next_to_thresholds_and_nans_follow_histgb():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    y = np.digitize(X[:, 0] + 0.3 * X[:, 1], [-0.4, 0.4])
    X[rng.random(size=X.shape) < 0.1] = np.nan  # HistGB learns where missing values go
    fit = train_leafwise(X, y, LgbmParams(n_estimators=15, max_leaves=7, min_samples_leaf=20, threads=1), engine=HISTGB)
    model = histgb_to_onnx(fit.estimator, 3)
    a = _attrs(model)
    assert any(m == 0 for m, mode in zip(a["nodes_missing_value_tracks_true"], a["nodes_modes"]) if mode == b"BRANCH_LEQ")
    assert any(m == 1 for m, mode in zip(a["nodes_missing_value_tracks_true"], a["nodes_modes"]) if mode == b"BRANCH_LEQ")
    # probes on every float64 threshold's float32 neighbours, in every feature
    thresholds = np.array([nd["num_threshold"] for per in fit.estimator._predictors for p in per for nd in p.nodes
                           if not nd["is_leaf"] and np.isfinite(nd["num_threshold"])])
    t32 = thresholds.astype(np.float32)
    near = np.concatenate([t32, np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))])
    probe = np.repeat(near[:, None], 3, axis=1)
    probe = np.concatenate([probe, X[:200]])
    _, p = evaluate(model, probe)
    assert np.max(np.abs(p - fit.predict_proba(probe))) < 1e-5


def test_engine_choice_is_reported():
    X = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    y = np.arange(300) % 3
    fit = train_leafwise(X, y, LgbmParams(n_estimators=2, max_leaves=3, min_samples_leaf=5, threads=1), engine=HISTGB)
    assert (fit.engine, fit.family, fit.library) == (HISTGB, "gbdt-sklearn-histgb", "scikit-learn")
    with pytest.raises(ValueError, match="classes"):
        train_leafwise(X, y % 2, LgbmParams(n_estimators=2), engine=HISTGB)


@pytest.mark.skipif(not lightgbm_available(), reason="LightGBM is not installed")
def test_lightgbm_export_matches_predict_proba(tmp_path):  # pragma: no cover - only where LightGBM is installed
    path = write_synthetic_csv(str(tmp_path / "d.csv"), n_bars=600, symbols=("A/USDT",), seed=3)
    from qt_training.dataset import read_dataset
    ds = read_dataset(path)
    y = np.digitize(ds.feature("ema_ratio_12_26"), [-0.5, 0.5])
    fit = train_leafwise(ds.X, y, LgbmParams(n_estimators=10, max_leaves=7, min_samples_leaf=10, threads=1),
                         engine=LIGHTGBM)
    assert fit.family == "gbdt-lightgbm"
    model = fit.to_onnx(ds.X.shape[1], 3, list(ds.feature_names))
    _, p = evaluate(model, ds.X.astype(np.float32))
    assert np.max(np.abs(p - fit.predict_proba(ds.X))) < 1e-5
