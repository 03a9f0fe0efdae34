"""Which settings a stage inherits, which change only what a run reports, and how a stage is identified.

A stage's configuration is the stage model's yaml, the dataset yaml, the run's environment and data keys
(:data:`SHARED_KEYS`) and the stage's own overrides (``teacher_config`` / ``autoencoder_config``); the
student's other keys and command-line flags do not leak into it. Its fingerprint hashes that configuration
and the dataset's conversion signature: a stage reruns exactly when something it depends on changed.
"""

import hashlib
import json
import os

from recbole_outfit.config import Config
from recbole_outfit.data.convert import read_manifest
from recbole_outfit.settings import dataset_settings

# keys a stage inherits from the run that needs it (where the data is, how to run; not what to learn)
SHARED_KEYS = (
    "gpu_id", "use_gpu", "seed", "reproducibility", "state", "show_progress", "checkpoint_dir", "worker",
    "raw_path", "raw_folder", "synthetic", "synthetic_seed", "synthetic_scale", "synthetic_difficulty",
    "synthetic_image_px", "synthetic_style_breadth", "synthetic_garment_scale", "synthetic_folders", "image_size",
    "convert_workers", "image_store_place", "gpu_store_budget", "image_prefetch", "eval_batch_size",
    "garment_batch_size", "train_neg_hard_ratio", "test_hard", "resume", "trust_checkpoint", "channels_last",
    "fast_loader", "dataset_cache", "enable_amp", "enable_scaler",
    # where the item encoders start (teacher and students alike, as in the paper) and the pretraining's settings
    "backbone_weights", "backbone_weights_file", "pretrain_garments", "pretrain_epochs", "pretrain_learning_rate",
    "pretrain_batch_size", "pretrain_seed", "pretrain_head",
)
# the shared keys that define a dataset's data (its yaml sets them): another dataset's stage (the cold-start
# users) takes them from its own yaml, unless the run overrode them (a --raw_path that holds every folder)
DATASET_KEYS = ("raw_path", "raw_folder", "synthetic", "synthetic_seed", "synthetic_scale", "synthetic_difficulty",
                "synthetic_image_px", "synthetic_style_breadth", "synthetic_garment_scale", "synthetic_folders",
                "image_size")
# keys that change what a run reports (which test sets, the cold-start evaluation) but not what it learns
RESULT_ONLY_KEYS = ("test_hard", "cold_dataset", "cold_shots", "cold_repeats", "cold_delta", "cold_tau")
# keys that do not change what a stage learns (left out of its fingerprint)
RUN_ONLY_KEYS = {*RESULT_ONLY_KEYS,
    "show_progress", "state", "checkpoint_dir", "results_json", "gpu_id", "use_gpu", "device", "worker",
    "eval_batch_size", "garment_batch_size", "image_store_place", "gpu_store_budget", "image_prefetch",
    "convert_workers", "log_wandb",
    "wandb_project", "local_rank", "single_spec", "save_dataset", "dataset_save_path", "save_dataloaders",
    "dataloaders_save_path", "data_path", "raw_path", "nproc", "world_size", "offset", "ip", "port",
    "benchmark_filename", "seeds", "results_dir", "overwrite", "resume", "trust_checkpoint",
    # how to compute, not what to learn: the same results (to float rounding) either way
    "plot", "fast_loader", "dataset_cache", "channels_last",
}
# keys a checkpoint evaluation takes from the current run rather than from the saved configuration
EVALUATION_KEYS = RESULT_ONLY_KEYS + (
    "eval_batch_size", "garment_batch_size", "image_store_place", "gpu_store_budget", "image_prefetch",
    "show_progress", "state", "results_json",
    "gpu_id", "use_gpu", "device", "checkpoint", "seed", "trust_checkpoint")


def data_root(config):
    """``data_path`` as the user gave it (RecBole appends the dataset name)."""
    return os.path.dirname(os.path.normpath(config["data_path"]))


def stage_config(model, config, overrides, dataset=None):
    """Config of a stage model for ``config``'s dataset (or ``dataset``): shared keys + the stage's overrides,
    no command line."""
    settings = {k: config[k] for k in SHARED_KEYS if k in config}
    if dataset and dataset != config["dataset"]:  # another dataset: its own yaml defines its data ...
        own = dataset_settings(config["dataset"])
        for key in DATASET_KEYS:  # ... except where the run overrode its dataset's yaml
            if key == "raw_folder" or (key in own and settings.get(key) == own[key]):
                settings.pop(key, None)
    settings["data_path"] = data_root(config)
    settings.update(overrides or {})
    return Config(model=model, dataset=dataset or config["dataset"], config_dict=settings, command_line=False)


def fingerprint(config):
    """12 hex digits identifying what a run or stage learns: its settings and the dataset's conversion."""
    settings = {k: str(v) for k, v in sorted(config.final_config_dict.items())
                if k not in RUN_ONLY_KEYS and v is not None}  # a newly documented, unset key changes nothing
    manifest = read_manifest(config["data_path"], config["dataset"]) or {}
    settings["__dataset__"] = json.dumps(manifest.get("signature", manifest.get("counts")), sort_keys=True)
    return settings_fingerprint(settings)


def settings_fingerprint(settings):
    """12 hex digits identifying a dict of settings (JSON-serialisable values)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:12]
