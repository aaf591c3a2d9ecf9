"""The names `genmnist.train` has always offered; the trainer itself is `genmnist.training`."""

from genmnist.training import (
    Evaluator,
    Reporter,
    RunSettings,
    TrainConfig,
    TrainResult,
    batch_starts,
    fit,
    fit_after_training,
    fit_sampler,
    make_optimizer,
)
from genmnist.training.loop import to_device
from genmnist.training.sampler import fit_after_training as after_training
from genmnist.training.scoring import evaluate, picture

__all__ = ["Evaluator", "Reporter", "RunSettings", "TrainConfig", "TrainResult",
           "after_training", "batch_starts", "evaluate", "fit", "fit_after_training", "fit_sampler",
           "make_optimizer", "picture", "to_device"]
