"""Scores that compare generated digits with real ones, one concern per module.

- `frechet`: the Fréchet distance of FID (Heusel et al. 2017), from eigenvalues.
- `kid`: Kernel Inception Distance (Bińkowski et al. 2018).
- `precision_recall`: improved precision and recall (Kynkäänniemi et al. 2019).
- `digits`: Inception-style score (Salimans et al. 2016) and digit coverage.
- `classifier`, `inception`, `features`: the feature spaces (MNIST CNN, pytorch-fid Inception).
- `folder`, `reference`: reading PNG folders, `.npz` statistics and cached named references.
- `score`: all of the above for one pair, the function `genmnist fid` and benchmarks call.
"""

from genmnist.metrics.score import METRICS, score

__all__ = ["METRICS", "score"]
