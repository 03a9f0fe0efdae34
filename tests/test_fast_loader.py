"""The fast atomic-file loader (``fast_loader: True``) gives the dataset RecBole's own reader gives."""

import shutil

import numpy as np
import pytest
import torch
from recbole.data.dataset import Dataset

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.data.dataset import pad_rows, split_token_rows
from recbole_outfit.utils import create_dataset, data_preparation

FEATURES = ("inter_feat", "item_feat", "garment_feat")
TABLES = ("outfit_garments", "outfit_mask", "outfit_categories", "garment_category", "garment_image_row")


def load(workspace, run_dir, dataset, fast, model="NPair", **overrides):
    config = Config(model=model, dataset=dataset,
                    config_dict=tiny_config(workspace, run_dir, fast_loader=fast, **overrides))
    data = create_dataset(config)
    return data, data_preparation(config, data)


def assert_same_dataset(fast, slow):
    for attr in ("field2type", "field2source", "field2seqlen", "field2bucketnum", "file_size_list"):
        assert getattr(fast, attr) == getattr(slow, attr), attr
    assert fast.field2id_token.keys() == slow.field2id_token.keys()
    for field, tokens in slow.field2id_token.items():
        assert fast.field2id_token[field].dtype == tokens.dtype, field
        assert np.array_equal(fast.field2id_token[field], tokens), field
        assert fast.field2token_id[field] == slow.field2token_id[field], field
    for name in FEATURES:  # RecBole Interactions after build(): same fields, order, dtypes, shapes, values
        a, b = getattr(fast, name), getattr(slow, name)
        assert list(a.interaction) == list(b.interaction), name
        for key in b.interaction:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, (name, key)
            assert torch.equal(a[key], b[key]), (name, key)
    for name in TABLES:
        assert torch.equal(getattr(fast, name), getattr(slow, name)), name


@pytest.mark.parametrize("dataset", ["synthetic630", "synthetic519"])  # fixed length; outfits of 3 and 4
def test_fast_loader_gives_recboles_dataset(workspace, run_dir, dataset):
    fast, (fast_train, fast_valid, fast_tests) = load(workspace, run_dir, dataset, True, test_hard=True)
    slow, (slow_train, slow_valid, slow_tests) = load(workspace, run_dir, dataset, False, test_hard=True)
    assert_same_dataset(fast, slow)
    for a, b in [(fast_train, slow_train), (fast_valid, slow_valid)] + [(fast_tests[k], slow_tests[k]) for k in slow_tests]:
        assert len(a._dataset) == len(b._dataset)
        for key in b._dataset.inter_feat.interaction:
            assert torch.equal(a._dataset.inter_feat[key], b._dataset.inter_feat[key]), key
    batch_a, batch_b = next(iter(fast_valid)), next(iter(slow_valid))  # joined with the outfit's garments
    for key in batch_b[0].interaction:
        assert torch.equal(batch_a[0][key], batch_b[0][key]), key


def test_fast_loader_reads_the_raw_frames_as_recbole(workspace, run_dir):
    """Before remapping: the same columns, float64 / str values and token rows, file by file."""
    config = Config(model="NPair", dataset="synthetic519", config_dict=tiny_config(workspace, run_dir))
    fast = create_dataset(config)
    for suffix, source in (("item", "item"), ("garment", "garment"), ("test.inter", "inter")):
        path = fast._path(suffix)
        ours = fast._load_feat(path, source)
        theirs = Dataset._load_feat(fast, path, source)
        assert list(ours.columns) == list(theirs.columns) and len(ours) == len(theirs)
        for column in theirs.columns:
            a, b = ours[column].values, theirs[column].values
            if isinstance(b[0], np.ndarray):
                assert all(np.array_equal(x, y) for x, y in zip(a, b)), column
            else:
                assert a.dtype == b.dtype and np.array_equal(a, b), column


def test_token_rows_and_padding_match_recbole_row_by_row():
    plain = ["a bb c", "", "dd", "e  f ", " g", "hh ii jj kk", "  "]
    for rows in (np.array(plain, dtype=object), np.array(plain + ["x\x01y z"], dtype=object)):  # marker: slow path
        split = split_token_rows(rows, " ")
        expected = [np.array(list(filter(None, row.split(" ")))) for row in rows]  # RecBole's expression
        assert [list(r) for r in split] == [list(r) for r in expected]
    assert split_token_rows(np.array([], dtype=object), " ") == []
    ids = [np.array([3, 1, 2]), np.array([], dtype=np.int64), np.array([5]), np.array([4, 4, 4, 4, 4])]
    for max_length in (2, 5, 9):
        padded = torch.nn.utils.rnn.pad_sequence([torch.LongTensor(r[:max_length]) for r in ids], batch_first=True)
        assert torch.equal(torch.from_numpy(pad_rows(ids, max_length)), padded)


@pytest.mark.parametrize("fast", [True, False])
def test_unknown_outfits_and_garments_are_reported_with_their_line(workspace, run_dir, tmp_path, fast):
    from recbole_outfit.data.dataset import OutfitDataset
    from recbole_outfit.errors import DataFormatError

    config = Config(model="NPair", dataset="synthetic630", config_dict=tiny_config(workspace, run_dir))
    create_dataset(config)  # converted
    source = config["data_path"]
    for corrupt, expected in (("garment", "uses garment"), ("test.inter", "is not defined in")):
        folder = tmp_path / corrupt / "synthetic630"
        shutil.copytree(source, folder)
        path = folder / f"synthetic630.{corrupt}"
        lines = path.read_text().splitlines(keepends=True)
        if corrupt == "garment":  # drop the garment of the first outfit's first slot
            first = (folder / "synthetic630.item").read_text().splitlines()[1].split("\t")[1].split(" ")[0]
            lines = [line for line in lines if not line.startswith(first + "\t")]
        else:  # a test row naming an outfit that .item does not define, on line 3
            lines.insert(2, lines[1].split("\t")[0] + "\tno-such-outfit\t1.0\n")
        path.write_text("".join(lines))
        bad = Config(model="NPair", dataset="synthetic630", config_dict=tiny_config(
            workspace, run_dir, data_path=str(tmp_path / corrupt), fast_loader=fast))
        with pytest.raises(DataFormatError) as error:
            OutfitDataset(bad)
        message = str(error.value)
        assert expected in message
        if corrupt == "garment":
            assert repr(first) in message and "synthetic630.item, line 2" in message
        else:
            assert "'no-such-outfit'" in message and "synthetic630.test.inter, line 3" in message
