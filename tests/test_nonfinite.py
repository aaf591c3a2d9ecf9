"""Non-finite numbers (issue 12, class 6): training stops when the test-set terms go NaN or
infinite, even while the training terms look finite, and keeps only a good checkpoint; `fid`
never prints NaN inside --json, and refuses statistics that hold NaN."""

from __future__ import annotations

import importlib
import json

import numpy as np

import genmnist.cli.fid as cli_fid
from genmnist.checkpoint import load_checkpoint
from helpers import assert_clean_error, cli

# the module: the package's `fit` attribute is the function of that name
train = importlib.import_module("genmnist.training.fit")


def test_a_single_huge_step_makes_test_terms_nan_and_training_stops(in_tmp):
    # One batch per epoch: its training loss is measured before the step, so it is finite;
    # the step itself sends the weights out of range and the test set comes back NaN.
    r = cli("train", "vae", "--lr", "1e10", "--subset", "64", "--batch-size", "64",
            "--epochs", "1", "--device", "cpu", "--name", "nan")
    assert_clean_error(r, "training stopped: the test-set loss became non-finite after epoch 1",
                       "no checkpoint was written", "try a lower --lr",
                       "removed the run folder runs/nan, which held no checkpoint")
    assert not (in_tmp / "runs").exists()


def test_a_later_nan_epoch_keeps_the_last_good_checkpoint(in_tmp, monkeypatch):
    real, calls = train.evaluate, []

    def nan_on_second_epoch(*args, **kwargs):
        calls.append(1)
        terms = real(*args, **kwargs)
        return {k: float("nan") for k in terms} if len(calls) == 2 else terms

    monkeypatch.setattr(train, "evaluate", nan_on_second_epoch)
    r = cli("train", "vae", "--subset", "64", "--batch-size", "32", "--epochs", "3",
            "--device", "cpu", "--name", "run")
    assert_clean_error(r, "the test-set loss became non-finite after epoch 2 (loss = nan",
                       "kept the last good checkpoint runs/run/checkpoint.pt (epoch 1)")
    run = in_tmp / "runs" / "run"
    assert load_checkpoint(run)["epoch"] == 1
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1]


def test_statistics_holding_nan_are_refused(tmp_path):
    path = tmp_path / "nan.npz"
    mu, sigma = np.zeros(128), np.eye(128)
    sigma[3, 3] = np.nan
    np.savez(path, mu=mu, sigma=sigma)
    assert_clean_error(cli("fid", path, "--json"), "holds NaN or infinite values")


def test_json_never_holds_nan(tmp_path, monkeypatch):
    real = cli_fid.score

    def nan_score(*args, **kwargs):
        return {**real(*args, **kwargs), "fid": float("nan"), "kid": float("inf")}

    monkeypatch.setattr(cli_fid, "score", nan_score)
    path = tmp_path / "s.npz"
    np.savez(path, mu=np.zeros(128), sigma=np.eye(128))
    r = cli("fid", path, "--json", "--metrics", "fid,kid")
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert result["fid"] is None and result["kid"] is None
    assert "fid is not a finite number (nan); reported as null" in r.stderr
    r = cli("fid", path, "--metrics", "fid")  # the table says n/a
    assert r.exit_code == 0 and "n/a" in r.stdout, r.stdout
