"""The false-negative sweep's report: one CSV row per finished run, a table per level, a plot."""

import csv
import json

import pytest

from recbole_outfit.benchmarks import fnd_premise


def fake_run(folder, atomic, dataset, fnr, model, seed, auc, teacher=None, epochs=3, stopping_step=10,
             teacher_checkpoint=None, device="cpu", checkpoint=None):
    (atomic / dataset).mkdir(parents=True, exist_ok=True)
    manifest = {"synthetic": {"false_negative_rate": fnr, "false_negative_rate_train": fnr - 0.01,
                              "oracle_test_auc_random": 0.9}}
    (atomic / dataset / f"{dataset}.manifest.json").write_text(json.dumps(manifest))
    config = {"model": model, "dataset": dataset, "data_path": str(atomic / dataset), "seed": seed, "epochs": epochs,
              "stopping_step": stopping_step,
              "distill": model != "NPair", "teacher": teacher, "fnd_scale": "normalized", "fnd_alpha": 1.0,
              "teacher_config": {"epochs": 3}, "synthetic_style_breadth": 0.5,
              "teacher_checkpoint": teacher_checkpoint, "device": device}
    result = {"config": config, "test_result": {"user_auc": auc, "user_ndcg": auc - 0.2},
              "best_valid_result": {"user_auc": auc}, "timing": {"epochs": min(epochs, 3 + stopping_step)},
              "checkpoint": checkpoint}
    path = folder / dataset / f"{model}-{teacher}-{seed}-{epochs}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_report_has_one_row_per_run_and_means_per_level(tmp_path):
    runs, atomic = tmp_path / "runs", tmp_path / "atomic"
    for seed, (a, b) in enumerate([(0.80, 0.82), (0.84, 0.86)]):
        fake_run(runs, atomic, "low", 0.02, "NPair", seed, a)
        fake_run(runs, atomic, "low", 0.02, "FND", seed, b, teacher="oracle")
    fake_run(runs, atomic, "high", 0.30, "NPair", 0, 0.70, checkpoint="saved/NPair-high.pth")
    fake_run(runs, atomic, "high", 0.30, "FND", 0, 0.75, device="cuda")
    (runs / "not-a-run.json").write_text("{}")
    copy = runs / "compare" / "high" / "NPair-seed0.json"  # the same run's comparison-cache copy: counted once
    copy.parent.mkdir(parents=True)
    copy.write_text((runs / "high" / "NPair-None-0-3.json").read_text())
    out = str(tmp_path / "results" / "premise")
    (tmp_path / "notes.md").write_text("Three epochs per run.")
    assert fnd_premise.main(["--runs", str(runs), "--out", out, "--notes", str(tmp_path / "notes.md")]) == 0
    rows = list(csv.DictReader(open(out + ".csv")))
    assert len(rows) == 6
    assert {r["model"] for r in rows} == {"NPair", "FND (oracle, normalized, alpha 1)",
                                          "FND (trained, normalized, alpha 1)"}
    assert {float(r["false_negative_rate"]) for r in rows} == {0.02, 0.30}
    assert [r["device"] for r in rows].count("cuda") == 1 and [r["device"] for r in rows].count("cpu") == 5
    text = open(out + ".md").read()
    assert "82.00 ± 2.00 (2)" in text and "84.00 ± 2.00 (2)" in text and "70.00 (1)" in text
    assert "## Notes\n\nThree epochs per run." in text
    assert "## 3 epochs" in text and {r["budget"] for r in rows} == {"3 epochs"}
    pytest.importorskip("matplotlib")
    assert open(out + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_no_runs_exits_2(tmp_path, capsys):
    assert fnd_premise.main(["--runs", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "no finished runs" in capsys.readouterr().err
    assert fnd_premise.main(["--runs", str(tmp_path), "--notes", str(tmp_path / "missing.md")]) == 2
    assert "notes file" in capsys.readouterr().err


def test_budgets_get_their_own_tables(tmp_path):
    """Runs trained for different lengths never share a mean: one table (and plot panel) per budget."""
    runs, atomic = tmp_path / "runs", tmp_path / "atomic"
    fake_run(runs, atomic, "low", 0.02, "NPair", 0, 0.80, epochs=10, stopping_step=5)
    fake_run(runs, atomic, "low", 0.02, "NPair", 0, 0.60, epochs=30, stopping_step=5)
    fake_run(runs, atomic, "low", 0.02, "FND", 0, 0.70, teacher="oracle", epochs=30, stopping_step=5)
    out = str(tmp_path / "premise")
    assert fnd_premise.main(["--runs", str(runs), "--out", out, "--no_plot"]) == 0
    text = open(out + ".md").read()
    ten, thirty = text.split("## <= 30 epochs, early stopping after 5")
    assert "## <= 10 epochs, early stopping after 5" in ten and "80.00 (1)" in ten and "60.00" not in ten
    assert "60.00 (1)" in thirty and "70.00 (1)" in thirty and "80.00" not in thirty
    assert "Epochs trained" in thirty and "NPair on low: 8" in thirty  # 3 + stopping_step in the fake timing
    assert fnd_premise.budget_label({"epochs": 10, "stopping_step": 10}) == "10 epochs"


def test_a_trained_teachers_own_auc_joins_its_students_level(tmp_path):
    """The teacher stage's results beside its checkpoint give the teacher-vs-student gap: one Teacher row per
    level and budget however many students distil from it, and each student's teacher_user_auc."""
    runs, atomic, stages = tmp_path / "runs", tmp_path / "atomic", tmp_path / "stages"
    stages.mkdir()
    teacher = {"config": {"seed": 2020, "epochs": 10, "device": "cuda"}, "test_result": {"user_auc": 0.78, "user_ndcg": 0.6},
               "best_valid_result": {"user_auc": 0.77}, "timing": {"epochs": 9}}
    (stages / "Teacher-abc.json").write_text(json.dumps(teacher))
    for seed, auc in ((2020, 0.80), (2021, 0.84)):
        fake_run(runs, atomic, "low", 0.02, "FND", seed, auc, teacher="trained",
                 teacher_checkpoint=str(stages / "Teacher-abc.pth"))
    fake_run(runs, atomic, "low", 0.02, "FND", 2020, 0.9, teacher="oracle",
             teacher_checkpoint=str(stages / "Teacher-abc.pth"))  # an oracle run names no trained teacher
    out = str(tmp_path / "premise")
    assert fnd_premise.main(["--runs", str(runs), "--out", out, "--no_plot"]) == 0
    rows = list(csv.DictReader(open(out + ".csv")))
    teachers = [r for r in rows if r["model"] == "Teacher (trained)"]
    assert len(teachers) == 1 and float(teachers[0]["user_auc"]) == 0.78 and teachers[0]["epochs"] == "9"
    assert teachers[0]["device"] == "cuda"  # where the teacher trained, not its students
    students = [r for r in rows if r["model"] == "FND (trained, normalized, alpha 1)"]
    assert [float(r["teacher_user_auc"]) for r in students] == [0.78, 0.78]
    assert {r["teacher_epochs"] for r in students} == {"9"}
    oracle = next(r for r in rows if r["teacher"] == "oracle")
    assert oracle["teacher_user_auc"] == "" and oracle["teacher_epochs"] == ""
    assert "78.00 (1)" in open(out + ".md").read()
