"""A verified binary cache of the processed dataset (``dataset_cache: True``, ``properties/overall.yaml``).

The first ``create_dataset`` of a configuration reads the atomic files and processes them (remapping, checks,
outfit tables); this module then saves what it returns beside the converted files, as
``<data_path>/<dataset>/<dataset>.processed-<settings>.npz`` with a SHA-256 sidecar (``verified.py``). A
later load of the same configuration restores the dataset from it in a fraction of the time.

The cache is checked, not trusted. Reuse needs

* the sidecar's checksum to match the bytes that are then used (read once: a damaged or cut-short file is
  rebuilt, with a warning);
* the same **settings**: every config key that changes reading or processing (:data:`SETTINGS`: RecBole's
  own ``dataset_arguments``, the dataset, ``encoding``, ``numerical_features``, ``discretization`` and
  ``fast_loader``); they name the file, so configurations that differ (the teacher's ``valid_teacher`` split
  and the students' ``valid_student``) each keep their own cache;
* the same **data**: the converter's manifest signature, the SHA-256 of every atomic text file in the folder
  (about 0.1 s for a Polyvore-630-sized set), this format's version, RecBole's version and the source of the
  code that processes the files (``data/dataset.py``, ``data/polyvore.py``, this module). A mismatch is
  logged as a warning naming what changed, and the cache is rebuilt in place.

``fast_loader`` is part of the settings although both readers give the same dataset: ``fast_loader: False``
stands for RecBole's own reader, and a dataset built by the plugin's must not answer for it.

RecBole's ``save_dataset`` / ``dataset_save_path`` pickle the whole Dataset and reuse it when RecBole's
``dataset_arguments`` match, with no integrity check, no look at the files and nothing of the plugin's keys;
unpickling this dataset (a million small arrays) also takes longer than processing it. This cache holds plain
arrays (``np.load(allow_pickle=False)``: loading it runs no code) and JSON. The image store is never part of
it (it stays memory-mapped from ``<dataset>.images.npy``); the restored dataset opens it as a fresh one does.
Files are written with ``atomic.atomic_write`` and are byte-for-byte the same for the same dataset, so two
runs writing the same cache at once cannot leave a file and a sidecar that disagree. A folder that cannot be
written costs the cache, not the run: a warning says so and the processed dataset is used as it is.
"""

import hashlib
import io
import json
import os
import re
import time
import zipfile
from logging import getLogger

import numpy as np
import pandas as pd
import recbole
import torch
from recbole.utils import FeatureSource, FeatureType
from recbole.utils.argument_list import dataset_arguments

from recbole_outfit.atomic import atomic_write, remove_stale_temp
from recbole_outfit.data import dataset as dataset_module
from recbole_outfit.data.convert import read_manifest
from recbole_outfit.data import polyvore
from recbole_outfit.data.dataset import OutfitDataset, split_rows
from recbole_outfit.settings import keys_of_class
from recbole_outfit.verified import file_digest, read_intact, sign

FORMAT_VERSION = 1  # bump when the file layout or what it restores changes
# config keys that change what reading and processing the atomic files gives: RecBole's dataset arguments and
# the keys of class ``loading`` (declared in properties/*.yaml)
SETTINGS = tuple(dataset_arguments) + keys_of_class("loading")
# attributes set from the current config on restore, as Dataset.__init__ does, never stored
FROM_CONFIG = ("config", "logger", "dataset_name", "dataset_path")
ENUMS = {"FeatureType": FeatureType, "FeatureSource": FeatureSource}
TOKEN_IDS = {"$token_ids": "inverse of field2id_token"}  # field2token_id is rebuilt, not stored
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # member times fixed: the same dataset gives the same bytes


class Uncacheable(Exception):
    """The dataset holds a value this format does not store (the dataset is used without a cache)."""


# ------------------------------------------------------------------------------------------------ key


def cache_name(dataset, settings_digest):
    return f"{dataset}.processed-{settings_digest}.npz"


def settings_of(config):
    """{key: value} of the config keys that change reading and processing, JSON-normalized."""
    return json.loads(json.dumps({k: config[k] for k in SETTINGS}, sort_keys=True, default=str))


def atomic_file_names(folder, config):
    """The atomic text files RecBole reads from ``folder``: ``<dataset>[.<split>].<suffix>`` for the ``inter``,
    ``item`` and ``user`` suffixes and ``additional_feat_suffix`` (``garment``). What else the folder holds (the
    manifest, whose signature is checked on its own, the image store, caches, neighbour tables of the
    ``replace`` stage, sidecars, locks) is not what the dataset is processed from."""
    dataset = config["dataset"]
    suffixes = {"inter", "item", "user", *(config["additional_feat_suffix"] or [])}
    return [name for name in sorted(os.listdir(folder))
            if name.startswith(f"{dataset}.") and name.rsplit(".", 1)[-1] in suffixes
            and os.path.isfile(os.path.join(folder, name))]


