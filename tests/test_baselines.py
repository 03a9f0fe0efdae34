"""Baselines (OutfitBPR, LPAE-u/g, FHN) through the real Trainer; their scoring rules; the comparison command."""

import csv
import importlib.util
import os

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.experiments.compare import compare
from recbole_outfit.config import Config
from recbole_outfit.model.fhn import PairwiseCodes
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.utils import create_dataset, get_model


@pytest.mark.slow
@pytest.mark.parametrize("model, overrides", [
    ("OutfitBPR", {}), ("LPAE", {"lpae_variant": "u"}), ("LPAE", {"lpae_variant": "g"}), ("FHN", {}),
])
def test_baseline_trains_one_epoch(model, overrides, workspace, run_dir):
    result = run_recbole_outfit(model, "synthetic630", config_dict=tiny_config(workspace, run_dir, **overrides))
    assert result["config"]["backbone"] == "XS" and result["config"]["negative_pool"] == "own"
    assert result["test_result"]["user_auc"] > 0.52, result["test_result"]  # one epoch beats chance


@pytest.mark.slow  # builds LPAE's large encoders: over 5 s
def test_lpae_scores_are_the_best_anchor(workspace, run_dir):
    config = Config("LPAE", "synthetic630", config_dict=tiny_config(workspace, run_dir, lpae_variant="g"))
    model = get_model("LPAE")(config, create_dataset(config))
    users = torch.tensor([1, 2])
    outfits = torch.randn(5, 128)
    anchors = torch.cat([model.user_embedding(users).view(2, 4, 128), model.general_anchors.expand(2, -1, -1)], 1)
    expected = torch.nn.functional.cosine_similarity(anchors.unsqueeze(2), outfits[None, None], dim=-1).max(1).values
    assert torch.allclose(model.scores(users, outfits), expected, atol=1e-5)
    rows = model.scores(users, outfits[:2].unsqueeze(1)).squeeze(1)
    assert torch.allclose(rows, expected[[0, 1], [0, 1]], atol=1e-5)


def test_fhn_pairwise_codes():
    codes = torch.randn(2, 4, 6)
    mask = torch.tensor([[True, True, True, False], [True, True, True, True]])
    out = PairwiseCodes()(codes, mask)
    for m in range(2):
        c = codes[m][mask[m]]
        pairs = [c[i] @ c[j] for i in range(len(c)) for j in range(i + 1, len(c))]
        assert torch.allclose(out[m, :6], c.mean(0), atol=1e-6)
        assert torch.allclose(out[m, 6], torch.stack(pairs).mean() / 6, atol=1e-5)


@pytest.mark.slow
def test_model_specs_and_extra_tables(workspace, run_dir):
    config = tiny_config(workspace, run_dir, backbone="XS", test_hard=True, cold_dataset="synthetic53", cold_repeats=2)
    compare(["LPAE", "LPAE:lpae_variant=g"], "synthetic630", config_dict=config, out_dir=str(run_dir / "results"))
    markdown = open(run_dir / "results" / "synthetic630.md").read()
    assert "LPAE:lpae_variant=g" in markdown and "AUC (hard)" in markdown
    assert "## Cold start on synthetic53" in markdown and "LPAE (w)" in markdown and "non-personalized" in markdown
    assert "LPAE (anchor search)" in markdown and "LPAE:lpae_variant=g (anchor search)" in markdown


@pytest.mark.slow
def test_comparison_command_writes_both_tables(workspace, run_dir):
    config = tiny_config(workspace, run_dir, teacher_config={"epochs": 1}, autoencoder_config={"epochs": 1})
    summary = compare(["Teacher", "NPair", "FND"], "synthetic630", seeds=2, config_dict=config,
                      out_dir=str(run_dir / "results"))
    assert set(summary) == {"Teacher", "NPair", "FND"} and summary["FND"]["runs"] == 2
    markdown = open(run_dir / "results" / "synthetic630.md").read()
    assert "| Teacher" in markdown and "**" in markdown and "## Dataset" in markdown
    if importlib.util.find_spec("matplotlib"):  # the picture needs the plot extra; the tables do not
        assert "](synthetic630.png)" in markdown and (run_dir / "results" / "synthetic630.png").is_file()
    # settings name each row's own values where rows differ, and distillation keys only for distilling rows
    assert "- `backbone`: Teacher `large`, NPair `XS`, FND `XS`" in markdown
    assert "- `cl_weight`: `0.0` (not used by Teacher, NPair)" in markdown
    rows = list(csv.DictReader(open(run_dir / "results" / "synthetic630.csv")))
    assert [r["model"] for r in rows] == ["Teacher", "NPair", "FND"]
    assert [float(r["user_auc_mean"]) for r in rows] == [round(summary[m]["user_auc"][0], 4) for m in summary]
    # the two seeds trained two teachers; FND of each seed distilled from its own
    stages = os.listdir(run_dir / "saved" / "stages" / "synthetic630")
    assert len([s for s in stages if s.endswith(".pth")]) == 2


