"""A search space: the ``.hyper`` file (RecBole's format) a search reads, found and read with every problem named
by its line. A light module (no torch, RecBole or hyperopt): the search's command line reads the file before
those load (``experiments/hyper_cli.py``); ``experiments/hyper.py`` searches it.
"""

import ast
import os

from recbole_outfit.errors import ConfigError, location
from recbole_outfit.settings import properties_dir

SPACE_TYPES = {"choice": None, "uniform": 2, "quniform": 3, "loguniform": 2}  # type -> numbers it takes


def hyper_dir():
    """The shipped ``.hyper`` files: ``properties/hyper`` beside the plugin's yaml files."""
    return os.path.join(properties_dir(), "hyper")


def resolve_params_file(params_file, model):
    """The ``.hyper`` file to search: ``params_file`` as a path, else a shipped file of that name, else (none
    given) the model's shipped ``<model>.hyper``."""
    folder = hyper_dir()
    if params_file:
        candidates = [params_file, os.path.join(folder, params_file), os.path.join(folder, f"{params_file}.hyper")]
    else:
        candidates = [os.path.join(folder, f"{model}.hyper")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    shipped = sorted(n for n in os.listdir(folder) if n.endswith(".hyper")) if os.path.isdir(folder) else []
    what = f"params file {params_file!r} does not exist" if params_file else f"no shipped search space for {model}"
    raise ConfigError(what, where="--params_file",
                      fix=f"give a .hyper file (one '<key> choice [v1, v2]' line per key); shipped in "
                          f"properties/hyper: {', '.join(shipped) or 'none'}")


def read_params_file(path):
    """``{space type: {key: values}}`` (RecBole's ``params_dict`` form) from a ``.hyper`` file.

    Same format as RecBole's ``HyperTuning`` files, plus full-line ``#`` comments; every problem is reported
    with its line before anything runs. ``choice`` values are Python literals (``[1.25, 2.5]``,
    ``[['erase','replace'], ['erase','erase']]``); the others take comma-separated numbers."""
    space, seen = {}, set()
    with open(path, "r", encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        where = location(path, number)
        if len(parts) < 3:
            raise ConfigError(f"expected '<key> <type> <values>', got {text!r}", where=where,
                              fix=f"write e.g. 'fnd_alpha choice [1.25, 2.5]'; types: {', '.join(SPACE_TYPES)}")
        key, kind, value = parts[0], parts[1], "".join(parts[2:])
        if kind not in SPACE_TYPES:
            raise ConfigError(f"unknown search type {kind!r} for {key}", where=where,
                              fix=f"use one of {', '.join(SPACE_TYPES)} (hyperopt's, as in RecBole)")
        if key in seen:
            raise ConfigError(f"{key} is searched twice", where=where, fix="keep one line per key")
        seen.add(key)
        if kind == "choice":
            try:
                values = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                values = None
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"the choices of {key} must be a non-empty list of literals, got {value!r}",
                                  where=where, fix="write them like [1.25, 2.5] or ['erase', 'replace']")
            values = list(values)
        else:
            try:
                values = [float(v) for v in value.split(",")]
            except ValueError:
                values = []
            if len(values) != SPACE_TYPES[kind] or values[0] >= values[1] or (kind == "quniform" and values[2] <= 0):
                form = "low, high, q (q > 0)" if kind == "quniform" else "low, high"
                raise ConfigError(f"{kind} for {key} takes {form} with low < high, got {value!r}", where=where,
                                  fix=f"write e.g. '{key} {kind} {'16, 64, 16' if kind == 'quniform' else '0.1, 0.5'}'"
                                      + (" (loguniform bounds are logarithms: exp(uniform(low, high)))"
                                         if kind == "loguniform" else ""))
        space.setdefault(kind, {})[key] = values
    if not space:
        raise ConfigError("the params file names no key to search", where=path,
                          fix="add a line per key, e.g. 'fnd_alpha choice [1.25, 2.5]'")
    return space


def searched_line(path, key):
    """The 1-based line of the ``.hyper`` file ``path`` that searches ``key`` (None when none does)."""
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.split()[:1] == [key]:
                return number
    return None
