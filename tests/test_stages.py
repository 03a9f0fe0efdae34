"""The stage contract (``pipeline/stages.py``, docs/architecture.md): a stage written from the docs runs."""

import pytest

from recbole_outfit.pipeline import stages
from recbole_outfit.pipeline.stages import Stage, check_stages, load_artifacts, prepare_stages


class ToyStage(Stage):
    """Only what the docs ask for: ``need``, ``config_key``, ``wanted``, ``build``, ``load``."""

    need, config_key = "toy", "toy_file"

    def wanted(self, config):
        return True

    def build(self, config, train):
        path = config["folder"] + "/toy.txt"
        with open(path, "w", encoding="utf-8") as f:
            f.write("built")
        return path

    def load(self, config, path, train_dataset):
        with open(path, encoding="utf-8") as f:
            return f.read()


class ToyModel:
    needs = ("toy",)


class ToyConfig(dict):
    model_class = ToyModel


def test_a_stage_with_the_documented_methods_is_checked_built_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setitem(stages.STAGES, "toy", ToyStage())
    config = ToyConfig(folder=str(tmp_path), toy_file=None, seed=1, reproducibility=True, model="Toy", dataset="toy")
    check_stages(config)  # the default check: nothing to refuse
    prepare_stages(config, train=None)
    assert config["toy_file"] == str(tmp_path / "toy.txt")
    assert load_artifacts(config, train_dataset=None) == {"toy": "built"}


def test_a_stage_missing_a_required_method_cannot_be_made():
    class NoLoad(Stage):
        need, config_key = "half", "half_file"

        def wanted(self, config):
            return True

        def build(self, config, train):
            return "path"

    with pytest.raises(TypeError, match="load"):
        NoLoad()
