"""End to end on generated data: train, export to ONNX, check the graph, the card and the parity file."""

import hashlib
import json
import math
import os
import re

import numpy as np
import onnx
import pytest

from conftest import REPO, check_schema, feature_names, write_synthetic_csv
from qt_training import train as train_cli
from qt_training.onnx_export import booster_to_onnx
from qt_training.reference import evaluate
from qt_training.xgb_trainer import XgbParams, train_xgb


@pytest.fixture(scope="module")
def trained(synthetic_csv, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("store") / "xgb" / "t1")
    rc = train_cli.main(["--data", synthetic_csv, "--member", "xgb", "--out", out, "--trees", "20", "--depth", "3",
                         "--threads", "1"])
    assert rc == 0
    return out


def _load(out, name):
    with open(os.path.join(out, name), encoding="utf-8") as f:
        return json.load(f)


def test_writes_the_three_artifacts(trained):
    assert sorted(os.listdir(trained)) == ["card.json", "model.onnx", "parity.json"]
    onnx.checker.check_model(os.path.join(trained, "model.onnx"), full_check=True)


def test_graph_has_dynamic_batch_and_plain_probability_tensor(trained):
    m = onnx.load(os.path.join(trained, "model.onnx"))
    (inp,) = m.graph.input
    assert inp.name == "features"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == len(feature_names())
    outs = {o.name: o for o in m.graph.output}
    assert set(outs) == {"label", "probabilities"}
    assert outs["probabilities"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in outs["probabilities"].type.tensor_type.shape.dim][1] == 3
    assert [n.op_type for n in m.graph.node] == ["TreeEnsembleClassifier"]


def test_card_describes_the_model(trained, synthetic_csv):
    card = _load(trained, "card.json")
    assert card["member"] == "xgb" and card["version"] == "t1"
    assert card["family"] == "gbdt-xgboost"
    assert card["features"] == feature_names()
    assert card["classes"] == ["DOWN", "FLAT", "UP"]
    assert card["input"] == {"name": "features", "kind": "features", "windowLength": 0, "windowChannels": 0}
    assert card["horizonBars"] == 5 and card["data"]["purgeBars"] == 5
    with open(os.path.join(trained, "model.onnx"), "rb") as f:
        assert card["onnx"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    tr, va = card["data"]["train"], card["data"]["validation"]
    # purge gap: the last training bar's label window ends before validation starts
    assert tr["toMs"] + 5 * 60_000 < va["fromMs"]
    assert tr["symbols"] == va["symbols"] == ["binance:BTC/USDT", "binance:ETH/USDT", "binance:SOL/USDT"]
    assert card["createdAt"].startswith("2025-05-05")  # the end of the data, not the wall clock
    m = card["metrics"]
    for k in ("model", "classPrior", "lastReturnSign"):
        scores = m["model"] if k == "model" else m["baselines"][k]
        assert set(scores) >= {"logLoss", "brier", "accuracy"}
    # the generated forward return depends on two features: the model must beat the class prior out of sample
    assert m["model"]["logLoss"] < m["baselines"]["classPrior"]["logLoss"]


_check_schema = check_schema


def test_card_satisfies_the_typescript_card_schema(trained):
    schema_path = os.path.join(REPO, "models", "card.schema.json")
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    assert _check_schema(_load(trained, "card.json"), schema, schema.get("$defs", {})) == []
    # the checker does reject: a wrong type, a missing field, a bad checksum
    bad = _load(trained, "card.json")
    bad["member"], bad["onnx"]["sha256"] = 1, "xyz"
    del bad["features"]
    errors = _check_schema(bad, schema, schema.get("$defs", {}))
    assert any(e.startswith("$.member") for e in errors)
    assert any(e.startswith("$.features") for e in errors)
    assert any(e.startswith("$.onnx.sha256") for e in errors)


def test_parity_file_and_reference_evaluator_agree_with_predict_proba(trained):
    parity = _load(trained, "parity.json")
    assert parity["rows"] >= 1000 and len(parity["inputs"]) == parity["rows"]
    x = np.asarray(parity["inputs"], dtype=np.float32)
    assert np.array_equal(x.astype(np.float64), np.asarray(parity["inputs"]))  # inputs are exact float32 values
    _, p = evaluate(onnx.load(os.path.join(trained, "model.onnx")), x)
    assert np.max(np.abs(p - np.asarray(parity["probabilities"]))) < 1e-5
    assert np.allclose(p.sum(axis=1), 1.0)


def test_missing_values_follow_xgboost_default_direction(tmp_path):
    path = write_synthetic_csv(str(tmp_path / "nan.csv"), n_bars=600, symbols=("A/USDT",), seed=3)
    from qt_training.dataset import read_dataset
    ds = read_dataset(path)
    y = np.digitize(ds.feature("ema_ratio_12_26"), [-0.5, 0.5])
    X = ds.X.astype(np.float32).copy()
    rng = np.random.default_rng(0)
    X[rng.random(size=X.shape) < 0.2] = np.nan  # XGBoost learns a default direction for the NaNs
    clf = train_xgb(X, y, XgbParams(n_estimators=10, max_depth=3, threads=1, min_child_weight=1.0))
    model = booster_to_onnx(clf.get_booster(), X.shape[1], 3, list(ds.feature_names))
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    assert any(v == 0 for v, mode in zip(attrs["nodes_missing_value_tracks_true"], attrs["nodes_modes"]) if mode == b"BRANCH_LT")
    _, p = evaluate(model, X)
    assert np.max(np.abs(p - clf.predict_proba(X))) < 1e-5


def test_values_on_a_threshold_go_right_as_in_xgboost(tmp_path):
    # one feature, labels change exactly at 0.5: thresholds land on data values, rows equal to a threshold go right
    x = np.repeat(np.array([0.1, 0.3, 0.5, 0.7, 0.9], dtype=np.float32), 40)[:, None]
    y = np.digitize(x[:, 0], [0.3, 0.7])
    clf = train_xgb(x, y, XgbParams(n_estimators=5, max_depth=2, threads=1, min_child_weight=1.0, subsample=1.0))
    model = booster_to_onnx(clf.get_booster(), 1, 3)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in model.graph.node[0].attribute}
    thresholds = {v for v, mode in zip(attrs["nodes_values"], attrs["nodes_modes"]) if mode == b"BRANCH_LT"}
    probe = np.array(sorted(thresholds), dtype=np.float32)[:, None]
    _, p = evaluate(model, probe)
    assert np.max(np.abs(p - clf.predict_proba(probe))) < 1e-5
    assert not any(math.isnan(v) for v in thresholds)


