"""The XGBoost member: a small multi-class gradient-boosted tree model on the feature vector."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xgboost as xgb


@dataclass(frozen=True)
class XgbParams:
    """Hyper-parameters; small on purpose (the shipped model must stay well under 2 MB and fast to serve)."""

    n_estimators: int = 100
    max_depth: int = 4
    learning_rate: float = 0.1
    subsample: float = 0.8
    min_child_weight: float = 50.0
    reg_lambda: float = 1.0
    max_bin: int = 256
    seed: int = 7
    threads: int = 2

    def as_card(self) -> dict:
        """The parameters as written into the model card."""
        return asdict(self)


def train_xgb(X: np.ndarray, y: np.ndarray, params: XgbParams, n_classes: int = 3) -> xgb.XGBClassifier:
    """Fits a multi:softprob classifier on float32 features; every class must occur in y."""
    present = np.unique(y)
    if not np.array_equal(present, np.arange(n_classes)):
        raise ValueError(f"training labels cover classes {present.tolist()}, expected 0..{n_classes - 1}")
    model = xgb.XGBClassifier(
        n_estimators=params.n_estimators, max_depth=params.max_depth, learning_rate=params.learning_rate,
        subsample=params.subsample, min_child_weight=params.min_child_weight, reg_lambda=params.reg_lambda,
        max_bin=params.max_bin, tree_method="hist", objective="multi:softprob", random_state=params.seed,
        n_jobs=params.threads)
    model.fit(np.asarray(X, dtype=np.float32), y)
    return model
