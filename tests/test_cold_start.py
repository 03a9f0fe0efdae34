"""Cold-start scoring (Eq. 20-24), the cold-start evaluator, hard negatives, and checkpoint evaluation."""

import json

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.evaluator.cold_start import ColdStartEvaluator, ColdUsers, cold_start_scores
from recbole_outfit.quick_start import run_recbole_outfit

# three warm users; the cold user has two known outfits
KNOWN = torch.tensor([[0.9, 0.5],     # s = 0.7
                      [-0.2, 0.4],    # s = 0.1
                      [-0.6, -0.2]])  # s = -0.4
CANDIDATES = torch.tensor([[1.0, 0.0, -1.0],
                           [0.0, 1.0, 0.5],
                           [0.2, 0.2, 0.2]])


def test_average_of_neighbours_by_hand():
    # neighbours: s > 0 -> users 0 and 1
    expected = torch.tensor([(1.0 + 0.0) / 2, (0.0 + 1.0) / 2, (-1.0 + 0.5) / 2])
    assert torch.allclose(cold_start_scores(KNOWN, CANDIDATES, "avg"), expected)


def test_weighted_average_by_hand():
    w0 = torch.exp(torch.tensor(0.7 / 0.2))
    w1 = torch.exp(torch.tensor(0.1 / 0.2))
    w0, w1 = w0 / (w0 + w1), w1 / (w0 + w1)
    expected = w0 * CANDIDATES[0] + w1 * CANDIDATES[1]
    assert torch.allclose(cold_start_scores(KNOWN, CANDIDATES, "wavg", tau=0.2), expected, atol=1e-6)


def test_no_user_above_delta_keeps_the_most_similar():
    known = -KNOWN.abs() - 0.1  # every s_ci < 0; the most similar is user 1 (s = -0.4)
    assert torch.allclose(cold_start_scores(known, CANDIDATES, "avg"), CANDIDATES[1])
    assert torch.allclose(cold_start_scores(known, CANDIDATES, "wavg"), CANDIDATES[1])
    assert torch.allclose(cold_start_scores(KNOWN, CANDIDATES, "avg", delta=0.8), CANDIDATES[0])


def test_mean_is_the_non_personalized_reference():
    assert torch.allclose(cold_start_scores(KNOWN, CANDIDATES, "mean"), CANDIDATES.mean(0))


@pytest.mark.slow
def test_cold_start_after_training_with_hard_negatives(workspace, run_dir):
    config = tiny_config(workspace, run_dir, backbone="XS", test_hard=True, train_neg_hard_ratio=0.5,
                         cold_dataset="synthetic53", cold_repeats=3)
    result = run_recbole_outfit("Teacher", "synthetic630", config_dict=config)
    assert set(result["test_hard_result"]) == {"user_auc", "user_ndcg"}
    cold = result["cold_start"]
    assert cold["dataset"] == "synthetic53"
    # the cold users are synthetic53's own (tuples_53), not the warm dataset's
    with open(workspace / "raw" / "tuples_53" / "tuples_test_posi") as f:
        cold_users = {line.split(",")[0] for line in f.readlines()[1:]}
    assert cold["users"] == len(cold_users)
    with open(workspace / "atomic" / "synthetic53" / "synthetic53.manifest.json") as f:
        assert json.load(f)["signature"]["folder"] == "tuples_53"
    assert set(cold["user_auc"]) == {"avg", "wavg", "mean"}
    for by_shots in cold["user_auc"].values():
        assert set(by_shots) == {1, 5}
        for value in by_shots.values():
            assert 0.0 <= value["mean"] <= 1.0 and value["std"] >= 0.0
    assert cold["user_auc"]["mean"][1]["std"] == pytest.approx(0.0, abs=1e-9)  # the reference ignores the draw
    saved = json.load(open(result["results_json"]))
    assert saved["cold_start"]["user_auc"]["wavg"]["5"]["mean"] == pytest.approx(cold["user_auc"]["wavg"][5]["mean"])

    # the same checkpoint evaluated alone reproduces test results and, under the same seed, the draws
    again = run_recbole_outfit("Teacher", "synthetic630", config_dict={**config, "checkpoint": result["checkpoint"]})
    assert again["test_result"] == pytest.approx(result["test_result"], abs=1e-3)
    assert again["test_hard_result"] == pytest.approx(result["test_hard_result"], abs=1e-3)
    for strategy in ("avg", "wavg"):
        assert again["cold_start"]["user_auc"][strategy][1]["mean"] == pytest.approx(
            cold["user_auc"][strategy][1]["mean"], abs=1e-3)