def test_retraining_is_reproducible(synthetic_csv, trained, tmp_path):
    out = str(tmp_path / "xgb" / "t1")
    train_cli.main(["--data", synthetic_csv, "--out", out, "--trees", "20", "--depth", "3", "--threads", "1"])
    for name in ("model.onnx", "card.json", "parity.json"):
        with open(os.path.join(trained, name), "rb") as a, open(os.path.join(out, name), "rb") as b:
            assert a.read() == b.read(), name


def test_refuses_a_horizon_other_than_the_dataset_was_exported_with(synthetic_csv, tmp_path):
    with pytest.raises(train_cli.TrainError, match="horizon"):
        train_cli.main(["--data", synthetic_csv, "--out", str(tmp_path / "x"), "--horizon", "7"])


def test_refuses_an_empty_validation_period(synthetic_csv, tmp_path):
    with pytest.raises(train_cli.TrainError, match="empty split"):
        train_cli.main(["--data", synthetic_csv, "--out", str(tmp_path / "x"), "--valid-from", "2030-01-01T00:00:00Z"])


def _check_annotations(card, X_train, p_valid=None):
    """featureStats per feature (deciles, shares of the training rows per bin), predictionShares, ece."""
    from qt_training.metrics import bin_of, predicted_class
    names = feature_names()
    stats = card["data"]["train"]["featureStats"]
    assert [s["feature"] for s in stats] == names
    for j, s in enumerate(stats):
        edges = np.asarray(s["edges"])
        assert edges.shape == (9,) and (np.diff(edges) >= 0).all()
        assert np.allclose(edges, np.quantile(X_train[:, j], np.linspace(0.1, 0.9, 9)))
        shares = np.bincount(bin_of(edges, X_train[:, j]), minlength=10) / len(X_train)
        assert s["shares"] == pytest.approx(shares.tolist(), abs=1e-12) and sum(s["shares"]) == pytest.approx(1.0)
        assert max(s["shares"]) < 0.2  # continuous features: about a tenth per bin
    ps = card["data"]["validation"]["predictionShares"]
    assert len(ps) == 3 and sum(ps) == pytest.approx(1.0)
    if p_valid is not None:
        assert ps == pytest.approx((np.bincount(predicted_class(p_valid), minlength=3) / len(p_valid)).tolist())
    assert 0 < card["metrics"]["model"]["ece"] < 1


def test_card_has_feature_stats_prediction_shares_and_ece(trained, synthetic_csv):
    from qt_training.dataset import read_dataset
    from qt_training.labels import UNKNOWN, LabelSpec, make_labels
    card = _load(trained, "card.json")
    ds = read_dataset(synthetic_csv)
    y = make_labels(ds.fwd_ret, ds.feature("rvol_30"), LabelSpec(horizon=5))
    ds = ds.take(y != UNKNOWN)
    d = card["data"]
    train = (ds.open_time >= d["train"]["fromMs"]) & (ds.open_time <= d["train"]["toMs"])
    valid = (ds.open_time >= d["validation"]["fromMs"]) & (ds.open_time <= d["validation"]["toMs"])
    assert train.sum() == d["train"]["rows"] and valid.sum() == d["validation"]["rows"]
    # the exported graph's probabilities on every validation row give the card's prediction shares
    _, p = evaluate(onnx.load(os.path.join(trained, "model.onnx")), ds.X[valid].astype(np.float32))
    _check_annotations(card, ds.X[train], p)


def test_predicted_class_is_the_soft_vote_rule_not_argmax():
    from qt_training.metrics import predicted_class, prediction_shares
    p = np.array([[0.4, 0.2, 0.4], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3], [0.4, 0.4, 0.2]])
    # ties at the top are FLAT (argmax would say DOWN for rows 0 and 4)
    assert predicted_class(p).tolist() == [1, 0, 2, 1, 1]
    assert prediction_shares(p) == [0.2, 0.6, 0.2]


def test_a_dataset_with_a_label_column_trains_on_it_and_refuses_another_k(tmp_path):
    path = write_synthetic_csv(str(tmp_path / "l.csv"), n_bars=600, symbols=("A/USDT", "B/USDT"), label_k=0.7)
    out = str(tmp_path / "xgb" / "t1")
    assert train_cli.main(["--data", path, "--out", out, "--trees", "5", "--depth", "2", "--threads", "1"]) == 0
    card = _load(out, "card.json")
    assert card["label"]["k"] == 0.7 and "0.7 * rvol_30" in card["label"]["definition"]
    with pytest.raises(train_cli.TrainError, match="made with k=0.7"):
        train_cli.main(["--data", path, "--out", str(tmp_path / "x"), "--label-k", "0.5"])
