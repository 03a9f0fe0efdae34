"""OutfitDataset, the negative sampler and the training dataloader on converted synthetic data."""

import numpy as np
import pytest
import torch

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS
from recbole_outfit.data.sampler import OutfitNegativeSampler, outfit_key
from recbole_outfit.utils import create_dataset, data_preparation


@pytest.fixture
def loaded(workspace, run_dir):
    def load(dataset="synthetic630", model="Teacher", **overrides):
        config = Config(model=model, dataset=dataset, config_dict=tiny_config(workspace, run_dir, **overrides))
        data = create_dataset(config)
        return config, data, data_preparation(config, data)
    return load


def test_dataset_tables(loaded):
    config, dataset, (train, valid, tests) = loaded("synthetic519")
    assert config["benchmark_filename"] == ["train", "valid_teacher", "test"]
    garments, mask = dataset.outfit_garments, dataset.outfit_mask
    assert garments.shape == (dataset.item_num, 4) and mask.dtype == torch.bool
    lengths = mask.sum(1)[1:]  # row 0 is RecBole's padding item
    assert set(lengths.tolist()) == {3, 4}
    assert (garments[~mask] == 0).all()
    # categories follow the slots: tops first, then bottom, then shoe
    cats = dataset.outfit_categories[1:]
    assert (cats[:, 0] == 0).all() and (cats[lengths == 3][:, 1] == 1).all()
    assert (cats[lengths == 4][:, 1] == 0).all() and (cats[:, -1][lengths == 4] == 2).all()
    # each garment maps to the image store row holding it: the .garment file order
    rows = dataset.garment_image_row
    assert rows[0] == -1 and sorted(rows[1:].tolist()) == list(range(len(dataset.garment_feat)))
    store = dataset.image_store(place="cpu")
    assert len(store) == len(dataset.garment_feat) and store.image_size == config["image_size"]
    tokens = dataset.field2id_token["garment_id"]
    images = dataset.field2id_token["image"][dataset.garment_feat["image"].numpy()]
    assert all(img == f"{tok}.jpg" for tok, img in zip(tokens[dataset.garment_feat["garment_id"].numpy()], images))
    # evaluation rows are labeled with ten negatives per positive
    labels = tests["test"]._dataset.inter_feat["label"]
    assert labels.sum() * 11 == len(labels)


def test_training_batches_hold_positives_and_sampled_negatives(loaded):
    config, dataset, (train, _, _) = loaded("synthetic519", train_neg_sample_num=3)
    batch = next(iter(train))
    users, positives, negatives = batch["user_id"], batch[GARMENTS], batch[NEG_GARMENTS]
    assert negatives.shape == (len(users), 3, positives.shape[1])
    category = dataset.garment_category
    for b in range(len(users)):
        shape = category[positives[b][positives[b] > 0]].tolist()
        for neg in negatives[b]:
            assert category[neg[neg > 0]].tolist() == shape  # shaped like its positive


def test_sampler_never_returns_a_users_positive(loaded):
    _, dataset, (train, _, _) = loaded()
    train_set = train._dataset
    sampler = OutfitNegativeSampler(train_set, num=20, rng=np.random.default_rng(0))
    users = train_set.inter_feat["user_id"]
    positives = dataset.outfit_garments[train_set.inter_feat["outfit_id"]]
    negatives = sampler.sample(users, positives)
    forbidden = {outfit_key(u, g) for u, g in zip(users.tolist(), positives.numpy())}
    pool = set(np.unique(positives[positives > 0].numpy()).tolist())
    for u, outfits in zip(users.tolist(), negatives.numpy()):
        for outfit in outfits:
            assert outfit_key(u, outfit) not in forbidden
            assert set(outfit[outfit > 0].tolist()) <= pool  # drawn from training garments
    # a sampled outfit is not one of the user's positives, even when it is forced to collide:
    lonely = OutfitNegativeSampler(train_set, num=1, rng=np.random.default_rng(1))
    lonely.pools = [np.unique(positives[0][positives[0] > 0][i:i + 1].numpy()) for i in range(3)]
    lonely.pools[2] = np.unique(np.concatenate([lonely.pools[2], pool_of(positives, dataset, 2)]))
    out = lonely.sample(users[:1], positives[:1])
    assert outfit_key(users[0], out[0, 0].numpy()) not in forbidden


def pool_of(positives, dataset, category):
    garments = np.unique(positives[positives > 0].numpy())
    return garments[dataset.garment_category.numpy()[garments] == category]


def test_hard_negatives_are_other_users_positives(loaded):
    _, dataset, (train, _, _) = loaded()
    train_set = train._dataset
    users = train_set.inter_feat["user_id"]
    positives = dataset.outfit_garments[train_set.inter_feat["outfit_id"]]
    owners = {}
    for u, g in zip(users.tolist(), positives.numpy()):
        owners.setdefault(outfit_key(0, g)[1:], set()).add(u)
    all_hard = OutfitNegativeSampler(train_set, num=4, hard_ratio=1.0, rng=np.random.default_rng(0))
    for u, outfits in zip(users[:50].tolist(), all_hard.sample(users[:50], positives[:50]).numpy()):
        for outfit in outfits:
            key = outfit_key(0, outfit)[1:]
            assert key in owners and u not in owners[key]
    half = OutfitNegativeSampler(train_set, num=10, hard_ratio=0.5, rng=np.random.default_rng(0))
    sampled = half.sample(users, positives).numpy().reshape(-1, positives.shape[1])
    share = np.mean([outfit_key(0, o)[1:] in owners for o in sampled])
    assert 0.4 < share < 0.6