@pytest.mark.slow
def test_comparison_resumes_from_finished_runs(workspace, run_dir, monkeypatch):
    import recbole_outfit.quick_start as quick_start

    config = tiny_config(workspace, run_dir, cold_dataset="synthetic53", cold_repeats=1)
    first = compare(["NPair"], "synthetic630", seeds=1, config_dict=config, out_dir=str(run_dir / "results"))
    kept = os.listdir(run_dir / "saved" / "compare" / "synthetic630")
    assert len(kept) == 1 and kept[0].startswith("NPair-seed")
    # a table may mix new and reused runs: the second seed runs anew beside the reused first
    mixed = compare(["NPair"], "synthetic630", seeds=2, config_dict=config, out_dir=str(run_dir / "results"))
    assert mixed["NPair"]["runs"] == 2 and set(mixed["NPair"]["cold"]["wavg"]) == {"1", "5"}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(quick_start, "run_recbole_outfit", no_training)
    again = compare(["NPair"], "synthetic630", seeds=2, config_dict=config, out_dir=str(run_dir / "results"))
    assert again["NPair"]["user_auc"] == mixed["NPair"]["user_auc"] and again["NPair"]["cold"] == mixed["NPair"]["cold"]
    # one seed again (into its own folder: the two-seed table is never replaced by a smaller one)
    assert compare(["NPair"], "synthetic630", seeds=1, config_dict=config,
                   out_dir=str(run_dir / "one-seed"))["NPair"]["user_auc"] == first["NPair"]["user_auc"]
    # a setting that changes what the model learns, or the evaluation, is a different run
    for change in ({"learning_rate": 0.5}, {"test_hard": True}):
        with pytest.raises(AssertionError, match="trained again"):
            compare(["NPair"], "synthetic630", seeds=1, config_dict={**config, **change},
                    out_dir=str(run_dir / "one-seed"))


@pytest.mark.slow
def test_a_single_run_is_kept_for_the_comparison(workspace, run_dir, monkeypatch):
    """``--model=NPair`` alone keeps its result where a comparison looks, so the comparison trains nothing."""
    import json
    import sys

    import recbole_outfit.quick_start as quick_start
    from recbole_outfit.cli import main

    config = tiny_config(workspace, run_dir)
    monkeypatch.setattr(sys, "argv", ["run_recbole_outfit.py", "--model=NPair", "--dataset=synthetic630",
                                      *[f"--{key}={value}" for key, value in config.items()]])
    assert main() == 0
    kept = os.listdir(run_dir / "saved" / "compare" / "synthetic630")
    assert len(kept) == 1 and kept[0].startswith("NPair-seed2020-")
    single = json.load(open(run_dir / "saved" / "compare" / "synthetic630" / kept[0]))

    def no_training(*args, **kwargs):
        raise AssertionError("the single run was trained again")

    monkeypatch.setattr(quick_start, "run_recbole_outfit", no_training)
    monkeypatch.setattr(sys, "argv", ["pytest"])
    summary = compare(["NPair"], "synthetic630", seeds=1, config_dict=config, out_dir=str(run_dir / "results"))
    assert summary["NPair"]["user_auc"][0] == pytest.approx(single["test_result"]["user_auc"] * 100)


@pytest.mark.slow
def test_the_seed_on_the_command_line_is_the_comparisons_first(workspace, run_dir, monkeypatch, capsys):
    """``--seed=7 --seeds=2`` runs seeds 7 and 8 (a --seed left among the command line's overrides, which outrank
    config_dict, would give both seed 7)."""
    import sys

    import recbole_outfit.quick_start as quick_start
    from recbole_outfit.cli import main

    seeds = []

    def recorded_run(model, dataset, config_file_list=None, config_dict=None, command_line=None, **kwargs):
        seeds.append(Config(model, dataset, config_file_list=config_file_list, config_dict=config_dict,
                            command_line=command_line)["seed"])
        return {"test_result": {"user_auc": 0.5 + len(seeds) / 100, "user_ndcg": 0.3}, "timing": {}}

    monkeypatch.setattr(quick_start, "run_recbole_outfit", recorded_run)
    settings = [f"--{key}={value}" for key, value in tiny_config(workspace, run_dir).items()]
    argv = ["run_recbole_outfit.py", "--model=NPair", "--dataset=synthetic630", "--seeds=2", "--seed=7",
            f"--results_dir={run_dir / 'results'}", *settings]
    monkeypatch.setattr(sys, "argv", list(argv))
    assert main() == 0
    assert seeds == [7, 8] and sys.argv == argv  # untouched
    assert "`seeds`: `[7, 8]`" in open(run_dir / "results" / "synthetic630.md").read()

    monkeypatch.setattr(sys, "argv", [*argv[:4], "--seed=seven", *argv[5:]])
    assert main() == 2 and "seed must be int, got 'seven'" in capsys.readouterr().err