def data_of(config):
    """What the processed dataset is made from besides the settings: the converted files and the code."""
    folder, dataset = config["data_path"], config["dataset"]
    manifest = read_manifest(folder, dataset) or {}
    files = {name: file_digest(os.path.join(folder, name)) for name in atomic_file_names(folder, config)}
    code = {os.path.basename(path): file_digest(path) for path in (dataset_module.__file__, polyvore.__file__, __file__)}
    return {"format": FORMAT_VERSION, "recbole": recbole.__version__, "code": code,
            "manifest_signature": manifest.get("signature"), "files": files}


def cache_path(config, settings=None):
    """The cache file of ``config``'s dataset and settings."""
    settings = settings_of(config) if settings is None else settings
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return os.path.join(config["data_path"], cache_name(config["dataset"], digest))


# ------------------------------------------------------------------------------------------------ encoding


class _Writer:
    """Turns the dataset's attributes into JSON plus named arrays (each array stored once)."""

    def __init__(self):
        self.arrays = {}
        self._names = {}  # id(array) -> name, so shared arrays (alias groups' token maps) stay shared

    def array(self, value):
        key = id(value)
        if key not in self._names:
            if value.dtype == object:
                raise Uncacheable("an array of Python objects")
            self._names[key] = f"a{len(self.arrays)}"
            self.arrays[self._names[key]] = value
        return {"$array": self._names[key]}

    def encode(self, value, where):
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, np.generic) and value.dtype != object:  # a numpy scalar (np.int64, np.str_)
            return {"$scalar": value.dtype.str, "value": value.item()}
        if isinstance(value, (FeatureType, FeatureSource)):
            return {"$enum": type(value).__name__, "value": value.value}
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, torch.Tensor):
            return {"$tensor": self.array(value.detach().cpu().numpy())["$array"]}
        if isinstance(value, pd.DataFrame):
            return self.frame(value, where)
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"$tuple": items}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"$dict": [[str(k), self.encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        raise Uncacheable(f"{where} is a {type(value).__name__}")

    def frame(self, frame, where):
        index = frame.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            raise Uncacheable(f"{where} has an index other than 0..n-1")
        columns = []
        for name in frame.columns:
            values = frame[name].to_numpy()
            if values.dtype != object:
                columns.append([name, self.array(values)])
                continue
            if not all(type(row) is np.ndarray for row in values):
                raise Uncacheable(f"{where}[{name!r}] holds values other than arrays")
            dtypes = {row.dtype for row in values}
            if len(dtypes) > 1 or object in dtypes:
                raise Uncacheable(f"{where}[{name!r}] holds arrays of several types")
            dtype = dtypes.pop() if dtypes else np.dtype(np.int64)
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
            flat = np.concatenate(list(values)).astype(dtype, copy=False) if len(values) else np.zeros(0, dtype)
            columns.append([name, {"$rows": self.array(flat)["$array"], "lengths": self.array(lengths)["$array"]}])
        return {"$frame": columns, "length": len(frame)}


class _Reader:
    """The inverse of :class:`_Writer` over a loaded ``.npz``."""

    def __init__(self, arrays):
        self.arrays = arrays  # {name: array}, read once: an array named twice is one shared object

    def array(self, name):
        return self.arrays[name]

    def decode(self, value):
        if not isinstance(value, (dict, list)):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if "$enum" in value:
            return ENUMS[value["$enum"]](value["value"])
        if "$array" in value:
            return self.array(value["$array"])
        if "$scalar" in value:
            return np.array(value["value"], dtype=value["$scalar"])[()]
        if "$tensor" in value:
            return torch.from_numpy(self.array(value["$tensor"]))
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$dict" in value:
            return {k: self.decode(v) for k, v in value["$dict"]}
        if "$frame" in value:
            return self.frame(value)
        raise ValueError(f"unknown entry {sorted(value)}")

    def frame(self, value):
        frame = pd.DataFrame(index=pd.RangeIndex(value["length"]))
        for name, column in value["$frame"]:
            if "$rows" in column:  # one array per row, as the loaders leave token_seq fields
                frame[name] = split_rows(self.array(column["$rows"]), self.array(column["lengths"]))
            else:
                frame[name] = self.decode(column)
        return frame


def token_ids(field2id_token):
    """RecBole's ``field2token_id`` ({token: id} per field) from ``field2id_token``; alias groups share one."""
    built, by_array = {}, {}
    for field, tokens in field2id_token.items():
        if id(tokens) not in by_array:
            by_array[id(tokens)] = dict(zip(tokens, range(len(tokens))))
        built[field] = by_array[id(tokens)]
    return built


# ------------------------------------------------------------------------------------------------ files


def write_npz(path, meta, arrays):
    """``arrays`` and ``meta`` (JSON, as the member ``meta``) into one uncompressed ``.npz``, atomically."""
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            members = {"meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8), **arrays}
            for name, array in members.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def read_npz(file):
    """(meta, {name: array}) of a file (a path or a binary file object) written by :func:`write_npz`."""
    with np.load(file, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    return meta, arrays


def save(config, dataset, settings=None, data=None):
    """Write the cache of ``dataset`` (processed with ``config``) and its sidecar; returns the path, or None
    (with a warning) when the dataset or the folder does not allow it."""
    settings = settings_of(config) if settings is None else settings
    data = data_of(config) if data is None else data
    path = cache_path(config, settings)
    logger = getLogger()
    try:
        writer = _Writer()
        attributes = [[name, TOKEN_IDS if name == "field2token_id" else writer.encode(value, name)]
                      for name, value in vars(dataset).items() if name not in FROM_CONFIG]
        if token_ids(dataset.field2id_token) != dataset.field2token_id:
            raise Uncacheable("field2token_id is not the inverse of field2id_token")
    except Uncacheable as reason:
        logger.warning(f"The processed dataset is not cached: {reason} (this cache stores arrays and plain values)")
        return None
    meta = {"settings": settings, "data": data, "class": type(dataset).__name__, "attributes": attributes}
    try:
        remove_stale_temp(os.path.dirname(path), rf"\.{re.escape(os.path.basename(path))}(?:\.sha256)?"
                                                 rf"\.tmp-(?P<pid>\d+)-[0-9a-f]+")
        write_npz(path, meta, writer.arrays)
        sign(path)
    except OSError as error:
        logger.warning(f"Could not write the dataset cache {path} ({error.strerror or error}); this run goes on "
                       "without it. Make the folder writable or set dataset_cache: False.")
        return None
    return path


def restore(config, meta, arrays):
    """An ``OutfitDataset`` from a cache's ``meta`` and arrays, with ``config`` as its config."""
    reader = _Reader(arrays)
    dataset = OutfitDataset.__new__(OutfitDataset)
    dataset.config = config
    dataset.dataset_name = config["dataset"]
    dataset.logger = getLogger()
    dataset.dataset_path = config["data_path"]
    for name, value in meta["attributes"]:
        setattr(dataset, name, None if value == TOKEN_IDS else reader.decode(value))  # in the original order
    dataset.field2token_id = token_ids(dataset.field2id_token)
    return dataset


def _changed(old, new):
    """The keys whose values differ between two dicts."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def load(config, settings=None, data=None):
    """The cached dataset of ``config``, or None when there is none, or (with a warning) when it is damaged
    or stale."""
    settings = settings_of(config) if settings is None else settings
    data = data_of(config) if data is None else data
    path = cache_path(config, settings)
    if not os.path.exists(path):
        return None
    logger = getLogger()
    blob = read_intact(path)
    if blob is None:
        logger.warning(f"The dataset cache {path} is damaged (its checksum does not match {path}.sha256, or the "
                       "sidecar is missing); rebuilding it")
        return None
    try:
        meta, arrays = read_npz(io.BytesIO(blob))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        logger.warning(f"The dataset cache {path} cannot be read ({error}); rebuilding it")
        return None
    changed = _changed(meta.get("settings") or {}, settings) + _changed(meta.get("data") or {}, data)
    if changed:
        logger.warning(f"The dataset cache {path} is stale (changed: {', '.join(changed)}); rebuilding it")
        return None
    return restore(config, meta, arrays)


def load_or_build(config, build):
    """``config``'s processed dataset from its verified cache, or ``build(config)`` saved as the cache; one log
    line says which."""
    started = time.perf_counter()
    settings, data = settings_of(config), data_of(config)
    dataset = load(config, settings, data)
    logger = getLogger()
    if dataset is not None:
        logger.info(f"Dataset cache used: {cache_path(config, settings)} ({time.perf_counter() - started:.1f} s)")
        return dataset
    dataset = build(config)
    path = save(config, dataset, settings, data)
    if path is not None:
        logger.info(f"Dataset cache built: {path} ({time.perf_counter() - started:.1f} s with processing)")
    return dataset
