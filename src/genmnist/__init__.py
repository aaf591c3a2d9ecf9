"""genmnist: train, sample, reconstruct, interpolate and score generative models on MNIST."""

__version__ = "0.1.0"
