"""The models shipped in models/store: every card valid and matching its file, every parity file usable.

Tree graphs are evaluated with the numpy reference evaluator against their parity file; torch graphs are checked with
onnx.checker and their shapes (onnxruntime-node checks their parity: models/parity.spec.ts).
"""

import hashlib
import json
import os

import numpy as np
import onnx
import pytest

from conftest import REPO, card_schema_errors, feature_names, window_spec
from qt_training.reference import evaluate

STORE = os.path.join(REPO, "models", "store")
SHIPPED = sorted((m, v) for m in os.listdir(STORE) for v in os.listdir(os.path.join(STORE, m)))


def test_the_four_members_are_shipped():
    assert {m for m, _ in SHIPPED} >= {"xgb", "lgbm", "nhits", "patchtst"}


@pytest.mark.parametrize("member,version", SHIPPED)
def test_card_parity_and_graph(member, version):
    d = os.path.join(STORE, member, version)
    with open(os.path.join(d, "card.json"), encoding="utf-8") as f:
        card = json.load(f)
    with open(os.path.join(d, "parity.json"), encoding="utf-8") as f:
        parity = json.load(f)
    with open(os.path.join(d, card["onnx"]["file"]), "rb") as f:
        data = f.read()
    assert card_schema_errors(card) == []
    assert (card["member"], card["version"]) == (member, version)
    assert card["onnx"]["sha256"] == hashlib.sha256(data).hexdigest() and card["onnx"]["bytes"] == len(data)
    assert len(data) < 4_000_000
    assert parity["rows"] >= 1000 and len(parity["inputs"]) == len(parity["probabilities"]) == parity["rows"]
    # out of sample, the model beats both naive baselines in log loss and Brier score
    m = card["metrics"]
    for base in ("classPrior", "lastReturnSign"):
        assert m["model"]["logLoss"] < m["baselines"][base]["logLoss"]
        assert m["model"]["brier"] < m["baselines"][base]["brier"]
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    (inp,) = model.graph.input
    dims = [x.dim_param or x.dim_value for x in inp.type.tensor_type.shape.dim]
    if card["input"]["kind"] == "features":
        assert card["features"] == feature_names() and dims == ["N", len(card["features"])]
        _, p = evaluate(model, np.asarray(parity["inputs"], dtype=np.float32))
        assert np.max(np.abs(p - np.asarray(parity["probabilities"]))) < 1e-5
    else:
        channels, length = window_spec()
        assert card["features"] == channels and dims == ["N", length, len(channels)]
        assert (card["input"]["windowLength"], card["input"]["windowChannels"]) == (length, len(channels))
        assert all(len(r) == length * len(channels) for r in parity["inputs"])
        assert np.allclose(np.asarray(parity["probabilities"]).sum(axis=1), 1.0, atol=1e-5)
