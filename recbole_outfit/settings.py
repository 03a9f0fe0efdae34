"""The plugin's documented settings: where its yaml files are, which datasets they name, and the type each
key is documented with (the ``# (type)`` comments of RecBole's and the plugin's yaml files).

A utility below every other layer: it reads yaml text and nothing of the run.
"""

import glob
import os
import re

import yaml

import recbole
from recbole.config import Config as RecBoleConfig

from recbole_outfit.errors import ConfigError

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))


def properties_dir():
    """``properties/`` at the repository top (source checkout / editable install) or inside the wheel."""
    for candidate in (os.path.join(PACKAGE_DIR, "..", "properties"), os.path.join(PACKAGE_DIR, "properties")):
        if os.path.isfile(os.path.join(candidate, "overall.yaml")):
            return os.path.normpath(candidate)
    raise ConfigError("the plugin's properties/ folder is missing", where=PACKAGE_DIR,
                      fix="reinstall recbole-outfit (pip install -e . from the repository)")


def known_datasets():
    folder = os.path.join(properties_dir(), "dataset")
    return sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".yaml"))


def dataset_settings(dataset):
    """The settings ``properties/dataset/<dataset>.yaml`` gives (empty for a dataset without a yaml), read as
    RecBole's ``Config`` reads them: with its yaml loader, which takes ``1e-3`` for a float where PyYAML's safe
    loader keeps a string, so a value compares equal to the run's."""
    path = os.path.join(properties_dir(), "dataset", f"{dataset}.yaml")
    if not os.path.isfile(path):
        return {}
    with open(path, "r", encoding="utf-8") as f:
        return yaml.load(f.read(), Loader=RecBoleConfig._build_yaml_loader(None)) or {}  # (self is unused)


_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list, tuple),
          "dict": (dict,), "none": (type(None),)}
_DOCUMENTED = re.compile(r"^([A-Za-z_]\w*):[^#]*#\s*\(([^)]*)\)")


def documented_types():
    """{key: allowed python types} from the ``# (type)`` comments of RecBole's and the plugin's yaml files."""
    recbole_dir = os.path.join(os.path.dirname(recbole.__file__), "properties")
    files = [os.path.join(recbole_dir, "overall.yaml"), os.path.join(recbole_dir, "dataset", "sample.yaml")]
    folder = properties_dir()
    files += [os.path.join(folder, "overall.yaml"), os.path.join(folder, "outfit.yaml")]
    files += sorted(glob.glob(os.path.join(folder, "model", "*.yaml")))
    files += sorted(glob.glob(os.path.join(folder, "dataset", "*.yaml")))
    types = {}
    for file in files:
        with open(file, "r", encoding="utf-8") as f:
            for line in f:
                match = _DOCUMENTED.match(line)
                if match:
                    names = [t.strip().lower() for t in match.group(2).split(" or ")]
                    if all(n in _TYPES for n in names):
                        types[match.group(1)] = tuple(t for n in names for t in _TYPES[n])
    return types


def check_types(config_dict, types=None):
    """Raise ``ConfigError`` for the first key whose value does not have its documented type (None is
    always allowed: ``~`` means "not set")."""
    types = types or documented_types()
    for key, allowed in types.items():
        value = config_dict.get(key)
        if value is None or (isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)):
            continue
        expected = " or ".join(sorted({t.__name__ for t in allowed}))
        raise ConfigError(
            f"{key} must be {expected}, got {value!r} ({type(value).__name__})", where=f"config key {key!r}",
            fix=f"set it in a yaml file or as --{key}=<{expected}>; lists are written like \"['a','b']\"",
        )
