"""The Polyvore-U converter on hand-written roots: output format, both image sources, every validation."""

import json
import os

import numpy as np
import pytest

from polyvore_fixture import RATIO, image_colour, make_root, rewrite_line
from recbole_outfit.data import polyvore
from recbole_outfit.data.convert import atomic_paths, convert
from recbole_outfit.data.image_store import JPEG_FOLDER
from recbole_outfit.errors import DataFormatError, MissingImagesError


def read_atomic(path):
    with open(path, "r", encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def convert_fixture(tmp_path, **kwargs):
    root = str(tmp_path / "raw")
    variable = kwargs.pop("variable", False)
    images = kwargs.pop("images", "jpeg")
    _, folder, tables = make_root(root, variable=variable, images=images)
    out = str(tmp_path / "atomic")
    dataset = "polyvore519" if variable else "polyvore630"
    kwargs.setdefault("image_size", 8)
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("show_progress", False)
    folder_out = convert(root, dataset, out=out, **kwargs)
    return root, folder, tables, folder_out, atomic_paths(folder_out, dataset)


def outfit_garments(paths):
    _, rows = read_atomic(paths["item"])
    return {o: tuple(g.split(" ")) for o, g, _ in rows}


def test_fixed_length_conversion(tmp_path):
    root, folder, tables, out, paths = convert_fixture(tmp_path)
    header, items = read_atomic(paths["item"])
    assert header == ["outfit_id:token", "garments:token_seq", "categories:token_seq"]
    assert all(cats == "top bottom shoe" for _, _, cats in items)
    header, garments = read_atomic(paths["garment"])
    assert header == ["garment_id:token", "category:token", "image:token"]
    assert all(image == f"{gid}.jpg" for gid, _, image in garments)

    # every inter file: header, labels, row counts, outfits resolve to the raw garments
    outfits = outfit_garments(paths)
    n_pos = {s: len(tables[s, "posi"]) for s in polyvore.SPLITS}
    _, train = read_atomic(paths["train"])
    assert len(train) == n_pos["train"] and all(label == "1" for *_, label in train)
    for (user, outfit, _), raw in zip(train, tables["train", "posi"]):
        assert user == str(raw[0])
        assert outfits[outfit] == (f"top{raw[1]}", f"bottom{raw[2]}", f"shoe{raw[3]}")
    _, test = read_atomic(paths["test"])
    assert len(test) == n_pos["test"] * (1 + RATIO)
    assert sum(label == "1" for *_, label in test) == n_pos["test"]
    _, hard = read_atomic(paths["test_hard"])
    hard_negative = hard[1]
    raw = tables["test", "nega_hard"][0]
    assert outfits[hard_negative[1]] == (f"top{raw[1]}", f"bottom{raw[2]}", f"shoe{raw[3]}")

    # the val split is cut in two per user; each positive keeps its own 10 negatives
    _, teacher = read_atomic(paths["valid_teacher"])
    _, student = read_atomic(paths["valid_student"])
    assert len(teacher) + len(student) == n_pos["val"] * (1 + RATIO)
    for half in (teacher, student):
        assert len(half) % (1 + RATIO) == 0
        for block in range(0, len(half), 1 + RATIO):
            rows = half[block:block + 1 + RATIO]
            assert [r[2] for r in rows] == ["1"] + ["0"] * RATIO
            assert len({r[0] for r in rows}) == 1
    for user in {str(r[0]) for r in tables["val", "posi"]}:  # both halves get positives of every user here
        assert any(r[0] == user and r[2] == "1" for r in teacher)
        assert any(r[0] == user and r[2] == "1" for r in student)

    # the image store holds each garment's image, in .garment row order
    store = np.load(paths["images"])
    assert store.shape == (len(garments), 3, 8, 8) and store.dtype == np.uint8
    for row, (_, _, image) in enumerate(garments):
        assert np.abs(store[row].reshape(3, -1).mean(axis=1) - np.array(image_colour(image))).max() < 6

    manifest = json.load(open(paths["manifest"]))
    assert manifest["counts"]["positives"]["test"] == n_pos["test"]
    assert manifest["throughput"]["images_per_second"] > 0


def test_variable_length_missing_second_top(tmp_path):
    _, _, tables, _, paths = convert_fixture(tmp_path, variable=True)
    outfits = outfit_garments(paths)
    _, train = read_atomic(paths["train"])
    for (user, outfit, _), raw in zip(train, tables["train", "posi"]):
        assert user == str(raw[0])
        expected = [f"top{raw[1]}"] + ([f"top{raw[2]}"] if raw[2] != -1 else []) + [f"bottom{raw[3]}", f"shoe{raw[4]}"]
        assert sorted(outfits[outfit]) == sorted(expected)  # -1 means three garments, not a copy of the top
    lengths = {len(g) for g in outfits.values()}
    assert lengths == {3, 4}
    _, items = read_atomic(paths["item"])
    assert {c for _, _, c in items} == {"top bottom shoe", "top top bottom shoe"}


def test_two_tops_in_either_order_are_one_outfit(tmp_path):
    root, folder, *_ = make_root(str(tmp_path / "raw"), variable=True)
    path = polyvore.tuple_path(os.path.join(root, folder), "train", "posi")
    rewrite_line(path, 2, "0,1,2,3,4")
    rewrite_line(path, 3, "0,2,1,3,4")
    out = convert(root, "polyvore519", out=str(tmp_path / "atomic"), image_size=8, workers=1, show_progress=False)
    _, train = read_atomic(atomic_paths(out, "polyvore519")["train"])
    assert train[0][1] == train[1][1]


def test_lmdb_source_matches_jpeg_folder(tmp_path):
    *_, jpeg_paths = convert_fixture(tmp_path / "a")
    *_, lmdb_paths = convert_fixture(tmp_path / "b", images="lmdb")
    assert np.array_equal(np.load(jpeg_paths["images"]), np.load(lmdb_paths["images"]))
    for key in ("item", "garment", "train", "test", "valid_teacher"):
        assert read_atomic(jpeg_paths[key]) == read_atomic(lmdb_paths[key])


def test_rerun_on_up_to_date_folder_does_nothing(tmp_path, caplog):
    root, _, _, out, paths = convert_fixture(tmp_path)
    before = {k: os.stat(p).st_mtime_ns for k, p in paths.items()}
    caplog.set_level("INFO")
    convert(root, "polyvore630", out=str(tmp_path / "atomic"), image_size=8, workers=1, show_progress=False)
    assert "up to date" in caplog.text
    assert before == {k: os.stat(p).st_mtime_ns for k, p in paths.items()}
    # another image size is another output
    convert(root, "polyvore630", out=str(tmp_path / "atomic"), image_size=16, workers=1, show_progress=False)
    assert np.load(paths["images"]).shape[-1] == 16


def test_the_same_root_through_a_symbolic_link_is_up_to_date(tmp_path, caplog):
    """A checkout that reaches the raw root through a link (a second work tree, a mounted data folder) reuses
    the conversion: the signature names the root's real path, so dataset fingerprints do not depend on it."""
    root, _, _, out, paths = convert_fixture(tmp_path)
    before = {k: os.stat(p).st_mtime_ns for k, p in paths.items()}
    link = tmp_path / "linked-root"
    os.symlink(root, link)
    caplog.set_level("INFO")
    convert(str(link), "polyvore630", out=str(tmp_path / "atomic"), image_size=8, workers=1, show_progress=False)
    assert "up to date" in caplog.text
    assert before == {k: os.stat(p).st_mtime_ns for k, p in paths.items()}


def test_parallel_decoding_equals_serial(tmp_path):
    *_, serial = convert_fixture(tmp_path / "a", workers=1)
    *_, parallel = convert_fixture(tmp_path / "b", workers=2)
    assert np.array_equal(np.load(serial["images"]), np.load(parallel["images"]))


# ------------------------------------------------------------------ validation errors


def broken_root(tmp_path, variable=False):
    root, folder, tables = make_root(str(tmp_path / "raw"), variable=variable)
    return root, os.path.join(root, folder), tables


def expect_error(tmp_path, root, dataset, *phrases, error=DataFormatError, **kwargs):
    out = str(tmp_path / "atomic")
    with pytest.raises(error) as info:
        convert(root, dataset, out=out, image_size=8, workers=1, show_progress=False, **kwargs)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, message
    assert not os.path.exists(os.path.join(out, dataset)), "a failed conversion must not leave output"
    assert not [n for n in os.listdir(out) if n.startswith(".")] if os.path.isdir(out) else True
    return message


# (dataset, split, kind, line, replacement, expected phrase): one corrupted line each
CORRUPT_LINES = [
    ("polyvore630", "test", "posi", 1, "user,top,bottom,shoes", "wrong header"),
    ("polyvore630", "val", "posi", 1, ",".join(polyvore.VARIABLE_HEADER), "differs"),
    ("polyvore630", "train", "posi", 3, "0,1,2", "3 columns"),
    ("polyvore630", "test", "nega", 5, "0,1,x2,3", "'x2' is not an integer"),
    ("polyvore630", "train", "posi", 4, "1,0,99,0", "bottom id 99 is outside image_list_bottom"),
    ("polyvore630", "train", "posi", 2, "0,1,-1,0", "-1 (missing item) in a fixed-length file"),
    ("polyvore519", "val", "nega", 7, "0,1,2,-1,3", "-1 (missing item) in the bottom column"),
    ("polyvore630", "val", "nega", 2, "2,1,1,1", "belongs to user 0"),
]


@pytest.mark.parametrize("dataset, split, kind, line, replacement, phrase", CORRUPT_LINES,
                         ids=[case[-1] for case in CORRUPT_LINES])
def test_corrupt_line_names_file_line_and_problem(tmp_path, dataset, split, kind, line, replacement, phrase):
    root, folder, _ = broken_root(tmp_path, variable=dataset == "polyvore519")
    path = polyvore.tuple_path(folder, split, kind)
    rewrite_line(path, line, replacement)
    expect_error(tmp_path, root, dataset, path, f"line {line}", phrase)


def test_negative_file_length(tmp_path):
    root, folder, _ = broken_root(tmp_path)
    path = polyvore.tuple_path(folder, "test", "nega")
    with open(path, "a", encoding="utf-8") as f:
        f.write("0,1,1,1\n")
    expect_error(tmp_path, root, "polyvore630", path, "61 negative rows for 6 positives", "expected 10 x 6 = 60")


def test_missing_and_undecodable_images(tmp_path):
    root, folder, _ = broken_root(tmp_path)
    image_dir = os.path.join(root, JPEG_FOLDER)
    os.remove(os.path.join(image_dir, "top1.jpg"))
    with open(os.path.join(image_dir, "shoe2.jpg"), "wb") as f:
        f.write(b"not a jpeg")
    message = expect_error(tmp_path, root, "polyvore630", "2 of", "1 missing (e.g. top1.jpg)",
                           "1 undecodable (e.g. shoe2.jpg)", "--skip_missing", error=MissingImagesError)
    assert image_dir in message


def test_skip_missing_drops_exactly_the_outfits_that_need_the_image(tmp_path):
    root, folder, tables = broken_root(tmp_path)
    os.remove(os.path.join(root, JPEG_FOLDER, "top1.jpg"))
    out = convert(root, "polyvore630", out=str(tmp_path / "atomic"), image_size=8, workers=1, skip_missing=True,
                  show_progress=False)
    paths = atomic_paths(out, "polyvore630")
    outfits = outfit_garments(paths)
    assert all("top1" not in g for g in outfits.values())
    _, garments = read_atomic(paths["garment"])
    assert "top1" not in {g for g, _, _ in garments}
    assert np.load(paths["images"]).shape[0] == len(garments)
    manifest = json.load(open(paths["manifest"]))
    expected_train = sum(1 for row in tables["train", "posi"] if row[1] == 1)
    assert manifest["missing_images"]["count"] == 1
    assert manifest["missing_images"]["rows_dropped"]["train"] == expected_train
    _, train = read_atomic(paths["train"])
    assert len(train) == len(tables["train", "posi"]) - expected_train


def test_missing_input_file_and_folder(tmp_path):
    root, folder, _ = broken_root(tmp_path)
    os.remove(polyvore.tuple_path(folder, "val", "posi"))
    expect_error(tmp_path, root, "polyvore630", "tuples_val_posi", "required file is missing")
    expect_error(tmp_path, root, "polyvore53", "folder tuples_53 not found")


def test_image_list_problems(tmp_path):
    root, folder, _ = broken_root(tmp_path)
    path = polyvore.image_list_path(folder, "shoe")
    rewrite_line(path, 2, "shoe0.jpg")
    expect_error(tmp_path, root, "polyvore630", path, "line 2", "listed twice")
