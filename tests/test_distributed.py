"""Data-parallel training: `torchrun` with two CPU processes (Gloo) trains one run that a
single-process `generate` reads; in-process, a two-rank group trains a two-player toy model,
is stopped by a Ctrl-C on one rank and resumes bit for bit; mixed-precision options.

Each launch starts fresh Python processes (~10 s of imports on a small CPU), so there are few."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from genmnist.checkpoint import load_checkpoint
from genmnist.distributed import DistInfo
from genmnist.errors import GenmnistError
from genmnist.interrupt import TrainingInterrupted
from genmnist.models import MODELS
from genmnist.precision import resolve_precision
from genmnist.resume import plan_resume
from genmnist.training import TrainConfig, fit
from helpers import assert_clean_error, cli
from test_resume import Duo, InterruptAt

SRC = Path(__file__).resolve().parents[1] / "src"
CPU = torch.device("cpu")


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("OMP_NUM_THREADS", None)  # torchrun sets it to 1 per worker itself
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", "-m", "genmnist", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240)


def test_torchrun_two_cpu_processes_write_one_run_that_generate_reads(tmp_path):
    r = torchrun("train", "vae", "--subset", "512", "--epochs", "1", "--device", "cpu",
                 "--out", str(tmp_path), "--name", "ddp", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    run = tmp_path / "ddp"
    assert [p.name for p in run.rglob("*.pt")] == ["checkpoint.pt"]
    assert not list(run.rglob(".*.tmp"))
    [record] = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    # 4 global batches of 128: each rank trained on its 64 images of each
    assert record["world_size"] == 2 and record["rank_images"] == [256, 256]
    assert "genmnist: error" not in r.stderr and "Traceback" not in r.stderr
    assert r.stdout.count("2 processes (cpu, gloo), 1 threads") == 1  # rank 0 speaks alone
    assert r.stdout.count("batch 128 (64 per process)") == 1
    assert r.stdout.count("epoch   1 ") == 1 and r.stdout.count("done in") == 1
    ckpt = load_checkpoint(run)
    assert ckpt["train_config"]["batch_size"] == 128 and len(ckpt["rng"]["ranks"]) == 2
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])

    g = cli("generate", "-c", run, "--n", "8", "--out", tmp_path / "samples", "--device", "cpu")
    assert g.exit_code == 0, g.stderr
    assert len(list((tmp_path / "samples").glob("*.png"))) == 8


ADVERSARIAL = [name for name, cls in MODELS.items() if len(cls.players) > 1][:1]


@pytest.mark.skipif(not ADVERSARIAL, reason="no multi-player model in the registry yet")
@pytest.mark.parametrize("name", ADVERSARIAL)
def test_an_adversarial_model_trains_under_torchrun(tmp_path, name):
    # the config's narrow nets, not the recipe's 64 channels: this is about two players under
    # torchrun, and the wide nets took most of the 240 s limit on a loaded machine
    r = torchrun("train", name, "--subset", "256", "--epochs", "1", "--batch-size", "64",
                 "--set", "channels=16", "--set", "gen_channels=16", "--device", "cpu",
                 "--out", str(tmp_path), "--name", "adv", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    [record] = [json.loads(s) for s in (tmp_path / "adv" / "metrics.jsonl").read_text()
                .splitlines()]
    assert record["rank_images"] == [128, 128]
    assert cli("generate", "-c", tmp_path / "adv", "--n", "4", "--out",
               tmp_path / "s").exit_code == 0


# --- two ranks in this machine's processes, without torchrun ---------------------------------

def _two_ranks(rank: int, world: int, store: str, root: str, train, test) -> None:
    """Rank `rank` of a 2-process Gloo group: a reference run of the two-player Duo, the same
    run stopped by a Ctrl-C that only rank 0 receives, and its resumption. (The splits come
    from the parent: importing torchvision for MNIST would double this test's time.)"""
    torch.set_num_threads(1)
    MODELS["duo"] = Duo  # this process's own registry
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    info, root_ = DistInfo(rank, world, rank, world), Path(root)
    tcfg = TrainConfig(model="duo", epochs=1, batch_size=16, seed=3, eval_size=64)

    def run(name, reporter=None, resume=None):
        cfg, ckpt = tcfg, None
        if resume is not None:
            cfg, _, ckpt, _ = plan_resume(root_ / name)
        return fit(cfg, {}, train, test, root_ / name, CPU, reporter, resume=ckpt, info=info)

    run("ref")
    stopper = InterruptAt(1, 20) if rank == 0 else None  # rank 1 is never pressed
    try:
        run("stopped", stopper)
    except TrainingInterrupted as e:
        (root_ / f"where{rank}").write_text(e.where)
    run("stopped", resume=True)
    dist.destroy_process_group()


def test_two_ranks_of_a_two_player_model_stop_together_and_resume_bit_for_bit(tmp_path,
                                                                             data_dir):
    from genmnist.data import load_mnist

    splits = load_mnist("train", data_dir).head(1024), load_mnist("test", data_dir).head(64)
    mp.start_processes(_two_ranks, args=(2, str(tmp_path / "store"), str(tmp_path), *splits),
                       nprocs=2, start_method="spawn")
    # Rank 0's Ctrl-C after batch 20 (of 64 per epoch) reaches rank 1 at the next point where
    # the ranks agree (every 20 batches): both stop after batch 40, and neither hangs.
    assert {(tmp_path / f"where{r}").read_text() for r in (0, 1)} == {"at epoch 1 batch 40 of 64"}
    ref, ours = load_checkpoint(tmp_path / "ref"), load_checkpoint(tmp_path / "stopped")
    assert ours["step"] == ref["step"] == 64
    for k, v in ref["state_dict"].items():
        assert torch.equal(ours["state_dict"][k], v), k
    for player, opt in ref["optimizers"].items():
        for i, state in opt["state"].items():
            for k, v in state.items():
                assert torch.equal(v, ours["optimizers"][player]["state"][i][k]), (player, k)
    noise = [s["torch"] for s in ref["rng"]["ranks"]]
    assert len(noise) == 2 and not torch.equal(noise[0], noise[1])  # each rank its own noise
    lines = [json.loads(s) for s in (tmp_path / "stopped" / "metrics.jsonl").read_text()
             .splitlines()]
    assert [(r["epoch"], r["world_size"], r["rank_images"]) for r in lines] == \
        [(1, 2, [192, 192])]  # epoch 1 resumed after 40 of its 64 batches of 8 per rank


# --- mixed precision ---------------------------------------------------------------------------

def test_precision_defaults_and_refusals_on_cpu():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision(None, CPU) == "fp32"
    assert resolve_precision("BF16", CPU) == "bf16"
    with pytest.raises(GenmnistError, match="fp16 needs a CUDA GPU"):
        resolve_precision("fp16", CPU)
    with pytest.raises(GenmnistError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", CPU)
    r = cli("train", "vae", "--precision", "fp16", "--device", "cpu", "--subset", "64")
    assert_clean_error(r, "--precision fp16 needs a CUDA GPU")
    r = cli("train", "vae", "--precision", "half", "--subset", "64")
    assert_clean_error(r, "unknown --precision 'half'; use one of: auto, bf16, fp16, fp32")


def test_bf16_autocast_trains_on_cpu_and_is_recorded(tmp_path, data_dir):
    from genmnist.data import load_mnist

    train, test = load_mnist("train", data_dir).head(128), load_mnist("test", data_dir).head(32)
    tcfg = TrainConfig(model="vae", epochs=1, batch_size=32, eval_size=32,
                       precision="bf16")
    result = fit(tcfg, {"hidden": 32}, train, test, tmp_path / "run", CPU)
    terms = result.history[-1]["train"]
    assert set(terms) == {"loss", "recon", "kl"}
    assert all(torch.isfinite(torch.tensor(v)) for v in terms.values())
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt["train_config"]["precision"] == "bf16"
    assert all(t.dtype == torch.float32 for t in ckpt["state_dict"].values()
               if t.is_floating_point())  # autocast leaves the weights in float32
