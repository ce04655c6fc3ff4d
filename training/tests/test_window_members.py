"""The window members (`nhits`, `patchtst`): training on the window sidecar, the exported graph, card and parity file.

onnxruntime is not available in this Python: the graph is checked with onnx.checker and shape inference, and its link
to the trainer's probabilities is checked by retraining (same seed, same data) and comparing (a) the re-exported
graph's bytes with the shipped ones and (b) the torch forward on parity rows with parity.json. onnxruntime-node's
parity with parity.json is checked on the TypeScript side (models/parity.spec.ts).
"""

import hashlib
import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import card_schema_errors, window_spec
from qt_training import train as train_cli
from qt_training.dataset import read_dataset
from qt_training.labels import UNKNOWN, LabelSpec, make_labels
from qt_training.split import time_split
from qt_training.torch_models import NHits, interpolation_matrix
from qt_training.torch_trainer import TorchParams, build_model, export_onnx, predict_proba, train_window_model

ARGS = ["--epochs", "3", "--train-rows", "2000", "--batch-size", "128", "--lr", "0.003", "--threads", "1"]
SMALL = {"nhits": ["--arch", "hidden=32"], "patchtst": ["--arch", "d_model=16", "--arch", "d_ff=32", "--arch", "layers=1"]}


@pytest.fixture(scope="module", params=["nhits", "patchtst"])
def trained(request, synthetic_csv, tmp_path_factory):
    member = request.param
    out = str(tmp_path_factory.mktemp("store") / member / "t1")
    assert train_cli.main(["--data", synthetic_csv, "--member", member, "--out", out, *ARGS, *SMALL[member]]) == 0
    return member, out


