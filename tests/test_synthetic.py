"""The synthetic Polyvore-U generator writes a valid release that the real converter accepts."""

import json
import os

import numpy as np

from recbole_outfit.data import polyvore, synthetic
from recbole_outfit.data.convert import atomic_paths, convert


def test_generated_root_converts_and_is_learnable_by_construction(tmp_path):
    root = str(tmp_path / "raw")
    summary = synthetic.generate(root, seed=1, scale=0.1, image_px=32, workers=1, show_progress=False)
    for folder in synthetic.DEFAULT_SPECS:
        path = os.path.join(root, folder)
        for split in polyvore.SPLITS:
            for kind in ("posi", "nega", "nega_hard"):
                assert os.path.isfile(polyvore.tuple_path(path, split, kind))
        stats = summary["folders"][folder]
        # the oracle ranks well above chance, but not perfectly: some random negatives fit by chance
        assert 0.6 < stats["oracle_test_auc_random"] < 1.0
        assert 0.0 < stats["false_negative_rate"] < 0.5
    with open(polyvore.tuple_path(os.path.join(root, "tuples_519"), "train", "posi")) as f:
        assert f.readline().strip() == ",".join(polyvore.VARIABLE_HEADER)
        rows = [line.strip().split(",") for line in f]
    assert any(r[2] == "-1" for r in rows) and any(r[2] != "-1" for r in rows)
    for dataset in ("synthetic630", "synthetic519", "synthetic53", "synthetic32"):
        out = convert(root, dataset, out=str(tmp_path / "atomic"), image_size=32, workers=1, show_progress=False)
        manifest = json.load(open(atomic_paths(out, dataset)["manifest"]))
        assert manifest["synthetic"]["false_negative_rate"] == summary["folders"][f"tuples_{dataset[9:]}"]["false_negative_rate"]


def test_same_seed_same_data(tmp_path):
    a = synthetic.generate(str(tmp_path / "a"), seed=5, scale=0.05, image_px=16, folders=["tuples_53"], workers=1,
                           show_progress=False)
    b = synthetic.generate(str(tmp_path / "b"), seed=5, scale=0.05, image_px=16, folders=["tuples_53"], workers=1,
                           show_progress=False)
    for name in ("tuples_train_posi", "tuples_test_nega", "image_list_top"):
        assert open(tmp_path / "a" / "tuples_53" / name).read() == open(tmp_path / "b" / "tuples_53" / name).read()
    assert a["folders"] == b["folders"]


def test_test_garments_are_new_and_hard_negatives_belong_to_other_users(tmp_path):
    world = synthetic.World(seed=2)
    spec = synthetic.DEFAULT_SPECS["tuples_630"].scaled(0.1)
    gen = synthetic.FolderGenerator(world, "tuples_630", spec, np.random.default_rng(0), variable_length=False)
    tables, _ = gen.generate()
    train_users, train = tables["train", "posi"]
    test_users, test = tables["test", "posi"]
    assert not set(train[:, 0]) & set(test[:, 0])  # disjoint pools: test tops never seen in training
    hard_users, hard = tables["test", "nega_hard"]
    owner_of = {tuple(row): u for u, row in zip(test_users.tolist(), test.tolist())}
    assert all(owner_of[tuple(row)] != u for u, row in zip(hard_users.tolist(), hard.tolist()))


def test_rendered_attributes_are_visible():
    red_stripes = synthetic.render_garment("top", 0, synthetic.PATTERNS.index("stripes"), 0, seed=1, px=64)
    blue_solid = synthetic.render_garment("top", 5, synthetic.PATTERNS.index("solid"), 0, seed=1, px=64)
    centre = (slice(28, 36), slice(28, 36))
    assert red_stripes[centre][..., 0].mean() > red_stripes[centre][..., 2].mean()
    assert blue_solid[centre][..., 2].mean() > blue_solid[centre][..., 0].mean()
    assert blue_solid[centre].std() < red_stripes[centre].std()
