"""Conditional accuracy: does a conditional model draw the digit it is asked for?

The shipped MNIST classifier (an independent judge: it never saw the generator) labels each
sample; the score is the share that matches the digit asked for, overall and per digit. The
usual check of conditional generators (e.g. the "classification accuracy score" family of
measures, Ravuri & Vinyals 2019, turned around: here the classifier is fixed and judges the
samples).
"""

from __future__ import annotations

import torch

from genmnist.metrics.classifier import classify, load_classifier
from genmnist.metrics.digits import conditional_accuracy


def score_conditional(images: torch.Tensor, intended: torch.Tensor,
                      device: torch.device | str = "cpu") -> dict:
    """`conditional_accuracy` of images (N, 1, 28, 28) in [0, 1] (or uint8) drawn for the
    digits `intended` (N,), judged by the shipped MNIST classifier."""
    model, _ = load_classifier(device=device)
    _, probs = classify(model, images)
    return conditional_accuracy(probs, intended)
