"""The scale benchmark runs end to end on tiny data and writes its report."""

import json

import numpy as np
import pytest
import torch

from conftest import private_dataset, tiny_config
from recbole_outfit.benchmarks import scale


@pytest.mark.slow
def test_scale_benchmark_writes_its_report(workspace, run_dir):
    # a private copy of the data: the report's first load must build the dataset cache, whichever tests ran before
    config = tiny_config(workspace, run_dir, data_path=str(private_dataset(workspace, run_dir, run_dir / "atomic",
                                                                           "synthetic53")))
    settings = [f"--{k}={v}" for k, v in config.items()]
    args = ["--dataset=synthetic53", "--steps=2", "--rounds=2", "--load_repeats=1", "--score_repeats=1",
            "--cold_store", f"--out={run_dir / 'results'}", *settings]
    assert scale.main(args) == 0
    report = open(run_dir / "results" / "scale-synthetic53.md").read()
    for heading in ("## Dataset load", "## Training step", "## Full test scoring", "### Memory during a scoring pass"):
        assert heading in report
    data = json.load(open(run_dir / "results" / "scale-synthetic53.json"))
    assert set(data["loading"]) == {"cache build", "RecBole's reader", "fast loader", "fast loader, cached"}
    assert data["loading"]["cache build"][0]["cache_built"]  # the first load wrote the cache ...
    assert not data["loading"]["fast loader, cached"][0]["cache_built"]  # ... which the timed one used
    assert "| fast loader, cached " in report
    assert set(data["steps"]) == set(data["scoring"]) == {"contiguous", "channels-last"}  # no AMP row on CPU
    assert all(len(s["rounds"]) == 2 and s["seconds"] > 0 for s in data["steps"].values())
    assert all(s["rows"] == data["facts"]["test_rows"] and s["anon_peak"] > 0 for s in data["scoring"].values())
    assert 0 < data["facts"]["touched_bytes"] <= data["facts"]["store_bytes"]
    assert data["amp"] == {}
    # the default variant against the bare item encoder: a real step does the encoder's work and more
    bare = data["facts"]["bare_encoder"]
    assert "## Against the bare item encoder (channels-last)" in report
    assert 0 < bare["step"]["bare_seconds"] < bare["step"]["seconds"] and bare["step"]["garments"] > 0
    assert 0 < bare["scoring"]["ratio"] < 1.5  # a scoring pass is never much faster than its encoder alone
    cold = data["facts"]["cold_store"]  # scoring and steps with the store read from disk, ahead and not
    assert set(cold) == {"read ahead", "no read ahead"} and "## A store that is not in the page cache" in report
    assert all(c["scoring_seconds"] > 0 and c["step_seconds"] > 0 for c in cold.values())


def test_dropping_the_store_from_memory_empties_its_mapping(tmp_path):
    """The cold-store rows drop the store's pages before each pass: they leave this process's resident set."""
    from recbole_outfit.data.image_store import ImageStore

    path = tmp_path / "images.npy"
    np.save(path, np.full((512, 3, 64, 64), 7, dtype=np.uint8))  # 6 MiB
    store = ImageStore(str(path))
    before = scale.ResidentMemory.read()["file"]
    assert int(store.array[:, 0, 0, 0].sum() + store.array.sum(dtype=np.int64)) > 0  # every page read
    touched = scale.ResidentMemory.read()["file"]
    scale.drop_store_pages(store)
    after = scale.ResidentMemory.read()["file"]
    assert touched - before > 5 * 2**20 and touched - after > 5 * 2**20
    assert int(store.array.sum(dtype=np.int64)) == 512 * 3 * 64 * 64 * 7  # the data is read again, intact


@pytest.mark.slow
def test_scale_benchmark_reruns_one_part_and_keeps_the_others(workspace, run_dir):
    settings = [f"--{k}={v}" for k, v in tiny_config(workspace, run_dir).items()]
    first = ["--dataset=synthetic53", "--steps=2", "--rounds=2", "--load_repeats=0", "--score_repeats=1",
             f"--out={run_dir / 'results'}", *settings]
    assert scale.main(first) == 0
    before = json.load(open(run_dir / "results" / "scale-synthetic53.json"))
    assert before["loading"] == {} and before["runs"]["load"] is None
    again = ["--dataset=synthetic53", "--only=load", "--load_repeats=1", f"--out={run_dir / 'results'}", *settings]
    assert scale.main(again) == 0
    after = json.load(open(run_dir / "results" / "scale-synthetic53.json"))
    assert after["steps"] == before["steps"] and after["scoring"] == before["scoring"]
    assert set(after["loading"]) == {"cache build", "RecBole's reader", "fast loader", "fast loader, cached"}
    assert after["runs"]["compute"] == before["runs"]["compute"] and "--only=load" in after["runs"]["load"]["command"]
    report = open(run_dir / "results" / "scale-synthetic53.md").read()
    assert "The load table (" in report and "The training-step and scoring tables (" in report
    assert "## Training step" in report and "## Dataset load" in report


@pytest.mark.slow
def test_only_without_an_earlier_report_is_refused(workspace, run_dir, capsys):
    settings = [f"--{k}={v}" for k, v in tiny_config(workspace, run_dir).items()]
    args = ["--dataset=synthetic53", "--only=load", f"--out={run_dir / 'nothing-here'}", *settings]
    assert scale.main(args) == 2
    error = capsys.readouterr().err
    assert "--only keeps the other tables from" in error and "run the whole benchmark once first" in error
    assert "Traceback" not in error


@pytest.mark.slow
def test_amp_runs_do_not_take_the_benchmarks_own_flags_as_settings(workspace, run_dir, monkeypatch):
    """The AMP-vs-float32 runs train through the main pipeline, whose Config reads --key=value from sys.argv
    (RecBole's way): the benchmark's own flags (--rounds, --steps) must not reach it as unknown settings."""
    monkeypatch.setattr("sys.argv", ["scale", "--dataset=synthetic53", "--rounds=2", "--steps=4", "--amp_epochs=1"])
    results = scale.amp_metrics("NPair", "synthetic53", tiny_config(workspace, run_dir), epochs=1)
    assert set(results) == {"float32", "AMP"}
    assert all(r["timing"]["epochs"] == 1 for r in results.values())
    if not torch.cuda.is_available():  # enable_amp is ignored on CPU: the same run, the same metrics
        assert results["AMP"]["test_result"] == results["float32"]["test_result"]
