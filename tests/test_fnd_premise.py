"""The false-negative sweep's report: one CSV row per finished run, a table per level, a plot."""

import csv
import json

import pytest

from recbole_outfit.benchmarks import fnd_premise


def fake_run(folder, atomic, dataset, fnr, model, seed, auc, teacher=None):
    (atomic / dataset).mkdir(parents=True, exist_ok=True)
    manifest = {"synthetic": {"false_negative_rate": fnr, "false_negative_rate_train": fnr - 0.01,
                              "oracle_test_auc_random": 0.9}}
    (atomic / dataset / f"{dataset}.manifest.json").write_text(json.dumps(manifest))
    config = {"model": model, "dataset": dataset, "data_path": str(atomic / dataset), "seed": seed, "epochs": 3,
              "distill": model != "NPair", "teacher": teacher, "fnd_scale": "normalized", "fnd_alpha": 1.0,
              "teacher_config": {"epochs": 3}, "synthetic_style_breadth": 0.5}
    result = {"config": config, "test_result": {"user_auc": auc, "user_ndcg": auc - 0.2},
              "best_valid_result": {"user_auc": auc}, "timing": {"epochs": 3}}
    path = folder / dataset / f"{model}-{teacher}-{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


def test_report_has_one_row_per_run_and_means_per_level(tmp_path):
    runs, atomic = tmp_path / "runs", tmp_path / "atomic"
    for seed, (a, b) in enumerate([(0.80, 0.82), (0.84, 0.86)]):
        fake_run(runs, atomic, "low", 0.02, "NPair", seed, a)
        fake_run(runs, atomic, "low", 0.02, "FND", seed, b, teacher="oracle")
    fake_run(runs, atomic, "high", 0.30, "NPair", 0, 0.70)
    fake_run(runs, atomic, "high", 0.30, "FND", 0, 0.75)
    (runs / "not-a-run.json").write_text("{}")
    out = str(tmp_path / "results" / "premise")
    (tmp_path / "notes.md").write_text("Three epochs per run.")
    assert fnd_premise.main(["--runs", str(runs), "--out", out, "--notes", str(tmp_path / "notes.md")]) == 0
    rows = list(csv.DictReader(open(out + ".csv")))
    assert len(rows) == 6
    assert {r["model"] for r in rows} == {"NPair", "FND (oracle, normalized, alpha 1)",
                                          "FND (trained, normalized, alpha 1)"}
    assert {float(r["false_negative_rate"]) for r in rows} == {0.02, 0.30}
    text = open(out + ".md").read()
    assert "82.00 ± 2.00 (2)" in text and "84.00 ± 2.00 (2)" in text and "70.00 (1)" in text
    assert "## Notes\n\nThree epochs per run." in text
    pytest.importorskip("matplotlib")
    assert open(out + ".png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_no_runs_exits_2(tmp_path, capsys):
    assert fnd_premise.main(["--runs", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "no finished runs" in capsys.readouterr().err
