"""Real signals to real `genmnist` processes (issue 12, class 3): Ctrl-C and SIGTERM leave a
consistent state and say so; a second Ctrl-C stops at once; SIGKILL leaves no orphan writer;
no partial image ever has its final name; an interrupted folder is refused by `fid` and a rerun
says how to redo it; Ctrl-C while Python is still importing is one line too."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from genmnist.images import INCOMPLETE_NAME
from helpers import assert_clean_error, cli, start, tiny_vae_run, wait_for

N = 200000  # far more than the test waits for: the job is always stopped mid-way


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_vae_run(tmp_path_factory.mktemp("runs"))


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.glob("[0-9]*.png")) if folder.is_dir() else []


def start_generate(run: Path, out: Path, workers: int):
    proc = start("generate", "-c", run, "--n", N, "--batch-size", 100, "--workers", workers,
                 "--out", out, "--device", "cpu", cwd=out.parent)
    wait_for(lambda: len(pngs(out)) >= 300, proc)
    return proc


def assert_consistent(out: Path) -> int:
    """Every PNG under its final name is complete; no temporary is left; the folder is marked."""
    files = pngs(out)
    for p in files:
        with Image.open(p) as im:
            im.load()
            assert im.size == (28, 28), p
    assert not list(out.glob(".*.tmp"))
    assert (out / INCOMPLETE_NAME).is_file()
    return len(files)


@pytest.mark.parametrize("sig, workers", [(signal.SIGINT, 0), (signal.SIGTERM, 2)])
def test_generate_stopped_by_a_signal_says_what_it_left(run, tmp_path, sig, workers):
    out = tmp_path / "s"
    proc = start_generate(run, out, workers)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    m = re.fullmatch(r"genmnist: interrupted after (\d+) of 200000 images; (.+) holds (\d+) of "
                     r"the 200000 images an interrupted or failed `genmnist generate` meant to "
                     r"write, and is marked unfinished so `genmnist fid` refuses it; redo it "
                     r"with: genmnist generate -c (.+) --n 200000 --seed 0 --sampler \S+ "
                     r"--out (.+) --force",
                     line)
    assert m, line
    assert int(m.group(1)) == int(m.group(3)) == assert_consistent(out)

    assert_clean_error(cli("fid", out), "interrupted or failed", "so it is not scored",
                       "redo it with --force")
    assert_clean_error(cli("generate", "-c", run, "--n", "10", "--out", out),
                       "holds", "of the 200000 images", "pass --force to redo it")
    r = cli("generate", "-c", run, "--n", "10", "--out", out, "--force")  # the redo
    assert r.exit_code == 0, r.stderr
    assert len(pngs(out)) == 10 and not (out / INCOMPLETE_NAME).exists()
    assert cli("fid", out, "--metrics", "fid").exit_code == 0


def test_a_second_ctrl_c_stops_at_once(run, tmp_path):
    out = tmp_path / "s"
    proc = start_generate(run, out, workers=2)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("genmnist: ")
    assert_consistent(out)


def children(pid: int) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(d.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigkill_leaves_no_orphan_writers_and_a_marked_folder(run, tmp_path):
    out = tmp_path / "s"
    proc = start_generate(run, out, workers=2)
    writers = children(proc.pid)
    assert len(writers) == 2
    proc.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not any(alive(p) for p in writers), timeout=10)
    assert (out / INCOMPLETE_NAME).is_file()
    for p in pngs(out):  # the kill may have hit a writer mid-file: only its hidden temporary
        assert p.stat().st_size > 0
    assert_clean_error(cli("fid", out), "interrupted or failed")


def test_ctrl_c_while_importing_is_one_line(tmp_path):
    proc = start("--version", cwd=tmp_path)
    time.sleep(0.3)  # python is up; torch's import takes seconds
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert err == "genmnist: error: interrupted\n"


def test_sigterm_stops_training_like_ctrl_c(tmp_path):
    proc = start("train", "vae", "--subset", "2048", "--batch-size", "32", "--epochs", "50",
                 "--threads", "1", "--device", "cpu", "--name", "run", cwd=tmp_path)
    run_dir = tmp_path / "runs" / "run"
    wait_for(lambda: (run_dir / "metrics.jsonl").exists(), proc)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert re.search(r"genmnist: interrupted .*checkpoint saved; resume with: genmnist train vae "
                     r"--resume runs/run", err), err
    assert (run_dir / "checkpoint.pt").is_file()


def test_sigterm_before_the_loop_is_one_line_and_leaves_no_run_folder(tmp_path):
    proc = start("train", "vae", "--epochs", "1", "--device", "cpu", "--name", "run",
                 cwd=tmp_path)
    run_dir = tmp_path / "runs" / "run"
    wait_for(lambda: run_dir.exists(), proc)  # reserved; MNIST is loading
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    if (run_dir / "checkpoint.pt").exists():  # the signal reached the loop: it saved
        assert "checkpoint saved; resume with" in err
    else:
        assert err == "genmnist: error: interrupted\n"
        assert not (tmp_path / "runs").exists()


def test_a_signal_swallowed_before_the_loop_still_stops_it():
    """A KeyboardInterrupt raised inside a finaliser is only printed by Python; the next guard
    raises it again, so a SIGTERM during start-up never lets the run go on."""
    import gc
    import os
    import signal

    from genmnist.interrupt import InterruptGuard, terminate_as_interrupt

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # arrives here, in a finaliser
            for _ in range(1000):  # the handler runs at the next bytecode boundaries
                pass

    with terminate_as_interrupt():
        Finalised()  # noqa: B018 -- freed at once: its __del__ swallows the interrupt
        gc.collect()
        with pytest.raises(KeyboardInterrupt), InterruptGuard():
            pass
    with InterruptGuard():  # handled: nothing pending any more
        pass
