"""Scores read off the MNIST classifier's predictions: an Inception-style score (Salimans et al.
2016, "Improved Techniques for Training GANs") and digit coverage.

Inception score: exp(E_x KL(p(y|x) || p(y))). It is high when each sample is classified
confidently (sharp digits) and the predicted digits are spread evenly; with 10 classes its
maximum is 10. Computed over the whole set in one split (the Inception-network original
averages 10 splits; with MNIST's 10 classes one split is the stable choice).

Digit coverage: the histogram of predicted digits and its entropy divided by log(10), so 1 means
every digit equally often and 0 means a single digit (total mode collapse).
"""

from __future__ import annotations

import math

import torch


def inception_score(probs: torch.Tensor, eps: float = 1e-12) -> float:
    """exp(mean KL(p(y|x) || p(y))) for softmax rows `probs` (N, C); between 1 and C."""
    p = probs.double()
    py = p.mean(dim=0, keepdim=True)
    kl = (p * ((p + eps).log() - (py + eps).log())).sum(dim=1)
    return float(kl.mean().exp())


def digit_histogram(probs: torch.Tensor) -> list[float]:
    """Share of samples predicted as each digit 0-9 (sums to 1)."""
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).double()
    return (counts / counts.sum()).tolist()


def normalized_entropy(hist: list[float]) -> float:
    """H(hist) / log(len(hist)): 1 for a uniform histogram, 0 for a single class."""
    h = 0.0 - sum(p * math.log(p) for p in hist if p > 0)  # 0.0 - : never prints "-0.000"
    return h / math.log(len(hist))


def conditional_accuracy(probs: torch.Tensor, intended: torch.Tensor) -> dict:
    """How often a conditional model drew the digit it was asked for: the share of samples
    whose predicted digit equals `intended` (N,), overall and per intended digit (None for a
    digit never asked for). Real test images with their labels score the classifier's accuracy
    (0.994 for the shipped one); labels unrelated to the images score about 0.1."""
    intended = intended.cpu().long()
    hit = (probs.argmax(dim=1).cpu() == intended).double()
    per = [float(hit[intended == d].mean()) if bool((intended == d).any()) else None
           for d in range(probs.shape[1])]
    return {"accuracy": float(hit.mean()), "per_digit": per}
