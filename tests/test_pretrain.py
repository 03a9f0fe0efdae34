"""backbone_weights: synthetic - the item encoders' features pretrained on a disjoint pool of synthetic garments
(our stand-in for the paper's ImageNet pretraining), handed by the pipeline to teacher and students alike."""

import os
import sys

import numpy as np
import pytest
import torch

from conftest import TINY_SYNTHETIC, tiny_config
from recbole_outfit.cli import main
from recbole_outfit.config import Config
from recbole_outfit.data import synthetic
from recbole_outfit.data.garment_pool import ATTRIBUTES, SILHOUETTES, draw_pool
from recbole_outfit.data.prepare import synthetic_options
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.backbone_weights import read_backbone_weights
from recbole_outfit.model.layers import build_backbone, load_alexnet_weights
from recbole_outfit.pipeline import run as pipeline_run
from recbole_outfit.pipeline import stages
from recbole_outfit.pipeline.stages import BackboneStage, wanted_stages
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.utils import create_dataset
from recbole_outfit.verified import is_intact

TINY_PRETRAINING = {"pretrain_garments": 40, "pretrain_epochs": 1, "pretrain_batch_size": 16}


def test_pool_is_labelled_and_disjoint_from_the_datasets_garments(workspace, run_dir):
    pool = draw_pool(30, seed=3, render_px=TINY_SYNTHETIC["synthetic_image_px"], image_size=64, show_progress=False)
    assert pool.images.shape == (30, 3, 64, 64) and pool.images.dtype == np.uint8
    for name, classes in ATTRIBUTES.items():
        assert pool.labels[name].min() >= 0 and pool.labels[name].max() < classes
    assert all(len(shapes) == SILHOUETTES for shapes in synthetic.SHAPES.values())
    assert (pool.labels["shape"] // SILHOUETTES == pool.labels["category"]).all()  # a silhouette of its category
    assert np.array_equal(draw_pool(30, 3, 32, 64, show_progress=False).images, pool.images)  # one pool per seed

    # the generator renders every dataset image from a seed below the limit, the pool from seeds above it
    assert (pool.render_seeds >= synthetic.RENDER_SEED_LIMIT).all()
    spec = synthetic.DEFAULT_SPECS["tuples_32"].scaled(0.1)
    generator = synthetic.FolderGenerator(synthetic.World(3), "tuples_32", spec, np.random.default_rng([3, 0]), True)
    generator.generate()
    assert max(job[-1] for job in generator.image_jobs()) < synthetic.RENDER_SEED_LIMIT

    # and no pool image is one of a dataset's stored images (same rendering size, same stored size)
    dataset = create_dataset(Config("NPair", "synthetic32", config_dict=tiny_config(workspace, run_dir)))
    stored = dataset.image_store(place="cpu").array  # [G, 3, 64, 64]
    assert stored.shape[-1] == pool.images.shape[-1]
    difference = np.abs(stored[:, None].astype(np.int16) - pool.images[None].astype(np.int16)).reshape(
        len(stored), len(pool), -1).max(-1)  # [G, 30]
    assert (difference > 0).all()


@pytest.fixture
def counted_pretraining(monkeypatch):
    """Counts the pretraining runs of the stage (the real training, one call per run)."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    real = stages.pretrain_features
    monkeypatch.setattr(stages, "pretrain_features", counted)
    return calls


@pytest.mark.slow
def test_pretraining_stage_is_cached_reused_and_rebuilt_when_damaged(workspace, run_dir, counted_pretraining, caplog):
    caplog.set_level("INFO")
    config = Config("NPair", "synthetic32", config_dict=tiny_config(
        workspace, run_dir, backbone_weights="synthetic", **TINY_PRETRAINING))
    assert [stage.need for stage in wanted_stages(config)] == ["backbone"]
    stage = stages.STAGES["backbone"]
    path = stage.build(config, train=None)
    assert len(counted_pretraining) == 1 and is_intact(path) and os.path.isfile(path[:-4] + ".json")
    assert os.path.dirname(path) == os.path.join(config["checkpoint_dir"], "stages", "pretrain")
    assert "epoch 0 pretraining" in caplog.text and "held-out accuracy" in caplog.text
    state = read_backbone_weights(path)
    assert state and all(name.startswith("features.") for name in state)

    caplog.clear()
    assert stage.build(config, train=None) == path
    assert len(counted_pretraining) == 1 and "reusing" in caplog.text  # the second run trains nothing

    # another backbone size shares the features (same artifact); another image size or pool does not
    large = Config("Teacher", "synthetic32", config_dict=tiny_config(
        workspace, run_dir, backbone_weights="synthetic", **TINY_PRETRAINING))
    assert stage.build(large, train=None) == path and len(counted_pretraining) == 1
    other = BackboneStage.settings(stage.pretrain_config(Config("NPair", "synthetic32", config_dict=tiny_config(
        workspace, run_dir, backbone_weights="synthetic", **{**TINY_PRETRAINING, "pretrain_garments": 41}))))
    assert other != BackboneStage.settings(stage.pretrain_config(config))

    with open(path, "r+b") as f:  # damaged: cut short
        f.truncate(os.path.getsize(path) // 2)
    caplog.clear()
    assert stage.build(config, train=None) == path
    assert "does not match its checksum" in caplog.text and len(counted_pretraining) == 2 and is_intact(path)


@pytest.mark.slow
def test_synthetic_weights_start_the_student_and_the_teacher(workspace, run_dir, counted_pretraining, monkeypatch):
    first_convs = {}
    real_build = pipeline_run.build_model

    def recording_build(config, train_dataset, training=True):
        model = real_build(config, train_dataset, training)
        first_convs[config["model"]] = model.item_encoder.features[0].weight.detach().cpu().clone()
        return model

    monkeypatch.setattr(pipeline_run, "build_model", recording_build)
    config = tiny_config(workspace, run_dir, backbone_weights="synthetic", teacher_config={"epochs": 1},
                         **TINY_PRETRAINING)
    result = run_recbole_outfit("FND", "synthetic630", config_dict=config)
    path = result["config"]["backbone_weights_file"]
    pretrained = read_backbone_weights(path)["features.0.weight"]
    assert set(first_convs) == {"Teacher", "FND"} and len(counted_pretraining) == 1  # one pretraining for both
    assert torch.equal(first_convs["Teacher"], pretrained) and torch.equal(first_convs["FND"], pretrained)

    # without backbone_weights the same run starts from random weights (and runs no backbone stage)
    first_convs.clear()
    plain = run_recbole_outfit("NPair", "synthetic630", config_dict={**config, "backbone_weights": None})
    assert plain["config"]["backbone_weights_file"] is None and not torch.equal(first_convs["NPair"], pretrained)


@pytest.mark.slow
def test_classifier_head_pretrains_fc6_fc7_for_the_large_teacher_only(workspace, run_dir, counted_pretraining):
    def pretraining(**keys):
        return Config("Teacher", "synthetic32", config_dict=tiny_config(
            workspace, run_dir, backbone_weights="synthetic", **TINY_PRETRAINING, **keys))

    stage = stages.STAGES["backbone"]
    gap_settings = BackboneStage.settings(stage.pretrain_config(pretraining()))
    assert "head" not in gap_settings  # the default keeps the name of features pretrained before the option
    path = stage.build(pretraining(pretrain_head="classifier"), train=None)
    assert len(counted_pretraining) == 1 and os.path.basename(path) != os.path.basename(
        stage.build(pretraining(), train=None))  # its own artifact (the gap one is a second pretraining)
    state = read_backbone_weights(path)
    assert state["classifier.1.weight"].shape == (4096, 256 * 6 * 6)  # fc6, torchvision's name and shape
    assert state["classifier.4.weight"].shape == (4096, 4096)  # fc7
    assert {name.split(".")[0] for name in state} == {"features", "classifier"}  # not the attribute layer

    # the large teacher starts from fc6 / fc7 as from ImageNet's file; a student takes the convolutions only
    large = build_backbone("large", 16, state)
    assert torch.equal(large.head[0].linear.weight, state["classifier.1.weight"])
    assert torch.equal(large.head[3].weight, state["classifier.4.weight"])
    assert torch.equal(large.features[0].weight, state["features.0.weight"])
    student = build_backbone("XS", 16)
    assert all(name.startswith("features.") for name in load_alexnet_weights(student, state))

    with pytest.raises(ConfigError, match="pretrain_head must be one of gap, classifier"):
        pretraining(pretrain_head="fc")


@pytest.mark.slow
def test_a_missing_weights_file_is_refused_before_any_work(workspace, run_dir, caplog, monkeypatch, capsys):
    caplog.set_level("INFO")
    config = tiny_config(workspace, run_dir, backbone_weights=str(run_dir / "missing.pth"),
                         teacher_config={"epochs": 1})
    with pytest.raises(ConfigError, match="backbone weights file .* does not exist") as error:
        run_recbole_outfit("FND", "synthetic630", config_dict=config)
    assert error.value.where == "backbone_weights"
    assert "Stage teacher" not in caplog.text and "Stage 1" not in caplog.text  # refused before the first stage

    # on the command line: one paragraph, exit status 2
    args = ["--model=FND", "--dataset=synthetic630"] + [f"--{k}={v}" for k, v in config.items()]
    monkeypatch.setattr(sys, "argv", ["run_recbole_outfit.py", *args])
    capsys.readouterr()
    assert main(args) == 2
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr and "backbone_weights: backbone weights file" in stderr.strip().splitlines()[-1]


def test_px128_dataset_shares_synthetic630s_generated_root_and_has_its_own_folder(workspace, run_dir):
    settings = {key: value for key, value in tiny_config(workspace, run_dir).items() if key not in TINY_SYNTHETIC
                and key != "raw_path"}  # each dataset's own generator options and raw root
    base = Config("NPair", "synthetic630", config_dict=settings)
    px128 = Config("NPair", "synthetic630px128", config_dict=settings)
    # the same generator options and root: converting it never regenerates synthetic630's raw data
    assert synthetic_options(px128) == synthetic_options(base)
    assert (px128["raw_path"], px128["raw_folder"], px128["synthetic_folders"]) == \
        (base["raw_path"], base["raw_folder"], base["synthetic_folders"])
    assert (px128["image_size"], base["image_size"]) == (128, 64)
    assert px128["data_path"] != base["data_path"]  # its own converted folder and image store
