"""Training negatives for outfit recommendation: garment tuples built on the fly.

A random negative is a category-wise random mixture shaped like the positive it pairs with (same category
in every slot, whatever the dataset's categories and outfit sizes, so outfit size is never a cue), each
garment drawn uniformly from the distinct garments of that category that occur in training positives - the
rule by which Polyvore-U's released negatives were made from each split's items. A negative is never one of
the user's own training positives and never holds the same garment twice. With ``train_neg_hard_ratio`` = r,
each negative is instead, with probability r, a hard negative: the positive outfit of another user
(Polyvore-U's ``_nega_hard`` rule; paper section 4.4).

A negative is kept away from the positives of the row it was drawn for only. When a batch shares its
negatives (``negative_pool: batch``), another row's negative - most often a hard one, even the very outfit
that is this row's positive - can be one of this row's user's training positives: :meth:`owned` says which,
so the model masks them out of that row's loss.
"""

import numpy as np
import torch

from recbole_outfit.errors import ConfigError


def garment_set(garments):
    """Hashable garment set of an outfit; ``garments`` is a row of garment ids with 0 padding."""
    return tuple(sorted(int(g) for g in garments if g > 0))


def outfit_key(user, garments):
    """Hashable (user, garment set) key; ``garments`` is a row of garment ids with 0 padding."""
    return (int(user),) + garment_set(garments)


class OutfitNegativeSampler:
    """Samples ``num`` negative garment tuples per positive from a training dataset.

    Args:
        dataset: the training split (an ``OutfitDataset`` copy whose ``inter_feat`` holds the positives).
        num: negatives per positive (``train_neg_sample_num``).
        hard_ratio: share of hard negatives (``train_neg_hard_ratio``), in [0, 1].
        rng: ``numpy.random.Generator``; defaults to one seeded from numpy's global state (so RecBole's
            ``init_seed`` makes runs repeatable).
    """

    def __init__(self, dataset, num=1, hard_ratio=0.0, rng=None):
        if num < 1:
            raise ConfigError(f"train_neg_sample_num must be >= 1, got {num}", where="train_neg_sample_num",
                              fix="sample at least one negative outfit per positive, e.g. --train_neg_sample_num=1")
        if not 0.0 <= hard_ratio <= 1.0:
            raise ConfigError(f"train_neg_hard_ratio must lie in [0, 1], got {hard_ratio}", where="train_neg_hard_ratio",
                              fix="it is the share of negatives drawn from other users' positives, e.g. 0.5 (paper 4.4)")
        self.num, self.hard_ratio = num, hard_ratio
        self.rng = rng or np.random.default_rng(np.random.randint(2**31))
        users = dataset.inter_feat[dataset.uid_field]
        outfits = dataset.inter_feat[dataset.iid_field]
        users = (users.numpy() if torch.is_tensor(users) else np.asarray(users)).astype(np.int64)
        outfits = (outfits.numpy() if torch.is_tensor(outfits) else np.asarray(outfits)).astype(np.int64)
        self.positive_users = users
        self.positive_garments = dataset.outfit_garments[outfits].numpy()  # [P, L]
        self.length = dataset.outfit_garments.shape[1]
        categories = dataset.garment_category.numpy()
        used = np.unique(self.positive_garments[self.positive_garments > 0])
        self.pools = [used[categories[used] == c] for c in range(len(dataset.categories))]  # any category set
        self.garment_category = categories
        self.forbidden = {outfit_key(u, g) for u, g in zip(users.tolist(), self.positive_garments)}
        # every distinct training garment set numbered, and the (user, set) pairs that are training positives
        self.garment_sets = {}
        set_ids = np.array([self.garment_sets.setdefault(garment_set(g), len(self.garment_sets))
                            for g in self.positive_garments], dtype=np.int64)
        self.positive_pairs = np.unique(users * len(self.garment_sets) + set_ids)
        if self.hard_ratio > 0 and len(np.unique(users)) < 2:
            raise ConfigError("hard negatives need at least two users with training positives",
                              where="train_neg_hard_ratio", fix="set --train_neg_hard_ratio=0 for this dataset")

    def sample(self, users, garments):
        """Negatives for a batch of positives.

        Args:
            users: LongTensor ``[B]``.
            garments: LongTensor ``[B, L']`` garment ids of the positives (0 = padding).
        Returns:
            LongTensor ``[B, num, L]`` garment ids of the negatives (0 = padding).
        """
        users = users.numpy()
        garments = garments.numpy()
        batch = len(users)
        owners = np.repeat(users, self.num)
        shapes = np.repeat(self.garment_category[garments], self.num, axis=0)  # [B*num, L'], -1 = pad
        shapes[np.repeat(garments, self.num, axis=0) == 0] = -1
        result = np.zeros((batch * self.num, self.length), dtype=np.int64)
        todo = np.arange(batch * self.num)
        while len(todo):
            hard = self.rng.random(len(todo)) < self.hard_ratio
            self._fill_random(result, todo[~hard], shapes)
            self._fill_hard(result, todo[hard], owners)
            todo = todo[[not self._acceptable(owners[i], result[i]) for i in todo]]
        return torch.from_numpy(result.reshape(batch, self.num, self.length))

    def _fill_random(self, result, rows, shapes):
        result[rows] = 0
        for category, pool in enumerate(self.pools):
            r, slot = np.nonzero(shapes[rows] == category)
            result[rows[r], slot] = pool[self.rng.integers(len(pool), size=len(r))]

    def _fill_hard(self, result, rows, owners):
        if not len(rows):
            return
        picks = self.rng.integers(len(self.positive_users), size=len(rows))
        clash = self.positive_users[picks] == owners[rows]
        while clash.any():  # another user's positive
            picks[clash] = self.rng.integers(len(self.positive_users), size=int(clash.sum()))
            clash = self.positive_users[picks] == owners[rows]
        result[rows] = 0
        result[rows, : self.positive_garments.shape[1]] = self.positive_garments[picks]

    def _acceptable(self, user, garments):
        present = garments[garments > 0]
        return len(np.unique(present)) == len(present) and outfit_key(user, garments) not in self.forbidden

    def owned(self, users, outfits):
        """Which outfits are training positives of which batch user.

        Args:
            users: LongTensor ``[B]``.
            outfits: LongTensor ``[M, L']`` garment ids (0 = padding), e.g. a batch's positives then its
                flattened negatives.
        Returns:
            BoolTensor ``[B, M]``: True where outfit m is one of user b's training positives.
        """
        users = users.numpy().astype(np.int64)
        ids = np.array([self.garment_sets.get(garment_set(o), -1) for o in outfits.numpy()], dtype=np.int64)
        result = np.zeros((len(users), len(ids)), dtype=bool)
        known = np.nonzero(ids >= 0)[0]  # only garment sets that are someone's training positive can clash
        if len(known):
            codes = users[:, None] * len(self.garment_sets) + ids[known][None, :]  # [B, |known|]
            result[:, known] = np.isin(codes, self.positive_pairs)
        return torch.from_numpy(result)
