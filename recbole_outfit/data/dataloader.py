"""Training dataloader for outfit models: RecBole's ``AbstractDataLoader`` with outfit negatives.

Each batch is a RecBole ``Interaction`` holding, for ``train_batch_size`` training positives:

* ``user_id`` ``[B]`` and ``outfit_id`` ``[B]``;
* ``garments`` ``[B, L]``: the positive outfit's garment ids, 0 = padding (``mask = garments > 0``);
* ``categories`` ``[B, L]``: their category tokens (RecBole's own join of the ``.item`` features);
* ``neg_garments`` ``[B, n, L]``: ``n = train_neg_sample_num`` sampled negative outfits per positive;
* ``neg_owned`` ``[B, B + B*n]`` bool: column m of the scored outfits (the B positives, then the B*n
  negatives row by row) is one of row b's user's training positives (``OutfitNegativeSampler.owned``), so a
  shared negative pool can mask it out of row b's loss.

Evaluation uses RecBole's own ``NegSampleEvalDataLoader`` in ``labeled`` mode: the given (user, outfit,
label) rows, joined with the outfit's ``garments``.
"""

import numpy as np
import torch
from recbole.data.dataloader import NegSampleEvalDataLoader
from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
from recbole.data.interaction import Interaction

from recbole_outfit.compat import as_single_process
from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS, NEG_OWNED


class OutfitTrainDataLoader(AbstractDataLoader):
    """Shuffled batches of training positives, each with sampled negative outfits."""

    def __init__(self, config, dataset, sampler, shuffle=True):
        self.sample_size = len(dataset)
        super().__init__(config, dataset, sampler, shuffle=shuffle)

    def _init_batch_size_and_step(self):
        batch_size = self.config["train_batch_size"]
        self.step = batch_size
        self.set_batch_size(batch_size)

    def collate_fn(self, index):
        data = self._dataset[np.array(index)]  # joins the outfit's garments and categories
        data = self.transform(self._dataset, data)
        users, positives = data[self._dataset.uid_field], data[GARMENTS]
        negatives = self._sampler.sample(users, positives)  # [B, n, L]
        scored = [positives, negatives.flatten(0, 1)]
        width = max(part.shape[1] for part in scored)
        scored = torch.cat([torch.nn.functional.pad(part, (0, width - part.shape[1])) for part in scored])
        owned = self._sampler.owned(users, scored)  # [B, B + B*n]
        data.update(Interaction({NEG_GARMENTS: negatives, NEG_OWNED: owned}))
        return data


class OutfitEvalDataLoader(NegSampleEvalDataLoader):
    """RecBole's labeled evaluation loader, never sharded: in a distributed run every process scores every
    row, so per-user metrics are computed on each user's full candidate list (RecBole would split the rows
    across processes and average per-shard metrics, which is not the per-user AUC)."""

    def __init__(self, config, dataset, sampler, shuffle=False):
        with as_single_process(config):
            super().__init__(config, dataset, sampler, shuffle=shuffle)
