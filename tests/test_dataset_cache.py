"""The verified dataset cache (``dataset_cache: True``): the same dataset as processing the files, reused only
while its settings and files match and its checksum holds, written atomically."""

import glob
import json
import logging
import os

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import private_dataset, tiny_config
from recbole_outfit.config import Config
from recbole_outfit.data import dataset_cache
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.utils import create_dataset, data_preparation
from test_fast_loader import assert_same_dataset

DATASET = "synthetic630"


@pytest.fixture
def data_root(workspace, run_dir, tmp_path):
    """A private copy of the converted tiny dataset (its manifest matches the shared raw root, so nothing is
    converted again), without any cache the shared copy may hold."""
    return private_dataset(workspace, run_dir, tmp_path / "atomic", DATASET)


def config_for(workspace, run_dir, root, **overrides):
    return Config(model="NPair", dataset=DATASET,
                  config_dict=tiny_config(workspace, run_dir, data_path=str(root), **overrides))


def as_converted(folder):
    """Record the files of ``folder`` in its manifest as the converter would have written them: a converted file
    changed by hand is otherwise damaged (``data/integrity.py``) and converted again before the cache is asked."""
    from recbole_outfit.atomic import atomic_write
    from recbole_outfit.data.convert import atomic_paths, read_manifest
    from recbole_outfit.data.integrity import record_files

    manifest = read_manifest(str(folder), DATASET)
    paths = atomic_paths(str(folder), DATASET)
    manifest["files"] = record_files({role: path for role, path in paths.items() if role != "manifest"})
    with atomic_write(paths["manifest"]) as f:
        json.dump(manifest, f)


def cache_files(root):
    return sorted(os.path.basename(p) for p in glob.glob(str(root / DATASET / f"{DATASET}.processed-*")))


