"""Outputs that never clobber: a comparison's tables go to a folder of no tracked file by default, and a table with
more rows or seeds is not replaced without ``--overwrite``."""

import contextlib
import logging
import os
import subprocess

import pytest

from conftest import tiny_config
from trained_fixture import checkpoint  # noqa: F401 (fixture)
from recbole_outfit.errors import ConfigError
from recbole_outfit.experiments import compare

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fake_run(scores):
    def run_model(model, dataset, seed, *rest):
        auc = scores[model] + (seed - 2020) / 100
        return {"test_result": {"user_auc": auc, "user_ndcg": auc / 2}, "timing": {"seconds_per_epoch": 1.0}}
    return run_model


def _table_text(folder, dataset="synthetic630"):
    return open(os.path.join(folder, f"{dataset}.md"), encoding="utf-8").read()


def test_a_smaller_comparison_does_not_replace_a_larger_table(workspace, run_dir, monkeypatch):
    trained = []
    monkeypatch.setattr(compare, "run_model", lambda *args: trained.append(args) or _fake_run(
        {"NPair": 0.8, "FND": 0.82, "FNDCL": 0.85})(*args))
    config = tiny_config(workspace, run_dir)
    results = str(run_dir / "tables")
    compare.compare(["NPair", "FND", "FNDCL"], "synthetic630", seeds=2, config_dict=config, out_dir=results)
    before = _table_text(results)
    assert "FNDCL" in before and len(trained) == 6
    trained.clear()
    for models, seeds in ((["NPair", "FND"], 2), (["NPair", "FND", "FNDCL"], 1)):  # fewer rows; fewer seeds
        with pytest.raises(ConfigError, match="3 models x 2 seeds.*overwrite=True"):
            compare.compare(models, "synthetic630", seeds=seeds, config_dict=config, out_dir=results)
    assert trained == [] and _table_text(results) == before  # refused before any run, the table untouched
    compare.compare(["NPair", "FND", "FNDCL"], "synthetic630", seeds=2, config_dict=config, out_dir=results)
    compare.compare(["NPair", "FND"], "synthetic630", seeds=1, config_dict=config, out_dir=results, overwrite=True)
    assert "FNDCL" not in _table_text(results)  # asked for: replaced


def test_the_default_folder_is_under_checkpoint_dir_not_the_repository(workspace, run_dir, monkeypatch):
    monkeypatch.setattr(compare, "run_model", _fake_run({"NPair": 0.8, "FND": 0.82}))
    config = tiny_config(workspace, run_dir)
    compare.compare(["NPair", "FND"], "synthetic630", seeds=1, config_dict=config)
    assert os.path.isfile(os.path.join(config["checkpoint_dir"], "comparisons", "synthetic630.md"))
    assert not (run_dir / "results").exists()


def test_the_command_line_default_holds_no_tracked_file(tmp_path):
    from recbole_outfit.cli import build_parser

    args = build_parser().parse_known_args(["--model=NPair,BPR"])[0]
    assert args.results_dir is None and args.overwrite is False
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "saved"], capture_output=True, text=True).stdout
    assert tracked == ""


def test_a_table_without_its_csv_is_not_replaced(tmp_path):
    (tmp_path / "toy.md").write_text("# toy\n")
    with pytest.raises(ConfigError, match="without its .csv"):
        compare.refuse_smaller_table(str(tmp_path), "toy", 10, 3)
    compare.refuse_smaller_table(str(tmp_path), "toy", 1, 1, overwrite=True)


@contextlib.contextmanager
def bare_root_logger():
    """The root logger without pytest's capture handlers, as on the command line (RecBole's init_logger installs
    its console and file handlers only on a root logger that has none). pytest adds its handlers for each test
    phase, so this is entered inside the test."""
    root = logging.getLogger()
    kept = root.handlers[:]
    root.handlers = []
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = kept


