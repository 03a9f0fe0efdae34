"""The comparison tables name the metrics the run evaluated, not a fixed pair."""

import pytest

from recbole_outfit.experiments.compare import write_tables
from recbole_outfit.errors import ConfigError


def _summary(metrics):
    return {"NPair": {"runs": 2, "seconds_per_epoch": 1.0, **{m: (80.0, 1.0) for m in metrics}},
            "FND": {"runs": 2, "seconds_per_epoch": None, **{m: (81.0, 0.5) for m in metrics}}}


def test_header_and_columns_follow_the_metrics(tmp_path):
    markdown = write_tables(_summary(["user_auc"]), "toy", "cmd", {}, None, out_dir=str(tmp_path),
                            metrics=("user_auc",))
    assert "`user_auc` (AUC)" in markdown and "user_ndcg" not in markdown and "NDCG" not in markdown
    assert "**81.00 ± 0.50**" in markdown  # the best mean in bold
    header = (tmp_path / "toy.csv").read_text().splitlines()[0]
    assert header == "model,user_auc_mean,user_auc_std,seeds,seconds_per_epoch"


def test_two_metrics_are_both_named(tmp_path):
    markdown = write_tables(_summary(["user_auc", "user_ndcg"]), "toy", "cmd", {}, None, out_dir=str(tmp_path))
    assert "`user_auc` (AUC) and `user_ndcg` (NDCG)" in markdown


def test_the_picture_has_a_panel_per_column_and_cold_start_k(tmp_path, monkeypatch):
    """``<dataset>.png`` beside the tables, shown by the markdown: AUC, NDCG and each cold-start K (weighted)."""
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    from recbole_outfit.experiments import compare

    drawn = {}
    real = compare.model_comparison

    def spy(panels, path, title=None):
        drawn.update(panels=panels, title=title)
        return real(panels, path, title=title)

    monkeypatch.setattr(compare, "model_comparison", spy)
    summary = _summary(["user_auc", "user_ndcg"])
    summary["NPair"]["cold"] = {"wavg": {"1": (60.0, 2.0), "5": (65.0, 1.0)}, "avg": {"1": (59.0, 2.0), "5": (64.0, 1.0)}}
    summary["NPair"]["cold_dataset"] = "toy53"
    markdown = compare.write_tables(summary, "toy", "cmd", {}, None, out_dir=str(tmp_path))
    assert [title for title, _ in drawn["panels"]] == ["AUC", "NDCG", "cold start (w), 1 outfit",
                                                      "cold start (w), 5 outfits"]
    assert drawn["panels"][0][1] == {"NPair": (80.0, 1.0), "FND": (81.0, 0.5)}
    assert drawn["panels"][3][1] == {"NPair": (65.0, 1.0)}  # only the models with a cold-start result
    assert drawn["title"] == "toy: mean ± std over 2 seeds"
    assert (tmp_path / "toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "](toy.png)" in markdown


@pytest.mark.parametrize("problem", [ConfigError("pictures need matplotlib", where="plot", fix="install it"),
                                     ValueError("a drawing error")])
def test_a_picture_that_cannot_be_drawn_costs_only_the_picture(problem, tmp_path, monkeypatch):
    from recbole_outfit.experiments import compare

    def failing(*args, **kwargs):
        raise problem

    monkeypatch.setattr(compare, "model_comparison", failing)
    markdown = compare.write_tables(_summary(["user_auc"]), "toy", "cmd", {}, None, out_dir=str(tmp_path),
                                    metrics=("user_auc",))
    assert (tmp_path / "toy.csv").exists() and (tmp_path / "toy.md").exists() and ".png" not in markdown


def test_the_command_above_a_table_reads_back_in_a_shell_as_given():
    import shlex

    from recbole_outfit.report import command_text

    args = ["--model=Teacher,NPair", "--teacher_config={'epochs': 30, 'stopping_step': 5}", "--x={a,b}", 'it"s',
            "--learning_rate=1e-3"]
    text = command_text("python run_recbole_outfit.py", args)
    assert text == ("python run_recbole_outfit.py --model=Teacher,NPair \"--teacher_config={'epochs': 30, "
                    "'stopping_step': 5}\" \"--x={a,b}\" 'it\"s' --learning_rate=1e-3")
    assert shlex.split(text) == ["python", "run_recbole_outfit.py", *args]
