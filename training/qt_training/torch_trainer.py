"""Training and ONNX export of the window members (`nhits`, `patchtst`), on CPU, small and reproducible.

* ``torch.manual_seed`` and a numpy generator seeded from the params fix the subsample, the initial weights and the
  batch order; ``torch.set_num_threads(threads)``.
* The training rows are a random subsample of the training period (``train_rows``); the last ``inner_fraction`` of the
  training period (after a purge gap of H bars) is held out to pick the epoch with the lowest log loss (early
  stopping without looking at the validation period).
* Cross-entropy on the class, AdamW, a cosine learning-rate decay over the epochs.
* Export: ``torch.onnx.export`` (opset 17), input ``window`` float32 [N, L, C] with a dynamic batch axis N, outputs
  ``label`` int64 [N] and ``probabilities`` float32 [N, 3] (softmax in the graph).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn import functional as F

from .torch_models import NHits, PatchTST, WindowScaler

INPUT_NAME = "window"
LABEL_OUTPUT = "label"
PROBA_OUTPUT = "probabilities"
TORCH_OPSET = 17
PREDICT_BATCH = 8192


@dataclass(frozen=True)
class TorchParams:
    """Training hyper-parameters of a window member (the architecture's own are in ``arch``)."""

    epochs: int = 6
    batch_size: int = 512
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    train_rows: int = 150_000  # random subsample of the training period (0: all)
    inner_fraction: float = 0.1  # last part of the training period held out for the choice of epoch
    seed: int = 7
    threads: int = 2

    def as_card(self) -> dict:
        """The parameters as written into the model card."""
        return asdict(self)


# Defaults per member, chosen on the inner hold-out (the last 10% of the training period), never on the validation
# period. Both models did better on it without the per-window instance normalisation (the window's own scale carries
# information the volatility-scaled label does not remove), so it is off by default and only the global per-channel
# standardisation remains. N-HiTS is fast (about 50k rows/s on 2 cores): all training rows, a wider batch, a lower
# learning rate and more dropout (it overfits after one or two epochs otherwise); PatchTST is about 10x slower: a
# 150k-row subsample.
DEFAULT_PARAMS = {
    "nhits": TorchParams(epochs=5, batch_size=1024, learning_rate=3e-4, weight_decay=0.05, train_rows=0),
    "patchtst": TorchParams(epochs=6, batch_size=512, learning_rate=1e-3, weight_decay=0.05, train_rows=150_000),
}
NHITS_ARCH = {"stacks": 3, "pool_kernel_0": 8, "pool_kernel_1": 4, "pool_kernel_2": 1, "ratio_0": 4, "ratio_1": 2,
              "ratio_2": 1, "hidden": 64, "mlp_layers": 2, "dropout": 0.3, "instance_norm": 0}
PATCHTST_ARCH = {"patch_len": 8, "stride": 4, "d_model": 32, "heads": 4, "d_ff": 64, "layers": 2, "dropout": 0.1,
                 "instance_norm": 0}


def build_model(member: str, mean: np.ndarray, std: np.ndarray, length: int, channels: int, horizon: int,
                arch: dict | None = None) -> tuple[nn.Module, dict]:
    """A fresh model of ``member`` and its architecture parameters (numbers, for the card)."""
    if member == "nhits":
        a = {**NHITS_ARCH, **(arch or {})}
        n = int(a["stacks"])
        scaler = WindowScaler(torch.as_tensor(mean), torch.as_tensor(std), bool(a["instance_norm"]))
        model = NHits(scaler, channels, length, horizon,
                      pool_kernels=[int(a[f"pool_kernel_{i}"]) for i in range(n)],
                      ratios=[int(a[f"ratio_{i}"]) for i in range(n)], hidden=int(a["hidden"]),
                      layers=int(a["mlp_layers"]), dropout=float(a["dropout"]))
    elif member == "patchtst":
        a = {**PATCHTST_ARCH, **(arch or {})}
        scaler = WindowScaler(torch.as_tensor(mean), torch.as_tensor(std), bool(a["instance_norm"]))
        model = PatchTST(scaler, channels, length, patch_len=int(a["patch_len"]), stride=int(a["stride"]),
                         d_model=int(a["d_model"]), heads=int(a["heads"]), d_ff=int(a["d_ff"]), layers=int(a["layers"]),
                         dropout=float(a["dropout"]))
    else:
        raise ValueError(f"no window member {member!r}")
    a["horizon"] = horizon
    a["parameters"] = sum(p.numel() for p in model.parameters())
    return model, a


@dataclass
class TorchFit:
    """A trained window model and what its training saw."""

    model: nn.Module
    arch: dict
    params: TorchParams
    mean: np.ndarray
    std: np.ndarray
    best_epoch: int
    history: list  # per epoch: (train loss, inner validation log loss)
    train_rows_used: int
    seconds: float

    def predict_proba(self, W: np.ndarray) -> np.ndarray:
        """Probabilities [N, 3] (float32, as the graph computes them) of windows [N, L, C]."""
        return predict_proba(self.model, W)


def predict_proba(model: nn.Module, W: np.ndarray, batch: int = PREDICT_BATCH) -> np.ndarray:
    """The model's probabilities for float32 windows, in eval mode, by batches."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(W), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(W[i:i + batch], dtype=np.float32)))[1].numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), dtype=np.float32)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y].astype(np.float64), 1e-15, 1.0))))


def train_window_model(member: str, W: np.ndarray, y: np.ndarray, open_time: np.ndarray, horizon: int, bar_ms: int,
                       params: TorchParams, arch: dict | None = None, log=print) -> TorchFit:
    """Trains ``member`` on training-period windows ``W`` [N, L, C] float32 with classes ``y`` (0..2)."""
    t_start = time.perf_counter()
    torch.manual_seed(params.seed)
    torch.set_num_threads(params.threads)
    rng = np.random.default_rng(params.seed)
    if len(np.unique(y)) != 3:
        raise ValueError(f"training labels cover classes {np.unique(y).tolist()}, expected 0..2")
    n, length, channels = W.shape

    # inner hold-out: the last part of the training period, after a purge gap of H bars
    lo, hi = int(open_time.min()), int(open_time.max())
    inner_from = (lo + int((1.0 - params.inner_fraction) * (hi - lo))) // bar_ms * bar_ms
    fit_mask = open_time + horizon * bar_ms < inner_from
    inner_mask = open_time >= inner_from
    fit_idx, inner_idx = np.flatnonzero(fit_mask), np.flatnonzero(inner_mask)
    if params.train_rows and len(fit_idx) > params.train_rows:
        fit_idx = np.sort(rng.choice(fit_idx, size=params.train_rows, replace=False))
    max_inner = max(10_000, params.train_rows // 3) if params.train_rows else len(inner_idx)
    if len(inner_idx) > max_inner:
        inner_idx = np.sort(rng.choice(inner_idx, size=max_inner, replace=False))
    if len(fit_idx) == 0 or len(inner_idx) == 0:
        raise ValueError(f"too few training rows: {len(fit_idx)} to fit, {len(inner_idx)} to choose the epoch")

    flat = W[fit_idx].reshape(-1, channels).astype(np.float64)
    mean = flat.mean(axis=0).astype(np.float32)
    std = np.maximum(flat.std(axis=0), 1e-12).astype(np.float32)
    model, a = build_model(member, mean, std, length, channels, horizon, arch)

    xs = torch.from_numpy(np.ascontiguousarray(W[fit_idx], dtype=np.float32))
    ys = torch.from_numpy(y[fit_idx].astype(np.int64))
    x_inner, y_inner = W[inner_idx], y[inner_idx]
    opt = torch.optim.AdamW(model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    steps_per_epoch = math.ceil(len(fit_idx) / params.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, params.epochs * steps_per_epoch))
    best = (math.inf, -1, None)
    history = []
    for epoch in range(params.epochs):
        model.train()
        perm = torch.from_numpy(rng.permutation(len(fit_idx)))
        total = 0.0
        for s in range(steps_per_epoch):
            b = perm[s * params.batch_size:(s + 1) * params.batch_size]
            loss = F.cross_entropy(model.logits(xs[b]), ys[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(b)
        inner = _log_loss(predict_proba(model, x_inner), y_inner)
        history.append([total / len(fit_idx), inner])
        log(f"{member} epoch {epoch + 1}/{params.epochs}: train loss {total / len(fit_idx):.5f}, "
            f"inner hold-out log loss {inner:.5f} ({time.perf_counter() - t_start:.0f} s)")
        if inner < best[0]:
            best = (inner, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    model.eval()
    return TorchFit(model, a, params, mean, std, best[1] + 1, history, len(fit_idx), time.perf_counter() - t_start)


def export_onnx(model: nn.Module, length: int, channels: int, doc: str = "", props: dict | None = None) -> onnx.ModelProto:
    """The model as ONNX: input ``window`` [N, L, C], outputs ``label`` [N] and ``probabilities`` [N, 3]."""
    model.eval()
    dummy = torch.zeros(2, length, channels, dtype=torch.float32)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), buf, input_names=[INPUT_NAME], output_names=[LABEL_OUTPUT, PROBA_OUTPUT],
                          dynamic_axes={INPUT_NAME: {0: "N"}, LABEL_OUTPUT: {0: "N"}, PROBA_OUTPUT: {0: "N"}},
                          opset_version=TORCH_OPSET, do_constant_folding=True)
    m = onnx.load_from_string(buf.getvalue())
    m.doc_string = doc
    if props:
        onnx.helper.set_model_props(m, {k: str(v) for k, v in props.items()})
    onnx.checker.check_model(m, full_check=True)
    return m
