"""Type-Aware: type-aware embeddings for fashion compatibility, non-personalized.

Vasileva, Plummer, Dusad, Rajpal, Kumar, Forsyth, "Learning Type-Aware Embeddings for Fashion Compatibility",
ECCV 2018 (a baseline of the FND-CL paper, Table 2 and 3); public code mvasil/fashion-compatibility.

What it follows:

* a general embedding of each garment, here the shared item encoder's feature ``f(x)`` (``backbone: XS`` as
  for every baseline), and one learned mask ``w_(u,v)`` per unordered pair of categories (u, v) (same-category
  pairs included: a second top meets the first), a diagonal projection into the pair's type-specific space:
  ``e_i^(u,v) = relu(w_(u,v)) * f(x_i)``, L2-normalised (``typeaware_l2_embed``: the reference's ``--learned
  --l2_embed`` training command; ``TypeSpecificNet.forward``); masks initialised N(0.9, 0.7) as the reference's
  learned masks;
* compatibility of an outfit = minus the mean over its garment pairs i < j of ``||e_i^(u_i,u_j) - e_j^(u_i,u_j)||``
  (the reference's ``test_compatibility`` ranks outfits by that mean distance);
* the training loss of ``Tripletnet.image_forward`` and ``main.train``: triplets (anchor i, close j from the
  same positive outfit, far = the garment of j's category in a sampled negative), margin ranking on their
  distances in the (anchor, close) pair's space (``typeaware_margin``), plus
  ``typeaware_mask_loss`` x the masks' L1 norm (mean per triplet) and ``typeaware_embed_loss`` x the general
  embeddings' L2 norm (``||E||_F / sqrt(N)``, mean over the three roles).

Departures: Polyvore-U's tuples carry no text, so the visual-semantic loss (``vse_loss``) and the text-text
similarity (``sim_t_loss``) are left out, and with them the image-image similarity term on the general
embedding (``sim_i_loss``, weight 5e-5 in the reference) of the same ``L_sim`` group; the masks pass through
ReLU at test time too (the reference's test path reads the raw mask weights); each garment pair gives triplets
in both orders (the reference takes each unordered pair once, the later garment replaced by the far one); the
plugin's optimiser, batch and image size for every baseline (the reference: Adam, 5e-5, ResNet-18 at 112 px);
all category pairs have a space (the reference's ``typespaces.p`` lists the pairs seen in training).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.model.compatibility import CompatibilityRecommender, embedding_norm, margin_ranking


def pair_condition_table(categories):
    """``[C, C]`` symmetric table: the type-specific space of each unordered category pair (i <= j first)."""
    table = torch.zeros(categories, categories, dtype=torch.long)
    pairs = [(u, v) for u in range(categories) for v in range(u, categories)]
    for index, (u, v) in enumerate(pairs):
        table[u, v] = table[v, u] = index
    return table


class TypeSpaces(nn.Module):
    """One learned mask per unordered category pair; compatibility = minus the mean pairwise distance."""

    def __init__(self, dim, categories, l2_embed=True):
        super().__init__()
        self.l2_embed = l2_embed
        self.register_buffer("condition", pair_condition_table(categories), persistent=False)
        self.masks = nn.Embedding(len(self.condition.unique()), dim)
        self.masks.weight.data.normal_(0.9, 0.7)  # the reference's learned masks

    def project(self, x, conditions):
        """``relu(w_c) * x`` (L2-normalised with l2_embed): x ``[..., d]``, conditions ``[...]`` -> ``[..., d]``."""
        embedded = x * F.relu(self.masks(conditions))
        return F.normalize(embedded, dim=-1, eps=1e-10) if self.l2_embed else embedded

    def distance(self, x, y, conditions):
        """``||e(x) - e(y)||`` in the spaces ``conditions``: x, y ``[..., d]`` -> ``[...]``."""
        return (self.project(x, conditions) - self.project(y, conditions)).norm(dim=-1)

    def forward(self, x, mask, categories):
        """x ``[M, L, d]``, mask ``[M, L]``, categories ``[M, L]`` -> ``[M]``: minus the mean over slot pairs
        i < j of the distance in their categories' space."""
        length = x.shape[1]
        cats = categories.clamp_min(0)
        conditions = self.condition[cats.unsqueeze(2), cats.unsqueeze(1)]  # [M, L, L]
        distances = self.distance(x.unsqueeze(2).expand(-1, -1, length, -1),
                                  x.unsqueeze(1).expand(-1, length, -1, -1), conditions)  # [M, L, L]
        upper = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        pairs = (mask.unsqueeze(2) & mask.unsqueeze(1) & upper).float()  # [M, L, L]
        return -(distances * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp_min(1)


class TypeAware(CompatibilityRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.margin = config["typeaware_margin"]
        self.embed_weight = config["typeaware_embed_loss"]
        self.mask_weight = config["typeaware_mask_loss"]

        # define layers and loss
        self.type_spaces = TypeSpaces(self.embedding_size, len(dataset.categories), config["typeaware_l2_embed"])

    def compatibility(self, x, mask, garments):
        return self.type_spaces(x, mask, self.garment_category[garments])  # [M]

    def calculate_loss(self, interaction):
        anchor, close, far, anchor_category, close_category = self.training_triplets(interaction)  # [N, d], [N]
        conditions = self.type_spaces.condition[anchor_category, close_category]  # [N]
        loss = margin_ranking(self.type_spaces.distance(anchor, close, conditions),
                              self.type_spaces.distance(anchor, far, conditions), self.margin)
        mask_norm = F.relu(self.type_spaces.masks(conditions)).sum() / max(len(conditions), 1)  # L1 per triplet
        return loss, self.embed_weight * embedding_norm(anchor, far, close), self.mask_weight * mask_norm
