"""Checkpoints are data, not code: crafted pickles are refused before they can run anything, and
every wrong file (empty, truncated, foreign, other version, other model) is one clear line, for
every command that reads a checkpoint and for `train --resume`."""

from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch

from genmnist.checkpoint import FORMAT, FORMAT_VERSION, load_checkpoint
from helpers import assert_clean_error, cli, tiny_vae_run

READERS = {  # every command that reads a checkpoint, with an output of its own
    "generate": lambda ckpt, out: ["generate", "-c", ckpt, "--n", "3", "--out", out / "s"],
    "reconstruct": lambda ckpt, out: ["reconstruct", "-c", ckpt, "--out", out / "r.png"],
    "interpolate": lambda ckpt, out: ["interpolate", "-c", ckpt, "--out", out / "i.png"],
    "train --resume": lambda ckpt, out: ["train", "--resume", ckpt, "--epochs", "2"],
}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs")) / "checkpoint.pt"


class RunsCode:
    """Unpickling this calls os.system: what a malicious "checkpoint" would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted(folder, marker, how):
    """A checkpoint.pt whose unpickling would create `marker`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkpoint.pt"
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "model": "vae",
               "state_dict": {"w": torch.zeros(2)}, "trap": RunsCode(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:  # a bare pickle, the pre-zip torch format
        path.write_bytes(pickle.dumps(payload))
    return path


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
@pytest.mark.parametrize("command", sorted(READERS))
def test_crafted_pickle_is_refused_and_never_runs(tmp_path, command, how):
    marker = tmp_path / "code-ran"
    path = crafted(tmp_path / "run", marker, how)
    # the payload really is armed: a plain unpickling would run it
    assert pickle.loads(pickle.dumps(RunsCode(marker))) == 0 and marker.exists()
    marker.unlink()
    r = cli(*READERS[command](path, tmp_path))
    names_the_code = ["system"] if how == "torch.save" else []  # os.system, by its module name
    assert_clean_error(r, "was refused", "genmnist never", *names_the_code)
    assert not marker.exists()
    assert not (tmp_path / "s").exists() and not (tmp_path / "r.png").exists()


def rewrite(src, dst, **changes):
    ckpt = torch.load(src, weights_only=True)
    ckpt.update(changes)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)
    return dst


def wrong_files(good, d):
    """(file, fragment of the expected error) for every kind of wrong checkpoint."""
    d.mkdir(exist_ok=True)
    (d / "empty").mkdir()
    (d / "empty" / "checkpoint.pt").write_bytes(b"")
    (d / "junk").mkdir()
    (d / "junk" / "checkpoint.pt").write_bytes(b"\x89PNG\r\n\x1a\n not a checkpoint")
    (d / "half").mkdir()
    (d / "half" / "checkpoint.pt").write_bytes(good.read_bytes()[:5000])
    (d / "nockpt").mkdir()
    (d / "dirckpt" / "checkpoint.pt").mkdir(parents=True)
    cvae = {k: torch.zeros(3) for k in ("conv.weight", "conv.bias")}
    return {
        "missing": (d / "nothing-here", "checkpoint not found"),
        "folder without checkpoint": (d / "nockpt", "checkpoint not found"),
        "checkpoint is a folder": (d / "dirckpt" / "checkpoint.pt", "checkpoint not found"),
        "empty": (d / "empty", "is empty"),
        "junk": (d / "junk", "was refused: it is not a genmnist checkpoint"),
        "truncated": (d / "half", "is not a readable genmnist checkpoint"),
        "foreign torch file": (rewrite(good, d / "foreign" / "checkpoint.pt", format="other"),
                               "is not a genmnist checkpoint"),
        "newer format": (rewrite(good, d / "newer" / "checkpoint.pt",
                                 format_version=FORMAT_VERSION + 1),
                         f"has checkpoint format {FORMAT_VERSION + 1}, this genmnist"),
        "older format": (rewrite(good, d / "older" / "checkpoint.pt", format_version=0),
                         "has checkpoint format 0"),
        "unknown model": (rewrite(good, d / "unknown" / "checkpoint.pt", model="gan9000"),
                          "unknown model 'gan9000'"),
        "other model's weights": (rewrite(good, d / "other" / "checkpoint.pt", state_dict=cvae),
                                  "does not fit model 'vae'"),
    }


CASES = ["missing", "folder without checkpoint", "checkpoint is a folder", "empty", "junk",
         "truncated", "foreign torch file", "newer format", "older format", "unknown model",
         "other model's weights"]


@pytest.mark.parametrize("command", sorted(READERS))
def test_every_wrong_checkpoint_is_one_clear_line(good, tmp_path, command):
    files = wrong_files(good, tmp_path / "ckpts")
    assert sorted(files) == sorted(CASES)
    for case in CASES:
        path, fragment = files[case]
        before = path.read_bytes() if path.is_file() else None
        r = cli(*READERS[command](path, tmp_path))
        if case == "other model's weights" and command != "train --resume":
            fragment = "does not match model 'vae'"
        assert_clean_error(r, fragment)
        assert (path.read_bytes() if path.is_file() else None) == before, case
    assert not any(tmp_path.glob("s")) and not (tmp_path / "r.png").exists()


def test_unreadable_checkpoint(good, tmp_path, monkeypatch):
    path = tmp_path / "run" / "checkpoint.pt"
    path.parent.mkdir()
    shutil.copy(good, path)
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        def denied(*a, **k):
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr(torch, "load", denied)
    else:
        path.chmod(0)
    for command in sorted(READERS):
        assert_clean_error(cli(*READERS[command](path, tmp_path)), "permission denied")


def test_resume_checks_model_options_and_training_state(good, tmp_path):
    run = good.parent
    assert_clean_error(cli("train", "cvae", "--resume", run),
                       f"{run} is a run of model 'vae', not 'cvae'")
    for flag, value in (("--lr", "0.1"), ("--seed", "1"), ("--batch-size", "8"),
                        ("--latent-dim", "3"), ("--name", "x"), ("--out", tmp_path)):
        assert_clean_error(cli("train", "--resume", run, flag, value),
                           f"{flag} cannot be given with --resume")
    assert_clean_error(cli("train", "--resume", run, "--epochs", "1"),
                       "has already trained 1 epochs; pass --epochs N with N > 1")
    copy = tmp_path / "copied.pt"
    shutil.copy(good, copy)
    assert_clean_error(cli("train", "--resume", copy), "not copied.pt")
    weights_only = rewrite(good, tmp_path / "w" / "checkpoint.pt")
    ckpt = torch.load(weights_only, weights_only=True)
    del ckpt["optimizers"]
    torch.save(ckpt, weights_only)
    assert_clean_error(cli("train", "--resume", weights_only), "no training state")
    assert_clean_error(cli("train"), "give the MODEL to train")
    assert load_checkpoint(good)["epoch"] == 1  # none of that touched the run
