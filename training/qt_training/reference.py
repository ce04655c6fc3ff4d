"""A tiny pure-numpy evaluator of a TreeEnsembleClassifier graph, to check the exported graph without onnxruntime.

It reads the node attributes from the ONNX model (not from the booster), walks every tree in float32 exactly as
BRANCH_LT and BRANCH_LEQ define (``x < value``, resp. ``x <= value``, goes to the true child, NaN follows
``missing_value_tracks_true``), sums the leaf weights per class, adds ``base_values`` and applies the post-transform.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper


def _node_attrs(model: onnx.ModelProto) -> dict:
    nodes = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(nodes) != 1:
        raise ValueError("expected one TreeEnsembleClassifier node")
    return {a.name: helper.get_attribute_value(a) for a in nodes[0].attribute}


def evaluate(model: onnx.ModelProto, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, probabilities) of the graph for rows X."""
    a = _node_attrs(model)
    x = np.asarray(X, dtype=np.float32)
    n_rows = x.shape[0]
    labels = np.asarray(a["classlabels_int64s"])
    n_classes = len(labels)
    tree_ids = np.asarray(a["nodes_treeids"])
    node_ids = np.asarray(a["nodes_nodeids"])
    feats = np.asarray(a["nodes_featureids"])
    values = np.asarray(a["nodes_values"], dtype=np.float32)
    modes = np.asarray([m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]])
    unknown = set(modes.tolist()) - {"LEAF", "BRANCH_LT", "BRANCH_LEQ"}
    if unknown:
        raise ValueError(f"node modes {sorted(unknown)} not supported")
    leq = modes == "BRANCH_LEQ"
    true_ids = np.asarray(a["nodes_truenodeids"])
    false_ids = np.asarray(a["nodes_falsenodeids"])
    miss_true = np.asarray(a["nodes_missing_value_tracks_true"], dtype=bool)
    margins = np.zeros((n_rows, n_classes), dtype=np.float64)
    index_of = {(int(t), int(n)): i for i, (t, n) in enumerate(zip(tree_ids, node_ids))}
    leaf_weight = np.zeros((len(node_ids), n_classes), dtype=np.float64)  # by attribute index
    for t, nid, c, w in zip(a["class_treeids"], a["class_nodeids"], a["class_ids"], a["class_weights"]):
        leaf_weight[index_of[(int(t), int(nid))], int(c)] += w
    for t in np.unique(tree_ids):
        sel = np.flatnonzero(tree_ids == t)
        pos = np.full(int(node_ids[sel].max()) + 1, -1)  # node id -> attribute index
        pos[node_ids[sel]] = sel
        current = np.full(n_rows, pos[0])  # every row starts at the root, node id 0
        for _ in range(len(sel)):
            branching = modes[current] != "LEAF"
            if not branching.any():
                break
            rows = np.flatnonzero(branching)
            idx = current[rows]
            xv = x[rows, feats[idx]]
            go_true = np.where(np.isnan(xv), miss_true[idx], np.where(leq[idx], xv <= values[idx], xv < values[idx]))
            nxt = np.where(go_true, true_ids[idx], false_ids[idx])
            current[rows] = pos[nxt]
        margins += leaf_weight[current]
    margins += np.asarray(a.get("base_values", [0.0] * n_classes), dtype=np.float64)
    transform = a.get("post_transform", b"NONE")
    transform = transform.decode() if isinstance(transform, bytes) else transform
    if transform == "SOFTMAX":
        e = np.exp(margins - margins.max(axis=1, keepdims=True))
        proba = e / e.sum(axis=1, keepdims=True)
    elif transform == "NONE":
        proba = margins
    else:
        raise ValueError(f"post_transform {transform} not supported")
    return labels[np.argmax(proba, axis=1)], proba
