"""ONNX export of multi-class gradient-boosted trees, written by the project (no onnxmltools or skl2onnx).

Three sources, one graph layout (``tree_ensemble_model``): XGBoost (``booster_to_onnx``), scikit-learn's
HistGradientBoostingClassifier (``histgb_to_onnx``) and LightGBM (``lightgbm_to_onnx``). The trees become one
``ai.onnx.ml.TreeEnsembleClassifier`` node:

* input ``features``: float32 [N, F], N dynamic;
* outputs ``label`` (int64 [N]) and ``probabilities`` (float32 [N, C]) as plain tensors (no ZipMap);
* tree i adds to the margin of class ``i % C`` (XGBoost multi:softprob with one tree per class per round);
* ``base_values`` carry XGBoost's base_score, ``post_transform = SOFTMAX``;
* splits are ``BRANCH_LT`` on float32 thresholds: XGBoost sends ``x < threshold`` to the "yes" child, comparing in
  float32, and the dump prints thresholds with 9 significant digits, enough to read back the exact float32;
* a missing value (NaN) follows XGBoost's learned default direction (``missing`` child).

HistGB and LightGBM send ``x <= threshold`` (float64) left: ``BRANCH_LEQ`` on the largest float32 not above the
threshold, exact for float32 inputs (``leq_threshold_f32``); see ``histgb_to_onnx`` and ``lightgbm_to_onnx``.
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


def tree_ensemble_model(attrs: dict, base_values: list[float], n_features: int, n_classes: int,
                        feature_names: list[str] | None, name: str, doc: str = "") -> onnx.ModelProto:
    """One ``TreeEnsembleClassifier`` node (SOFTMAX over ``base_values`` + leaf sums), checked by onnx.checker."""
    node = helper.make_node(
        "TreeEnsembleClassifier", [INPUT_NAME], [LABEL_OUTPUT, PROBA_OUTPUT], domain="ai.onnx.ml",
        name=f"{name}_trees", classlabels_int64s=list(range(n_classes)), post_transform="SOFTMAX",
        base_values=base_values, **attrs)
    graph = helper.make_graph(
        [node], f"qt_{name}",
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
    return tree_ensemble_model(attrs, [base] * n_classes, n_features, n_classes, feature_names, "xgb", doc)


# --- thresholds compared with <= in float64 -----------------------------------------------------------------------

def leq_threshold_f32(t: float) -> float:
    """The float32 threshold ``t32`` with ``x <= t  <=>  x <= t32`` for every float32 ``x``: the largest float32 not
    above ``t`` (rounding to nearest could land above ``t`` and send a value between them the wrong way).

    HistGB and LightGBM compare the float64 value with a float64 threshold; served inputs are float32, and
    ``BRANCH_LEQ`` compares them with float32 thresholds.
    """
    t32 = np.float32(t)
    if np.isfinite(t) and float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def _empty_attrs() -> dict:
    return {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                            "class_treeids", "class_nodeids", "class_ids", "class_weights")}


def _add_leaf(a: dict, tree_id: int, node_id: int, class_id: int, weight: float) -> None:
    a["nodes_treeids"].append(tree_id)
    a["nodes_nodeids"].append(node_id)
    a["nodes_featureids"].append(0)
    a["nodes_values"].append(0.0)
    a["nodes_modes"].append("LEAF")
    a["nodes_truenodeids"].append(0)
    a["nodes_falsenodeids"].append(0)
    a["nodes_missing_value_tracks_true"].append(0)
    a["class_treeids"].append(tree_id)
    a["class_nodeids"].append(node_id)
    a["class_ids"].append(class_id)
    a["class_weights"].append(float(np.float32(weight)))


def _add_leq_split(a: dict, tree_id: int, node_id: int, feature: int, threshold: float, left: int, right: int,
                   missing_left: bool) -> None:
    a["nodes_treeids"].append(tree_id)
    a["nodes_nodeids"].append(node_id)
    a["nodes_featureids"].append(int(feature))
    a["nodes_values"].append(leq_threshold_f32(threshold))
    a["nodes_modes"].append("BRANCH_LEQ")
    a["nodes_truenodeids"].append(int(left))
    a["nodes_falsenodeids"].append(int(right))
    a["nodes_missing_value_tracks_true"].append(1 if missing_left else 0)


# --- scikit-learn HistGradientBoostingClassifier -------------------------------------------------------------------

def histgb_attributes(predictors: list, n_classes: int) -> dict:
    """Node attributes of HistGB's fitted trees: ``predictors[iteration][class].nodes`` (a structured array: feature_idx,
    num_threshold, left, right, is_leaf, value, missing_go_to_left); tree ``iteration * n_classes + class`` adds to
    the margin of ``class``. A row goes left when ``x <= num_threshold``, and a NaN where ``missing_go_to_left``;
    leaf values already include the learning rate. Node ids are the indices in ``nodes`` (the root is 0)."""
    a = _empty_attrs()
    for it, per_class in enumerate(predictors):
        if len(per_class) != n_classes:
            raise ExportError(f"iteration {it} has {len(per_class)} trees, expected one per class ({n_classes})")
        for k, predictor in enumerate(per_class):
            tree_id = it * n_classes + k
            nodes = predictor.nodes
            if "is_categorical" in nodes.dtype.names and nodes["is_categorical"].any():
                raise ExportError("categorical splits are not supported")
            for i, nd in enumerate(nodes):
                if nd["is_leaf"]:
                    _add_leaf(a, tree_id, i, k, float(nd["value"]))
                else:
                    _add_leq_split(a, tree_id, i, int(nd["feature_idx"]), float(nd["num_threshold"]), int(nd["left"]),
                                   int(nd["right"]), bool(nd["missing_go_to_left"]))
    return a


def histgb_to_onnx(clf, n_features: int, feature_names: list[str] | None = None, doc: str = "") -> onnx.ModelProto:
    """An ONNX model computing a fitted HistGradientBoostingClassifier's predict_proba (3+ classes: softmax)."""
    n_classes = len(clf.classes_)
    if n_classes < 3 or clf.n_trees_per_iteration_ != n_classes:
        raise ExportError(f"expected a multi-class model with one tree per class and iteration, got {n_classes} classes")
    if not np.array_equal(clf.classes_, np.arange(n_classes)):
        raise ExportError(f"classes {clf.classes_.tolist()} are not 0..{n_classes - 1}")
    base = np.asarray(clf._baseline_prediction, dtype=np.float64).reshape(-1)  # (1, n_classes) in sklearn 1.2
    if base.shape != (n_classes,):
        raise ExportError(f"baseline prediction of shape {np.shape(clf._baseline_prediction)}")
    attrs = histgb_attributes(clf._predictors, n_classes)
    return tree_ensemble_model(attrs, [float(np.float32(b)) for b in base], n_features, n_classes, feature_names,
                               "lgbm", doc)


