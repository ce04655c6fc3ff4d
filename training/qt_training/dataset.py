"""Reader of the CSV written by pipelines/dataset/export.ts.

Header: ``open_time,exchange,symbol,close,<feature names...>,fwd_ret,label`` (older exports end at ``fwd_ret``).
``fwd_ret`` is the log return from this bar's close to the close ``horizon`` bars later and ``label`` its class 0/1/2
(DOWN/FLAT/UP) by ``labelOf`` of operators/ensemble/scoring.ts; both are future information, used only as targets, and
empty where unknown. A sidecar ``<csv>.meta.json`` written by the export records the horizon, bar length and the label
spec (kind, horizonBars, k, volFeature).

The label column is the definition; ``labels.make_labels`` is a cross-check: on load, every row's label must equal
it, else ``LabelMismatchError``. Without the column, labels are derived with ``make_labels``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .labels import UNKNOWN, LabelSpec, make_labels

LEAD_COLUMNS = ("open_time", "exchange", "symbol", "close")
FWD_COLUMN = "fwd_ret"
LABEL_COLUMN = "label"


class DatasetError(ValueError):
    """The dataset file does not have the expected layout."""


class LabelMismatchError(DatasetError):
    """The CSV's label column (the TypeScript definition) disagrees with ``make_labels`` on some rows."""


@dataclass(frozen=True)
class Dataset:
    """Rows of the export, sorted by (open_time, exchange, symbol)."""

    feature_names: tuple[str, ...]
    open_time: np.ndarray  # int64 ms, bar open time
    exchange: np.ndarray  # str
    symbol: np.ndarray  # str
    close: np.ndarray  # float64
    X: np.ndarray  # float64 [N, F]
    fwd_ret: np.ndarray  # float64, NaN where unknown
    meta: dict
    window: np.ndarray | None = None  # float32 [N, L, C] from the window sidecar, None when not read
    window_meta: dict | None = None  # the sidecar's .window.json (channels, length, ...)
    label: np.ndarray | None = None  # int64 class from the CSV's label column, UNKNOWN (-1) where empty; None without it

    def __len__(self) -> int:
        return int(self.open_time.shape[0])

    def feature(self, name: str) -> np.ndarray:
        """One feature column by name."""
        return self.X[:, self.feature_names.index(name)]

    def take(self, mask: np.ndarray) -> "Dataset":
        """The rows selected by a boolean mask or an index array."""
        return Dataset(self.feature_names, self.open_time[mask], self.exchange[mask], self.symbol[mask],
                       self.close[mask], self.X[mask], self.fwd_ret[mask], self.meta,
                       None if self.window is None else self.window[mask], self.window_meta,
                       None if self.label is None else self.label[mask])

    @property
    def label_spec(self) -> LabelSpec | None:
        """The label definition recorded in the meta sidecar (None for older exports without it)."""
        return label_spec_from_meta(self.meta)

    @property
    def window_channels(self) -> tuple[str, ...]:
        """Names of the window's channels, in order (empty without a window)."""
        return tuple(self.window_meta["channels"]) if self.window_meta else ()


def _num(s: str) -> float:
    return float(s) if s != "" else math.nan


def read_window(path: str, n_rows: int) -> tuple[np.ndarray, dict]:
    """The window sidecar of a dataset: ``<csv>.window.json`` and ``<csv>.window.f32``.

    The .f32 file holds, for every data row of the CSV in file order, ``FeatureVector.window`` as little-endian float32:
    ``length`` bars (oldest first) x ``len(channels)`` values, row-major, the layout the ensemble feeds a window model.
    """
    meta_path = path + ".window.json"
    if not os.path.exists(meta_path):
        raise DatasetError(f"{path}: no window sidecar {meta_path} (export with pipelines/dataset/export.ts, e.g. scripts/train-members.ts)")
    with open(meta_path, encoding="utf-8") as f:
        wmeta = json.load(f)
    if wmeta.get("dtype") != "float32-le":
        raise DatasetError(f"{meta_path}: dtype {wmeta.get('dtype')!r}, expected 'float32-le'")
    length, channels = int(wmeta["length"]), list(wmeta["channels"])
    if int(wmeta["rows"]) != n_rows:
        raise DatasetError(f"{meta_path}: {wmeta['rows']} window rows, the CSV has {n_rows}")
    data = np.fromfile(path + ".window.f32", dtype="<f4")
    if data.size != n_rows * length * len(channels):
        raise DatasetError(f"{path}.window.f32: {data.size} values, expected {n_rows} x {length} x {len(channels)}")
    return data.reshape(n_rows, length, len(channels)).astype(np.float32, copy=False), wmeta


