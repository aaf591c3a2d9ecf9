"""Memory bounded by the work in flight, not by the total (issue 12, class 2): the PNG writers'
queue is bounded, big numbers are refused up front with a line that gives the limit, and a
model that cannot be built in memory is one line (bench/generate_memory.py measures peak
memory of `generate` at two sizes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

import genmnist.images as images
from genmnist import capacity
from helpers import SRC, assert_clean_error, cli

REAL_SAVE = images._save_arrays


def slow_save(arr, folder, start, digits):
    """A writer slower than any sampler: module level, so forked writers can unpickle it."""
    time.sleep(0.02)
    return REAL_SAVE(arr, folder, start, digits)


def test_the_writer_queue_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "_save_arrays", slow_save)
    most = 0
    with images.PngWriter(tmp_path, workers=2) as w:
        for i in range(40):
            w.write(torch.rand(10, 1, 28, 28), start=10 * i)
            most = max(most, len(w.pending))
    assert most <= 4  # two batches per writer, however many the job asks for
    assert len(list(tmp_path.glob("*.png"))) == 400


WRITER_JOB = """
import sys, time, torch
from pathlib import Path
import genmnist.images as images

def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024

def slow(arr, folder, start, digits):  # writers 5x slower than the sampler, as on a busy disk
    time.sleep(0.2)
    return len(arr)

images._save_arrays = slow
base = most = rss()
with images.PngWriter(Path(sys.argv[1]), workers=2) as w:
    for i in range(int(sys.argv[2])):
        w.write(torch.rand(1000, 1, 28, 28), start=1000 * i)  # 0.75 MB of uint8 a batch
        most = max(most, rss())
print(most - base)
"""


def memory_growth_of_writer(tmp_path, batches: int) -> int:
    """How far the resident memory of a real process that hands `batches` batches to two
    writers rose above where it started (glibc's mmap threshold fixed: no allocator drift)."""
    r = subprocess.run([sys.executable, "-c", WRITER_JOB, str(tmp_path), str(batches)],
                       env=dict(os.environ, PYTHONPATH=str(SRC), OMP_NUM_THREADS="1",
                                MALLOC_MMAP_THRESHOLD_="1000000"),
                       capture_output=True, text=True, check=True)
    return int(r.stdout.split()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS from /proc")
def test_writer_memory_does_not_grow_with_the_job(tmp_path):
    small, large = memory_growth_of_writer(tmp_path, 10), memory_growth_of_writer(tmp_path, 100)
    # 90 more batches are 70 MB that an unbounded queue holds (measured: +60 MB before the
    # bound); a bounded one holds four batches, 3 MB.
    assert large - small < 25 * 2**20, (small / 2**20, large / 2**20)


@pytest.mark.parametrize("args, fragment", [
    (["generate", "--n", "1000000000000"], "--n must be between 1 and 10000000"),
    (["generate", "--batch-size", "100000000"], "--batch-size must be between 1 and 10000"),
    (["interpolate", "--steps", "100000"], "--steps must be between 2 and 200"),
    (["train", "vae", "--latent-dim", "100000000"], "parameters; training it needs about"),
    (["train", "ae", "--latent-dim", "1000000000000"], "model 'ae'"),  # or overflows
])
def test_absurd_sizes_are_refused_at_once(args, fragment, in_tmp):
    t0 = time.monotonic()
    assert_clean_error(cli(*args, "--device", "cpu"), fragment)
    assert time.monotonic() - t0 < 10
    assert list(in_tmp.iterdir()) == []


def test_a_model_too_big_for_this_machine_names_the_memory(monkeypatch, in_tmp):
    monkeypatch.setattr(capacity, "available_memory", lambda device: 8 * 10**9)
    r = cli("train", "vae", "--latent-dim", "1000000", "--device", "cpu")
    assert_clean_error(r, "model 'vae' with these settings has 1,202,628,784 parameters; "
                          "training it needs about 19.2 GB (weights, gradients, Adam state), "
                          "more than half of the 8.0 GB of cpu memory free here; use a smaller "
                          "--latent-dim")
    assert list(in_tmp.iterdir()) == []


def test_an_allocation_that_fails_anyway_is_one_line(monkeypatch, in_tmp):
    import genmnist.cli.train as cli_train

    def oom(*a, **k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 4809000000 bytes.\nmore")

    monkeypatch.setattr(cli_train, "_train", oom)
    r = cli("train", "vae", "--device", "cpu", "--subset", "64")
    assert_clean_error(r, "out of memory: ", "can't allocate memory", "use smaller sizes")
    assert not (in_tmp / "runs").exists()  # the reserved run folder is given back


def test_a_model_whose_size_overflows_is_one_line(monkeypatch):
    """Sizes past what torch can even count (numel overflow) are a GenmnistError too."""
    import genmnist.models as models
    from genmnist.errors import GenmnistError

    def overflow(name, config):
        raise RuntimeError("numel: integer multiplication overflow\nat some C++ frame")

    monkeypatch.setattr(models, "build_model", overflow)
    with pytest.raises(GenmnistError, match="model 'ae' cannot be built with these settings: "
                                            "numel: integer multiplication overflow$"):
        capacity.parameter_count("ae", None)