def _load(out, name):
    with open(os.path.join(out, name), encoding="utf-8") as f:
        return json.load(f)


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_graph_takes_windows_with_a_dynamic_batch_and_outputs_probabilities(trained):
    member, out = trained
    channels, length = window_spec()
    model = onnx.load(os.path.join(out, "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    (inp,) = model.graph.input
    assert inp.name == "window" and inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert _dims(inp) == ["N", length, len(channels)]
    outs = {o.name: o for o in model.graph.output}
    assert set(outs) == {"label", "probabilities"}
    assert _dims(outs["probabilities"]) == ["N", 3] and _dims(outs["label"]) == ["N"]
    assert outs["label"].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import} == {"ai.onnx": 17}
    ops = {n.op_type for n in model.graph.node}
    assert "Softmax" in ops and "ArgMax" in ops
    assert ("MaxPool" in ops) if member == "nhits" else ({"Conv", "BatchNormalization", "MatMul"} <= ops)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    assert _dims({o.name: o for o in inferred.graph.output}["probabilities"]) == ["N", 3]


def test_card_describes_a_window_model(trained, synthetic_csv):
    member, out = trained
    channels, length = window_spec()
    card = _load(out, "card.json")
    assert card_schema_errors(card) == []
    assert card["member"] == member and card["family"] == member
    assert card["library"] == {"name": "torch", "version": torch.__version__}
    assert card["features"] == channels
    assert card["input"] == {"name": "window", "kind": "window", "windowLength": length, "windowChannels": len(channels)}
    assert card["onnx"]["mlOpset"] == 0 and card["onnx"]["opset"] == 17
    assert "Classification head" in card["description"]
    with open(os.path.join(out, "model.onnx"), "rb") as f:
        assert card["onnx"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert card["params"]["train_rows_used"] <= 2000 and 1 <= card["params"]["best_epoch"] <= 3
    m = card["metrics"]
    assert set(m["model"]) == {"logLoss", "brier", "accuracy", "ece"}
    # the newest bar of the generated window carries the signal: the model must beat the class prior out of sample
    assert m["model"]["logLoss"] < m["baselines"]["classPrior"]["logLoss"]


def test_a_window_card_has_feature_stats_of_the_vector_prediction_shares_and_ece(trained, synthetic_csv):
    # The supervisor watches FeatureVector.values for every member: a window model's card has their deciles too.
    from test_train_export import _check_annotations
    member, out = trained
    card = _load(out, "card.json")
    ds = read_dataset(synthetic_csv, with_window=True)
    y = make_labels(ds.fwd_ret, ds.feature("rvol_30"), LabelSpec(horizon=5))
    ds = ds.take(y != UNKNOWN)
    tr = (ds.open_time >= card["data"]["train"]["fromMs"]) & (ds.open_time <= card["data"]["train"]["toMs"])
    assert tr.sum() == card["data"]["train"]["rows"]
    _check_annotations(card, ds.X[tr])


def _retrain(member, synthetic_csv, out):
    """The same training as the CLI run, through the API: same data, split, params and seed."""
    card = _load(out, "card.json")
    ds = read_dataset(synthetic_csv, with_window=True)
    y = make_labels(ds.fwd_ret, ds.feature("rvol_30"), LabelSpec(horizon=5))
    ds, y = ds.take(y != UNKNOWN), y[y != UNKNOWN]
    tr, _ = time_split(ds.open_time, card["data"]["validFromMs"], 5, 60_000)
    p = card["params"]
    params = TorchParams(epochs=3, batch_size=128, learning_rate=p["learning_rate"], weight_decay=p["weight_decay"],
                         train_rows=2000, seed=7, threads=1)
    arch = {k: v for k, v in (a.split("=") for a in SMALL[member][1::2])}
    return train_window_model(member, ds.window[tr], y[tr], ds.open_time[tr], 5, 60_000, params,
                              {k: float(v) for k, v in arch.items()}, log=lambda s: None)


def test_torch_forward_reproduces_parity_file_and_graph(trained, synthetic_csv):
    member, out = trained
    channels, length = window_spec()
    parity = _load(out, "parity.json")
    assert parity["rows"] >= 1000 and parity["input"] == "window" and parity["features"] == channels
    assert parity["windowLength"] == length
    x = np.asarray(parity["inputs"], dtype=np.float32)
    assert x.shape == (parity["rows"], length * len(channels))
    fit = _retrain(member, synthetic_csv, out)
    with open(os.path.join(out, "model.onnx"), "rb") as f:
        shipped = f.read()
    card = _load(out, "card.json")
    again = export_onnx(fit.model, length, len(channels), doc=onnx.load_from_string(shipped).doc_string)
    assert hashlib.sha256(again.SerializeToString()).hexdigest() == card["onnx"]["sha256"]
    rows = x.reshape(-1, length, len(channels))
    p = predict_proba(fit.model, rows[:64])
    assert np.max(np.abs(p - np.asarray(parity["probabilities"][:64]))) < 1e-6
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-6)
    # batch size does not change a row's probabilities
    one = np.concatenate([predict_proba(fit.model, rows[i:i + 1]) for i in range(5)])
    assert np.max(np.abs(one - p[:5])) < 1e-6


def test_window_members_refuse_a_dataset_without_window(tmp_path):
    from conftest import write_synthetic_csv
    path = write_synthetic_csv(str(tmp_path / "d.csv"), n_bars=300, symbols=("A/USDT",))
    with pytest.raises(Exception, match="window sidecar"):
        train_cli.main(["--data", path, "--member", "nhits", "--out", str(tmp_path / "nhits" / "v1"), *ARGS])


def test_nhits_blocks_interpolate_and_subtract_backcasts():
    # linear interpolation as a matrix: a constant sequence stays constant, end points are kept
    m = interpolation_matrix(4, 15)
    assert m.shape == (4, 15)
    assert torch.allclose(torch.ones(1, 4) @ m, torch.ones(1, 15))
    ramp = torch.arange(4.0).unsqueeze(0) @ m
    assert torch.all(ramp[0, 1:] >= ramp[0, :-1])
    model, arch = build_model("nhits", np.zeros(3, np.float32), np.ones(3, np.float32), 32, 3, 15)
    assert isinstance(model, NHits) and arch["parameters"] == sum(p.numel() for p in model.parameters())
    pools = [b.pool.kernel_size if b.pool is not None else 1 for b in model.blocks]
    assert pools == [8, 4, 1]  # multi-rate input sampling, coarse to fine
    assert [b.n_theta for b in model.blocks] == [4, 8, 15]  # ceil(15 / ratio) forecast coefficients per stack
    model.eval()
    x = torch.randn(3, 32, 3)
    resid, total = model.scaler(x), 0
    for b in model.blocks:
        back, fore = b(resid)
        assert back.shape == (3, 3, 32) and fore.shape == (3, 3, 15)
        resid, total = resid - back, total + fore
    assert torch.allclose(torch.softmax(model.head(total.flatten(1)), 1), model(x)[1], atol=1e-6)


def test_patchtst_patches_each_channel_with_shared_weights():
    model, arch = build_model("patchtst", np.zeros(3, np.float32), np.ones(3, np.float32), 32, 3, 15)
    assert model.n_patches == 8  # (32 + 4 - 8) / 4 + 1, the end padded by the stride
    model.eval()
    x = torch.randn(2, 32, 3)
    # channel independence: a channel's representation depends on that channel's series only
    def reps(w):
        z = model.scaler(w).reshape(-1, 1, 32)
        z = torch.cat([z, z[:, :, -1:].repeat(1, 1, 4)], dim=2)
        e = model.embed(z).transpose(1, 2) + model.pos
        return model.encoder(e.reshape(-1, model.d_model)).reshape(2, 3, -1)
    y = x.clone()
    y[:, :, 2] += 1.0
    a, b = reps(x), reps(y)
    assert torch.allclose(a[:, :2], b[:, :2], atol=1e-6) and not torch.allclose(a[:, 2], b[:, 2])


def test_training_is_reproducible_and_picks_the_epoch_on_the_training_period():
    rng = np.random.default_rng(0)
    n = 1200
    W = rng.normal(size=(n, 32, 3)).astype(np.float32)
    y = np.digitize(W[:, -1, 0], [-0.4, 0.4])
    t = np.arange(n, dtype=np.int64) * 60_000
    params = TorchParams(epochs=2, batch_size=128, train_rows=0, seed=3, threads=1)
    a = train_window_model("nhits", W, y, t, 5, 60_000, params, {"hidden": 16}, log=lambda s: None)
    b = train_window_model("nhits", W, y, t, 5, 60_000, params, {"hidden": 16}, log=lambda s: None)
    assert a.history == b.history and a.best_epoch == int(np.argmin([h[1] for h in a.history])) + 1
    # the inner hold-out is the last 10% of the period, after a purge gap: it is not trained on
    inner_from = int(0.9 * int(t.max())) // 60_000 * 60_000
    assert a.train_rows_used == int(np.sum(t + 5 * 60_000 < inner_from))
    assert np.array_equal(predict_proba(a.model, W[:10]), predict_proba(b.model, W[:10]))