def load_logged(config, caplog):
    """(dataset, the cache's log lines) of one ``create_dataset``."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        dataset = create_dataset(config)
    return dataset, [r.getMessage() for r in caplog.records if r.module == "dataset_cache"]


def assert_same_frames(a, b):
    """Same feature tables before ``build()``: columns, order, dtypes and every value (rows of token_seq
    fields compared array by array, with their dtypes)."""
    for name in b.feat_name_list:
        x, y = getattr(a, name), getattr(b, name)
        assert isinstance(x, pd.DataFrame) and list(x.columns) == list(y.columns) and len(x) == len(y), name
        assert x.index.equals(y.index), name
        for column in y.columns:
            assert x[column].dtype == y[column].dtype, (name, column)
            if y[column].dtype == object:
                assert all(type(p) is type(q) and p.dtype == q.dtype and np.array_equal(p, q)
                           for p, q in zip(x[column].values, y[column].values)), (name, column)
            else:
                assert np.array_equal(x[column].values, y[column].values), (name, column)


def test_cached_dataset_equals_the_processed_one(workspace, run_dir, data_root, caplog):
    built, lines = load_logged(config_for(workspace, run_dir, data_root), caplog)
    assert len(lines) == 1 and lines[0].startswith("Dataset cache built")
    assert len(cache_files(data_root)) == 2  # the cache and its .sha256
    cached, lines = load_logged(config_for(workspace, run_dir, data_root), caplog)
    assert len(lines) == 1 and lines[0].startswith("Dataset cache used")
    fresh = create_dataset(config_for(workspace, run_dir, data_root, dataset_cache=False))

    assert list(vars(cached)) == list(vars(fresh))
    assert_same_frames(cached, fresh)
    for attr in ("field2type", "field2source", "field2seqlen", "field2bucketnum", "file_size_list",
                 "benchmark_filename_list", "feat_name_list", "uid_field", "iid_field", "label_field",
                 "time_field", "max_outfit_length", "dataset_path", "dataset_name", "user_feat"):
        assert getattr(cached, attr) == getattr(fresh, attr), attr
    assert cached.alias.keys() == fresh.alias.keys() and all(np.array_equal(cached.alias[k], fresh.alias[k]) for k in fresh.alias)
    assert np.array_equal(cached._rest_fields, fresh._rest_fields) and cached._rest_fields.dtype == fresh._rest_fields.dtype
    assert cached.field2id_token["garments"] is cached.field2id_token["garment_id"]  # one id space, as remapped
    assert cached.field2token_id["garments"] is cached.field2token_id["garment_id"]
    assert cached.image_store().array.shape == fresh.image_store().array.shape
    assert str(cached) == str(fresh)

    config = config_for(workspace, run_dir, data_root)
    splits_cached, splits_fresh = data_preparation(config, cached), data_preparation(config, fresh)
    assert_same_dataset(cached, fresh)  # token maps and their dtypes, every tensor of every table
    for a, b in zip([splits_cached[0], splits_cached[1], *splits_cached[2].values()],
                    [splits_fresh[0], splits_fresh[1], *splits_fresh[2].values()]):
        assert list(a._dataset.inter_feat.interaction) == list(b._dataset.inter_feat.interaction)
        for key in b._dataset.inter_feat.interaction:
            assert torch.equal(a._dataset.inter_feat[key], b._dataset.inter_feat[key]), key


@pytest.mark.slow
def test_training_from_the_cache_gives_the_same_result(workspace, run_dir, data_root):
    results = []
    for cache in (False, True, True):  # processed, then the cache built, then the cache used
        settings = tiny_config(workspace, run_dir, data_path=str(data_root), dataset_cache=cache)
        results.append(run_recbole_outfit("NPair", DATASET, config_dict=settings))
    assert len(cache_files(data_root)) == 2
    for result in results[1:]:
        assert result["test_result"] == results[0]["test_result"]
        assert result["best_valid_score"] == results[0]["best_valid_score"]


def test_a_changed_setting_keeps_its_own_cache(workspace, run_dir, data_root, caplog):
    create_dataset(config_for(workspace, run_dir, data_root))
    hard, lines = load_logged(config_for(workspace, run_dir, data_root, test_hard=True), caplog)
    assert lines[0].startswith("Dataset cache built") and hard.benchmark_filename_list[-1] == "test_hard"
    slow, lines = load_logged(config_for(workspace, run_dir, data_root, fast_loader=False), caplog)
    assert lines[0].startswith("Dataset cache built")  # RecBole's reader is not answered by the fast one's cache
    assert len(cache_files(data_root)) == 6
    _, lines = load_logged(config_for(workspace, run_dir, data_root), caplog)
    assert lines[0].startswith("Dataset cache used")
    assert dataset_cache.cache_path(config_for(workspace, run_dir, data_root)) != \
        dataset_cache.cache_path(config_for(workspace, run_dir, data_root, seq_len={"garments": 2}))


def test_a_changed_converted_dataset_is_not_reused(workspace, run_dir, data_root, caplog):
    config = config_for(workspace, run_dir, data_root)
    before = create_dataset(config)
    path = data_root / DATASET / f"{DATASET}.test.inter"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-11]))  # one user's labeled candidates fewer
    as_converted(path.parent)
    after, logged = load_logged(config, caplog)
    assert any("is stale (changed: files)" in line for line in logged)
    assert any(line.startswith("Dataset cache built") for line in logged)
    assert after.file_size_list[-1] == before.file_size_list[-1] - 11
    _, logged = load_logged(config, caplog)
    assert logged[0].startswith("Dataset cache used")  # rebuilt in place: one cache, current again
    assert len(cache_files(data_root)) == 2


def test_other_files_beside_the_dataset_do_not_make_it_stale(workspace, run_dir, data_root, caplog):
    """A neighbour table of the ``replace`` stage, its sidecar, a lock: written beside the atomic files while
    runs go on, they are not what the dataset is processed from (they once made every cache stale)."""
    config = config_for(workspace, run_dir, data_root)
    create_dataset(config)
    folder = data_root / DATASET
    for name in (f"{DATASET}.neighbours-0123456789ab.npz", f"{DATASET}.neighbours-0123456789ab.npz.sha256",
                 f"{DATASET}.neighbours-0123456789ab.npz.lock"):
        (folder / name).write_bytes(b"written by a stage")
    _, logged = load_logged(config, caplog)
    assert logged[0].startswith("Dataset cache used")
    item = folder / f"{DATASET}.item"  # an atomic file RecBole reads: a change still counts
    item.write_text(item.read_text() + "\n")
    as_converted(folder)
    _, logged = load_logged(config, caplog)
    assert any("is stale (changed: files)" in line for line in logged)


@pytest.mark.parametrize("damage", ["flip a byte", "cut short", "no sidecar"])
def test_a_damaged_cache_is_detected_and_rebuilt(workspace, run_dir, data_root, caplog, damage):
    config = config_for(workspace, run_dir, data_root)
    fresh = create_dataset(config)
    path = dataset_cache.cache_path(config)
    data = bytearray(open(path, "rb").read())
    if damage == "flip a byte":
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))
    elif damage == "cut short":
        open(path, "wb").write(bytes(data[: len(data) // 3]))
    else:
        os.unlink(path + ".sha256")
    rebuilt, logged = load_logged(config, caplog)
    assert any("is damaged" in line for line in logged) and any("cache built" in line for line in logged)
    assert_same_frames(rebuilt, fresh)
    _, logged = load_logged(config, caplog)
    assert logged[0].startswith("Dataset cache used")


def test_writes_are_atomic_and_repeatable(workspace, run_dir, data_root, caplog, monkeypatch):
    config = config_for(workspace, run_dir, data_root)
    create_dataset(config)
    path = dataset_cache.cache_path(config)
    first = open(path, "rb").read()
    os.unlink(path)
    create_dataset(config)
    assert open(path, "rb").read() == first  # same dataset, same bytes: concurrent writers agree with the sidecar

    calls = []
    real = np.lib.format.write_array

    def fail_midway(*args, **kwargs):  # the disk fills up after a few members
        calls.append(1)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_midway)
    dataset = create_dataset(config_for(workspace, run_dir, data_root, dataset_cache=False))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert dataset_cache.save(config, dataset) is None
    assert any("Could not write the dataset cache" in r.getMessage() and "No space left" in r.getMessage()
               for r in caplog.records)
    assert open(path, "rb").read() == first  # the published cache is untouched
    assert not [name for name in os.listdir(data_root / DATASET) if ".tmp-" in name]  # no temporary file left
    monkeypatch.setattr(np.lib.format, "write_array", real)
    _, logged = load_logged(config, caplog)
    assert logged[0].startswith("Dataset cache used")


def test_an_unwritable_folder_costs_the_cache_not_the_run(workspace, run_dir, data_root, caplog):
    config = config_for(workspace, run_dir, data_root)
    os.makedirs(dataset_cache.cache_path(config) + ".sha256")  # the sidecar cannot be published
    dataset, logged = load_logged(config, caplog)
    assert any("Could not write the dataset cache" in line for line in logged)
    assert len(dataset.inter_feat) > 0


def test_values_the_format_cannot_hold_are_refused():
    writer = dataset_cache._Writer()
    with pytest.raises(dataset_cache.Uncacheable, match="values other than arrays"):
        writer.encode(pd.DataFrame({"tags": ["a", "b"]}), "item_feat")
    with pytest.raises(dataset_cache.Uncacheable, match="is a set"):
        writer.encode({"x": {1, 2}}, "attributes")
    value = {"n": np.int64(3), "token": np.str_("top"), "pair": (1, "a"), "rows": pd.DataFrame(
        {"id": np.arange(3), "seq": [np.array([1, 2]), np.array([], dtype=np.int64), np.array([5])]})}
    encoded_writer = dataset_cache._Writer()
    encoded = encoded_writer.encode(value, "value")
    decoded = dataset_cache._Reader(encoded_writer.arrays).decode(encoded)
    assert type(decoded["n"]) is np.int64 and decoded["n"] == 3 and type(decoded["token"]) is np.str_
    assert decoded["pair"] == (1, "a")
    assert [list(r) for r in decoded["rows"]["seq"]] == [[1, 2], [], [5]]
