"""Hyper-parameter search (RecBole's HyperTuning) through the plugin's real pipeline, on tiny synthetic data."""

import csv
import glob
import json
import os
import subprocess
import sys

import pytest
from conftest import tiny_config

from recbole_outfit.experiments import hyper
from recbole_outfit.errors import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_hyper(folder, text, name="space.hyper"):
    path = folder / name
    path.write_text(text)
    return str(path)


@pytest.mark.slow
def test_search_picks_the_better_validation_value_and_reruns_train_nothing(workspace, run_dir, monkeypatch):
    """Exhaustive search over two alphas of FND: the teacher stage is trained once for both trials, the
    better validation score wins, an interrupted search resumes, and a rerun reuses every trial."""
    params = write_hyper(run_dir, "# two values\nfnd_alpha choice [1.0, 4.0]\n")
    fixed = tiny_config(workspace, run_dir, teacher_config={"backbone": "XS", "epochs": 1})
    real_run = hyper.run_recbole_outfit
    calls = []

    def interrupted(*args, **kwargs):  # the second trial is cut off before it trains
        calls.append(kwargs["config_dict"]["fnd_alpha"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run(*args, **kwargs)

    monkeypatch.setattr(hyper, "run_recbole_outfit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        hyper.hyper_search("FND", "synthetic630", params, config_dict=fixed, out_dir=str(run_dir / "results"))
    assert len(glob.glob(str(run_dir / "saved" / "compare" / "synthetic630" / "FND-*.json"))) == 1

    calls.clear()
    monkeypatch.setattr(hyper, "run_recbole_outfit", lambda *a, **k: calls.append(k) or real_run(*a, **k))
    result = hyper.hyper_search("FND", "synthetic630", params, config_dict=fixed, out_dir=str(run_dir / "results"))
    assert len(calls) == 1  # the interrupted search's finished trial was reused, the other one trained
    assert sorted(t["reused"] for t in result["trials"]) == [False, True]
    assert len(glob.glob(str(run_dir / "saved" / "stages" / "synthetic630" / "Teacher-*.pth"))) == 1

    # the choice is the trial whose kept run has the better validation user_auc
    kept = {}
    for path in glob.glob(str(run_dir / "saved" / "compare" / "synthetic630" / "FND-*.json")):
        with open(path) as f:
            run = json.load(f)
        kept[run["config"]["fnd_alpha"]] = run
    assert sorted(kept) == [1.0, 4.0]
    best_alpha = max(kept, key=lambda a: kept[a]["best_valid_result"]["user_auc"])
    assert result["best_params"] == {"fnd_alpha": best_alpha}
    assert result["best_valid_score"] == kept[best_alpha]["best_valid_result"]["user_auc"]
    assert result["test_result"] == kept[best_alpha]["test_result"]

    markdown = (run_dir / "results" / "hyper-FND-synthetic630.md").read_text()
    best_row = next(line for line in markdown.splitlines() if line.startswith("| **"))
    assert best_row.startswith(f"| **{best_alpha}**")
    with open(run_dir / "results" / "hyper-FND-synthetic630.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["fnd_alpha"]) == best_alpha and rows[0]["best"] == "1"
    assert float(rows[0]["valid_user_auc"]) >= float(rows[1]["valid_user_auc"])

    # a rerun trains nothing: every trial (and the teacher) is reused, the same choice comes out
    monkeypatch.setattr(hyper, "run_recbole_outfit", lambda *a, **k: pytest.fail("a finished trial was trained again"))
    again = hyper.hyper_search("FND", "synthetic630", params, config_dict=fixed, out_dir=str(run_dir / "results"))
    assert all(t["reused"] for t in again["trials"]) and again["best_params"] == result["best_params"]


def test_the_choice_follows_validation_never_test(workspace, run_dir, monkeypatch):
    """Trials whose validation and test rankings disagree: the validation ranking decides."""
    scores = {0.001: (0.60, 0.95), 0.002: (0.80, 0.55), 0.004: (0.70, 0.75)}  # lr -> (valid, test) user_auc

    def fake_run(model, dataset, config_file_list=None, config_dict=None, command_line=None):
        valid, test = scores[config_dict["learning_rate"]]
        return {"model": model, "dataset": dataset, "config": dict(config_dict), "best_valid_score": valid,
                "best_valid_result": {"user_auc": valid}, "test_result": {"user_auc": test},
                "timing": {"epochs": 1, "seconds_per_epoch": 0.5}}

    monkeypatch.setattr(hyper, "run_recbole_outfit", fake_run)
    params = write_hyper(run_dir, "learning_rate choice [0.001, 0.002, 0.004]\n")
    result = hyper.hyper_search("NPair", "synthetic630", params, config_dict=tiny_config(workspace, run_dir),
                                out_dir=str(run_dir / "results"))
    assert result["best_params"] == {"learning_rate": 0.002}
    assert result["test_result"] == {"user_auc": 0.55}
    assert [t["params"]["learning_rate"] for t in result["trials"]] == [0.002, 0.004, 0.001]
    markdown = (run_dir / "results" / "hyper-NPair-synthetic630.md").read_text()
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert "valid user_auc" in table[0] and table[1].startswith("| **0.002**") and "**0.8000**" in table[1]
    assert "python run_hyper_outfit.py --model=NPair" in markdown


@pytest.mark.parametrize("text, phrases", [
    ("fnd_alpha choice\n", ["line 1", "expected '<key> <type> <values>'"]),
    ("# ok\nfnd_alpha normal 0, 1\n", ["line 2", "unknown search type 'normal'"]),
    ("fnd_alpha choice [1.0,\n", ["non-empty list of literals"]),
    ("fnd_alpha uniform 2, 1\n", ["low < high"]),
    ("fnd_alpha choice [1]\nfnd_alpha choice [2]\n", ["line 2", "searched twice"]),
    ("# nothing\n", ["names no key to search"]),
])
def test_params_file_mistakes_name_their_line(text, phrases, run_dir):
    with pytest.raises(ConfigError) as error:
        hyper.read_params_file(write_hyper(run_dir, text))
    for phrase in phrases:
        assert phrase in str(error.value)


@pytest.mark.parametrize("text, algo, argv, phrases", [
    ("fnd_alpah choice [1.0, 2.0]\n", "exhaustive", [], ["unknown configuration key 'fnd_alpah'", "'fnd_alpha'"]),
    ("fnd_alpha uniform 1, 4\n", "exhaustive", [], ["exhaustive search", "--algo=random"]),
    ("fnd_alpha choice ['high']\n", "exhaustive", [], ["fnd_alpha must be", "'high'"]),
    ("fnd_alpha choice [1.0, 2.0]\n", "exhaustive", ["--fnd_alpha=3"], ["also set by --fnd_alpha"]),
])
def test_searches_that_cannot_run_are_refused_before_training(text, algo, argv, phrases, workspace, run_dir,
                                                              monkeypatch):
    from recbole_outfit.validation import parse_overrides

    monkeypatch.setattr(hyper, "run_recbole_outfit", lambda *a, **k: pytest.fail("trained despite a bad search"))
    with pytest.raises(ConfigError) as error:
        hyper.hyper_search("FND", "synthetic630", write_hyper(run_dir, text), algo=algo,
                           config_dict=tiny_config(workspace, run_dir), command_line=parse_overrides(argv))
    for phrase in phrases:
        assert phrase in str(error.value)


def test_shipped_search_spaces_name_their_models_keys():
    models = {"alpha": "FND", "alpha-normalized": "FND"}  # the README's alpha tables
    files = sorted(glob.glob(os.path.join(hyper.hyper_dir(), "*.hyper")))
    assert {os.path.basename(f) for f in files} >= {"FND.hyper", "FNDCL.hyper", "Teacher.hyper", "OutfitBPR.hyper",
                                                   "LPAE.hyper", "FHN.hyper", "alpha.hyper"}
    for path in files:
        name = os.path.basename(path)[:-6]
        space = hyper.read_params_file(path)
        hyper.check_space(models.get(name, name), "synthetic630", space, "exhaustive", None, None, path)
    assert hyper.resolve_params_file(None, "FNDCL").endswith(os.path.join("hyper", "FNDCL.hyper"))
    assert hyper.resolve_params_file("alpha", "FND").endswith(os.path.join("hyper", "alpha.hyper"))


@pytest.mark.slow
def test_command_line_error_is_one_paragraph(run_dir):
    done = subprocess.run([sys.executable, os.path.join(REPO, "run_hyper_outfit.py"), "--model=FND",
                           "--params_file=nosuch.hyper"], cwd=run_dir, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "params file 'nosuch.hyper' does not exist" in done.stderr and "FND.hyper" in done.stderr
