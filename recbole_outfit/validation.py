"""One validation pass over a run's settings, before any data is generated or any stage trains.

* **Unknown keys** are refused with a did-you-mean suggestion: a key must be documented in RecBole's or the
  plugin's yaml files, be one of the command line's own flags, or be listed in ``extra_keys`` (for keys
  passed on purpose that the plugin does not know, e.g. a custom model's parameters). RecBole's own models'
  parameters are known from RecBole's model yamls.
* **Types** as documented in the yaml comments (``settings.check_types``).
* **Ranges and options** (:data:`RANGES`, :func:`options`): epochs >= 1, rates and ratios in their
  intervals, sizes positive, names from their option lists.

Every problem is a ``ConfigError`` naming the key, where it was set (file and line, ``--key=value`` or the
config dict) and how to fix it.
"""

import difflib
import functools
import glob
import os
import re

import recbole

from recbole_outfit.errors import ConfigError, location
from recbole_outfit.model.augment import OutfitAugmenter
from recbole_outfit.model.layers import BACKBONE_FC_WIDTH
from recbole_outfit.model.outfit_recommender import NEGATIVE_POOLS
from recbole_outfit.model.attribute_classifier import PRETRAIN_HEADS
from recbole_outfit.settings import properties_dir

# the command line's own flags (cli.py) and RecBole's run-time keys: set by the program, not documented in yaml
COMMAND_LINE_KEYS = {"model", "dataset", "config_files", "seeds", "results_dir", "overwrite", "nproc", "world_size", "ip",
                     "port", "group_offset", "offset", "local_rank", "device", "single_spec", "config_file_list"}
LEARNERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "sparse_adam")
_KEY = re.compile(r"^([A-Za-z_]\w*)\s*:")


def _interval(low=None, high=None, low_open=False, high_open=False):
    def check(value):
        if low is not None and (value < low or (low_open and value == low)):
            return False
        return not (high is not None and (value > high or (high_open and value == high)))
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    text = f"in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if high is None:
        text = f"> {low}" if low_open else f">= {low}"
    return check, text


POSITIVE_INT = _interval(1)
POSITIVE = _interval(0, low_open=True)
NON_NEGATIVE = _interval(0)
UNIT = _interval(0, 1)
RANGES = {
    "epochs": POSITIVE_INT, "train_batch_size": POSITIVE_INT, "eval_batch_size": POSITIVE_INT,
    "eval_step": POSITIVE_INT, "stopping_step": POSITIVE_INT, "learning_rate": POSITIVE,
    "weight_decay": NON_NEGATIVE, "momentum": _interval(0, 1, high_open=True), "embedding_size": POSITIVE_INT,
    "num_heads": POSITIVE_INT, "tau": POSITIVE, "tau_cl": POSITIVE, "train_neg_sample_num": POSITIVE_INT,
    "train_neg_hard_ratio": UNIT, "backbone_dropout": _interval(0, 1, high_open=True), "garment_batch_size": POSITIVE_INT,
    "fnd_alpha": POSITIVE, "cl_weight": NON_NEGATIVE, "replace_neighbours": POSITIVE_INT, "image_size": _interval(8),
    "cold_repeats": POSITIVE_INT, "cold_tau": POSITIVE, "autoencoder_latent": POSITIVE_INT,
    "autoencoder_batch_size": POSITIVE_INT, "lpae_anchors": POSITIVE_INT, "lpae_general_anchors": POSITIVE_INT,
    "synthetic_difficulty": UNIT, "synthetic_style_breadth": UNIT, "synthetic_scale": POSITIVE,
    "synthetic_garment_scale": POSITIVE,
    "synthetic_image_px": _interval(8), "convert_workers": POSITIVE_INT, "metric_decimal_place": NON_NEGATIVE,
    "pretrain_garments": _interval(2), "pretrain_epochs": POSITIVE_INT, "pretrain_learning_rate": POSITIVE,
    "pretrain_batch_size": POSITIVE_INT, "gpu_store_budget": NON_NEGATIVE,
}


