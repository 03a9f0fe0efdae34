"""The staged pipeline of a student (paper 3.2.2 and 3.3.2), each stage cached and reused.

1. **Teacher** (``distill: True`` and no ``teacher_checkpoint``): a ``Teacher`` run on the same dataset with
   its own validation half (``valid_teacher``), through the same ``train_and_test`` as any model. Its best
   checkpoint is kept as ``<checkpoint_dir>/stages/<dataset>/Teacher-<fingerprint>.pth``.
2. **Neighbour table** (``replace`` among ``cl_augmentations``): the garment autoencoder trained by RecBole's
   Trainer on the training garments, then top-k same-category neighbours, kept beside the dataset as
   ``<data_path>/<dataset>.neighbours-<fingerprint>.npz``.

A stage's configuration is the stage model's yaml, the dataset yaml, the run's environment and data keys
(:data:`SHARED_KEYS`) and the stage's own overrides (``teacher_config`` / ``autoencoder_config``); the
student's other keys and command-line flags do not leak into it. The fingerprint hashes that configuration
and the dataset's conversion signature: a stage reruns exactly when something it depends on changed.
"""

import hashlib
import json
import os
import shutil
from logging import getLogger

import numpy as np
import torch
from recbole.trainer import Trainer
from recbole.utils import init_seed, set_color

from recbole_outfit.errors import ConfigError

# keys a stage inherits from the run that needs it (where the data is, how to run; not what to learn)
SHARED_KEYS = (
    "gpu_id", "use_gpu", "seed", "reproducibility", "state", "show_progress", "checkpoint_dir", "worker",
    "raw_path", "raw_folder", "synthetic", "synthetic_seed", "synthetic_scale", "synthetic_difficulty",
    "synthetic_image_px", "image_size", "convert_workers", "image_store_place", "eval_batch_size",
    "garment_batch_size", "train_neg_hard_ratio", "test_hard",
)
# keys that change what a run reports (which test sets, the cold-start evaluation) but not what it learns
RESULT_ONLY_KEYS = ("test_hard", "cold_dataset", "cold_shots", "cold_repeats", "cold_delta", "cold_tau")
# keys that do not change what a stage learns (left out of its fingerprint)
RUN_ONLY_KEYS = {*RESULT_ONLY_KEYS,
    "show_progress", "state", "checkpoint_dir", "results_json", "gpu_id", "use_gpu", "device", "worker",
    "eval_batch_size", "garment_batch_size", "image_store_place", "convert_workers", "log_wandb",
    "wandb_project", "local_rank", "single_spec", "save_dataset", "dataset_save_path", "save_dataloaders",
    "dataloaders_save_path", "data_path", "raw_path", "nproc", "world_size", "offset", "ip", "port",
    "benchmark_filename", "seeds", "results_dir",
}


def _data_root(config):
    """``data_path`` as the user gave it (RecBole appends the dataset name)."""
    return os.path.dirname(os.path.normpath(config["data_path"]))


def stage_config(model, config, overrides, dataset=None):
    """Config of a stage model for ``config``'s dataset (or ``dataset``): shared keys + the stage's overrides,
    no command line."""
    from recbole_outfit.config import Config

    settings = {k: config[k] for k in SHARED_KEYS if k in config}
    if dataset and dataset != config["dataset"]:
        settings.pop("raw_folder", None)  # another dataset: its own yaml names its folder
    settings["data_path"] = _data_root(config)
    settings.update(overrides or {})
    return Config(model=model, dataset=dataset or config["dataset"], config_dict=settings, command_line=False)


def fingerprint(config):
    """12 hex digits identifying what a stage learns: its settings and the dataset's conversion."""
    from recbole_outfit.data.convert import read_manifest

    settings = {k: str(v) for k, v in sorted(config.final_config_dict.items())
                if k not in RUN_ONLY_KEYS and v is not None}  # a newly documented, unset key changes nothing
    manifest = read_manifest(config["data_path"], config["dataset"]) or {}
    settings["__dataset__"] = json.dumps(manifest.get("signature", manifest.get("counts")), sort_keys=True)
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()
    return digest[:12]


