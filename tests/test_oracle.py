"""The synthetic world kept with the raw root, the oracle teacher built from it, and fnd_scale: normalized."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import tiny_config
from recbole_outfit.data import polyvore, synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hand_world():
    """Two styles, two garments per category, users 0 (style 0 only) and 1 (half each)."""
    def prefs(colour, pattern, shape):
        return {"colour": np.array(colour, float), "pattern": np.array(pattern, float), "shape": np.array(shape, float)}

    ten = lambda *on: [1.0 if i in on else 0.0 for i in range(10)]
    four = lambda *on: [1.0 if i in on else 0.0 for i in range(4)]
    three = lambda *on: [1.0 if i in on else 0.0 for i in range(3)]
    preferred = {  # style 0 likes red (0) solid tees; style 1 likes blue (5) striped longsleeves, ...
        "top": prefs([ten(0), ten(5)], [four(0), four(1)], [three(0), three(2)]),
        "bottom": prefs([ten(8), ten(9)], [four(0), four(0)], [three(1), three(1)]),
        "shoe": prefs([ten(8), ten(8)], [four(0), four(2)], [three(0), three(1)]),
    }
    catalog = {  # garment 0 / garment 1 of each category: colour, pattern, shape
        "top": {"colour": np.array([0, 5]), "pattern": np.array([0, 1]), "shape": np.array([0, 0])},
        "bottom": {"colour": np.array([8, 9]), "pattern": np.array([0, 3]), "shape": np.array([1, 0])},
        "shoe": {"colour": np.array([8, 3]), "pattern": np.array([2, 0]), "shape": np.array([1, 1])},
    }
    log_z = {pool: {"top": np.array([0.5, 1.0]), "bottom": np.array([0.2, 0.3]), "shoe": np.array([0.1, 0.4])}
             for pool in ("train", "eval")}
    sizes = {split: {"top": 7, "bottom": 5, "shoe": 3} for split in polyvore.SPLITS}
    return synthetic.FolderWorld("tuples_630", 2.0, 1.0, preferred, catalog, np.array([[1.0, 0.0], [0.5, 0.5]]),
                                 log_z, sizes)


# utilities by hand: 1.0 colour + 0.6 pattern + 0.4 shape, per (category, garment) under styles (0, 1)
HAND_UTILITY = {
    ("top", 0): (2.0, 0.0),  # red solid tee: style 0 all three; style 1 none
    ("top", 1): (0.4, 1.6),  # blue striped tee: style 0 shape; style 1 colour + pattern
    ("bottom", 0): (2.0, 1.0),  # black solid trousers: style 0 all; style 1 pattern + shape
    ("bottom", 1): (0.0, 1.0),  # grey checked trousers: style 1 colour only
    ("shoe", 0): (1.0, 2.0),  # black dotted boot: style 0 colour; style 1 all three
    ("shoe", 1): (0.6, 0.4),  # green solid boot: style 0 pattern; style 1 shape
}
LOG_Z = {"top": (0.5, 1.0), "bottom": (0.2, 0.3), "shoe": (0.1, 0.4)}
POOL = {"top": 7, "bottom": 5, "shoe": 3}


def by_hand(mix, outfit, patterned):
    """log sum_s mix_s exp(sum_c 2 u_s(g_c) - log z_c,s + log n_c) - [two or more patterned garments]."""
    total = 0.0
    for s in (0, 1):
        if mix[s] == 0:
            continue
        log_p = sum(2.0 * HAND_UTILITY[c, g][s] - LOG_Z[c][s] + math.log(POOL[c]) for c, g in outfit)
        total += mix[s] * math.exp(log_p)
    return math.log(total) - (1.0 if patterned >= 2 else 0.0)


CASES = [  # (user, [(category, garment)], patterned garments)
    (0, [("top", 0), ("bottom", 0), ("shoe", 0)], 1),  # style 0's outfit, one patterned (dotted shoe)
    (1, [("top", 0), ("bottom", 0), ("shoe", 0)], 1),
    (0, [("top", 1), ("bottom", 1), ("shoe", 0)], 3),  # three patterned: clash
    (1, [("top", 1), ("bottom", 1), ("shoe", 1)], 2),
    (1, [("top", 1), ("top", 0), ("bottom", 0), ("shoe", 1)], 1),  # two tops
]


def catalog_rows():
    rows = []
    for _, outfit, _ in CASES:
        tops = [g for c, g in outfit if c == "top"]
        rows.append([tops[0], tops[1] if len(tops) > 1 else polyvore.MISSING, dict(outfit)["bottom"],
                     dict(outfit)["shoe"]])
    return np.array(rows)


def test_hand_world_utilities_match_the_table():
    world = hand_world()
    for (category, garment), expected in HAND_UTILITY.items():
        assert world.utilities(category, [garment])[:, 0] == pytest.approx(expected)


def test_true_preference_equals_the_generator_model_by_hand():
    world = hand_world()
    users = np.array([u for u, _, _ in CASES])
    got = synthetic.true_preference(world, users, catalog_rows())
    mixes = {0: (1.0, 0.0), 1: (0.5, 0.5)}
    expected = [by_hand(mixes[u], outfit, patterned) for u, outfit, patterned in CASES]
    assert got == pytest.approx(expected, abs=1e-9)


class FakeDataset:
    """The two fields an OracleTeacher reads from a dataset: garment tokens and user tokens."""

    uid_field = "user_id"

    def __init__(self):
        tokens = ["[PAD]"] + [f"syn630_{c}_{g:06d}" for c in ("shoe", "top", "bottom") for g in (1, 0)]
        self.field2id_token = {"garment_id": np.array(tokens), "user_id": np.array(["[PAD]", "1", "0"])}


def test_oracle_teacher_scores_dataset_outfits_like_the_hand_computation():
    from recbole_outfit.model.oracle import OracleTeacher

    dataset = FakeDataset()
    teacher = OracleTeacher(hand_world(), dataset, alpha=1.0)
    gid = {tuple(t.split("_")[1:]): i for i, t in enumerate(dataset.field2id_token["garment_id"]) if i}
    outfits = torch.zeros(len(CASES), 4, dtype=torch.long)
    for row, (_, outfit, _) in enumerate(CASES):  # garments in a shuffled slot order, zero padding last
        ids = [gid[c, f"{g:06d}"] for c, g in reversed(outfit)]
        outfits[row, : len(ids)] = torch.tensor(ids)
    user_id = {0: 2, 1: 1}  # dataset ids of world users 0 and 1
    mixes = {0: (1.0, 0.0), 1: (0.5, 0.5)}
    users = torch.tensor([user_id[u] for u, _, _ in CASES])
    expected = [by_hand(mixes[u], outfit, patterned) for u, outfit, patterned in CASES]
    assert teacher.user_scores(users, outfits).double().numpy() == pytest.approx(expected, abs=1e-5)
    pairs = teacher.pair_scores(torch.tensor([1, 2]), outfits)  # [2 users, 5 outfits]
    for row, u in enumerate((1, 0)):
        assert pairs[row].double().numpy() == pytest.approx(
            [by_hand(mixes[u], outfit, patterned) for _, outfit, patterned in CASES], abs=1e-5)
    assert teacher.parameter_count() == 0


def test_world_file_round_trips_and_reproduces_the_recorded_oracle_statistics(tmp_path):
    from recbole_outfit.evaluator.functional import user_auc

    root = str(tmp_path / "raw")
    summary = synthetic.generate(root, seed=4, scale=0.1, image_px=16, folders=["tuples_630"], workers=1,
                                 show_progress=False, style_breadth=0.5)
    assert summary["style_breadth"] == 0.5 and os.path.isfile(os.path.join(root, synthetic.WORLD_FILE))
    world = synthetic.load_world(root, "tuples_630")
    stats = summary["folders"]["tuples_630"]
    folder = os.path.join(root, "tuples_630")

    def read(split, kind):
        with open(polyvore.tuple_path(folder, split, kind)) as f:
            rows = np.array([[int(v) for v in line.split(",")] for line in f.read().splitlines()[1:]])
        outfits = np.full((len(rows), 4), polyvore.MISSING)
        outfits[:, [0, 2, 3]] = rows[:, 1:]
        return rows[:, 0], outfits

    users, positives = read("test", "posi")
    neg_users, negatives = read("test", "nega")
    pos, neg = world.true_preference(users, positives, "test"), world.true_preference(neg_users, negatives, "test")
    auc = user_auc(np.r_[users, neg_users], np.r_[pos, neg], np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    assert round(auc, 4) == stats["oracle_test_auc_random"]
    median = {u: np.median(pos[users == u]) for u in np.unique(users)}
    rate = np.mean([s >= median[u] for u, s in zip(neg_users, neg)])
    assert round(float(rate), 4) == stats["false_negative_rate"]
    # a broader world has more false negatives than the narrow default with the same seed
    narrow = synthetic.generate(str(tmp_path / "narrow"), seed=4, scale=0.1, image_px=16, folders=["tuples_630"],
                                workers=1, show_progress=False)
    assert stats["false_negative_rate_train"] > narrow["folders"]["tuples_630"]["false_negative_rate_train"]


def test_load_world_refuses_a_root_without_one(tmp_path):
    from recbole_outfit.errors import ConfigError

    with pytest.raises(ConfigError, match="no generator world"):
        synthetic.load_world(str(tmp_path), "tuples_630")


@pytest.fixture
def tiny_oracle_data(workspace, run_dir):
    """The tiny synthetic630 of the shared workspace, converted; its training split and world."""
    from recbole_outfit.config import Config
    from recbole_outfit.utils import create_dataset

    config = Config("FND", "synthetic630", config_dict=tiny_config(workspace, run_dir), command_line=False)
    dataset = create_dataset(config)
    train = dataset.build()[0]
    return train, synthetic.load_world(config["raw_path"], config["raw_folder"])


@pytest.mark.parametrize("alpha", [1.0, 3.75])
def test_normalized_d_has_mean_alpha_on_the_sampled_training_negatives(tiny_oracle_data, alpha):
    from recbole_outfit.data.sampler import OutfitNegativeSampler
    from recbole_outfit.model.oracle import OracleTeacher

    train, world = tiny_oracle_data
    teacher = OracleTeacher(world, train, alpha, scale="normalized")
    teacher.prepare(train)
    assert teacher.gap_scale > 0
    # the negatives calibrate() samples, through the path the student's loss takes
    rng = np.random.default_rng(0)
    pick = torch.from_numpy(rng.choice(len(train), size=min(1024, len(train)), replace=False))
    users = train.inter_feat[train.uid_field][pick]
    positives = train.outfit_garments[train.inter_feat[train.iid_field][pick]]
    negatives = OutfitNegativeSampler(train, 4, rng=rng).sample(users, positives)
    d = torch.cat([teacher.false_negativeness(users[i:i + 64], torch.cat([positives[i:i + 64],
                                                                          negatives[i:i + 64].flatten(0, 1)]), 4, "own")
                   for i in range(0, len(users), 64)])
    assert d.shape == (len(users), 4)
    assert float(d.mean()) == pytest.approx(alpha, rel=1e-4)
    paper = OracleTeacher(world, train, alpha, scale="paper")
    paper.prepare(train)
    assert paper.gap_scale == 1.0
    # the oracle knows the answer: a user's training positives score above its random negatives on average
    assert float(paper.user_mean_score[1:].mean()) > float(teacher.user_scores(users, negatives[:, 0]).mean())


@pytest.mark.slow
def test_teacher_oracle_without_a_generator_world_exits_2_before_training(workspace, tmp_path):
    """A converted dataset whose raw root has no world file (like Polyvore-U) cannot have an oracle."""
    root = tmp_path / "raw"
    synthetic.generate(str(root), seed=3, scale=0.1, image_px=16, folders=["tuples_630"], workers=1,
                       show_progress=False)
    os.remove(root / synthetic.WORLD_FILE)
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, "run_recbole_outfit.py"), "--model=FND", "--dataset=synthetic630",
         "--teacher=oracle", f"--raw_path={root}", f"--data_path={tmp_path / 'atomic'}", "--synthetic_seed=3",
         "--synthetic_scale=0.1", "--synthetic_image_px=16", "--image_size=64", "--convert_workers=1",
         "--synthetic_folders=['tuples_630']", "--show_progress=False", "--state=WARNING",
         f"--checkpoint_dir={tmp_path / 'saved'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "no generator world" in done.stderr and "raw_path" in done.stderr
    assert not (tmp_path / "saved" / "stages").exists()  # refused before any stage trained


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["synthetic630", "synthetic519"])
def test_fnd_trains_with_the_oracle_teacher(workspace, run_dir, caplog, dataset):
    """``--teacher=oracle`` through the pipeline: no Teacher stage trains, the oracle is logged, FND runs
    (also on the variable-length folder, whose outfits may hold two tops)."""
    import logging

    from recbole_outfit.quick_start import run_recbole_outfit

    caplog.set_level(logging.INFO)
    config = tiny_config(workspace, run_dir, teacher="oracle", fnd_scale="normalized", fnd_alpha=1.0,
                         state="INFO")
    result = run_recbole_outfit("FND", dataset, config_dict=config)
    assert result["test_result"]["user_auc"] > 0.52, result["test_result"]  # distilled from the truth: learns
    log = caplog.text
    assert "the oracle: true preferences" in log and "Oracle teacher on" in log and "has mean 1.000" in log
    assert not (run_dir / "saved" / "stages").exists()  # no Teacher was trained
