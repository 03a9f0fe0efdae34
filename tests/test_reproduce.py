"""The reproduce command: specs, their expansion and checks, the finished-run cache, verdicts and pages."""

import json
import os

import pytest
import yaml

from conftest import tiny_config
from recbole_outfit import reproduce
from recbole_outfit.errors import ConfigError
from recbole_outfit.experiments import paper_spec
from recbole_outfit.experiments.paper_claims import verdict
from recbole_outfit.experiments.paper_spec import load_spec, runs, spec_names

PAPER = {"table2", "table3", "table4", "table5", "fig4", "fig5", "fig6", "fig7", "fig8"}


def write_spec(folder, name, spec):
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False) if isinstance(spec, dict) else spec)
    return path


@pytest.fixture
def specs(tmp_path, monkeypatch):
    """A specs folder of the test's own (properties/reproduce/ is left alone)."""
    folder = tmp_path / "specs"
    folder.mkdir()
    monkeypatch.setattr(paper_spec, "specs_dir", lambda: str(folder))
    return folder


def test_every_paper_experiment_has_a_spec_that_loads():
    assert PAPER <= set(spec_names())
    for name in spec_names():
        spec = load_spec(name)
        assert spec.get("claims"), f"{name} states none of the paper's claims"


def test_a_sweep_expands_to_series_times_points_plus_references():
    fig6 = load_spec("fig6")
    found = {run.label: run for run in runs(fig6)}
    assert len(found) == 3 * 3 + 1
    assert found["FND @ M"].model == "FND" and found["FND @ M"].settings == {"backbone": "M"}
    assert found["NPair @ XS"].series == "NPair" and found["NPair @ XS"].point == "XS"
    assert found["Teacher"].point is None
    fig7 = {run.label: run for run in runs(load_spec("fig7"))}
    assert fig7["FNDCL @ 128"].settings == {"train_batch_size": 128, "learning_rate": 0.02}  # linear scaling


@pytest.mark.parametrize("text, line, phrase", [
    ("title: t\nkind: comparison\ndatasets: [synthetic630]\nrows:\n  - NPair\n  - {model: FND\n", 6, "malformed"),
    ("title: t\nkind: comparison\ndatasets: [synthetic630]\nrows: [NPair]\nepochs: 3\n", 5, "unknown spec key"),
    ("title: t\nkind: table\ndatasets: [synthetic630]\n", 2, "kind must be"),
    ("title: t\nkind: comparison\ndatasets: [synthetic630]\nrows:\n  - NPair\n  - {model: FND, setings: {}}\n", 6,
     "unknown run key"),
    ("title: t\nkind: comparison\ndatasets: [synthetic630]\nrows: [NPair]\nclaims:\n  - {text: x, order: [FND, NPair]}\n",
     6, "not a row"),
    ("title: t\nkind: sweep\ndatasets: [synthetic630]\nseries: [FND]\npoints: [{label: a}]\nseeds: 0\n", 6, "seeds"),
])
def test_a_malformed_spec_is_refused_with_its_file_and_line(specs, capsys, text, line, phrase):
    path = write_spec(specs, "bad", text)
    with pytest.raises(ConfigError) as error:
        load_spec("bad")
    assert f"{path}, line {line}" in str(error.value) and phrase in str(error.value)
    assert reproduce.main(["bad"]) == 2  # the command: one paragraph, exit 2
    assert f"line {line}" in capsys.readouterr().err


def test_an_unknown_model_or_key_is_refused_before_anything_trains(specs, workspace, run_dir, monkeypatch):
    from recbole_outfit.experiments import compare

    monkeypatch.setattr(compare, "run_model", lambda *a, **k: pytest.fail("a run started"))
    settings = tiny_config(workspace, run_dir)
    write_spec(specs, "model", {"title": "t", "kind": "comparison", "datasets": ["synthetic630"], "settings": settings,
                                "rows": ["Pop", "Nope"]})
    with pytest.raises(ConfigError, match=r"model\.yaml, line 1\d*.*Nope"):
        reproduce.main.__wrapped__(["model"])
    write_spec(specs, "key", {"title": "t", "kind": "comparison", "datasets": ["synthetic630"], "settings": settings,
                              "rows": ["Pop", {"model": "BPR", "settings": {"embeding_size": 8}}]})
    with pytest.raises(ConfigError, match="embeding_size"):
        reproduce.main.__wrapped__(["key"])


def summary_of(**means):
    return {label: {"runs": 1, "user_auc": (value, 0.0)} for label, value in means.items()}


