"""The comparison tables name the metrics the run evaluated, not a fixed pair."""

from recbole_outfit.benchmarks.compare import write_tables


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
