"""Finished runs, kept by fingerprint so that a comparison, a search or a later single run reuses them.

Each finished (model, seed) run is kept as ``<checkpoint_dir>/compare/<dataset>/<model>-seed<k>-<fingerprint>.json``
(the fingerprint covers every setting that changes what the model learns, the dataset's conversion, and the
evaluation settings: ``test_hard`` and the cold-start keys). A single run (``--model=NPair`` alone) keeps its
result there; a comparison or a hyper-parameter search reuses such a run instead of training it again, so an
interrupted one resumes where it stopped. Processes running side by side train a shared run once: the second
waits for the first (``recbole_outfit.exclusive``), as for stages.
"""

import hashlib
import json
import os
from logging import getLogger

from recbole_outfit.data.prepare import ensure_atomic_dataset
from recbole_outfit.exclusive import build_once
from recbole_outfit.pipeline.keys import RESULT_ONLY_KEYS, fingerprint
from recbole_outfit.report import write_json_atomic


def finished_run_path(config):
    """Where the result of the run ``config`` describes is kept once finished (see the module docstring)."""
    ensure_atomic_dataset(config)  # the fingerprint reads the converted dataset's manifest
    evaluation = json.dumps({k: str(config[k]) for k in RESULT_ONLY_KEYS if k in config}, sort_keys=True)
    key = hashlib.sha1(f"{fingerprint(config)}|{evaluation}".encode("utf-8")).hexdigest()[:12]
    return os.path.join(config["checkpoint_dir"], "compare", config["dataset"],
                        f"{config['model']}-seed{config['seed']}-{key}.json")


def keep_finished_run(config, result):
    """Keep ``result``, the results dict of the run ``config`` describes, where a comparison (or a search) looks
    for it; returns the path. A single run (``--model=X``) keeps its result here too, so that a later comparison
    with the same settings reuses it."""
    path = finished_run_path(config)
    write_json_atomic(path, result)
    return path


def finished_or_new_run(config, train, label):
    """``(result, reused, path)`` for the run ``config`` describes: a finished run's kept result, else the result
    of ``train()`` (a call that runs it), kept first. ``label`` names the run in the log. New and reused results
    come back in one form, read from the kept JSON file (its keys are strings)."""
    path = finished_run_path(config)

    def train_and_keep():
        getLogger().info(f"{label}: training")
        write_json_atomic(path, train())

    # one process at a time trains it: another that wants the same run waits, then reuses it
    reused = not build_once(path, os.path.isfile, train_and_keep, on_wait=lambda pid: getLogger().info(
        f"{label}: waiting for process {pid or '(unknown)'}, which is training this run; it will be reused"))
    if reused:
        getLogger().info(f"{label}: reusing the finished run {path}")
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f), reused, path
