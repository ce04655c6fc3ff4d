"""Out-of-sample metrics of class probabilities and two naive baselines."""

from __future__ import annotations

import numpy as np

EPS = 1e-15


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log probability of the true class."""
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], EPS, 1.0))))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Multi-class Brier score: mean over rows of the squared distance to the one-hot truth (0 best, 2 worst)."""
    onehot = np.zeros_like(p, dtype=np.float64)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose most probable class is the true class."""
    return float(np.mean(np.argmax(p, axis=1) == y))


ECE_BINS = 15


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error: rows binned by their highest probability into ``bins`` equal-width bins
    over [0, 1]; the mean over rows of |accuracy of the bin - mean highest probability of the bin| (0 best)."""
    conf = np.max(p, axis=1)
    hit = (np.argmax(p, axis=1) == y).astype(np.float64)
    b = np.minimum((conf * bins).astype(np.int64), bins - 1)
    gap = np.abs(np.bincount(b, weights=hit, minlength=bins) - np.bincount(b, weights=conf, minlength=bins))
    return float(np.sum(gap) / len(y))


def scores(p: np.ndarray, y: np.ndarray) -> dict:
    """Log loss, Brier, accuracy and the expected calibration error ``ece``."""
    return {"logLoss": log_loss(p, y), "brier": brier(p, y), "accuracy": accuracy(p, y),
            "ece": expected_calibration_error(p, y)}


def prior_baseline(y_train: np.ndarray, n_valid: int, n_classes: int = 3) -> np.ndarray:
    """Every validation row gets the class frequencies of the training labels."""
    freq = np.bincount(y_train, minlength=n_classes).astype(np.float64) / len(y_train)
    return np.tile(freq, (n_valid, 1))


def _sign(x: np.ndarray) -> np.ndarray:
    return (np.sign(x) + 1).astype(np.int64)  # -1,0,1 -> 0,1,2


def last_return_sign_baseline(ret_train: np.ndarray, y_train: np.ndarray, ret_valid: np.ndarray,
                              n_classes: int = 3) -> np.ndarray:
    """Class frequencies in training conditioned on the sign of the last 1-bar return, applied to validation.

    Sign groups that never occur in training fall back to the overall frequencies.
    """
    overall = np.bincount(y_train, minlength=n_classes).astype(np.float64) / len(y_train)
    s_train = _sign(ret_train)
    table = np.tile(overall, (3, 1))
    for s in range(3):
        m = s_train == s
        if m.any():
            table[s] = np.bincount(y_train[m], minlength=n_classes) / m.sum()
    return table[_sign(ret_valid)]


def hard_sign_accuracy(ret_valid: np.ndarray, y_valid: np.ndarray) -> float:
    """Accuracy of the rule 'the next move repeats the last one': UP if ret_1 > 0, DOWN if < 0, FLAT if 0."""
    return float(np.mean(_sign(ret_valid) == y_valid))


def predicted_class(p: np.ndarray) -> np.ndarray:
    """The soft vote's rule (predictedClass in operators/ensemble/scoring.ts): UP when P(UP) is strictly the largest,
    DOWN when P(DOWN) is, FLAT otherwise (FLAT largest, or a tie at the top). Not argmax, which breaks ties to DOWN."""
    down, flat, up = p[:, 0], p[:, 1], p[:, 2]
    return np.where((up > down) & (up > flat), 2, np.where((down > up) & (down > flat), 0, 1)).astype(np.int64)


def prediction_shares(p: np.ndarray) -> list[float]:
    """Share of rows by predicted class (DOWN, FLAT, UP) by the soft vote's rule: the card's predictionShares."""
    return (np.bincount(predicted_class(p), minlength=3) / len(p)).astype(np.float64).tolist()


DECILES = np.linspace(0.1, 0.9, 9)


def bin_of(edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bin of each value: the number of edges <= x (binOf in models/card.ts)."""
    return np.searchsorted(edges, x, side="right")


def feature_stats(X: np.ndarray, names) -> list[dict]:
    """Per feature column: the deciles of the rows (9 edges, numpy's default linear interpolation) and the share of rows
    in each of the 10 bins they cut (bin_of). Equal neighbouring edges (a value taken by over a tenth of the rows, e.g.
    ret_1 = 0) leave an empty bin between them. The card's data.train.featureStats."""
    out = []
    for j, name in enumerate(names):
        x = X[:, j]
        edges = np.quantile(x, DECILES)
        shares = np.bincount(bin_of(edges, x), minlength=10) / len(x)
        out.append({"feature": name, "edges": [float(v) for v in edges], "shares": [float(v) for v in shares]})
    return out
