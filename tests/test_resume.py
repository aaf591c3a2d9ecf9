"""Runs survive interruption: Ctrl-C saves and stops, --resume ends bit-identical to a run that
never stopped, and a NaN stops training without touching the last good checkpoint.

In-process tests raise SIGINT from the reporter at an exact batch, so they are deterministic;
test_kill.py does the same to a real `genmnist train` process."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from genmnist.checkpoint import load_checkpoint, save_checkpoint
from genmnist.errors import GenmnistError
from genmnist.interrupt import TrainingInterrupted
from genmnist.models import MODELS, GenerativeModel, make_config
from genmnist.models.vae import VAE
from genmnist.resume import plan_resume
from genmnist.training import Reporter, RunSettings, TrainConfig, fit

CPU = torch.device("cpu")


@dataclass
class DuoConfig:
    latent_dim: int = 8


class Duo(GenerativeModel):
    """A toy two-player model: its own optimizer per player, a step-dependent schedule, dropout
    and noise from the global RNG -- everything a GAN asks of exact resume."""

    name = "duo"
    config_class = DuoConfig
    players = ("enc", "dec")

    def __init__(self, config):
        super().__init__(config)
        self.enc = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(784, config.latent_dim))
        self.dec = nn.Linear(config.latent_dim, 784)

    def loss(self, x, y=None, player="enc"):
        z = self.enc(x)
        z = z + 0.1 * torch.randn_like(z)
        if player == "enc":
            z_ = z
        else:
            z_ = z.detach()
        err = (self.dec(z_).view_as(x) - x).pow(2).mean()
        return {"loss": err, "err": err}

    def player_parameters(self, player):
        return (self.enc if player == "enc" else self.dec).parameters()

    def schedule(self, step):
        return ("enc", "dec") if step % 3 == 0 else ("dec",)

    def sample(self, n, y=None, generator=None):
        return torch.sigmoid(self.dec(torch.randn(n, self.config.latent_dim, generator=generator)))\
            .view(n, 1, 28, 28)


@pytest.fixture
def duo(monkeypatch):
    monkeypatch.setitem(MODELS, "duo", Duo)


@pytest.fixture(scope="module")
def small(data_dir):
    from genmnist.data import load_mnist

    return load_mnist("train", data_dir).head(1024), load_mnist("test", data_dir).head(128)


class InterruptAt(Reporter):
    """Presses Ctrl-C (a real SIGINT to this process) at (epoch, batches done), or at the end
    of `epoch` when `batch` is None; `times` presses in a row."""

    def __init__(self, epoch, batch=None, times=1):
        self.at, self.times, self.epoch = (epoch, batch), times, 0

    def _press(self):
        for _ in range(self.times):
            os.kill(os.getpid(), signal.SIGINT)

    def start_epoch(self, epoch, epochs, batches):
        self.epoch = epoch

    def update(self, batches_done, terms, images_per_sec):
        if (self.epoch, batches_done) == self.at:
            self._press()

    def end_epoch(self, record):
        if self.at == (record["epoch"], None):
            self._press()


def train(name, small, run_dir, epochs=3, reporter=None, resume=None):
    if resume is not None:
        tcfg, mcfg, ckpt, run_dir = plan_resume(resume, name, epochs)
    else:
        tcfg = TrainConfig(model=name, epochs=epochs, batch_size=32, seed=3,
                           eval_size=128)
        mcfg, ckpt = make_config(name, {"hidden": 32} if name == "vae" else {}), None
    return fit(tcfg, mcfg, small[0], small[1], run_dir, CPU, reporter, resume=ckpt)


def metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same_training_state(a, b):
    a, b = load_checkpoint(a), load_checkpoint(b)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    for player, opt in a["optimizers"].items():
        for i, state in opt["state"].items():
            for k, v in state.items():
                assert torch.equal(v, b["optimizers"][player]["state"][i][k]), (player, i, k)
    assert a["step"] == b["step"] and a["epoch"] == b["epoch"]
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


@pytest.fixture(scope="module")
def reference(small, tmp_path_factory):
    """The uninterrupted 3-epoch run of each model, trained once per module."""
    runs = {}

    def get(name):
        if name not in runs:
            with pytest.MonkeyPatch.context() as m:
                m.setitem(MODELS, "duo", Duo)
                runs[name] = train(name, small, tmp_path_factory.mktemp("ref") / name)
        return runs[name]

    return get


@pytest.mark.parametrize("name, where", [("vae", (2, 20)), ("vae", (1, None)),
                                         ("duo", (2, 20))])
def test_interrupted_and_resumed_run_is_bit_identical(tmp_path, small, duo, reference, name,
                                                      where):
    before = signal.getsignal(signal.SIGINT)
    ref = reference(name)
    with pytest.raises(TrainingInterrupted) as e:  # a KeyboardInterrupt to unaware callers
        train(name, small, tmp_path / "run", reporter=InterruptAt(*where))
    stopped = e.value
    assert isinstance(stopped, KeyboardInterrupt) and stopped.run_dir == tmp_path / "run"
    assert signal.getsignal(signal.SIGINT) is before  # the handler is only there while training
    epoch, batch = where
    ckpt = load_checkpoint(stopped.checkpoint)
    if batch is None:
        assert stopped.where == f"after epoch {epoch}"
        assert ckpt["epoch"] == epoch and "partial" not in ckpt
    else:  # stopped after the batch in progress, with the epoch's state to finish it exactly
        assert stopped.where == f"at epoch {epoch} batch {batch} of 32"
        assert ckpt["epoch"] == epoch - 1
        assert ckpt["partial"]["epoch"] == epoch and ckpt["partial"]["batch"] == batch
    assert [r["epoch"] for r in metrics(stopped.run_dir)] == list(range(1, ckpt["epoch"] + 1))

    resumed = train(name, small, None, resume=stopped.run_dir)
    assert resumed.run_dir == stopped.run_dir
    assert_same_training_state(resumed.checkpoint, ref.checkpoint)
    ours, theirs = metrics(resumed.run_dir), metrics(ref.run_dir)
    assert [r["epoch"] for r in ours] == [1, 2, 3]  # no line lost, none duplicated
    assert [(r["train"], r["test"]) for r in ours] == [(r["train"], r["test"]) for r in theirs]


def test_resume_extends_a_finished_run_exactly(tmp_path, small, reference):
    ref = reference("vae")
    short = train("vae", small, tmp_path / "run", epochs=2)
    train("vae", small, None, epochs=3, resume=short.checkpoint)
    assert_same_training_state(short.checkpoint, ref.checkpoint)


def test_a_checkpoint_from_before_run_settings_moved_still_resumes_exactly(tmp_path, small,
                                                                         reference):
    """Older checkpoints kept device, threads, subset and data_dir in "train_config" and had no
    "run": they still resume bit for bit, and still say which images they trained on."""
    ref = reference("vae")
    short = train("vae", small, tmp_path / "run", epochs=2)
    ckpt = load_checkpoint(short.checkpoint)
    assert ckpt["run"] == {"device": "cpu", "subset": None, "data_dir": None, "threads": None}
    old = {k: v for k, v in ckpt.items() if k != "run"}
    old["train_config"] = {**ckpt["train_config"], "device": "cpu", "threads": 2,
                           "subset": 1024, "data_dir": "/somewhere"}
    save_checkpoint(old, short.checkpoint)
    tcfg, _, loaded, _ = plan_resume(short.run_dir, "vae", 3)
    assert not hasattr(tcfg, "device") and tcfg.epochs == 3
    assert RunSettings.from_checkpoint(loaded) == RunSettings(1024, "/somewhere", 2)
    train("vae", small, None, epochs=3, resume=short.checkpoint)
    assert_same_training_state(short.checkpoint, ref.checkpoint)


def test_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(tmp_path, small):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt) as e:
        train("vae", small, tmp_path / "run", reporter=InterruptAt(2, 20, times=2))
    assert not isinstance(e.value, TrainingInterrupted)  # aborted at once, nothing saved
    assert signal.getsignal(signal.SIGINT) is before
    assert load_checkpoint(tmp_path / "run")["epoch"] == 1
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_resume_repairs_what_a_kill_left_behind(tmp_path, small, reference):
    """Killed between the metrics line and the checkpoint, or in the middle of either write."""
    ref = reference("vae")
    run = train("vae", small, tmp_path / "run", epochs=2).run_dir
    with open(run / "metrics.jsonl", "a") as f:  # epoch 3's line, and half of one more
        f.write(json.dumps({**metrics(ref.run_dir)[2]}) + '\n{"epoch": 4, "trai')
    (run / ".checkpoint-x1y2.tmp").write_bytes(b"half a checkpoint")
    train("vae", small, None, epochs=3, resume=run)
    assert [r["epoch"] for r in metrics(run)] == [1, 2, 3]
    assert not list(run.glob(".*.tmp"))
    assert_same_training_state(run / "checkpoint.pt", ref.checkpoint)


def nan_at(monkeypatch, call, term="recon"):
    """Make VAE.loss return a NaN `term` on its `call`-th training call (1-based)."""
    real, calls = VAE.loss, {"n": 0}

    def loss(self, x, y=None, player="model"):
        out = real(self, x, y, player)
        if self.training:
            calls["n"] += 1
            if calls["n"] == call:
                out[term] = out[term] * float("nan")
                out["loss"] = out["loss"] + out[term]
        return out

    monkeypatch.setattr(VAE, "loss", loss)


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, small, monkeypatch):
    nan_at(monkeypatch, 32 + 5)  # epoch 2, batch 5
    run, before = tmp_path / "run", signal.getsignal(signal.SIGINT)
    with pytest.raises(GenmnistError) as e:
        train("vae", small, run)
    msg = str(e.value)
    assert "non-finite at epoch 2 batch 5" in msg and "recon = nan" in msg
    assert "kept the last good checkpoint" in msg and "(epoch 1)" in msg
    ckpt = load_checkpoint(run)
    assert ckpt["epoch"] == 1 and "partial" not in ckpt
    assert all(torch.isfinite(t).all() for t in ckpt["state_dict"].values())
    assert [r["epoch"] for r in metrics(run)] == [1]
    assert signal.getsignal(signal.SIGINT) is before


def test_nan_weights_are_never_saved(tmp_path, small, monkeypatch):
    """A weight that turns NaN while the loss still reads finite is caught before saving."""
    steps = {"n": 0}

    def poison(self, player):  # after the last step of epoch 1, so no loss has seen it yet
        steps["n"] += 1
        if steps["n"] == 32:
            with torch.no_grad():
                self.dec[2].bias[0] = float("inf")

    monkeypatch.setattr(VAE, "after_step", poison)
    with pytest.raises(GenmnistError, match="weight 'dec.2.bias' became NaN or infinite in "
                                            "epoch 1; no checkpoint was written"):
        train("vae", small, tmp_path / "run", reporter=None)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
