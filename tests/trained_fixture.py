"""A tiny trained model for the tests of ``recommend``, ``plots`` and ``serve``: NPair trained for one epoch on
the tiny synthetic data, once per test session (the checkpoint is kept in the session's workspace and reused
by every test module that asks for it)."""

import os

import pytest

from conftest import tiny_config


def trained_checkpoint(workspace):
    """Path of the tiny NPair checkpoint (trained on first use in this session's workspace)."""
    from recbole_outfit.quick_start import run_recbole_outfit

    folder = workspace / "trained-npair"
    marker = folder / "checkpoint.txt"
    if marker.exists():
        return marker.read_text().strip()
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # RecBole writes ./log
        result = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, folder, plot=True))
    assert os.path.isfile(result["checkpoint"])
    marker.write_text(result["checkpoint"])
    return result["checkpoint"]


@pytest.fixture(scope="session")
def checkpoint(workspace):
    return trained_checkpoint(workspace)


@pytest.fixture(scope="session")
def rec(checkpoint):
    """A Recommender over the tiny checkpoint, loaded once per session."""
    from recbole_outfit.recommend import load_recommender

    return load_recommender(checkpoint)
