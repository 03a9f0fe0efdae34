"""The scale benchmark runs end to end on tiny data and writes its report."""

import json

from conftest import tiny_config
from recbole_outfit.benchmarks import scale


def test_scale_benchmark_writes_its_report(workspace, run_dir):
    settings = [f"--{k}={v}" for k, v in tiny_config(workspace, run_dir).items()]
    args = ["--dataset=synthetic53", "--steps=2", "--rounds=2", "--load_repeats=1", "--score_repeats=1",
            f"--out={run_dir / 'results'}", *settings]
    assert scale.main(args) == 0
    report = open(run_dir / "results" / "scale-synthetic53.md").read()
    for heading in ("## Dataset load", "## Training step", "## Full test scoring", "### Memory during a scoring pass"):
        assert heading in report
    data = json.load(open(run_dir / "results" / "scale-synthetic53.json"))
    assert set(data["loading"]) == {"RecBole's reader", "fast loader"}
    assert set(data["steps"]) == set(data["scoring"]) == {"contiguous", "channels-last"}  # no AMP row on CPU
    assert all(len(s["rounds"]) == 2 and s["seconds"] > 0 for s in data["steps"].values())
    assert all(s["rows"] == data["facts"]["test_rows"] and s["anon_peak"] > 0 for s in data["scoring"].values())
    assert 0 < data["facts"]["touched_bytes"] <= data["facts"]["store_bytes"]
    assert data["amp"] == {}
