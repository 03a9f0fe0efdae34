"""Cached evaluation equals the per-row baseline; the efficiency benchmark runs end to end on tiny data."""

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.benchmarks import efficiency
from recbole_outfit.config import Config
from recbole_outfit.utils import create_dataset, data_preparation, get_model


@pytest.mark.slow  # scores every test row twice: over 5 s
def test_cached_and_per_row_scores_are_equal(workspace, run_dir):
    config = Config("Teacher", "synthetic519", config_dict=tiny_config(workspace, run_dir, backbone="S"))
    dataset = create_dataset(config)
    _, _, tests = data_preparation(config, dataset)
    torch.manual_seed(0)
    model = get_model("Teacher")(config, dataset).eval()
    scores = {}
    for cached in (True, False):
        model.eval_feature_cache = cached
        model.eval()
        with torch.no_grad():
            scores[cached] = torch.cat([model.predict(batch) for batch, *_ in tests["test"]])
    assert torch.allclose(scores[True], scores[False], atol=1e-5)
    # the cache holds one feature per distinct garment of the pass, and is dropped when training resumes
    model.eval_feature_cache = True
    with torch.no_grad():
        model.predict(next(iter(tests["test"]))[0])
    assert model._feature_cache is not None
    model.train()
    assert model._feature_cache is None


@pytest.mark.slow
def test_efficiency_benchmark_writes_its_report(workspace, run_dir):
    settings = [f"--{k}={v}" for k, v in tiny_config(workspace, run_dir).items()]
    args = ["--dataset=synthetic53", "--sizes=large,XS", "--repeats=2", "--baseline_repeats=1",
            "--train_dataset=synthetic53", "--steps=2", f"--out={run_dir / 'results'}", *settings]
    assert efficiency.main(args) == 0
    report = open(run_dir / "results" / "efficiency-synthetic53.md").read()
    assert "Teacher (large)" in report and "| XS" in report and "speed-up" in report
    assert "FND, cached teacher" in report and "FND, teacher forward per step" in report


class _Rows:
    def __init__(self, n):
        self.n = n

    def to(self, device):
        return self

    def __len__(self):
        return self.n


class _Loader:
    """Eight batches of 10 rows, shaped like an evaluation loader (yields (interaction, ...))."""

    _dataset = [None] * 80

    def __len__(self):
        return 8

    def __iter__(self):
        return iter([(_Rows(10), None)] * 8)


class _CountingModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def predict(self, interaction):
        self.calls += 1


def test_per_row_time_on_a_fraction_scales_to_every_row(monkeypatch):
    clock = iter(range(100))  # each perf_counter call advances one second: a timed pass takes 1 s
    monkeypatch.setattr(efficiency.time, "perf_counter", lambda: float(next(clock)))
    model = _CountingModel()
    mean, std, _, rows = efficiency.time_scoring(model, _Loader(), "cpu", repeats=2, fraction=0.25)
    assert model.calls == 4 and rows == 20  # 2 of 8 batches per repeat
    assert mean == 4.0 and std == 0.0  # 1 s for a quarter of the rows -> 4 s for all of them
    mean, _, _, rows = efficiency.time_scoring(model, _Loader(), "cpu", repeats=1)
    assert rows == 80 and mean == 1.0
