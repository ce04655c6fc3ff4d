"""The label: direction of the forward log return over H bars, with a neutral band scaled by recent volatility.

    band = k * rvol_30 * sqrt(H)
    UP   if fwd_ret >  band
    DOWN if fwd_ret < -band
    FLAT otherwise

``rvol_30`` is the standard deviation of 1-bar log returns over the last 30 bars (a feature, so past data only), and
``rvol_30 * sqrt(H)`` is the random-walk scale of an H-bar return: the band adapts to each symbol and regime. With
k = 0.5 a Gaussian random walk would give about 38% FLAT and 31% each for UP and DOWN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import CLASSES

DOWN, FLAT, UP = 0, 1, 2
UNKNOWN = -1


@dataclass(frozen=True)
class LabelSpec:
    """Parameters of the label."""

    horizon: int
    k: float = 0.5
    vol_feature: str = "rvol_30"

    def describe(self) -> dict:
        """The label definition as written into the model card."""
        return {
            "kind": "fwd-logret-vol-band",
            "horizonBars": self.horizon,
            "k": self.k,
            "volFeature": self.vol_feature,
            "classes": list(CLASSES),
            "definition": (f"r = log(close[t+{self.horizon}] / close[t]); band = {self.k} * {self.vol_feature}[t] * "
                           f"sqrt({self.horizon}); UP if r > band, DOWN if r < -band, else FLAT"),
        }


def make_labels(fwd_ret: np.ndarray, vol: np.ndarray, spec: LabelSpec) -> np.ndarray:
    """Class index per row (DOWN=0, FLAT=1, UP=2), UNKNOWN (-1) where the forward return is unknown."""
    band = spec.k * vol * np.sqrt(spec.horizon)
    y = np.full(fwd_ret.shape, FLAT, dtype=np.int64)
    y[fwd_ret > band] = UP
    y[fwd_ret < -band] = DOWN
    y[~np.isfinite(fwd_ret) | ~np.isfinite(vol)] = UNKNOWN
    return y