def _copy_atomic(source, target):
    tmp = f"{target}.tmp-{os.getpid()}"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def teacher_stage(config):
    """Path of a trained teacher checkpoint for ``config``'s dataset, training one when needed."""
    from recbole_outfit.data.prepare import ensure_atomic_dataset
    from recbole_outfit.quick_start import train_and_test

    logger = getLogger()
    teacher_config = stage_config("Teacher", config, config["teacher_config"])
    ensure_atomic_dataset(teacher_config)  # the fingerprint reads the converted dataset's manifest
    folder = os.path.join(config["checkpoint_dir"], "stages", config["dataset"])
    path = os.path.join(folder, f"Teacher-{fingerprint(teacher_config)}.pth")
    if os.path.isfile(path):
        logger.info(set_color("Stage teacher", "green") + f": reusing {path}")
        return path
    logger.info(set_color("Stage teacher", "green") + f": training a Teacher ({teacher_config['backbone']}) on "
                f"{config['dataset']} with validation split {teacher_config['valid_split']}")
    result = train_and_test(teacher_config, saved=True)
    os.makedirs(folder, exist_ok=True)
    _copy_atomic(result["checkpoint"], path)
    from recbole_outfit.report import write_json_atomic

    write_json_atomic(path[:-4] + ".json", result)
    logger.info(set_color("Stage teacher", "green") + f": test user_auc {result['test_result']['user_auc']:.4f}, "
                f"kept as {path}")
    return path


def neighbour_stage(config):
    """Path of the neighbour table for ``replace``, building it (autoencoder + top-k) when needed."""
    from recbole_outfit.model.autoencoder import (GarmentAutoencoder, GarmentDataLoader, neighbour_table,
                                                  training_garments)
    from recbole_outfit.utils import create_dataset

    logger = getLogger()
    overrides = {"replace_neighbours": config["replace_neighbours"], **(config["autoencoder_config"] or {})}
    ae_config = stage_config(GarmentAutoencoder, config, overrides)
    dataset = create_dataset(ae_config)
    key = fingerprint(ae_config)
    path = os.path.join(ae_config["data_path"], f"{config['dataset']}.neighbours-{key}.npz")
    if os.path.isfile(path):
        logger.info(set_color("Stage neighbours", "green") + f": reusing {path}")
        return path
    train = dataset.build()[0]
    garments = training_garments(train)
    logger.info(set_color("Stage neighbours", "green") + f": training the garment autoencoder on "
                f"{len(garments)} training garments")
    init_seed(ae_config["seed"], ae_config["reproducibility"])
    model = GarmentAutoencoder(ae_config, dataset).to(ae_config["device"])
    loader = GarmentDataLoader(ae_config, train, garments)
    Trainer(ae_config, model).fit(loader, None, saved=False, show_progress=ae_config["show_progress"])
    codes = model.encode(garments.to(ae_config["device"])).cpu()
    table = neighbour_table(codes, garments, dataset.garment_category, len(dataset.garment_category),
                            ae_config["replace_neighbours"])
    tokens = dataset.field2id_token["garment_id"]
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    np.savez(tmp, table=table.numpy(), tokens=np.asarray(tokens, dtype=str))
    os.replace(tmp, path)
    logger.info(set_color("Stage neighbours", "green") + f": {ae_config['replace_neighbours']} neighbours for "
                f"{len(garments)} garments kept as {path}")
    return path


def load_neighbour_table(path, dataset):
    """The neighbour table as a LongTensor ``[n_garments, k]`` in ``dataset``'s garment ids."""
    if not path or not os.path.isfile(path):
        raise ConfigError(f"neighbour table {path!r} does not exist", where="neighbour_table",
                          fix="leave neighbour_table unset so the pipeline builds it, or drop 'replace'")
    data = np.load(path)
    tokens = list(dataset.field2id_token["garment_id"])
    if list(data["tokens"]) != tokens:
        raise ConfigError(f"{path} was built for other garments than {dataset.dataset_name}'s",
                          where="neighbour_table", fix="delete it (it is rebuilt) or give the right file")
    return torch.from_numpy(data["table"]).long()


def prepare_student(config):
    """Run the stages a student configuration needs and record their artifacts in ``config``."""
    logger = getLogger()
    if config["distill"] and not config["teacher_checkpoint"]:
        config["teacher_checkpoint"] = teacher_stage(config)
    elif config["distill"]:
        logger.info(set_color("Stage teacher", "green") + f": using the given {config['teacher_checkpoint']}")
    if config["cl_weight"] > 0 and "replace" in config["cl_augmentations"] and not config["neighbour_table"]:
        config["neighbour_table"] = neighbour_stage(config)
