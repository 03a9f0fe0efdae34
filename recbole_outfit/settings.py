"""The plugin's documented settings: where its yaml files are, how they are read, which datasets they name, and
what each key is documented as (the ``# (type, class ...) meaning`` comments of the yaml files).

A utility below every other layer, importable without torch or RecBole (the command line checks its
arguments with it before those load): it reads yaml text and nothing of the run. RecBole's own yaml files are
found on disk (``importlib.util.find_spec``), not imported.

The documentation comment of a key, where the key is first documented (see ``docs/configuration.md``)::

    epochs: 30        # (int, learn) Maximum training epochs.

holds its type (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, joined by ``or``) and its classes
(:data:`KEY_CLASSES`): the one declaration the stages, fingerprints, checkpoint evaluations and the dataset
cache read (``pipeline/keys.py``, ``data/dataset_cache.py``).
"""

import functools
import glob
import importlib.util
import os
import re
from collections import namedtuple

import yaml

from recbole_outfit.errors import ConfigError, location

PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))

# what a key's class says about it (a key may have several); every key has at least one
KEY_CLASSES = {
    "learn": "changes what a run learns: part of the fingerprint of a run and of its stages, not inherited by them",
    "shared": "a stage (teacher, autoencoder, pretraining) inherits it from the run that needs it",
    "dataset": "defines a dataset's data (its yaml sets it); another dataset's stage takes its own value",
    "run": "how a run computes or where it writes, not what it learns: left out of fingerprints",
    "result": "what a run reports (test sets, cold start), not what it learns: left out of stage fingerprints, "
              "part of a finished run's key, and taken from the current run by a checkpoint's evaluation",
    "evaluation": "a checkpoint's evaluation takes it from the current run, not from the saved configuration",
    "loading": "changes what reading and processing the atomic files gives (the processed-dataset cache's key)",
    "shown": "listed among a comparison's settings",
    "distillation": "a setting of a distilling student (FND, FNDCL): shown for those rows only",
    "command": "set by the program (a command-line flag or RecBole at run time), never by a yaml file",
}


def properties_dir():
    """``properties/`` at the repository top (source checkout / editable install) or inside the wheel."""
    for candidate in (os.path.join(PACKAGE_DIR, "..", "properties"), os.path.join(PACKAGE_DIR, "properties")):
        if os.path.isfile(os.path.join(candidate, "overall.yaml")):
            return os.path.normpath(candidate)
    raise ConfigError("the plugin's properties/ folder is missing", where=PACKAGE_DIR,
                      fix="reinstall recbole-outfit (pip install -e . from the repository)")


def recbole_properties_dir():
    """RecBole's ``properties/`` folder, found without importing RecBole."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("RecBole is not installed", where="the Python environment",
                          fix="pip install -e . (recbole-outfit depends on recbole==1.2.1)")
    return os.path.join(list(spec.submodule_search_locations)[0], "properties")


def known_datasets():
    folder = os.path.join(properties_dir(), "dataset")
    return sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".yaml"))


# ------------------------------------------------------------------------------------------------ yaml reading

class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A yaml mapping that sets one key twice (PyYAML would keep the last silently)."""


