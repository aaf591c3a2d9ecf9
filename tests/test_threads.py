"""The thread policy (src/genmnist/threads.py) on a fake machine: a fake clock that advances by
each batch's images over the rate of the thread count in use -- so nothing depends on timing."""

from __future__ import annotations

import pytest

from genmnist.runtime import thread_policy
from genmnist.threads import ThreadPolicy, fixed


class FakeMachine:
    """Images/s per thread count, changeable mid-run; `batch()` runs one batch of 128."""

    def __init__(self, rates: dict[int, float]):
        self.rates, self.now, self.threads, self.sets = dict(rates), 0.0, None, []

    def clock(self) -> float:
        return self.now

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.sets.append(n)

    def policy(self, candidates=(1, 2), **kwargs) -> ThreadPolicy:
        return ThreadPolicy(candidates, set_threads=self.set_threads, clock=self.clock, **kwargs)

    def run(self, policy: ThreadPolicy, seconds: float) -> list[dict]:
        """Batches for `seconds` of fake time; the decisions taken meanwhile."""
        events, end = [], self.now + seconds
        while self.now < end:
            self.now += 128 / self.rates[self.threads]
            event = policy.step(128)
            if event is not None:
                events.append(event)
        return events


@pytest.mark.parametrize("rates, best", [({1: 1000, 2: 1500}, 2), ({1: 1500, 2: 1000}, 1),
                                         ({1: 900, 2: 1000, 4: 3000}, 4)])
def test_it_chooses_the_faster_count(rates, best):
    m = FakeMachine(rates)
    p = m.policy(tuple(rates))
    events = m.run(p, 2.0)
    assert p.threads == m.threads == best
    assert events[0]["threads"] == best and events[0]["was"] is None
    assert events[0]["reason"] == "start"
    assert events[0]["images_per_sec"] == {str(n): pytest.approx(r, rel=1e-6)
                                           for n, r in rates.items()}


def test_it_switches_when_the_rates_cross_and_back():
    m = FakeMachine({1: 1000, 2: 1500})  # a quiet machine: two threads pay
    p = m.policy()
    m.run(p, 5.0)
    assert m.threads == 2
    m.rates = {1: 600, 2: 150}  # two busy processes arrive: spinning threads collapse
    events = m.run(p, 3.0)
    assert m.threads == 1
    assert [e["threads"] for e in events] == [1]
    assert events[0]["was"] == 2 and events[0]["reason"].startswith("rate fell from 1500")
    m.rates = {1: 1000, 2: 1500}  # they leave: the one thread runs faster, a probe follows
    events = m.run(p, 3.0)
    assert m.threads == 2 and [e["threads"] for e in events] == [2]
    assert events[0]["reason"].startswith("rate rose")


def test_a_slow_drift_is_caught_by_the_periodic_recheck():
    m = FakeMachine({1: 1000, 2: 1500})
    p = m.policy(recheck_s=10.0)
    m.run(p, 2.0)
    m.rates = {1: 1200, 2: 1100}  # within the drift band for two threads, yet one is faster now
    events = m.run(p, 12.0)
    assert m.threads == 1 and events[0]["reason"] == "recheck"


def test_rechecks_that_keep_the_choice_become_rarer():
    m = FakeMachine({1: 1000, 2: 1500})
    p = m.policy(recheck_s=10.0, max_recheck_s=40.0)
    m.run(p, 1.0)
    probes = p.probes
    m.run(p, 100.0)  # rechecks at about 10, 30, 70 s (the interval doubles, up to 40 s)
    assert p.probes - probes == 3 and p.events[-1]["at_s"] < 1.0  # no change was recorded
    assert m.sets[-1] == 2  # and it ends on the faster count


def test_during_a_probe_the_choice_is_the_last_decision_not_the_count_timed():
    m = FakeMachine({1: 1000, 2: 1500})
    p = m.policy(recheck_s=5.0)
    m.run(p, 1.0)
    assert p.chosen == p.threads == 2
    m.run(p, 4.1)  # the recheck at 5 s times the other count first
    while not p.probing:
        m.run(p, 0.1)
    assert p.threads == 1 and p.chosen == 2


def test_a_close_call_keeps_the_current_count():
    m = FakeMachine({1: 1000, 2: 1500})
    p = m.policy(recheck_s=5.0)
    m.run(p, 1.0)
    m.rates = {1: 1510, 2: 1500}  # 1 faster by less than 3%
    assert m.run(p, 20.0) == [] and m.threads == 2


def test_the_pause_between_epochs_does_not_count():
    m = FakeMachine({1: 1000, 2: 1500})
    p = m.policy()
    m.run(p, 5.0)
    m.now += 30.0  # evaluation and a checkpoint
    p.resume()
    assert m.run(p, 0.5) == [] and p.threads == 2 and p.probing is False


