"""Inception FID equals `python -m pytorch_fid`, and missing weights give one clear line.

No test downloads anything: the network gets random weights (agreement of the two code paths
does not need the real ones), and every download function is replaced by one that fails.
pytorch-fid's network at 299x299 costs ~0.2-0.4 s per image on one CPU thread, so the folders
are tiny and the features are the 64-d first block.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import assert_clean_error, cli


def _no_download(*args, **kwargs):
    import sys

    sys.stdout.write('Downloading: "https://..." to ...\n')  # what torch.hub prints first
    raise OSError("network disabled in tests")


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network and an empty torch hub folder, for every test here."""
    import pytorch_fid.inception as pfi

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _no_download)
    monkeypatch.setattr(pfi, "load_state_dict_from_url", _no_download)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("GENMNIST_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A random state dict for pytorch-fid's FID Inception, saved as a weights file."""
    import pytorch_fid.inception as pfi

    built = {}
    original = pfi._inception_v3

    def keep(*args, **kwargs):
        built["net"] = original(*args, **kwargs)
        return built["net"]

    mp = pytest.MonkeyPatch()
    mp.setattr(pfi, "_inception_v3", keep)
    # fid_inception_v3() patches its blocks into the net, then asks for the weights
    mp.setattr(pfi, "load_state_dict_from_url", lambda *a, **k: built["net"].state_dict())
    torch.manual_seed(0)
    pfi.fid_inception_v3()
    mp.undo()
    state = built["net"].state_dict()
    for name, t in state.items():  # batch-norm gain x10: features of order 1, not 1e-3
        if name.endswith("running_var"):
            t.fill_(0.01)
    path = tmp_path_factory.mktemp("weights") / "random_inception.pth"
    torch.save(state, path)
    return path


def write_folder(folder, seed: int, n: int, shift: int = 0):
    """n 28x28 grayscale PNGs of random blobs (different seeds: different statistics)."""
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        a = (rng.random((28, 28)) ** 3 * 255).astype(np.uint8)
        a[8 + shift:20 + shift, 10:18] = 255 - a[8 + shift:20 + shift, 10:18]
        Image.fromarray(a, mode="L").save(folder / f"{i:05d}.png")
    return folder


@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")  # scipy<1.18
def test_fid_equals_python_m_pytorch_fid(tmp_path, random_weights, monkeypatch):
    """Same folders, same network: `genmnist fid --features inception` prints the number that
    pytorch-fid's `calculate_fid_given_paths` (what `python -m pytorch_fid A B` runs) returns."""
    import pytorch_fid.inception as pfi
    from pytorch_fid.fid_score import calculate_fid_given_paths

    a = write_folder(tmp_path / "a", seed=1, n=10)
    b = write_folder(tmp_path / "b", seed=2, n=10, shift=4)
    state = torch.load(random_weights, weights_only=True)
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda *args, **kwargs: state)
    expected = calculate_fid_given_paths([str(a), str(b)], batch_size=4, device="cpu", dims=64,
                                         num_workers=0)
    # pytorch-fid's own options, spelled as it spells them
    r = cli("fid", a, b, "--features", "inception", "--dims", "64", "--inception-weights",
            random_weights, "--metrics", "fid", "--json", "--device", "cpu", "--threads", "1",
            "--batch-size", "4", "--num-workers", "0")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["feature_space"] == "inception" and got["dims"] == 64
    assert got["fid"] == pytest.approx(float(expected), rel=1e-6)
    assert expected > 1.0  # the folders differ: agreement on a non-trivial value


def test_missing_inception_weights_offline_is_one_line(tmp_path):
    a = write_folder(tmp_path / "a", seed=1, n=3)
    r = cli("fid", a, a, "--features", "inception", "--metrics", "fid")
    assert r.stdout == ""
    assert_clean_error(r, "pt_inception-2015-12-05-6726825d.pth", "https://github.com/mseitzer",
                       str(tmp_path / "hub" / "checkpoints"), "--inception-weights")
    r = cli("fid", a, a, "--features", "inception", "--inception-weights", tmp_path / "nope.pth")
    assert_clean_error(r, "nope.pth not found")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    r = cli("fid", a, a, "--features", "inception", "--inception-weights", bad)
    assert_clean_error(r, "not a readable Inception weights file")


def test_weights_in_torch_hub_cache_are_used(tmp_path, random_weights):
    """Offline, the file pytorch-fid would have downloaded is found in torch hub's folder."""
    from genmnist.metrics.inception import WEIGHTS_FILE, load_inception_state

    hub = tmp_path / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / WEIGHTS_FILE).write_bytes(random_weights.read_bytes())
    state = load_inception_state()
    ref = torch.load(random_weights, weights_only=True)
    assert state.keys() == ref.keys() and torch.equal(state["fc.weight"], ref["fc.weight"])


def test_inception_dims_are_checked(tmp_path):
    a = write_folder(tmp_path / "a", seed=1, n=3)
    r = cli("fid", a, a, "--features", "inception", "--dims", "100")
    assert_clean_error(r, "--dims 100 is not an Inception feature size", "64, 192, 768, 2048")
