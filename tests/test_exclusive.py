"""One process at a time builds a shared artifact (a stage, a comparison's run); the others wait and reuse it."""

import json
import multiprocessing
import os
import time

import pytest

from recbole_outfit.exclusive import fcntl, one_builder
from recbole_outfit.pipeline import finished_runs
from recbole_outfit.pipeline.stages import Stage
from recbole_outfit.verified import sign

pytestmark = pytest.mark.skipif(fcntl is None, reason="no fcntl (Windows): every process builds for itself")
FORK = multiprocessing.get_context("fork")


def hold_the_lock(path, held, seconds):
    with one_builder(path):
        held.set()
        time.sleep(seconds)
        with open(path, "w", encoding="utf-8") as f:
            f.write("built by the first process")


def started_holder(path, seconds):
    """A process that holds the lock of ``path`` for ``seconds``, then builds it; returned once it holds it."""
    held = FORK.Event()
    holder = FORK.Process(target=hold_the_lock, args=(path, held, seconds))
    holder.start()
    assert held.wait(30)
    return holder


def test_a_second_process_waits_for_the_holder_and_is_told_who_it_is(tmp_path):
    path = str(tmp_path / "artifact.pth")
    holder = started_holder(path, 1.0)
    waited_for = []
    with one_builder(path, on_wait=waited_for.append):
        assert os.path.isfile(path)  # the holder finished before this block began
    holder.join(30)
    assert waited_for == [holder.pid]
    with one_builder(path, on_wait=waited_for.append):  # free now: no wait
        pass
    assert waited_for == [holder.pid]
    assert not os.path.exists(path + ".lock")  # each holder removes the lock file when done


def test_a_lock_of_a_killed_process_is_not_stale(tmp_path):
    path = str(tmp_path / "artifact.pth")
    holder = started_holder(path, 60.0)
    holder.kill()
    holder.join(30)
    assert os.path.isfile(path + ".lock")  # left behind by the killed holder
    started = time.time()
    with one_builder(path):
        assert time.time() - started < 10  # the system released the dead holder's lock
    assert not os.path.exists(path + ".lock") and not os.path.isfile(path)


class CountingStage(Stage):
    """A stage whose build is counted: ``config`` holds the artifact's ``path`` and the ``counter`` file."""

    need, config_key = "counting", "counting_file"

    def wanted(self, config):
        return True

    def build(self, config, train):
        return self.reuse_or_build(config["path"], lambda: build_counted(config["path"], config["counter"]))

    def load(self, config, path, train_dataset):
        return path


def build_counted(path, counter):
    time.sleep(0.5)  # long enough for the other process to arrive meanwhile
    with open(counter, "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("artifact")
    sign(path)


def want_the_stage(path, counter, start):
    start.wait(30)
    CountingStage().build({"path": path, "counter": counter}, train=None)


def test_three_runs_wanting_one_stage_build_it_once(tmp_path):
    path, counter = str(tmp_path / "Teacher-abc.pth"), str(tmp_path / "builds.txt")
    start = FORK.Event()
    runs = [FORK.Process(target=want_the_stage, args=(path, counter, start)) for _ in range(3)]
    for run in runs:
        run.start()
    start.set()
    for run in runs:
        run.join(60)
        assert run.exitcode == 0
    with open(counter, encoding="utf-8") as f:
        assert len(f.read().split()) == 1
    assert CountingStage().cached(path) and not os.path.exists(path + ".lock")


def want_the_run(counter, start, results):
    start.wait(30)

    def train():
        time.sleep(0.5)
        with open(counter, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        return {"test_result": {"user_auc": 0.75}}

    result, reused, _ = finished_runs.finished_or_new_run(None, train, "[test] NPair, seed 2020")
    results.put((result, reused))


def test_two_comparisons_sharing_a_run_train_it_once(tmp_path, monkeypatch):
    kept = str(tmp_path / "compare" / "toy" / "NPair-seed2020-abc.json")
    monkeypatch.setattr(finished_runs, "finished_run_path", lambda config: kept)  # no dataset needed for the lock
    os.makedirs(os.path.dirname(kept))
    counter, start, results = str(tmp_path / "trainings.txt"), FORK.Event(), FORK.Queue()
    runs = [FORK.Process(target=want_the_run, args=(counter, start, results)) for _ in range(2)]
    for run in runs:
        run.start()
    start.set()
    answers = [results.get(timeout=60) for _ in runs]
    for run in runs:
        run.join(60)
    with open(counter, encoding="utf-8") as f:
        assert len(f.read().split()) == 1
    assert sorted(reused for _, reused in answers) == [False, True]
    assert all(result == {"test_result": {"user_auc": 0.75}} for result, _ in answers)
    with open(kept, encoding="utf-8") as f:
        assert json.load(f) == answers[0][0]