def label_spec_from_meta(meta: dict) -> LabelSpec | None:
    """The LabelSpec of a meta sidecar's ``label`` (kind fwd-logret-vol-band), None when the sidecar has none."""
    lab = meta.get("label")
    if lab is None:
        return None
    if lab.get("kind") != "fwd-logret-vol-band":
        raise DatasetError(f"label kind {lab.get('kind')!r}: this trainer knows fwd-logret-vol-band only")
    return LabelSpec(horizon=int(lab["horizonBars"]), k=float(lab["k"]), vol_feature=str(lab["volFeature"]))


def check_labels(path: str, label: np.ndarray, fwd_ret: np.ndarray, vol: np.ndarray, spec: LabelSpec,
                 line_of=None) -> None:
    """Raises LabelMismatchError unless the label column equals ``make_labels`` on every row."""
    expected = make_labels(fwd_ret, vol, spec)
    bad = np.flatnonzero(expected != label)
    if bad.size:
        show = ", ".join(f"line {int(i) + 2 if line_of is None else line_of(int(i))}: label {int(label[i])}, "
                         f"make_labels {int(expected[i])} (fwd_ret {fwd_ret[i]!r}, {spec.vol_feature} {vol[i]!r})"
                         for i in bad[:5])
        raise LabelMismatchError(f"{path}: the label column disagrees with make_labels (k={spec.k}, H={spec.horizon}) on "
                                 f"{bad.size} of {label.size} rows: {show}")


def read_dataset(path: str, with_window: bool = False) -> Dataset:
    """Reads an exported dataset (and its window sidecar if asked); checks its label column (if any) against
    ``make_labels`` on every row; drops rows whose features are not all finite (or, with the window, whose window is
    not all finite)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration as e:
            raise DatasetError(f"{path}: empty file") from e
        has_label = header[-1:] == [LABEL_COLUMN]
        fwd_at = len(header) - (2 if has_label else 1)
        if tuple(header[:4]) != LEAD_COLUMNS or header[fwd_at] != FWD_COLUMN or fwd_at < 5:
            raise DatasetError(f"{path}: unexpected header {header[:4]}...{header[-2:]}")
        names = tuple(header[4:fwd_at])
        n_cols = len(header)
        times, exchanges, symbols, closes, feats, fwd, labels = [], [], [], [], [], [], []
        for line_no, row in enumerate(reader, start=2):
            if len(row) != n_cols:
                raise DatasetError(f"{path}:{line_no}: {len(row)} fields, expected {n_cols}")
            times.append(int(row[0]))
            exchanges.append(row[1])
            symbols.append(row[2])
            closes.append(float(row[3]))
            feats.append([_num(v) for v in row[4:fwd_at]])
            fwd.append(_num(row[fwd_at]))
            if has_label:
                v = row[fwd_at + 1]
                if v not in ("", "0", "1", "2"):
                    raise DatasetError(f"{path}:{line_no}: label {v!r}, expected 0, 1, 2 or empty")
                labels.append(int(v) if v else UNKNOWN)
    X = np.asarray(feats, dtype=np.float64).reshape(len(feats), len(names))
    t = np.asarray(times, dtype=np.int64)
    ex = np.asarray(exchanges, dtype=object)
    sy = np.asarray(symbols, dtype=object)
    order = np.lexsort((sy.astype(str), ex.astype(str), t))
    meta_path = path + ".meta.json"
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
    fwd_ret = np.asarray(fwd, dtype=np.float64)
    label = None
    if has_label:
        spec = label_spec_from_meta(meta)
        if spec is None:
            raise DatasetError(f"{path}: a label column but no label spec in {meta_path}")
        if meta.get("horizon") is not None and int(meta["horizon"]) != spec.horizon:
            raise DatasetError(f"{meta_path}: horizon {meta['horizon']} but the label spec says {spec.horizon}")
        if spec.vol_feature not in names:
            raise DatasetError(f"{path}: the label's volatility feature {spec.vol_feature} is not a column")
        label = np.asarray(labels, dtype=np.int64)
        check_labels(path, label, fwd_ret, X[:, names.index(spec.vol_feature)], spec)
    window, wmeta = read_window(path, len(times)) if with_window else (None, None)
    ds = Dataset(names, t, ex, sy, np.asarray(closes, dtype=np.float64), X, fwd_ret, meta, window, wmeta, label)
    ds = ds.take(order)
    keep = np.isfinite(ds.X).all(axis=1)
    if ds.window is not None:
        keep &= np.isfinite(ds.window).reshape(len(ds), -1).all(axis=1)
    return ds.take(keep)
