"""Will it fit? Refuse a model that cannot be built in this machine's memory with one line,
before a run folder exists, instead of a 50-line out-of-memory traceback minutes later.

The model is built on PyTorch's `meta` device, which records shapes and allocates nothing, so
counting the parameters of a billion-parameter model costs milliseconds. Training holds four
numbers per parameter (the weight, its gradient and Adam's two moments), the budget that
Rajbhandari et al. ("ZeRO", 2020) count for mixed-precision Adam, here in fp32.
"""

from __future__ import annotations

import torch

from genmnist.errors import GenmnistError, OptionError

BYTES_PER_PARAMETER = 16  # fp32 weight + gradient + Adam's exp_avg and exp_avg_sq


def available_memory(device: torch.device) -> int | None:
    """Bytes this process could still allocate on `device`, or None where unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def parameter_count(name: str, config) -> int:
    """Parameters of model `name` with `config`, counted without allocating them."""
    from genmnist.models import build_model

    try:
        with torch.device("meta"):
            model = build_model(name, config)
    except (RuntimeError, ValueError, OverflowError) as e:  # e.g. numel overflow
        raise GenmnistError(f"model '{name}' cannot be built with these settings: "
                            f"{str(e).splitlines()[0]}") from e
    return sum(p.numel() for p in model.parameters())


def check_model_fits(name: str, config, device: torch.device) -> int:
    """Refuse a model whose training state would not fit in `device`'s free memory; return
    its parameter count."""
    params = parameter_count(name, config)
    need, have = params * BYTES_PER_PARAMETER, available_memory(device)
    # Half of what is free: batches, activations and MNIST itself need the rest.
    if have is not None and need > have // 2:
        raise OptionError(
            "model '{model}' with these settings has {params:,} parameters; training it needs "
            "about {need} (weights, gradients, Adam state), more than half of the {have} of "
            "{device} memory free here; use a smaller {latent_dim}", ("latent_dim",),
            model=name, params=params, need=_gb(need), have=_gb(have), device=device.type)
    return params


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"
