"""genmnist: train, sample, reconstruct, interpolate and score generative models on MNIST.

Importing the package does nothing but define it: the command line (genmnist.cli) chooses the
OpenMP and thread policy for its own process."""

__version__ = "0.1.0"