def test_a_user_setting_is_never_overridden():
    m = FakeMachine({1: 1000, 3: 10})
    p = fixed(3, set_threads=m.set_threads, clock=m.clock)
    assert m.run(p, 30.0) == [] and m.sets == [3] and not p.adaptive and p.probes == 0


@pytest.mark.parametrize("env, flag, expected", [
    ({}, None, [1, 2]),                        # nothing set: measured between 1 and 2
    ({}, 2, [2]),                              # --threads
    ({"GENMNIST_THREADS": "2"}, None, [2]),
    ({"OMP_NUM_THREADS": "1"}, None, [1]),
    ({"OMP_NUM_THREADS": "2"}, 1, [1]),        # the flag wins over the environment
    ({"OMP_WAIT_POLICY": "PASSIVE"}, None, [1, 2]),  # a wait policy is not a thread count
])
def test_thread_policy_respects_what_the_user_set(monkeypatch, env, flag, expected):
    for var in ("GENMNIST_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    sets = []
    p = thread_policy(flag, 2, set_threads=sets.append)
    assert p.candidates == expected and sets[0] in expected


def test_one_core_or_a_one_thread_model_has_nothing_to_choose(monkeypatch):
    for var in ("GENMNIST_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert thread_policy(None, 2, set_threads=lambda n: None).candidates == [1]
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert thread_policy(None, 1, set_threads=lambda n: None).candidates == [1]


def test_without_measuring_the_default_is_fixed(monkeypatch):
    for var in ("GENMNIST_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    p = thread_policy(None, 2, measure=False, set_threads=lambda n: None)
    assert p.candidates == [2] and not p.adaptive


def test_a_real_run_records_its_choice_in_metrics(tmp_path):
    """One real epoch of vae on 20000 images (156 batches, about a second on a 2-core CPU, where
    the two probes need half a second): metrics.jsonl says which count was measured best, and
    the progress output said so. A slower machine only lengthens the epoch."""
    import json

    import torch

    from helpers import cli

    before = torch.get_num_threads()
    try:
        r = cli("train", "vae", "--epochs", "1", "--subset", "20000", "--out", tmp_path,
                "--name", "run", "--device", "cpu")
    finally:
        torch.set_num_threads(before)
    assert r.exit_code == 0, r.output
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    threads = record["threads"]
    assert threads["measured"] is True and threads["threads"] in (1, 2)
    first = threads["changes"][0]
    assert first["reason"] == "start" and first["was"] is None
    assert set(first["images_per_sec"]) == {"1", "2"}
    assert threads["threads"] == threads["changes"][-1]["threads"]
    assert f"threads: {first['threads']} at " in r.output
    assert "1 or 2 threads, measured" in r.output


def test_a_set_count_is_recorded_as_not_measured(tmp_path):
    import json
    import os

    from helpers import tiny_vae_run  # --threads is not given: GENMNIST_THREADS is

    old = os.environ.get("GENMNIST_THREADS")
    os.environ["GENMNIST_THREADS"] = "1"
    try:
        run = tiny_vae_run(tmp_path)
    finally:
        os.environ.pop("GENMNIST_THREADS") if old is None else os.environ.update(
            GENMNIST_THREADS=old)
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert record["threads"] == {"threads": 1, "measured": False, "probes": 0, "changes": []}
    assert json.loads((run / "config.json").read_text())["run"]["threads"] == 1  # RunSettings


def test_the_wait_policy_is_read_when_libgomp_loads():
    """Why the policy changes thread counts, not the wait policy: OMP_WAIT_POLICY=ACTIVE set
    after `import torch` leaves an idle OpenMP worker asleep (no CPU burnt while the main thread
    sleeps); set before, it spins. Measured in CPU seconds of the process, not wall time."""
    import os
    import subprocess
    import sys

    code = """
import os, resource, sys, time
if sys.argv[1] == "before": os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
import torch
if sys.argv[1] == "after": os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
torch.set_num_threads(2)
x = torch.randn(4_000_000)
for _ in range(20): x.add_(1.0)
r0 = resource.getrusage(resource.RUSAGE_SELF); time.sleep(0.5)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    burnt = {w: float(subprocess.run([sys.executable, "-c", code, w], env=env, check=True,
                                     capture_output=True, text=True).stdout)
             for w in ("before", "after")}
    assert burnt["after"] < 0.1
    if burnt["before"] < 0.1:  # a machine with one core, or a torch without libgomp
        pytest.skip(f"no spinning worker to see here: {burnt}")
