"""Quantum Trader trainers: read the dataset the TypeScript feature pipeline exports, train, export to ONNX.

Run with Debian's own interpreter (/usr/bin/python3), which has xgboost, numpy and onnx.
"""

import os

# OpenMP threads (torch, xgboost, scikit-learn) sleep instead of spinning while they wait for work: on a shared
# machine with 2 cores, spinning threads made small torch ops 50-80x slower. Read when libgomp loads, so set here,
# before any of them is imported. Results do not depend on it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
CLASSES = ("DOWN", "FLAT", "UP")
