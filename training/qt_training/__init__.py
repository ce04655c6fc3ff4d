"""Quantum Trader trainers: read the dataset the TypeScript feature pipeline exports, train, export to ONNX.

Run with Debian's own interpreter (/usr/bin/python3), which has xgboost, numpy and onnx.
"""

__version__ = "0.1.0"
CLASSES = ("DOWN", "FLAT", "UP")
