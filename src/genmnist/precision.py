"""Mixed-precision training (Micikevicius et al., "Mixed Precision Training", ICLR 2018).

The precision setting picks the dtype `torch.autocast` runs the loss computation in; weights,
optimizer states and the checkpoint stay float32. bf16 keeps float32's exponent range, so it trains
without loss scaling; fp16 does not, so each player's loss is scaled by its own
`torch.amp.GradScaler` (a step whose gradients overflow is skipped and the scale lowered).

Defaults (`auto`): bf16 on a CUDA GPU that supports it (Ampere and newer), else fp32. On CPUs
without bf16 instructions autocast is several times *slower* than fp32 (docs/distributed.md has
the measurement), so `auto` keeps fp32 there; bf16 on CPU is allowed (it works,
and tests the path), fp16 on CPU is refused.
"""

from __future__ import annotations

import contextlib

import torch

from genmnist.errors import GenmnistError, SettingError

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(name: str | None, device: torch.device) -> str:
    """The concrete precision ("bf16", "fp16" or "fp32") for `name` on `device`."""
    name = (name or "auto").lower()
    if name not in PRECISIONS:
        raise GenmnistError(f"unknown precision {name!r}; use one of: {', '.join(PRECISIONS)}")
    cuda = device.type == "cuda"
    if name == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if name == "fp32":
        return name
    if device.type not in ("cuda", "cpu"):
        raise SettingError("precision", name, f"runs on cuda (or cpu for bf16), not "
                           f"{device.type}", ("fp32",))
    if name == "fp16" and not cuda:
        raise SettingError("precision", name, "needs a CUDA GPU (CPUs have no fast fp16)",
                           ("fp32", "bf16"))
    if name == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise SettingError("precision", name, "needs a GPU with bfloat16 support (Ampere or "
                           "newer)", ("fp16", "fp32"))
    return name


def autocast(precision: str, device: torch.device):
    """The context the loss is computed in: autocast for bf16/fp16, nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def make_scalers(precision: str, players, device: torch.device) -> dict[str, torch.amp.GradScaler]:
    """One loss scaler per player for fp16 (each optimizer's gradients overflow on their own);
    none otherwise."""
    if precision != "fp16":
        return {}
    return {p: torch.amp.GradScaler(device.type) for p in players}
