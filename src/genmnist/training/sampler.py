"""What a model fits after its weights are trained, so that it can sample (AE: a Gaussian
mixture over its codes; VQ-VAE: a PixelCNN prior over its code maps, as pythae fits its
samplers with its own trainer), and then a density over its codes (genmnist.samplers). Callable
at a run's last epoch or on its own on a loaded model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch

from genmnist.models import GenerativeModel, OptimizerSpec
from genmnist.samplers import fit_latent_sampler
from genmnist.training.config import Reporter
from genmnist.training.loop import Epoch, Loop, Objective, batch_starts, run_epoch
from genmnist.training.meter import LossMeter
from genmnist.training.state import make_optimizer


def fit_sampler(module: torch.nn.Module, loss_fn: Callable[[torch.Tensor], dict],
                data: torch.Tensor, epochs: int, batch_size: int, spec: OptimizerSpec,
                name: str = "sampler", reporter: Reporter | None = None) -> float:
    """Fit a network a model samples through (VQ-VAE's PixelCNN prior over its code maps):
    minimise `loss_fn(batch)["loss"]` over shuffled batches of `data` (on the module's device)
    with the training loop. Returns the last epoch's mean loss.

    Models call this from `after_training`, so the trainer still builds every optimizer and
    reports every loop. Shuffling draws from the global RNG (seeded by `fit`)."""
    reporter = reporter or Reporter()
    trainee = Objective(module, lambda x, y: loss_fn(x))
    loop = Loop(trainee, trainee, {"model": make_optimizer(module.parameters(), spec, None)},
                data, None, batch_starts(len(data), batch_size), min(batch_size, len(data)))
    module.train()
    mean, step = float("nan"), 0
    for number in range(1, epochs + 1):
        reporter.start_epoch(number, epochs, len(loop.starts))
        epoch, meter = Epoch(number, torch.randperm(len(data)).to(data.device)), \
            LossMeter(loop.dist, prefix=name)
        step, _ = run_epoch(loop, epoch, step, meter, reporter)
        mean = meter.means()[0][f"{name}/loss"]
        reporter.message(f"{name} epoch {number}/{epochs}  {epoch.seconds:6.1f}s  "
                         f"loss {mean:.4g}")
    return mean


def fit_after_training(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor,
                       batch_size: int, components: int, seed: int,
                       reporter: Reporter | None = None) -> str | None:
    """What training does last: the model's own after-training fit (VQ-VAE's PixelCNN prior),
    then the density its codes are drawn from (genmnist.samplers). Returns a line for the user,
    or None. `fit` calls it at the last epoch; it also refits the sampler of a loaded model."""
    notes = [model.after_training(images, labels, batch_size,
                                  fit_sampler=functools.partial(fit_sampler, reporter=reporter))]
    if model.latent_density:
        model.latent_sampler = fit_latent_sampler(model, images, labels, components, seed)
        notes.append(f"fitted a {model.latent_sampler.describe()}")
    return "; ".join(n for n in notes if n) or None
