"""Shared fixtures: the package on sys.path and a small generated dataset in the export's CSV layout."""

from __future__ import annotations

import json
import math
import os
import re
import sys

import numpy as np
import pytest

TRAINING = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TRAINING)
sys.path.insert(0, TRAINING)

MINUTE = 60_000
T0 = 1_746_316_800_000  # 2025-05-04T00:00Z


def feature_names() -> list[str]:
    """FEATURE_NAMES as declared in operators/features/feature-set.ts (the one definition)."""
    text = open(os.path.join(REPO, "operators", "features", "feature-set.ts"), encoding="utf-8").read()
    body = re.search(r"FEATURE_NAMES = \[(.*?)\] as const", text, re.S).group(1)
    return re.findall(r"'([a-z0-9_]+)'", re.sub(r"//.*", "", body))


def write_synthetic_csv(path: str, n_bars: int = 1500, symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT"), horizon: int = 5,
                        seed: int = 1, nan_rate: float = 0.0) -> str:
    """A dataset whose forward return depends on ema_ratio_12_26 and ret_5 plus noise, with its .meta.json."""
    rng = np.random.default_rng(seed)
    names = feature_names()
    lines = ["open_time,exchange,symbol,close," + ",".join(names) + ",fwd_ret"]
    for s in symbols:
        X = rng.normal(size=(n_bars, len(names)))
        X[:, names.index("rvol_30")] = np.abs(X[:, names.index("rvol_30")]) * 0.001 + 0.0005
        X[:, names.index("rsi_14")] = 50 + 15 * X[:, names.index("rsi_14")]
        signal = 0.002 * X[:, names.index("ema_ratio_12_26")] - 0.001 * X[:, names.index("ret_5")]
        fwd = signal + rng.normal(scale=0.0015, size=n_bars)
        if nan_rate:
            X[rng.random(size=X.shape) < nan_rate] = math.nan
        close = 100 * np.exp(np.cumsum(rng.normal(scale=0.001, size=n_bars)))
        for i in range(n_bars):
            f = "" if i >= n_bars - horizon else repr(float(fwd[i]))
            vals = ",".join("" if math.isnan(v) else repr(float(v)) for v in X[i])
            lines.append(f"{T0 + i * MINUTE},binance,{s},{close[i]!r},{vals},{f}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with open(path + ".meta.json", "w", encoding="utf-8") as fh:
        json.dump({"horizon": horizon, "barMs": MINUTE, "featureSet": "fs1"}, fh)
    return path


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> str:
    """Path of a generated 3-symbol, 1500-bar dataset with horizon 5."""
    return write_synthetic_csv(str(tmp_path_factory.mktemp("data") / "dataset.csv"))