@pytest.mark.slow
def test_the_files_of_one_run_share_one_id(workspace, run_dir):
    from recbole_outfit.quick_start import run_recbole_outfit

    with bare_root_logger():
        result = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, plot=True, state="INFO"),
                                    command_line=False)
    stem = os.path.splitext(os.path.basename(result["checkpoint"]))[0]
    assert stem.startswith("NPair-synthetic630-")
    logs = [os.path.basename(p) for p in (run_dir / "log" / "NPair").iterdir()]
    assert logs == [f"{stem}.log"]  # RecBole's own, differently named file is gone
    assert os.path.basename(result["results_json"]) == f"{stem}.json"
    saved = os.path.dirname(result["checkpoint"])
    for suffix in ("-history.json", "-curve.png"):
        assert os.path.isfile(os.path.join(saved, stem + suffix)), suffix
    assert (run_dir / "log_tensorboard" / stem).is_dir()
    assert "Results written to" in (run_dir / "log" / "NPair" / f"{stem}.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_recboles_load_data_and_model_says_why_not_and_what_to_call(checkpoint):
    import sys

    import torch
    from recbole_outfit.quick_start import load_data_and_model

    before = set(sys.modules)
    from recbole.quick_start import load_data_and_model as recboles

    for name in set(sys.modules) - before:  # forgotten again: another test checks the plugin never imports it
        if name.startswith("recbole.quick_start"):
            del sys.modules[name]
    with pytest.raises(ConfigError) as refused:
        recboles(checkpoint)
    message = str(refused.value)
    assert "recbole.utils.get_model" in message and "recbole_outfit.quick_start.load_data_and_model" in message
    config, model, *_ = load_data_and_model(checkpoint)  # the plugin's function loads the same file
    assert config["model"] == "NPair" and type(model).__name__ == "NPair"
    assert torch.load(checkpoint, weights_only=True)["config"]["model"] == "NPair"  # other readers are unaffected


@pytest.mark.slow
def test_a_runs_log_is_clean(workspace, run_dir):
    """The device once and as it is, no RecBole key the run does not read, the counts without RecBole's padding id,
    the loss as the mean per batch the history holds, no 'remaining 0 epochs' line, and the files as the last line."""
    import json

    from recbole_outfit import cli

    settings = tiny_config(workspace, run_dir, state="INFO", gpu_id="", epochs=2, plot=True)
    with bare_root_logger():
        assert cli.main(["--model=NPair", "--dataset=synthetic630"]
                        + [f"--{key}={value}" for key, value in settings.items()]) == 0
    (log,) = (run_dir / "log" / "NPair").iterdir()
    text = log.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    assert [line.strip() for line in lines if line.startswith("device")] == ["device = cpu"]
    for absent in ("gpu_id =", "use_gpu =", "'split'", "MAX_ITEM_LIST_LENGTH", "remaining 0 epochs"):
        assert absent not in text, absent
    manifest = json.load(open(os.path.join(settings["data_path"], "synthetic630", "synthetic630.manifest.json")))
    assert f"The number of users: {manifest['counts']['users']}" in text
    assert f"The number of outfits: {manifest['counts']['outfits']}" in text
    (history_file,) = (run_dir / "saved").glob("NPair-synthetic630-*-history.json")
    history = json.load(open(history_file))
    for epoch, mean in zip(history["epochs"], history["loss"]["loss"]):
        assert f"epoch {epoch} training" in text and f"train loss, mean per batch: loss {mean:.4f}]" in text
    assert "the remaining 1 epochs" in text  # the estimate is there while epochs remain
    from recbole_outfit.plots.__main__ import history_from_log

    from_log = history_from_log(str(log))  # `plots curve --log` reads this line as the history holds it
    assert from_log["loss_unit"] == "mean per batch"
    assert from_log["loss"]["loss"] == pytest.approx(history["loss"]["loss"], abs=1e-4)
    assert lines[-1].split("INFO", 1)[1].strip().startswith("Run finished: results ")


@pytest.mark.slow
def test_every_stage_logs_the_mean_loss_and_no_gradscaler_warning(workspace, run_dir):
    """FNDCL with the replace view trains three stages (teacher, the garment autoencoder, the student): each
    epoch line is a mean per batch, and RecBole's deprecated torch.cuda.amp.GradScaler warns nowhere."""
    import warnings

    from recbole_outfit import cli

    settings = tiny_config(workspace, run_dir, state="INFO", gpu_id="", cl_augmentations=["erase", "replace"])
    argv = ["--model=FNDCL", "--dataset=synthetic630", "--teacher_config={'epochs': 1}",
            "--autoencoder_config={'epochs': 1}"] + [f"--{key}={value}" for key, value in settings.items()]
    with bare_root_logger(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli.main(argv) == 0
    assert not [w for w in caught if "GradScaler" in str(w.message)]
    (log,) = (run_dir / "log" / "FNDCL").iterdir()
    epochs = [line for line in log.read_text(encoding="utf-8").splitlines() if " training [time: " in line]
    assert len(epochs) == 3 and all("train loss, mean per batch: " in line for line in epochs), epochs
    assert "recommendation (Eq. 13-14) " in epochs[-1] and "contrastive (Eq. 17-18) " in epochs[-1]
