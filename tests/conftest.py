"""Test setup: a command's main() called without argv reads plain arguments, not pytest's flags."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def plain_argv(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["pytest"])


TINY_SYNTHETIC = {"synthetic_scale": 0.1, "synthetic_image_px": 32, "synthetic_seed": 3}


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    """A folder holding a tiny synthetic Polyvore-U root and its converted datasets, shared by all tests."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture
def run_dir(workspace, tmp_path, monkeypatch):
    """Run in a fresh folder (RecBole writes ./log there) with the shared tiny data."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny_config(workspace, run_dir, **overrides):
    """config_dict for a run on the tiny synthetic data: few steps, small images, no progress bars."""
    config = {
        "raw_path": str(workspace / "raw"),
        "data_path": str(workspace / "atomic"),
        "checkpoint_dir": str(run_dir / "saved"),
        **TINY_SYNTHETIC,
        "epochs": 1,
        "show_progress": False,
        "state": "WARNING",
        "eval_batch_size": 512,
        "garment_batch_size": 64,
    }
    config.update(overrides)
    return config


def private_dataset(workspace, run_dir, folder, dataset, model="NPair"):
    """``folder``/<dataset>: a private copy of the shared tiny dataset, converted once (its manifest matches
    the shared raw root, so nothing is converted again) and without any processed-dataset cache; returns
    ``folder``, for ``data_path``. A test that counts or deletes caches works on this copy, never the shared one."""
    from recbole_outfit.config import Config
    from recbole_outfit.utils import create_dataset

    create_dataset(Config(model=model, dataset=dataset, config_dict=tiny_config(workspace, run_dir, dataset_cache=False),
                          command_line=False))
    shutil.copytree(workspace / "atomic" / dataset, folder / dataset, ignore=shutil.ignore_patterns("*.processed-*"))
    return folder