def test_draws_are_reproducible_under_a_seed(workspace, run_dir):
    from recbole_outfit.config import Config
    from recbole_outfit.utils import create_dataset

    config = Config("Teacher", "synthetic53", config_dict=tiny_config(workspace, run_dir, backbone="XS"))
    cold = ColdUsers(create_dataset(config))

    def draws(seed):
        return [(k, {u: rows.tolist() for u, rows in d.items()}) for k, d in ColdStartEvaluator(repeats=3, seed=seed).draws(cold)]

    first = draws(7)
    assert first == draws(7) and first != draws(8)
    assert [k for k, _ in first] == [1, 5] * 3
    for k, draw in first:
        for user, rows in draw.items():
            assert len(rows) == k and len(set(rows)) == k
            assert (cold.known_users[rows] == user).all()  # the user's own positives


def test_the_cold_dataset_takes_its_data_from_its_own_yaml_unless_the_run_overrode_it():
    """A cold-start dataset in another raw root (synthetic53b60 beside synthetic630b60) reads its own yaml's
    root and generator options; a --raw_path the run was given (a Polyvore-U root holding every folder) reaches it."""
    from recbole_outfit.config import Config
    from recbole_outfit.pipeline.keys import stage_config

    def cold(warm, dataset, **overrides):
        config = Config("NPair", warm, config_dict=overrides, command_line=False)
        return stage_config("NPair", config, {}, dataset=dataset)

    b60 = cold("synthetic630b60", "synthetic53b60")
    assert (b60["raw_path"], b60["raw_folder"]) == ("dataset_raw/synthetic_b60_all", "tuples_53")
    assert b60["synthetic_folders"] is None and b60["synthetic_style_breadth"] == 0.6  # all four folders, one world
    assert cold("synthetic630", "synthetic53")["raw_path"] == "dataset_raw/synthetic"
    assert cold("polyvore630", "polyvore53", raw_path="/data/polyvore-u")["raw_path"] == "/data/polyvore-u"


def test_a_dataset_yaml_reads_as_the_run_reads_it(tmp_path, monkeypatch):
    """Scientific notation (``1e0``) is a float to RecBole's Config; the dataset's own settings agree, so an
    unchanged value is not taken for a run override."""
    from recbole_outfit import settings

    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "sci.yaml").write_text("synthetic_scale: 1e0\nraw_path: dataset_raw/sci\n")
    monkeypatch.setattr(settings, "properties_dir", lambda: str(tmp_path))
    assert settings.dataset_settings("sci") == {"synthetic_scale": 1.0, "raw_path": "dataset_raw/sci"}
    assert settings.dataset_settings("absent") == {}


def test_a_cold_dataset_that_cannot_be_read_stops_the_run_before_training(run_dir, monkeypatch):
    from recbole_outfit.config import Config
    from recbole_outfit.errors import ConfigError
    from recbole_outfit.pipeline import run

    monkeypatch.setattr(run, "create_dataset", lambda config: pytest.fail("the run went on to load and train"))
    config = Config("NPair", "synthetic630", command_line=False,
                    config_dict={"cold_dataset": "polyvore53", "checkpoint_dir": str(run_dir / "saved"),
                                 "show_progress": False, "state": "WARNING"})
    with pytest.raises(ConfigError, match="polyvore53"):
        run.train_and_test(config)