def test_verdicts_of_each_claim_form():
    two = {"a": summary_of(X=80, Y=70, Z=60), "b": summary_of(X=65, Y=70, Z=60)}
    assert verdict({"order": ["X", "Y", "Z"]}, two)[0] == "partly"  # X > Y only on a
    assert verdict({"order": ["X", "Y", "Z"]}, {"a": two["a"]})[0] == "holds"
    assert verdict({"order": ["Z", "X"]}, two)[0] == "fails"
    assert verdict({"winner": "Y", "over": ["Z"]}, two)[0] == "holds"
    state, evidence = verdict({"order": ["X", "W"]}, two)
    assert state is None and "W has not run" in evidence
    points = ["s", "m"]
    sweep = {"a": summary_of(**{"F @ s": 60, "F @ m": 70, "N @ s": 55, "N @ m": 58, "T": 65})}
    assert verdict({"increasing": ["F", "N"]}, sweep, points)[0] == "holds"
    assert verdict({"order": ["F", "N"], "every_point": True}, sweep, points)[0] == "holds"
    assert verdict({"order": ["F", "T"], "every_point": True}, sweep, points)[0] == "partly"  # 60 < 65 < 70
    assert verdict({"order": ["F", "T"]}, sweep, points)[0] == "holds"  # a series stands for its best point
    cold = {"a": {"F": {"runs": 1, "cold": {"wavg": {"5": (61.0, 0)}, "avg": {"5": (60.0, 0)}}}}}
    assert verdict({"row": "F", "metric_order": ["cold:wavg:5", "cold:avg:5"]}, cold)[0] == "holds"
    sizes = {"a": {"XS": {"params": (1.0, 0)}, "M": {"params": (5.0, 0)}}}
    assert verdict({"order": ["XS", "M"], "metric": "params"}, sizes)[0] == "holds"  # smaller first


@pytest.mark.slow
def test_a_finished_experiment_is_reused_and_its_pages_written(specs, workspace, run_dir, monkeypatch, tmp_path):
    settings = tiny_config(workspace, run_dir, epochs=2)
    write_spec(specs, "tiny", {
        "title": "Tiny", "paper": "two RecBole models", "kind": "sweep", "datasets": ["synthetic630"], "seeds": 2,
        "settings": settings, "x_label": "embedding size", "series": ["BPR"],
        "points": [{"label": "8", "settings": {"embedding_size": 8}}, {"label": "16", "settings": {"embedding_size": 16}}],
        "references": ["Pop"],
        "claims": [{"text": "BPR beats popularity", "order": ["BPR", "Pop"]}]})
    out = tmp_path / "pages"
    assert reproduce.main(["tiny", "--out", str(out)]) == 0
    for suffix in ("md", "csv", "png", "json"):
        assert (out / f"tiny.{suffix}").is_file()
    page = json.loads((out / "tiny.json").read_text())
    assert page["seeds"] == [2020, 2021] and page["claims"][0]["verdict"] in ("holds", "partly", "fails")
    assert page["summaries"]["synthetic630"]["BPR @ 16"]["runs"] == 2

    from recbole_outfit import quick_start

    monkeypatch.setattr(quick_start, "run_recbole_outfit", lambda *a, **k: pytest.fail("a finished run trained again"))
    assert reproduce.main(["tiny", "--out", str(out)]) == 0  # every run comes from the cache
    assert json.loads((out / "tiny.json").read_text())["summaries"] == page["summaries"]


def test_claims_page_lists_every_claim_and_marks_what_has_not_run(tmp_path):
    from recbole_outfit.experiments.paper import write_claims_page

    markdown = write_claims_page(str(tmp_path))
    for name in PAPER:
        for claim in load_spec(name).get("claims"):
            assert claim["text"].strip().replace("|", "\\|")[:40] in markdown
    assert "not run" in markdown and os.path.isfile(tmp_path / "README.md")


@pytest.mark.slow
def test_the_tsne_experiment_checks_negatives_against_the_generators_world(specs, workspace, run_dir, tmp_path):
    write_spec(specs, "space", {
        "title": "Space", "kind": "tsne", "datasets": ["synthetic630"], "settings": tiny_config(workspace, run_dir),
        "model": "NPair", "users": 2, "negatives_per_positive": 3,
        "claims": [{"text": "near negatives fit", "order": ["negatives near the user", "other negatives"],
                    "metric": "true_preference"}]})
    out = tmp_path / "pages"
    assert reproduce.main(["space", "--out", str(out)]) == 0
    page = json.loads((out / "space.json").read_text())
    rows = page["summaries"]["synthetic630"]
    assert rows["training positives"]["runs"] == 2  # two users
    # the world's true preference: a user's own positives are drawn from its taste, random negatives are not
    assert rows["training positives"]["true_preference"][0] > rows["other negatives"]["true_preference"][0]
    assert page["claims"][0]["verdict"] in ("holds", "partly", "fails")
    assert (out / "space.png").stat().st_size > 10_000 and "true preference" in (out / "space.md").read_text().lower()
