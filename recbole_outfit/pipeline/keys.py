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
from recbole_outfit.settings import dataset_settings, keys_of_class

# Each key's class is declared once, in its documentation comment in properties/*.yaml (``# (int, shared) ...``,
# see settings.KEY_CLASSES and docs/configuration.md); these are read from there.
# keys a stage inherits from the run that needs it (where the data is, how to run; not what to learn)
SHARED_KEYS = keys_of_class("shared")
# the shared keys that define a dataset's data (its yaml sets them): another dataset's stage (the cold-start
# users) takes them from its own yaml, unless the run overrode them (a --raw_path that holds every folder)
DATASET_KEYS = keys_of_class("dataset")
# keys that change what a run reports (which test sets, the cold-start evaluation) but not what it learns
RESULT_ONLY_KEYS = keys_of_class("result")
# keys that do not change what a stage learns (left out of its fingerprint)
RUN_ONLY_KEYS = frozenset(RESULT_ONLY_KEYS + keys_of_class("run"))
# keys a checkpoint evaluation takes from the current run rather than from the saved configuration
EVALUATION_KEYS = RESULT_ONLY_KEYS + keys_of_class("evaluation")


def data_root(config):
    """``data_path`` as the user gave it (RecBole appends the dataset name)."""
    return os.path.dirname(os.path.normpath(config["data_path"]))


def stage_config(model, config, overrides, dataset=None, source=None):
    """Config of a stage model for ``config``'s dataset (or ``dataset``): shared keys + the stage's overrides,
    no command line. ``source``: the key the overrides came from (``teacher_config``), which messages about
    them name."""
    settings = {k: config[k] for k in SHARED_KEYS if k in config}
    if dataset and dataset != config["dataset"]:  # another dataset: its own yaml defines its data ...
        own = dataset_settings(config["dataset"])
        for key in DATASET_KEYS:  # ... except where the run overrode its dataset's yaml
            if key == "raw_folder" or (key in own and settings.get(key) == own[key]):
                settings.pop(key, None)
    settings["data_path"] = data_root(config)
    settings.update(overrides or {})
    labels = {key: source for key in overrides or {}} if source else None
    return Config(model=model, dataset=dataset or config["dataset"], config_dict=settings, config_dict_source=labels)


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
