"""ONNX export of an XGBoost multi-class booster, written by the project (no onnxmltools or skl2onnx).

The booster's JSON dump becomes one ``ai.onnx.ml.TreeEnsembleClassifier`` node:

* input ``features``: float32 [N, F], N dynamic;
* outputs ``label`` (int64 [N]) and ``probabilities`` (float32 [N, C]) as plain tensors (no ZipMap);
* tree i adds to the margin of class ``i % C`` (XGBoost multi:softprob with one tree per class per round);
* ``base_values`` carry XGBoost's base_score, ``post_transform = SOFTMAX``;
* splits are ``BRANCH_LT`` on float32 thresholds: XGBoost sends ``x < threshold`` to the "yes" child, comparing in
  float32, and the dump prints thresholds with 9 significant digits, enough to read back the exact float32;
* a missing value (NaN) follows XGBoost's learned default direction (``missing`` child).
"""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import __version__

INPUT_NAME = "features"
LABEL_OUTPUT = "label"
PROBA_OUTPUT = "probabilities"
ONNX_OPSET = 17
ML_OPSET = 3
IR_VERSION = 8


class ExportError(ValueError):
    """The booster cannot be expressed by this exporter."""


def booster_base_score(booster) -> float:
    """XGBoost's base_score (the initial margin of every class) from the booster's saved config."""
    cfg = json.loads(booster.save_config())
    raw = cfg["learner"]["learner_model_param"]["base_score"]
    return float(raw.strip("[]").split(",")[0]) if isinstance(raw, str) else float(raw)


def _num_parallel_tree(booster) -> int:
    cfg = json.loads(booster.save_config())
    gb = cfg["learner"]["gradient_booster"]
    param = gb.get("gbtree_model_param") or gb.get("gbtree", {}).get("gbtree_model_param", {})
    return int(param.get("num_parallel_tree", "1"))


def _feature_index(split: str, feature_names: list[str] | None) -> int:
    if feature_names and split in feature_names:
        return feature_names.index(split)
    if split.startswith("f") and split[1:].isdigit():
        return int(split[1:])
    raise ExportError(f"unknown split feature {split!r}")


def tree_attributes(dumps: list[str], n_classes: int, feature_names: list[str] | None = None) -> dict:
    """The TreeEnsembleClassifier node attributes for the trees of a JSON dump."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                         "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                         "class_treeids", "class_nodeids", "class_ids", "class_weights")}
    for tree_id, text in enumerate(dumps):
        stack = [json.loads(text)]
        while stack:
            node = stack.pop()
            a["nodes_treeids"].append(tree_id)
            a["nodes_nodeids"].append(int(node["nodeid"]))
            if "leaf" in node:
                a["nodes_featureids"].append(0)
                a["nodes_values"].append(0.0)
                a["nodes_modes"].append("LEAF")
                a["nodes_truenodeids"].append(0)
                a["nodes_falsenodeids"].append(0)
                a["nodes_missing_value_tracks_true"].append(0)
                a["class_treeids"].append(tree_id)
                a["class_nodeids"].append(int(node["nodeid"]))
                a["class_ids"].append(tree_id % n_classes)
                a["class_weights"].append(float(np.float32(node["leaf"])))
            else:
                yes, no, missing = int(node["yes"]), int(node["no"]), int(node["missing"])
                if missing not in (yes, no):
                    raise ExportError(f"tree {tree_id} node {node['nodeid']}: missing child is neither yes nor no")
                a["nodes_featureids"].append(_feature_index(node["split"], feature_names))
                a["nodes_values"].append(float(np.float32(node["split_condition"])))
                a["nodes_modes"].append("BRANCH_LT")
                a["nodes_truenodeids"].append(yes)
                a["nodes_falsenodeids"].append(no)
                a["nodes_missing_value_tracks_true"].append(1 if missing == yes else 0)
                stack.extend(node["children"])
    return a


def booster_to_onnx(booster, n_features: int, n_classes: int, feature_names: list[str] | None = None,
                    doc: str = "") -> onnx.ModelProto:
    """An ONNX model computing the booster's predict_proba."""
    if _num_parallel_tree(booster) != 1:
        raise ExportError("num_parallel_tree > 1 is not supported")
    dumps = booster.get_dump(dump_format="json")
    if len(dumps) % n_classes != 0:
        raise ExportError(f"{len(dumps)} trees is not a multiple of {n_classes} classes")
    attrs = tree_attributes(dumps, n_classes, feature_names)
    base = booster_base_score(booster)
    node = helper.make_node(
        "TreeEnsembleClassifier", [INPUT_NAME], [LABEL_OUTPUT, PROBA_OUTPUT], domain="ai.onnx.ml",
        name="xgb_trees", classlabels_int64s=list(range(n_classes)), post_transform="SOFTMAX",
        base_values=[base] * n_classes, **attrs)
    graph = helper.make_graph(
        [node], "qt_xgb",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(LABEL_OUTPUT, TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info(PROBA_OUTPUT, TensorProto.FLOAT, ["N", n_classes])])
    model = helper.make_model(graph, producer_name="qt_training", producer_version=__version__, doc_string=doc,
                              opset_imports=[helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    model.ir_version = IR_VERSION
    if feature_names:
        helper.set_model_props(model, {"qt.features": json.dumps(list(feature_names))})
    onnx.checker.check_model(model, full_check=True)
    return model
