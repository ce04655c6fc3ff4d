"""Time-based train/validation split with a purge gap.

A row at open time t is labelled with information up to t + H bars, so a training row whose label window reaches
into the validation period would leak it: training keeps rows with ``t + H * bar_ms < valid_from`` only, which drops
the last H bars before the split (the purge gap).
"""

from __future__ import annotations

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