class YamlLoader(yaml.FullLoader):
    """The loader RecBole's ``Config`` reads yaml with (``Config._build_yaml_loader``: PyYAML's FullLoader
    plus a float resolver that reads ``1e-3`` as a float), built without importing RecBole and without
    changing ``yaml.FullLoader`` for others; a key set twice in one mapping is an error naming both lines."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True) if key_node.tag != "tag:yaml.org,2002:merge" else None
            if key is None or not isinstance(key, (str, int, float, bool)):
                continue
            if key in seen:
                raise DuplicateKeyError(
                    None, None, f"{key!r} is set twice: on line {seen[key].line + 1} and on line "
                                f"{key_node.start_mark.line + 1}", key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


YamlLoader.add_implicit_resolver(  # RecBole 1.2.1's float resolver, as Config._build_yaml_loader adds it
    "tag:yaml.org,2002:float",
    re.compile("""^(?:
     [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*
    |[-+]?\\.(?:inf|Inf|INF)
    |\\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_yaml_text(text, path):
    """The settings a yaml text holds (``{}`` for an empty one), as RecBole's Config reads them; a malformed
    text, a key set twice, or a text that is not a mapping is a ``ConfigError`` naming ``path`` and the line."""
    try:
        loaded = yaml.load(text, Loader=YamlLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if isinstance(error, DuplicateKeyError):
            raise ConfigError(problem, where=location(path, line),
                              fix="Keep one line per key (yaml would silently keep the last one)") from None
        raise ConfigError(f"not valid YAML: {problem}", where=location(path, line),
                          fix="write one 'key: value' per line (lists as [a, b]); check quotes and indentation") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"a config file must hold 'key: value' lines, this one holds a {type(loaded).__name__}",
                          where=path, fix="write one 'key: value' per line")
    return loaded


def read_yaml_file(path):
    """:func:`read_yaml_text` of the file ``path`` (a missing or unreadable file is a ``ConfigError`` too)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist", where="--config_files",
                          fix="give existing yaml files, separated by spaces: --config_files=\"a.yaml b.yaml\"")
    try:
        with open(path, "r", encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file ({error})", where=path, fix="give a readable UTF-8 yaml file") from None
    return read_yaml_text(text, path)


_KEY = re.compile(r"^([A-Za-z_]\w*)\s*:")


def key_line(path, key):
    """The 1-based line of ``path`` that sets the top-level ``key`` (None when none does)."""
    try:
        with open(path, "r", encoding="utf-8-sig") as f:
            for number, line in enumerate(f, 1):
                match = _KEY.match(line)
                if match and match.group(1) == key:
                    return number
    except OSError:
        return None
    return None


def dataset_settings(dataset):
    """The settings ``properties/dataset/<dataset>.yaml`` gives (empty for a dataset without a yaml), read as
    RecBole's ``Config`` reads them (``1e-3`` is a float), so a value compares equal to the run's."""
    path = os.path.join(properties_dir(), "dataset", f"{dataset}.yaml")
    return read_yaml_file(path) if os.path.isfile(path) else {}


# ------------------------------------------------------------------------------------------------ documentation

_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list, tuple), "any": (object,),
          "dict": (dict,), "none": (type(None),)}
_DOCUMENTED = re.compile(r"^([A-Za-z_]\w*):[^#]*#\s*\(([^)]*)\)")

KeyDoc = namedtuple("KeyDoc", "types classes path line")


def plugin_yaml_files():
    """The plugin's yaml files in layer order: overall, outfit, the models', the datasets', then the program's
    own keys (``runtime.yaml``, never loaded as settings)."""
    folder = properties_dir()
    return ([os.path.join(folder, "overall.yaml"), os.path.join(folder, "outfit.yaml")]
            + sorted(glob.glob(os.path.join(folder, "model", "*.yaml")))
            + sorted(glob.glob(os.path.join(folder, "dataset", "*.yaml")))
            + [os.path.join(folder, "runtime.yaml")])


def parse_doc(text):
    """``(types, classes)`` of the inside of a documentation comment's parentheses: ``int, learn`` ->
    ``((int,), ("learn",))``; ``None`` when it is not a type declaration (a parenthesis in prose)."""
    parts = [p.strip().lower() for p in text.split(",")]
    names = [t.strip() for t in parts[0].split(" or ")]
    if not all(n in _TYPES for n in names):
        return None
    return tuple(t for n in names for t in _TYPES[n]), tuple(p for p in parts[1:] if p)


@functools.lru_cache(maxsize=1)
def key_docs():
    """{key: KeyDoc} of every key a plugin yaml documents with ``# (type[, class ...])``: its types and classes
    from the file that declares its classes (one file per key; another yaml may set the key again with its type
    only), and that file and line."""
    docs = {}
    for path in plugin_yaml_files():
        if not os.path.isfile(path):
            continue
        with open(path, "r", encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                match = _DOCUMENTED.match(line)
                parsed = parse_doc(match.group(2)) if match else None
                if parsed is None:
                    continue
                key, (types, classes) = match.group(1), parsed
                if key not in docs or (classes and not docs[key].classes):
                    docs[key] = KeyDoc(types, classes, path, number)
    return docs


def keys_of_class(name):
    """The keys whose documentation declares class ``name`` (:data:`KEY_CLASSES`), in documentation order."""
    if name not in KEY_CLASSES:
        raise KeyError(f"unknown key class {name!r}; known: {', '.join(KEY_CLASSES)}")
    return tuple(key for key, doc in key_docs().items() if name in doc.classes)


@functools.lru_cache(maxsize=1)
def documented_types():
    """{key: allowed python types} from the ``# (type)`` comments of RecBole's and the plugin's yaml files."""
    recbole_dir = recbole_properties_dir()
    types = {}
    for path in (os.path.join(recbole_dir, "overall.yaml"), os.path.join(recbole_dir, "dataset", "sample.yaml")):
        with open(path, "r", encoding="utf-8") as f:
            for line in f:
                match = _DOCUMENTED.match(line)
                parsed = parse_doc(match.group(2)) if match else None
                if parsed:
                    types[match.group(1)] = parsed[0]
    types.update((key, doc.types) for key, doc in key_docs().items())
    return types


@functools.lru_cache(maxsize=1)
def documented_keys():
    """Every key set in a yaml file of RecBole's or the plugin's properties (RecBole's models included)."""
    files = glob.glob(os.path.join(recbole_properties_dir(), "**", "*.yaml"), recursive=True)
    files += glob.glob(os.path.join(properties_dir(), "**", "*.yaml"), recursive=True)
    keys = set()
    for file in files:
        with open(file, "r", encoding="utf-8") as f:
            keys.update(m.group(1) for m in map(_KEY.match, f) if m)
    return frozenset(keys)


def type_error(key, value, allowed, where=None, fix=None):
    """The ``ConfigError`` for ``key``'s ``value`` not having one of the ``allowed`` types."""
    expected = " or ".join(sorted({t.__name__ for t in allowed}))
    return ConfigError(f"{key} must be {expected}, got {value!r} ({type(value).__name__})",
                       where=where or f"config key {key!r}",
                       fix=fix or f"Give {key} a value of type {expected} (lists are written like [a, b])")


def has_type(value, allowed):
    """``value`` is None (``~``: not set) or of one of the ``allowed`` types (a bool is not an int)."""
    return value is None or (isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed))


def check_types(config_dict, types=None, where=None):
    """Raise ``ConfigError`` for the first key whose value does not have its documented type (None is
    always allowed: ``~`` means "not set"). ``where(key)``: where the key was set, for the message."""
    types = types or documented_types()
    for key, allowed in types.items():
        value = config_dict.get(key)
        if not has_type(value, allowed):
            raise type_error(key, value, allowed, where=where(key) if where else None)
