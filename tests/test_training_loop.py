"""The trainer's parts on their own, without a run: the per-batch step, the epoch runner, the
loss meter, the training state's round trip, and extra evaluators at an epoch's end."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from genmnist.checkpoint import load_checkpoint
from genmnist.models import build_model, make_config
from genmnist.training import Reporter, TrainConfig, TrainingState, fit
from genmnist.training.loop import Epoch, Loop, Objective, batch_starts, run_epoch, train_step
from genmnist.training.meter import LossMeter

CPU = torch.device("cpu")


def regression(n=64, batch=16):
    """A linear model fitting y = 2x: a trainee in its simplest form."""
    torch.manual_seed(0)
    net = nn.Linear(1, 1)
    x = torch.linspace(-1, 1, n).unsqueeze(1)
    trainee = Objective(net, lambda x, y: {"loss": ((net(x) - 2 * x) ** 2).mean()})
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    return net, Loop(trainee, trainee, {"model": opt}, x, None, batch_starts(n, batch), batch)


class Stop:
    requested = False


def test_batch_starts_drop_or_keep_the_ragged_tail():
    assert batch_starts(10, 4) == [0, 4]
    assert batch_starts(10, 4, drop_last=False) == [0, 4, 8]
    assert batch_starts(3, 4) == [0]


def test_one_step_moves_the_weights_and_meters_the_loss():
    net, loop = regression()
    before = net.weight.detach().clone()
    meter = LossMeter(loop.dist)
    train_step(loop, *loop.batch(torch.arange(16)), ("model",), meter)
    assert not torch.equal(before, net.weight)
    assert meter.counts == {"loss": 1} and set(meter.means()[0]) == {"loss"}


def test_an_epoch_runs_every_batch_and_lowers_the_loss():
    net, loop = regression()
    first = LossMeter(loop.dist)
    step, stopped = run_epoch(loop, Epoch(1, torch.randperm(64)), 0, first, Reporter())
    assert (step, stopped) == (4, None) and first.counts["loss"] == 4
    later = LossMeter(loop.dist)
    for e in range(2, 6):
        later = LossMeter(loop.dist)
        step, _ = run_epoch(loop, Epoch(e, torch.randperm(64)), step, later, Reporter())
    assert later.means()[0]["loss"] < first.means()[0]["loss"]


def test_a_stop_request_ends_the_epoch_after_the_batch_and_checks_the_loss():
    _, loop = regression()
    loop.check_every_batch = True
    stop, checked = Stop(), []

    def check(means, epoch, batch):
        checked.append(batch)
        stop.requested = batch == 2  # as a Ctrl-C during batch 2 would

    epoch = Epoch(1, torch.randperm(64))
    step, stopped = run_epoch(loop, epoch, 10, LossMeter(loop.dist), Reporter(), stop, check)
    assert (step, stopped) == (12, 2) and checked == [1, 2, 2] and epoch.seen == 32


def test_a_prefixed_weighted_meter_averages_over_images_and_round_trips():
    _, loop = regression()
    meter = LossMeter(loop.dist, prefix="prior", weighted=True)
    meter.add("model", {"loss": torch.tensor(1.0)}, 30)
    meter.add("model", {"loss": torch.tensor(4.0)}, 10)
    assert meter.means()[0] == {"prior/loss": pytest.approx(1.75)}
    copy = LossMeter(loop.dist, prefix="prior", weighted=True)
    copy.load_state_dict(meter.state_dict())
    assert copy.means() == meter.means()


def test_training_state_round_trips_through_its_state_dict():
    tcfg = TrainConfig(model="vae", seed=1)
    a = TrainingState.build(tcfg, make_config("vae", {"hidden": 16}), CPU)
    x = torch.rand(8, 1, 28, 28)
    a.optimizers["model"].zero_grad()
    a.model.loss(x)["loss"].backward()
    a.optimizers["model"].step()
    a.progress.epoch, a.progress.step = 1, 1
    torch.randperm(5, generator=a.shuffle)
    saved = a.state_dict()
    b = TrainingState.build(TrainConfig(model="vae", seed=2), make_config("vae", {"hidden": 16}),
                            CPU)
    b.load_state_dict(saved)
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert torch.equal(b.shuffle.get_state(), a.shuffle.get_state())
    assert (b.progress.epoch, b.progress.step) == (1, 1)
    assert b.optimizers["model"].state_dict()["state"].keys() == \
        a.optimizers["model"].state_dict()["state"].keys()


def test_evaluators_add_to_the_record_and_never_change_the_run(tmp_path, data_dir):
    from genmnist.data import load_mnist

    train, test = load_mnist("train", data_dir).head(128), load_mnist("test", data_dir).head(32)
    tcfg = TrainConfig(model="vae", epochs=2, batch_size=32, eval_size=32)
    seen = []

    def noisy(model, epoch):  # draws from the global RNG, in eval mode
        seen.append((epoch, model.training))
        return {"noise": float(torch.randn(1000).mean()), "epoch_again": epoch}

    class Keep(Reporter):
        records: list = []

        def end_epoch(self, record):
            self.records.append(record)

    plain = fit(tcfg, {"hidden": 16}, train, test, tmp_path / "plain", CPU)
    scored = fit(tcfg, {"hidden": 16}, train, test, tmp_path / "scored", CPU, Keep(),
                 evaluators=[noisy])
    assert seen == [(1, False), (2, False)]
    lines = [json.loads(s) for s in (tmp_path / "scored" / "metrics.jsonl").read_text()
             .splitlines()]
    assert [r["epoch_again"] for r in lines] == [1, 2] == [r["epoch_again"] for r in Keep.records]
    a, b = load_checkpoint(plain.checkpoint), load_checkpoint(scored.checkpoint)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_a_loaded_models_sampler_can_be_refit_on_its_own(tmp_path, data_dir):
    from genmnist.data import load_mnist
    from genmnist.training import fit_after_training

    train = load_mnist("train", data_dir).head(256)
    model = build_model("ae", make_config("ae", {"hidden": 16})).eval()
    note = fit_after_training(model, train.float_images(), train.labels, 64, components=3,
                              seed=0)
    assert note and model.latent_sampler is not None
