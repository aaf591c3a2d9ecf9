"""Training: the loop that fits every genmnist model, its sampler and the MNIST classifier.

- config.py     TrainConfig, RunSettings, Reporter, Evaluator, TrainResult: what callers pass
                and get back
- fit.py        fit(): build or restore the state, plan batches, run and end each epoch
- loop.py       the per-batch step and the epoch runner (one loop for every trainee)
- state.py      TrainingState (model, optimizers, scalers, shuffle RNG, progress) and
                make_optimizer; state_dict/load_state_dict is what exact resume saves
- meter.py      LossMeter: loss sums and counts on the device, all-reduced under torchrun
- checks.py     the NaN guard (NonFiniteLoss, NonFiniteWeights)
- scoring.py    an epoch's end: held-out loss, the grid, extra evaluators
- sampler.py    fit_sampler and fit_after_training (a model's sampler, after its weights)
- run_folder.py RunFolder: config.json, metrics.jsonl, grids, checkpoint.pt
"""

from genmnist.training.config import (
    Evaluator,
    Reporter,
    RunSettings,
    TrainConfig,
    TrainResult,
)
from genmnist.training.fit import fit
from genmnist.training.loop import Objective, batch_starts
from genmnist.training.sampler import fit_after_training, fit_sampler
from genmnist.training.state import TrainingState, make_optimizer

__all__ = ["Evaluator", "Objective", "Reporter", "RunSettings", "TrainConfig", "TrainResult",
           "TrainingState", "batch_starts", "fit", "fit_after_training", "fit_sampler",
           "make_optimizer"]