def options():
    """{key: allowed values} of the keys that name one of a fixed set of options."""
    return {"backbone": tuple(BACKBONE_FC_WIDTH), "negative_pool": NEGATIVE_POOLS, "learner": LEARNERS,
            "valid_split": ("valid_teacher", "valid_student"), "image_store_place": ("auto", "gpu", "cpu"),
            "lpae_variant": ("u", "g"), "teacher": ("trained", "oracle"), "fnd_scale": ("paper", "normalized"),
            "pretrain_head": PRETRAIN_HEADS}


@functools.lru_cache(maxsize=1)
def documented_keys():
    """Every key set in a yaml file of RecBole's or the plugin's properties (RecBole's models included); read
    once per process (every Config, each stage's included, asks)."""
    recbole_dir = os.path.join(os.path.dirname(recbole.__file__), "properties")
    files = glob.glob(os.path.join(recbole_dir, "**", "*.yaml"), recursive=True)
    files += glob.glob(os.path.join(properties_dir(), "**", "*.yaml"), recursive=True)
    keys = set()
    for file in files:
        with open(file, "r", encoding="utf-8") as f:
            keys.update(m.group(1) for m in map(_KEY.match, f) if m)
    return frozenset(keys)


def _where(key, config):
    """Where ``key`` was set: the yaml file and line, the command line, or the config dict."""
    if key in config.cmd_config_dict:
        return f"--{key}=... on the command line"
    if key in config.variable_config_dict:
        return f"config_dict key {key!r}"
    for file in reversed(getattr(config, "config_file_list", None) or []):
        with open(file, "r", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                match = _KEY.match(line)
                if match and match.group(1) == key:
                    return location(file, number)
    return f"config key {key!r}"


def check_known_keys(config):
    """Refuse keys nobody documents (a misspelt key would otherwise be ignored silently)."""
    allowed = set(config.internal_config_dict) | documented_keys() | COMMAND_LINE_KEYS
    allowed |= set(config.external_config_dict.get("extra_keys") or ())
    for key in config.external_config_dict:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown setting {key!r}", where=_where(key, config),
            fix=f"{hint}Settings are documented in properties/*.yaml (and RecBole's own); to pass a key the plugin "
                f"does not know on purpose, also give extra_keys: [{key}] (e.g. --extra_keys=\"['{key}']\")")


def check_values(config):
    """Ranges, option lists and the augmentation pair of every set key."""
    values = config.final_config_dict
    for key, (check, text) in RANGES.items():
        value = values.get(key)
        if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)) and not check(value):
            raise ConfigError(f"{key} must be {text}, got {value!r}", where=_where(key, config),
                              fix=f"set {key} to a value {text}")
    for key, allowed in options().items():
        value = values.get(key)
        if value is not None and str(value).lower() not in {a.lower() for a in allowed}:
            close = difflib.get_close_matches(str(value), list(allowed), n=1)
            raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}", where=_where(key, config),
                              fix=(f"Did you mean {close[0]!r}? " if close else "") + f"e.g. --{key}={allowed[0]}")
    if values.get("cl_augmentations") is not None:
        try:
            OutfitAugmenter.check_pair(values["cl_augmentations"])
        except ConfigError as error:
            raise ConfigError(error.what, where=_where("cl_augmentations", config), fix=error.fix) from None
    for shots in values.get("cold_shots") or ():
        if not isinstance(shots, int) or shots < 1:
            raise ConfigError(f"cold_shots must hold positive numbers of known outfits, got {shots!r}",
                              where=_where("cold_shots", config), fix="e.g. --cold_shots=\"[1,5]\"")


def validate(config):
    """The whole validation pass (see the module docstring); raises the first problem found."""
    check_known_keys(config)
    check_values(config)

