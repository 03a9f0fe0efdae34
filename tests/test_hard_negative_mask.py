"""A shared negative pool never uses one of a row's own training positives as that row's negative.

With ``negative_pool: batch`` every row is scored against every row's sampled negatives; a hard negative
(another user's positive) drawn for row c can be a training positive of row b's user - even the very outfit
that is row b's positive in the batch - and must be masked out of row b's loss.
"""

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS, NEG_OWNED
from recbole_outfit.data.sampler import outfit_key
from recbole_outfit.model.loss import npair_loss
from recbole_outfit.model.outfit_recommender import select_negatives
from recbole_outfit.utils import create_dataset, data_preparation, get_model


def test_select_negatives_masks_owned_columns():
    scores = torch.arange(2 * 4, dtype=torch.float).view(2, 4)  # B = 2, n = 1: [pos0, pos1, neg0, neg1]
    users = torch.tensor([5, 6])
    owned = torch.tensor([[True, False, False, True],   # row 0's user owns row 1's negative
                          [False, True, False, False]])
    pos, neg, mask = select_negatives(scores, users, 1, "batch", owned)
    assert pos.tolist() == [0.0, 5.0] and neg.tolist() == [[2.0, 3.0], [6.0, 7.0]]
    assert mask.tolist() == [[True, False], [True, True]]
    _, _, both = select_negatives(scores, users, 1, "batch_and_positives", owned)
    assert both.tolist() == [[False, True, True, False], [True, False, True, True]]
    _, own, none = select_negatives(scores, users, 1, "own", None)
    assert own.tolist() == [[2.0], [7.0]] and none is None
    with pytest.raises(ValueError, match="neg_owned"):
        select_negatives(scores, users, 1, "batch")


@pytest.mark.slow
def test_batch_pool_masks_other_rows_hard_negatives_that_a_row_owns(workspace, run_dir):
    config = Config("NPair", "synthetic630", config_dict=tiny_config(
        workspace, run_dir, train_neg_hard_ratio=1.0, negative_pool="batch", train_batch_size=64))
    dataset = create_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    train_set = train._dataset
    forbidden = {outfit_key(u, g) for u, g in zip(train_set.inter_feat["user_id"].tolist(),
                                                    dataset.outfit_garments[train_set.inter_feat["outfit_id"]].numpy())}
    clashes, checked = 0, None
    for batch in train:
        users, negatives = batch["user_id"], batch[NEG_GARMENTS]
        scored = torch.cat([batch[GARMENTS], negatives.flatten(0, 1)])
        expected = torch.tensor([[outfit_key(u, o) in forbidden for o in scored.numpy()] for u in users.tolist()])
        assert torch.equal(batch[NEG_OWNED], expected)
        clashes = int(expected[:, len(users):].sum())
        if clashes:
            checked = batch, expected
            break
    assert checked, "no batch with a shared hard negative that a row owns: the test would check nothing"
    batch, expected = checked
    batch_size = len(batch["user_id"])
    model = get_model("NPair")(config, train_set)
    model.train()
    pos, neg, mask = model.batch_scores(batch)[:3]
    assert mask is not None and torch.equal(mask, ~expected[:, batch_size:])
    # an owned negative does not count: moving its score changes nothing in the loss
    moved = neg.detach().clone()
    moved[~mask] += 5.0
    assert torch.allclose(npair_loss(pos, neg, model.tau, mask), npair_loss(pos, moved, model.tau, mask))
