"""Does a long-trained model train slower than a fresh one, and does flushing denormals fix it?

    python bench/denormals.py RUN            # flush-to-zero set at start, as the CLI does
    python bench/denormals.py RUN --no-flush # the arithmetic torch has by default

Loads RUN's checkpoint (weights and Adam state) and a fresh model of the same kind, counts the
denormal values in the late one's weights and moments, then alternates 2.5-second bursts of
training steps between the two (batch 128, random binarised images) and prints images/s.
Run both forms one after the other: docs/performance.md, "Denormals flushed".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from genmnist.checkpoint import load_model  # noqa: E402
from genmnist.models import build_model, make_config  # noqa: E402
from genmnist.training.state import make_optimizer  # noqa: E402


def denormal_share(model, opt) -> float:
    tensors = [*model.parameters(), *(v for s in opt.state.values() for v in s.values()
                                      if torch.is_tensor(v) and v.dim() > 0)]
    tiny = torch.finfo(torch.float32).tiny
    n = sum(int(((t.detach().abs() > 0) & (t.detach().abs() < tiny)).sum()) for t in tensors)
    return n / sum(t.numel() for t in tensors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--no-flush", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    torch.set_flush_denormal(not args.no_flush)  # before the threads start: they inherit it
    torch.set_num_threads(args.threads)
    late, ckpt = load_model(args.run, "cpu")
    fresh = build_model(late.name, make_config(late.name, {}))
    opts = {}
    for name, m in (("fresh", fresh), ("late", late)):
        m.train()
        opts[name] = make_optimizer(m.parameters(), m.optimizer_spec("model"), 1e-4)
    opts["late"].load_state_dict(ckpt["optimizers"]["model"])
    with torch.no_grad():
        torch.set_flush_denormal(False)  # count them as they are stored
        share = denormal_share(late, opts["late"])
        torch.set_flush_denormal(not args.no_flush)
    print(f"{args.run}: {share:.1%} of weights and Adam moments denormal; flush-to-zero "
          f"{'off' if args.no_flush else 'on'}, {args.threads} threads")
    images = torch.rand(20000, 1, 28, 28)
    for _ in range(args.rounds):
        for name, m in (("fresh", fresh), ("late", late)):
            opt, t, steps = opts[name], time.perf_counter(), 0
            while time.perf_counter() - t < 2.5:
                x = torch.bernoulli(images[torch.randint(0, 20000, (128,))])
                opt.zero_grad()
                m.loss(x)["loss"].backward()
                opt.step()
                steps += 1
            print(f"{name:5s} {steps * 128 / (time.perf_counter() - t):8.0f} images/s", flush=True)


if __name__ == "__main__":
    main()
