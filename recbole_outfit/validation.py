"""One validation pass over a run's settings, before any data is generated or any stage trains.

* **Unknown keys** are refused with a did-you-mean suggestion: a key must be documented in RecBole's or the
  plugin's yaml files (``properties/runtime.yaml`` names the program's own keys) or be listed in
  ``extra_keys`` (for keys passed on purpose that the plugin does not know, e.g. a custom model's
  parameters). RecBole's own models' parameters are known from RecBole's model yamls.
* **Types** as documented in the yaml comments (``settings.check_types``).
* **Ranges and options** (:data:`RANGES`, ``options.OPTIONS``): epochs >= 1, rates and ratios in their
  intervals, sizes positive, names from their option lists (any case; the canonical spelling is written back).
* **The stages' own settings** (``teacher_config``, ``autoencoder_config``): the same checks, named as the
  stage's settings.

Two entry points share these checks: :func:`validate` (every ``Config``, the stages' included) and
:func:`check_command_line` (the command line's ``--key=value`` and config files, before torch and RecBole are
imported). A light module: it imports neither. Every problem is a ``ConfigError`` naming the key, where it was
set (file and line, ``--key=value``, the config dict or the stage's settings) and how to fix it.
"""

import ast
import difflib
import glob
import os

from recbole_outfit.errors import ConfigError, location
from recbole_outfit.options import OPTIONS, check_augmentation_pair, choose
from recbole_outfit.settings import (check_types, documented_keys, documented_types, key_line, properties_dir,
                                     read_yaml_file, recbole_properties_dir)


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
    "pretrain_batch_size": POSITIVE_INT, "gpu_store_budget": NON_NEGATIVE, "seeds": POSITIVE_INT,
}
# the settings of a stage run on its own: {key: what the message calls them}
STAGE_SETTINGS = {"teacher_config": "the teacher stage's settings",
                  "autoencoder_config": "the autoencoder stage's settings",
                  "relevancy_config": "OutfitNet's relevancy stage's settings"}


SEARCH_ALGORITHMS = ("exhaustive", "random", "bayes")  # the hyper-parameter search's (RecBole's HyperTuning)


def check_search_flags(algo, max_evals, early_stop):
    """The search's own flags: a known algorithm, at least one trial, a patience of at least one trial."""
    if algo not in SEARCH_ALGORITHMS:
        raise ConfigError(f"unknown search algorithm {algo!r}", where="--algo", fix=f"use one of {', '.join(SEARCH_ALGORITHMS)}")
    if not isinstance(max_evals, int) or max_evals < 1:
        raise ConfigError(f"--max_evals must be at least 1, got {max_evals!r}", where=f"--max_evals={max_evals}",
                          fix="Give how many trials the search may run at most, e.g. --max_evals=20")
    if not isinstance(early_stop, int) or early_stop < 1:
        raise ConfigError(f"--early_stop must be at least 1, got {early_stop!r}", where=f"--early_stop={early_stop}",
                          fix="Give after how many trials without a better validation score to stop, e.g. 10")


def check_model_names(names):
    """Refuse a model that neither the plugin (a ``properties/model/<Name>.yaml``) nor RecBole (a module
    ``recbole/model/<type>/<name>.py``, which is how RecBole's ``get_model`` finds it) has, with a did-you-mean;
    read from disk, nothing imported. ``Config`` resolves the names for real later."""
    plugin = [name[:-5] for name in os.listdir(os.path.join(properties_dir(), "model")) if name.endswith(".yaml")]
    recbole_models = os.path.join(os.path.dirname(recbole_properties_dir()), "model")
    modules = {os.path.basename(path)[:-3] for path in glob.glob(os.path.join(recbole_models, "*", "*.py"))}
    known = {name.lower() for name in plugin} | (modules - {"__init__", "abstract_recommender", "layers", "init",
                                                           "loss"})
    for name in names:
        if name.lower() not in known:
            close = difflib.get_close_matches(name, sorted(plugin), n=1, cutoff=0.6)
            raise ConfigError(f"unknown model {name!r}", where="--model",
                              fix=(f"Did you mean {close[0]!r}? " if close else "")
                              + f"The plugin's models: {', '.join(sorted(plugin))}; or any RecBole model (e.g. BPR)")


def convert_value(text):
    """A ``--key=value`` text as the value it stands for: a Python literal (``3``, ``1e-3``, ``[1, 5]``,
    ``{'epochs': 2}``, ``None``), ``true`` / ``false`` in any case as a bool, anything else the text itself.
    RecBole's ``Config._convert_config_dict`` does the same with ``eval``; the plugin's Config uses this one
    (a command line's text is never run as code)."""
    if not isinstance(text, str):
        return text
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return {"true": True, "false": False}.get(text.lower(), text)
    return value if isinstance(value, (str, int, float, list, tuple, dict, bool, type(None))) else text


def parse_overrides(args):
    """``{key: text}`` of the ``--key=value`` arguments ``args`` (what a command's own flags left), read as
    RecBole's Config reads its command line, except that anything else is refused (RecBole ignores it with a
    warning) and a value may hold ``=``."""
    overrides = {}
    for arg in args:
        key, equals, text = arg[2:].partition("=") if arg.startswith("--") else ("", "", "")
        if not equals or not key.isidentifier():
            raise ConfigError(f"cannot read the argument {arg!r}", where="the command line",
                              fix="Write every setting as --key=value, with no space around '=' (e.g. --epochs=3); "
                                  "quote values holding spaces: --cold_shots=\"[1, 5]\"")
        if key in overrides and overrides[key] != text:
            raise ConfigError(f"--{key} is given twice with different values ({overrides[key]!r}, {text!r})",
                              where="the command line", fix="give each --key=value once")
        overrides[key] = text
    return overrides


