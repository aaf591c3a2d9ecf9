"""Feature spaces the scores are computed in: MNIST classifier features or pytorch-fid's
Inception (Heusel et al. 2017 compare Inception pool features; on MNIST a digit classifier's
features are the common, offline alternative).

A `FeatureSpace` knows its name, its size, a label that every output prints (so an MNIST-space
FID is never mistaken for an Inception FID), a cache key, and how to extract features, in
batches of `batch_size` (pytorch-fid's 50 for Inception), telling `progress` after each. Networks
load lazily: scoring against cached or `.npz` statistics never builds Inception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genmnist.errors import GenmnistError, OptionError
from genmnist.metrics import classifier as clf
from genmnist.metrics import inception
from genmnist.threads import ThreadPolicy

SPACES = ("mnist", "inception")
BATCH_SIZE = {"mnist": 500, "inception": 50}  # inception: pytorch-fid's --batch-size default


@dataclass
class FeatureSpace:
    name: str  # "mnist" or "inception"
    dims: int
    device: torch.device
    classifier_path: Path | None = None
    inception_weights: Path | None = None
    batch_size: int | None = None  # images per forward pass [default: BATCH_SIZE[name]]
    progress: Callable[[str, int, int], None] | None = None  # (what, done, total) per batch
    threads: ThreadPolicy | None = None  # told every batch; may change torch's thread count
    _classifier: object = field(default=None, repr=False)
    _inception: object = field(default=None, repr=False)
    _classifier_meta: dict = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        if self.name == "mnist":
            return f"MNIST classifier features, {self.dims}-d"
        return f"Inception-v3 pool features (pytorch-fid), {self.dims}-d"

    @property
    def key(self) -> str:
        """Names cached statistics: a different classifier file gives a different key."""
        if self.name == "mnist":
            return f"mnist{self.dims}-{clf.file_digest(self.classifier_path or clf.ASSET)}"
        return f"inception{self.dims}"

    def weights_file(self) -> Path | None:
        """The file this space's network is loaded from, or None while it is not on disk
        (Inception weights before pytorch-fid's first download)."""
        if self.name == "mnist":
            return Path(self.classifier_path or clf.ASSET)
        path = self.inception_weights or inception.hub_weights_path()
        return path if path.is_file() else None

    def classifier(self) -> clf.MnistClassifier:
        if self._classifier is None:
            model, self._classifier_meta = clf.load_classifier(self.classifier_path, self.device)
            self._classifier = clf.for_inference(model)
        return self._classifier

    def extract(self, images: torch.Tensor,
                what: str = "images") -> tuple[torch.Tensor, torch.Tensor | None]:
        """(N, dims) float32 features of uint8 or [0, 1] images (N, 1, 28, 28), and the
        classifier's probabilities when the same forward pass gives them (MNIST space) else
        None. `what` names the images in progress reports."""
        bs = self.batch_size or BATCH_SIZE[self.name]
        if self.name == "inception" and self._inception is None:
            self._inception = inception.build_inception(self.dims, self.inception_weights,
                                                        self.device)
        feats, probs = [], []
        if self.threads is not None:
            self.threads.resume()  # reading files or loading the network does not count
        for i in range(0, len(images), bs):
            if self.name == "mnist":
                f, p = clf.classify(self.classifier(), images[i:i + bs], batch_size=bs)
                probs.append(p)
            else:
                f = inception.inception_features(self._inception, images[i:i + bs], bs)
            feats.append(f)
            if self.threads is not None:
                self.threads.step(len(f))
            if self.progress is not None:
                self.progress(f"{self.name} features of {what}", min(i + bs, len(images)),
                              len(images))
        return torch.cat(feats), (torch.cat(probs) if probs else None)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 10) MNIST classifier softmax, whatever the feature space."""
        return clf.classify(self.classifier(), images)[1]


def feature_space(name: str = "mnist", dims: int | None = None,
                  device: torch.device | str = "cpu", classifier_path: str | Path | None = None,
                  inception_weights: str | Path | None = None) -> FeatureSpace:
    if name not in SPACES:
        raise GenmnistError(f"unknown feature space {name!r}; use one of: {', '.join(SPACES)}")
    if name == "mnist":
        if dims not in (None, clf.MnistClassifier.feature_dim):
            raise OptionError("{dims} {value} does not apply to {features} mnist (its features "
                              "are {d}-d); {dims} picks an Inception block", ("dims", "features"),
                              value=dims, d=clf.MnistClassifier.feature_dim)
        dims = clf.MnistClassifier.feature_dim
    else:
        dims = 2048 if dims is None else dims
        if dims not in inception.DIMS:
            raise inception.bad_dims(dims)
    return FeatureSpace(name, dims, torch.device(device),
                        Path(classifier_path) if classifier_path else None,
                        Path(inception_weights) if inception_weights else None)
