"""Time-based train/validation splits with a purge gap.

A row at open time t is labelled with information up to t + H bars, so a training row whose label window reaches
into the validation period would leak it: training keeps rows with ``t + H * bar_ms < valid_from`` only, which drops
the last H bars before the split (the purge gap).

Walk-forward folds (``folds_from_json``, ``fold_masks``) come from ``<csv>.splits.json``, written by the TypeScript
export (pipelines/dataset/splits.ts, the one definition of the layout, its purge and its embargo): this module only
reads their ranges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


def time_split(open_time: np.ndarray, valid_from: int, horizon: int, bar_ms: int,
               valid_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, validation) over rows by open time in ms."""
    train = open_time + horizon * bar_ms < valid_from
    valid = open_time >= valid_from
    if valid_to is not None:
        valid &= open_time < valid_to
    return train, valid


def default_valid_from(open_time: np.ndarray, fraction: float, bar_ms: int) -> int:
    """The bar-aligned time that leaves the last ``fraction`` of the time range for validation."""
    lo, hi = int(open_time.min()), int(open_time.max())
    t = lo + (1.0 - fraction) * (hi - lo)
    return int(t // bar_ms) * bar_ms


@dataclass(frozen=True)
class Fold:
    """One fold of a walk-forward splits file: half-open [from, to) ranges of bar open times in ms."""

    fold: int  # 1..N
    train: tuple[tuple[int, int], ...]  # training ranges, in time order (embargoes cut holes)
    validation: tuple[int, int]
    train_rows: int  # labelled rows, as counted by the export
    validation_rows: int


@dataclass(frozen=True)
class WalkForwardSplits:
    """The content of ``<csv>.splits.json`` written by pipelines/dataset/splits.ts."""

    kind: str
    dataset: str
    horizon: int
    purge_bars: int
    embargo_bars: int
    bar_ms: int
    folds: tuple[Fold, ...]

    def fold(self, k: int) -> Fold:
        """Fold k (1..N)."""
        for f in self.folds:
            if f.fold == k:
                return f
        raise SplitError(f"no fold {k}: the splits have folds 1..{len(self.folds)}")


class SplitError(ValueError):
    """The splits file is not usable."""


def folds_from_json(path: str) -> WalkForwardSplits:
    """Reads the walk-forward folds the TypeScript export wrote (``<csv>.splits.json``)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if doc.get("kind") != "walk-forward-expanding":
        raise SplitError(f"{path}: kind {doc.get('kind')!r}, expected 'walk-forward-expanding'")
    folds = tuple(
        Fold(fold=int(f["fold"]), train=tuple((int(r["fromMs"]), int(r["toMs"])) for r in f["train"]),
             validation=(int(f["validation"]["fromMs"]), int(f["validation"]["toMs"])),
             train_rows=int(f["trainRows"]), validation_rows=int(f["validationRows"]))
        for f in doc["folds"])
    return WalkForwardSplits(kind=doc["kind"], dataset=doc["dataset"], horizon=int(doc["horizonBars"]),
                             purge_bars=int(doc["purgeBars"]), embargo_bars=int(doc["embargoBars"]),
                             bar_ms=int(doc["barMs"]), folds=folds)


def fold_masks(open_time: np.ndarray, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, validation) over rows by open time in ms, for one fold."""
    train = np.zeros(open_time.shape, dtype=bool)
    for lo, hi in fold.train:
        train |= (open_time >= lo) & (open_time < hi)
    lo, hi = fold.validation
    return train, (open_time >= lo) & (open_time < hi)
