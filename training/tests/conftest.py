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


def window_spec() -> tuple[list[str], int]:
    """(WINDOW_CHANNELS, WINDOW_LENGTH) as declared in operators/features/feature-set.ts."""
    text = open(os.path.join(REPO, "operators", "features", "feature-set.ts"), encoding="utf-8").read()
    body = re.search(r"WINDOW_CHANNELS = \[(.*?)\] as const", text, re.S).group(1)
    length = int(re.search(r"WINDOW_LENGTH = (\d+);", text).group(1))
    return re.findall(r"'([a-z0-9_]+)'", re.sub(r"//.*", "", body)), length


def write_synthetic_csv(path: str, n_bars: int = 1500, symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT"), horizon: int = 5,
                        seed: int = 1, nan_rate: float = 0.0, window: bool = False, label_k: float | None = None) -> str:
    """A dataset whose forward return depends on ema_ratio_12_26 and ret_5 plus noise, with its .meta.json.

    With ``label_k``, in the current export's layout: a ``label`` column (by make_labels with that k) and the label spec
    in the meta; without it, the older layout ending at ``fwd_ret``.

    With ``window``, also the window sidecar (``.window.f32``, ``.window.json``) in the layout scripts/train-members.ts
    writes: per CSV data row, L x C float32 values; the newest bar's first channel carries the same signal, so a window
    model can learn it, and the oldest bar's last value is the row's index in the file (to check the alignment).
    """
    rng = np.random.default_rng(seed)
    names = feature_names()
    channels, length = window_spec()
    windows = []
    lines = ["open_time,exchange,symbol,close," + ",".join(names) + ",fwd_ret" + (",label" if label_k is not None else "")]
    for s in symbols:
        X = rng.normal(size=(n_bars, len(names)))
        X[:, names.index("rvol_30")] = np.abs(X[:, names.index("rvol_30")]) * 0.001 + 0.0005
        X[:, names.index("rsi_14")] = 50 + 15 * X[:, names.index("rsi_14")]
        signal = 0.002 * X[:, names.index("ema_ratio_12_26")] - 0.001 * X[:, names.index("ret_5")]
        fwd = signal + rng.normal(scale=0.0015, size=n_bars)
        if nan_rate:
            X[rng.random(size=X.shape) < nan_rate] = math.nan
        close = 100 * np.exp(np.cumsum(rng.normal(scale=0.001, size=n_bars)))
        if window:
            w = rng.normal(size=(n_bars, length, len(channels))).astype(np.float32)
            w[:, :, 0] *= 0.001
            w[:, -1, 0] = signal  # the newest bar's return: what drives fwd_ret
            w[:, 0, -1] = len(lines) - 1 + np.arange(n_bars)  # the row's index in the file
            windows.append(w)
        if label_k is not None:
            from qt_training.labels import LabelSpec, make_labels
            known = np.where(np.arange(n_bars) >= n_bars - horizon, np.nan, fwd)
            y = make_labels(known, X[:, names.index("rvol_30")], LabelSpec(horizon=horizon, k=label_k))
        for i in range(n_bars):
            f = "" if i >= n_bars - horizon else repr(float(fwd[i]))
            vals = ",".join("" if math.isnan(v) else repr(float(v)) for v in X[i])
            lab = "" if label_k is None else "," + ("" if y[i] < 0 else str(int(y[i])))
            lines.append(f"{T0 + i * MINUTE},binance,{s},{close[i]!r},{vals},{f}{lab}")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    meta = {"horizon": horizon, "barMs": MINUTE, "featureSet": "fs1"}
    if label_k is not None:
        meta["label"] = {"kind": "fwd-logret-vol-band", "horizonBars": horizon, "k": label_k, "volFeature": "rvol_30"}
    with open(path + ".meta.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    if window:
        data = np.concatenate(windows).astype("<f4")
        data.tofile(path + ".window.f32")
        with open(path + ".window.json", "w", encoding="utf-8") as fh:
            json.dump({"file": path + ".window.f32", "dtype": "float32-le", "featureSet": "fs1", "channels": channels,
                       "length": length, "rows": int(data.shape[0])}, fh)
    return path


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory) -> str:
    """Path of a generated 3-symbol, 1500-bar dataset with horizon 5 (and its window sidecar)."""
    return write_synthetic_csv(str(tmp_path_factory.mktemp("data") / "dataset.csv"), window=True)


def check_schema(value, schema, defs, path="$"):
    """A minimal JSON Schema (draft 2020-12) check of the keywords the card schema uses."""
    if "$ref" in schema:
        return check_schema(value, defs[schema["$ref"].split("/")[-1]], defs, path)
    if "anyOf" in schema:
        errors = [check_schema(value, s, defs, path) for s in schema["anyOf"]]
        return [] if any(not e for e in errors) else errors[0]
    py = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "number": (int, float),
          "null": type(None)}
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types
    if types is not None:
        ok = any(isinstance(value, py[t]) and not (t in ("integer", "number") and isinstance(value, bool)) for t in types)
        if not ok:
            return [f"{path}: expected {types}, got {type(value).__name__}"]
    errs = []
    if "const" in schema and value != schema["const"]:
        errs.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errs.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append(f"{path}: does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: above {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            errs.append(f"{path}: not above {schema['exclusiveMinimum']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{path}.{k}: missing")
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                errs += check_schema(value[k], sub, defs, f"{path}.{k}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for k, v in value.items():
                if k not in schema.get("properties", {}):
                    errs += check_schema(v, extra, defs, f"{path}.{k}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                errs += check_schema(v, schema["items"], defs, f"{path}[{i}]")
    return errs


def card_schema_errors(card: dict) -> list[str]:
    """Problems of a card against models/card.schema.json (generated from the TypeScript CardSchema)."""
    with open(os.path.join(REPO, "models", "card.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    return check_schema(card, schema, schema.get("$defs", {}))
