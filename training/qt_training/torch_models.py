"""The window members, in PyTorch: small N-HiTS and PatchTST classifiers of ``FeatureVector.window``.

Both read the window as served: float32 ``[N, L, C]`` (L bars oldest first, C channels, row-major as in the vector),
normalise it inside the graph (so serving feeds raw windows) and end in a softmax over DOWN / FLAT / UP, so the ONNX
graph outputs probabilities ``[N, 3]`` (and the argmax ``label``) directly.

Input normalisation, both models: per channel, the training set's mean and standard deviation (constants in the
graph); optionally (``instance_norm``) then per window and channel an instance normalisation (subtract the window's
mean, divide by its standard deviation: RevIN without the affine part and without de-normalisation, since the output is
classes, not values). PatchTST's paper uses RevIN; here it is off by default because both models did better without it
on the inner hold-out of the training period (see ``torch_trainer.DEFAULT_PARAMS``).

* ``NHits`` (Challu et al. 2023, "N-HiTS: Neural Hierarchical Interpolation for Time Series Forecasting"): stacks of
  MLP blocks; the block of stack s reads its input through a MaxPool1d of kernel ``pool_kernels[s]`` (multi-rate
  input sampling), outputs backcast coefficients (full resolution, L per channel) and ``ceil(H / ratio[s])`` forecast
  coefficients per channel, linearly interpolated to the H-step horizon (hierarchical interpolation with expressiveness
  ratios); each block's backcast is subtracted from the input of the next (doubly residual stacking) and the forecasts
  are summed. The classification head maps the summed forecast ``[C, H]`` (a learned latent forecast: trained end to
  end with cross-entropy on the class, not on future values) linearly to 3 logits.
* ``PatchTST`` (Nie et al. 2023, "A Time Series is Worth 64 Words"): channel independence (every channel's series is a
  separate sequence through the same weights), patching (length ``patch_len``, stride ``stride``, the series padded at
  the end by repeating its last value ``stride`` times as in the paper), a linear patch embedding plus a learnable
  positional encoding, a Transformer encoder (multi-head self-attention and a GELU feed-forward, residual connections
  with BatchNorm as in the paper) shared across channels, a flatten head per channel; the classification head is a
  linear map of the concatenated flattened channel representations to 3 logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

INSTANCE_EPS = 1e-3  # variance floor of the instance normalisation, in globally standardised units


class WindowScaler(nn.Module):
    """[N, L, C] raw window -> [N, C, L]: global per-channel standardisation, then per-window instance normalisation."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, instance_norm: bool = True):
        super().__init__()
        self.register_buffer("mean", mean.reshape(1, 1, -1).float())
        self.register_buffer("std", std.reshape(1, 1, -1).float())
        self.instance_norm = instance_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = ((x - self.mean) / self.std).transpose(1, 2)  # [N, C, L]
        if self.instance_norm:
            mu = z.mean(dim=2, keepdim=True)
            var = ((z - mu) ** 2).mean(dim=2, keepdim=True)
            z = (z - mu) / torch.sqrt(var + INSTANCE_EPS)
        return z


def interpolation_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """[n_in, n_out]: ``theta @ M`` is ``F.interpolate(theta, n_out, mode='linear')`` (a constant MatMul in ONNX)."""
    eye = torch.eye(n_in).unsqueeze(0)  # [1, n_in, n_in]: each row a unit coefficient vector as a channel
    return F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[0]


class NHitsBlock(nn.Module):
    """One N-HiTS block: MaxPool input sampling, an MLP, backcast and interpolated forecast coefficients."""

    def __init__(self, channels: int, length: int, horizon: int, pool_kernel: int, ratio: int, hidden: int,
                 layers: int, dropout: float):
        super().__init__()
        self.channels, self.length = channels, length
        self.pool = nn.MaxPool1d(pool_kernel, stride=pool_kernel, ceil_mode=True) if pool_kernel > 1 else None
        pooled = math.ceil(length / pool_kernel)
        self.n_theta = max(1, math.ceil(horizon / ratio))
        mlp: list[nn.Module] = []
        width = channels * pooled
        for _ in range(layers):
            mlp += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.mlp = nn.Sequential(*mlp)
        self.backcast = nn.Linear(hidden, channels * length)
        self.forecast = nn.Linear(hidden, channels * self.n_theta)
        self.register_buffer("interp", interpolation_matrix(self.n_theta, horizon))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.pool(x) if self.pool is not None else x
        h = self.mlp(torch.flatten(p, 1))
        back = self.backcast(h).reshape(-1, self.channels, self.length)
        fore = torch.matmul(self.forecast(h).reshape(-1, self.channels, self.n_theta), self.interp)  # [N, C, H]
        return back, fore


