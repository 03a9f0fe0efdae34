"""Outfit augmentations for contrastive learning (paper section 3.3): ``erase``, ``replace``, ``identity``.

An augmentation alters one garment of an outfit, given as garment ids ``[B, L]`` (0 = padding):

* ``erase`` (3.3.1) removes one garment; an outfit is never erased below one garment.
* ``replace`` (3.3.2) swaps one garment for one of its visually nearest garments of the same category
  (a row of the neighbour table built from autoencoder features, see ``model/autoencoder.py``).
* ``identity`` leaves the outfit as it is.

Each outfit gets two views from the configured pair. When both augmentations of the pair are the same,
they alter different garments, so the two views differ (paper 3.3).
"""

import torch

from recbole_outfit.errors import ConfigError
from recbole_outfit.options import AUGMENTATIONS, check_augmentation_pair



class OutfitAugmenter:
    """Two augmented views of each outfit.

    Args:
        pair: two names from ``AUGMENTATIONS`` (``cl_augmentations``).
        neighbours: LongTensor ``[n_garments, k]`` of same-category neighbour garment ids (``-1`` = none),
            needed by ``replace``.
    """

    def __init__(self, pair, neighbours=None):
        pair = check_augmentation_pair(pair)
        if "replace" in pair and neighbours is None:
            raise ConfigError("the replace augmentation needs a neighbour table", where="cl_augmentations",
                              fix="let the pipeline build it (run through run_recbole_outfit) or drop 'replace'")
        self.pair = pair
        self.neighbours = neighbours

    def to(self, device):
        if self.neighbours is not None:
            self.neighbours = self.neighbours.to(device)
        return self

    def __call__(self, garments):
        """garments ``[B, L]`` -> (view 1 ``[B, L]``, view 2 ``[B, L]``)."""
        mask = garments > 0
        first = _random_slot(mask)  # [B]
        if self.pair[0] == self.pair[1]:
            second = _random_slot(mask, exclude=first)  # a different garment for the same augmentation
        else:
            second = _random_slot(mask)
        return self._apply(self.pair[0], garments, first), self._apply(self.pair[1], garments, second)

    def _apply(self, name, garments, slot):
        if name == "identity":
            return garments
        rows = torch.arange(len(garments), device=garments.device)
        out = garments.clone()
        valid = slot >= 0
        if name == "erase":
            keeps_one = (garments > 0).sum(1) > 1  # never erase the last garment
            chosen = valid & keeps_one
            out[rows[chosen], slot[chosen]] = 0
            return out
        current = garments[rows[valid], slot[valid]]
        candidates = self.neighbours[current]  # [b, k]
        pick = torch.randint(candidates.shape[1], (len(current),), device=garments.device)
        replacement = candidates[torch.arange(len(current), device=garments.device), pick]
        replacement = torch.where(replacement > 0, replacement, current)  # no neighbour: leave it
        out[rows[valid], slot[valid]] = replacement
        return out


def _random_slot(mask, exclude=None):
    """A uniformly random real slot per row (``-1`` if none is left after ``exclude``)."""
    weights = torch.rand(mask.shape, device=mask.device)
    weights = weights.masked_fill(~mask, -1.0)
    if exclude is not None:
        has = exclude >= 0
        weights[torch.arange(len(mask), device=mask.device)[has], exclude[has]] = -1.0
    best, slot = weights.max(dim=1)
    return torch.where(best >= 0, slot, torch.full_like(slot, -1))