# --- LightGBM --------------------------------------------------------------------------------------------------------

def lightgbm_attributes(dump: dict, n_classes: int) -> dict:
    """Node attributes of a LightGBM ``Booster.dump_model()``: tree i adds to class ``i % n_classes``; numerical
    ``<=`` splits only; a NaN follows ``default_left`` (missing_type NaN) or is taken as 0 (missing_type None)."""
    a = _empty_attrs()
    for tree_id, info in enumerate(dump["tree_info"]):
        k = tree_id % n_classes
        root = info["tree_structure"]
        if "leaf_value" in root and "split_index" not in root:  # a tree of one leaf
            _add_leaf(a, tree_id, 0, k, float(root["leaf_value"]))
            continue
        n_splits = int(info["num_leaves"]) - 1
        leaf_id = lambda n: n_splits + int(n["leaf_index"])  # noqa: E731 - split nodes keep their split_index
        node_id = lambda n: int(n["split_index"]) if "split_index" in n else leaf_id(n)  # noqa: E731
        stack = [root]
        while stack:
            n = stack.pop()
            if "split_index" not in n:
                _add_leaf(a, tree_id, leaf_id(n), k, float(n["leaf_value"]))
                continue
            if n.get("decision_type") != "<=":
                raise ExportError(f"tree {tree_id}: decision type {n.get('decision_type')!r} (categorical?) not supported")
            missing = n.get("missing_type", "None")
            if missing == "NaN":
                missing_left = bool(n["default_left"])
            elif missing == "None":
                missing_left = 0.0 <= float(n["threshold"])
            else:
                raise ExportError(f"tree {tree_id}: missing_type {missing!r} not supported")
            left, right = n["left_child"], n["right_child"]
            _add_leq_split(a, tree_id, node_id(n), int(n["split_feature"]), float(n["threshold"]), node_id(left),
                           node_id(right), missing_left)
            stack.extend((left, right))
    return a


def lightgbm_to_onnx(booster, n_features: int, n_classes: int, feature_names: list[str] | None = None,
                     doc: str = "") -> onnx.ModelProto:
    """An ONNX model computing a LightGBM multiclass booster's predict (softmax of the summed leaf values; LightGBM
    puts its initial score into the first trees' leaves, so the base values are 0)."""
    dump = booster.dump_model()
    if int(dump.get("num_class", 1)) != n_classes:
        raise ExportError(f"booster has {dump.get('num_class')} classes, expected {n_classes}")
    if len(dump["tree_info"]) % n_classes != 0:
        raise ExportError(f"{len(dump['tree_info'])} trees is not a multiple of {n_classes} classes")
    attrs = lightgbm_attributes(dump, n_classes)
    return tree_ensemble_model(attrs, [0.0] * n_classes, n_features, n_classes, feature_names, "lgbm", doc)