class NHits(nn.Module):
    """N-HiTS over the window with a linear classification head on the summed forecast; outputs (label, probabilities)."""

    def __init__(self, scaler: WindowScaler, channels: int, length: int, horizon: int,
                 pool_kernels=(8, 4, 1), ratios=(4, 2, 1), hidden: int = 128, layers: int = 2,
                 dropout: float = 0.1, n_classes: int = 3):
        super().__init__()
        if len(pool_kernels) != len(ratios):
            raise ValueError("one pooling kernel and one expressiveness ratio per stack")
        self.scaler = scaler
        self.blocks = nn.ModuleList(NHitsBlock(channels, length, horizon, k, r, hidden, layers, dropout)
                                    for k, r in zip(pool_kernels, ratios))
        self.head = nn.Linear(channels * horizon, n_classes)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        resid = self.scaler(x)
        forecast = None
        for block in self.blocks:
            back, fore = block(resid)
            resid = resid - back
            forecast = fore if forecast is None else forecast + fore
        return self.head(torch.flatten(forecast, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.softmax(self.logits(x), dim=1)
        return torch.argmax(p, dim=1), p


class _Attention(nn.Module):
    """Multi-head scaled dot-product self-attention over the P tokens of each sequence, written out (exports to plain
    Gemm/Mul/ReduceSum/Softmax ONNX ops). Tokens come and go as rows [B * P, d]."""

    def __init__(self, n_tokens: int, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError("d_model must be a multiple of heads")
        self.n_tok, self.d, self.heads, self.dh = n_tokens, d_model, heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B * P, d]
        qkv = self.qkv(x).reshape(-1, self.n_tok, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)  # 3 x [B, h, P, dh]
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.training:
            # Products as broadcast multiply-and-sum: in training (this torch, generic BLAS) a batched matmul of many
            # tiny matrices (B x h of P x P, P x dh) costs far more than the arithmetic. Same values as below.
            att = torch.softmax((q.unsqueeze(3) * k.unsqueeze(2)).sum(dim=-1) / math.sqrt(self.dh), dim=-1)
            o = (att.unsqueeze(-1) * v.unsqueeze(2)).sum(dim=3)  # [B, h, P, dh]
        else:
            # Evaluation and the exported graph: MatMul, which onnxruntime runs faster than Mul + ReduceSum.
            att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh), dim=-1)  # [B, h, P, P]
            o = torch.matmul(att, v)
        return self.out(o.transpose(1, 2).reshape(-1, self.d))


class _EncoderLayer(nn.Module):
    """Post-norm Transformer encoder layer on token rows [B * P, d]: x = BN(x + MHA(x)); x = BN(x + FF(x)), with
    BatchNorm over d_model (statistics over all tokens of the batch) as in PatchTST. No dropout inside the layer (the
    model drops out at the embedding and before the head): dropout's random draws were a third of a training step."""

    def __init__(self, n_tokens: int, d_model: int, heads: int, d_ff: int):
        super().__init__()
        self.attn = _Attention(n_tokens, d_model, heads)
        self.norm1 = nn.BatchNorm1d(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))
        self.norm2 = nn.BatchNorm1d(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.ff(x))


class PatchTST(nn.Module):
    """PatchTST over the window, channel-independent, with a classification head; outputs (label, probabilities)."""

    def __init__(self, scaler: WindowScaler, channels: int, length: int, patch_len: int = 8, stride: int = 4,
                 d_model: int = 32, heads: int = 4, d_ff: int = 64, layers: int = 2, dropout: float = 0.1,
                 n_classes: int = 3):
        super().__init__()
        self.scaler = scaler
        self.channels, self.length, self.stride = channels, length, stride
        self.n_patches = (length + stride - patch_len) // stride + 1  # after padding the end by `stride` values
        self.embed = nn.Conv1d(1, d_model, kernel_size=patch_len, stride=stride)  # = a Linear on each patch
        self.pos = nn.Parameter(torch.empty(self.n_patches, d_model).uniform_(-0.02, 0.02))
        self.drop = nn.Dropout(dropout)
        self.d_model = d_model
        self.encoder = nn.Sequential(*[_EncoderLayer(self.n_patches, d_model, heads, d_ff) for _ in range(layers)])
        self.head = nn.Linear(channels * self.n_patches * d_model, n_classes)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        z = self.scaler(x)  # [N, C, L]
        u = z.reshape(-1, 1, self.length)  # every channel its own series: [N*C, 1, L]
        u = torch.cat([u, u[:, :, -1:].repeat(1, 1, self.stride)], dim=2)  # pad the end with the last value
        e = self.embed(u).transpose(1, 2) + self.pos  # [N*C, P, d]
        e = self.encoder(self.drop(e).reshape(-1, self.d_model))  # token rows [N*C*P, d]
        r = e.reshape(-1, self.channels * self.n_patches * self.d_model)  # per channel flattened, channels concatenated
        return self.head(self.drop(r))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.softmax(self.logits(x), dim=1)
        return torch.argmax(p, dim=1), p
