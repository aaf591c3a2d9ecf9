"""genmnist: train, sample, reconstruct, interpolate and score generative models on MNIST."""

from genmnist._omp import choose_wait_policy

# Before anything imports torch: spinning OpenMP threads collapse on a busy CPU (see _omp.py).
choose_wait_policy()

__version__ = "0.1.0"
