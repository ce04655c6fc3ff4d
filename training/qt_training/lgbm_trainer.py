"""The `lgbm` member: gradient-boosted trees grown leaf-wise (best-first) on the feature vector.

LightGBM when it is importable, otherwise scikit-learn's HistGradientBoostingClassifier, which grows its trees the same
way (best-first, ``max_leaf_nodes``) on binned features. The engine actually used is reported by ``LeafwiseModel`` and
written into the card (family, library): one is never labelled as the other.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass

import numpy as np
import onnx

from .onnx_export import histgb_to_onnx, lightgbm_to_onnx

LIGHTGBM = "lightgbm"
HISTGB = "sklearn-histgb"


def lightgbm_available() -> bool:
    """Whether LightGBM can be imported here."""
    return importlib.util.find_spec("lightgbm") is not None


@dataclass(frozen=True)
class LgbmParams:
    """Hyper-parameters shared by both engines; small on purpose (a few hundred KB of ONNX, fast to serve)."""

    n_estimators: int = 100  # boosting iterations (one tree per class each)
    max_leaves: int = 15  # leaves per tree (leaf-wise growth)
    learning_rate: float = 0.1
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    max_bins: int = 255
    seed: int = 7
    threads: int = 2

    def as_card(self) -> dict:
        """The parameters as written into the model card."""
        return asdict(self)


@dataclass(frozen=True)
class LeafwiseModel:
    """A fitted leaf-wise GBDT and the engine that fitted it."""

    engine: str  # LIGHTGBM or HISTGB
    estimator: object
    library: str
    library_version: str

    @property
    def family(self) -> str:
        """The card's family: which implementation grew the trees."""
        return "gbdt-lightgbm" if self.engine == LIGHTGBM else "gbdt-sklearn-histgb"

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of float32 rows."""
        return np.asarray(self.estimator.predict_proba(np.asarray(X, dtype=np.float32)), dtype=np.float64)

    def to_onnx(self, n_features: int, n_classes: int, feature_names: list[str] | None, doc: str = "") -> onnx.ModelProto:
        """The ai.onnx.ml TreeEnsembleClassifier graph of the fitted trees (the project's own converter)."""
        if self.engine == LIGHTGBM:
            return lightgbm_to_onnx(self.estimator.booster_, n_features, n_classes, feature_names, doc)
        return histgb_to_onnx(self.estimator, n_features, feature_names, doc)


def train_leafwise(X: np.ndarray, y: np.ndarray, params: LgbmParams, n_classes: int = 3,
                   engine: str | None = None) -> LeafwiseModel:
    """Fits on float32 features; ``engine`` None picks LightGBM when importable, else HistGB. Every class must occur."""
    present = np.unique(y)
    if not np.array_equal(present, np.arange(n_classes)):
        raise ValueError(f"training labels cover classes {present.tolist()}, expected 0..{n_classes - 1}")
    engine = engine or (LIGHTGBM if lightgbm_available() else HISTGB)
    X = np.asarray(X, dtype=np.float32)
    if engine == LIGHTGBM:
        import lightgbm as lgb

        clf = lgb.LGBMClassifier(
            objective="multiclass", n_estimators=params.n_estimators, num_leaves=params.max_leaves,
            learning_rate=params.learning_rate, min_child_samples=params.min_samples_leaf,
            reg_lambda=params.l2_regularization, max_bin=params.max_bins, random_state=params.seed,
            n_jobs=params.threads, deterministic=True, force_row_wise=True, verbose=-1)
        clf.fit(X, y)
        return LeafwiseModel(LIGHTGBM, clf, "lightgbm", lgb.__version__)
    if engine != HISTGB:
        raise ValueError(f"unknown engine {engine!r}")
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(
        loss="log_loss", learning_rate=params.learning_rate, max_iter=params.n_estimators,
        max_leaf_nodes=params.max_leaves, min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization, max_bins=params.max_bins, early_stopping=False,
        random_state=params.seed)
    with threadpool_limits(limits=params.threads):
        clf.fit(X, y)
    return LeafwiseModel(HISTGB, clf, "scikit-learn", sklearn.__version__)
