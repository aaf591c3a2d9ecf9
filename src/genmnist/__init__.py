"""genmnist: train, sample, reconstruct, interpolate and score generative models on MNIST."""

import os

# OpenMP threads that spin while waiting collapse when the cores are shared: on a busy 2-core
# machine a 2-thread cvae step ran 5x slower than a 1-thread one with the default (active) wait
# policy, and only 1.2x slower with PASSIVE (bench/speed.py). Set before torch loads libgomp;
# a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