def check_known_keys(keys, where, allowed=()):
    """Refuse keys nobody documents (a misspelt key would otherwise be ignored silently)."""
    allowed = set(allowed) | documented_keys()
    for key in keys:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown setting {key!r}", where=where(key),
            fix=f"{hint}Settings are documented in properties/*.yaml (and RecBole's own); to pass a key the plugin "
                f"does not know on purpose, also give extra_keys: [{key}] (e.g. --extra_keys=\"['{key}']\")")


def check_values(values, where, canonical=True):
    """Ranges, option lists and the augmentation pair of every set key of the dict ``values``; with
    ``canonical``, option values are rewritten in their canonical spelling (``xs`` -> ``XS``)."""
    for key, (check, text) in RANGES.items():
        value = values.get(key)
        if value is not None and not isinstance(value, bool) and isinstance(value, (int, float)) and not check(value):
            raise ConfigError(f"{key} must be {text}, got {value!r}", where=where(key),
                              fix=f"set {key} to a value {text}")
    for key in OPTIONS:
        if values.get(key) is not None:
            chosen = choose(key, values[key], where=where(key))
            if canonical:
                values[key] = chosen
    if values.get("cl_augmentations") is not None:
        chosen = check_augmentation_pair(values["cl_augmentations"], where=where("cl_augmentations"))
        if canonical:
            values["cl_augmentations"] = chosen
    for shots in values.get("cold_shots") or ():
        if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
            raise ConfigError(f"cold_shots must hold positive numbers of known outfits, got {shots!r}",
                              where=where("cold_shots"), fix="e.g. [1, 5]")


def check_stage_settings(values, where, extra=()):
    """The ``teacher_config`` / ``autoencoder_config`` dicts: known keys, documented types, ranges, options."""
    for name, label in STAGE_SETTINGS.items():
        settings = values.get(name)
        if settings is None:
            continue
        if not isinstance(settings, dict):
            continue  # its type check names it
        inner = lambda key, name=name, label=label: f"{where(name)}, {label}, key {key!r}"  # noqa: E731
        check_known_keys(settings, inner, allowed=extra)
        check_types(settings, where=inner)
        check_values(dict(settings), inner, canonical=False)


def check_settings(values, where, extra=(), known=None):
    """Every check of this module on a plain dict of settings; ``where(key)`` says where a key was set,
    ``known`` are the keys whose names to check (default: all of ``values``)."""
    extra = set(extra) | set(values.get("extra_keys") or ())
    check_known_keys(values if known is None else known, where, allowed=extra)
    check_types(values, where=where)
    check_values(values, where, canonical=False)
    check_stage_settings(values, where, extra)


def where_in(config):
    """``where(key)`` for a ``Config``: the yaml file and line, the command line, or the config dict (named
    by ``config.config_dict_source`` when a stage built it)."""

    def where(key):
        if key in config.cmd_config_dict:
            return f"--{key}=... on the command line"
        if key in config.variable_config_dict:
            source = getattr(config, "config_dict_source", None)
            source = source.get(key) if isinstance(source, dict) else source
            return f"{source}, key {key!r}" if source else f"config_dict key {key!r}"
        files = [*(getattr(config, "property_files", None) or []), *(getattr(config, "config_file_list", None) or [])]
        for file in reversed(files):
            line = key_line(file, key)
            if line is not None:
                return location(file, line)
        return f"config key {key!r}"

    return where


def validate(config):
    """The whole validation pass over a ``Config`` (see the module docstring); raises the first problem found.
    Option values are written back in their canonical spelling."""
    where = where_in(config)
    extra = set(config.internal_config_dict) | set(config.external_config_dict.get("extra_keys") or ())
    check_known_keys(config.external_config_dict, where, allowed=extra)
    values = config.final_config_dict
    check_types(values, where=where)
    check_values(values, where, canonical=True)
    check_stage_settings(values, where, extra)


def check_command_line(overrides, config_files=None):
    """The checks that need no model or dataset, on what the user wrote: each config file's settings (named
    by file and line) and the ``--key=value`` overrides (a dict of their texts). Runs before torch and RecBole
    are imported, so a mistake is reported at once; the full pass (:func:`validate`) follows in the Config."""
    files = {}
    for path in config_files or ():
        files[path] = read_yaml_file(path)
    given = {key: convert_value(text) for key, text in overrides.items()}
    extra = set(given.get("extra_keys") or ())
    for settings in files.values():
        extra |= set(settings.get("extra_keys") or ())
    for path, settings in files.items():
        check_settings(settings, lambda key, path=path: location(path, key_line(path, key)), extra)
    check_settings(given, lambda key: f"--{key}=... on the command line", extra)
    return given


__all__ = ["RANGES", "SEARCH_ALGORITHMS", "STAGE_SETTINGS", "check_model_names", "check_search_flags", "check_command_line", "parse_overrides", "check_settings", "check_values", "convert_value",
           "documented_types", "validate", "where_in"]
