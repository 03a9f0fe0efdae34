"""SCE-Net: similarity condition embeddings, non-personalized compatibility.

Tan, Vasileva, Saenko, Plummer, "Learning Similarity Conditions Without Explicit Supervision", ICCV 2019 (a
baseline of the FND-CL paper, Table 2 and 3); public code rxtan2/Learning-Similarity-Conditions and its
Polyvore Outfits port tianyu-su/OCM-sce-net (``csn_polyvore.py``, ``tripletnet_polyvore.py``).

What it follows:

* K condition masks ``m_k`` shared by every garment pair, learned without condition labels
  (``scenet_conditions``; the port's Polyvore command uses 5), initialised N(0.9, 0.7) and passed through ReLU:
  ``h_k(x) = normalize(relu(m_k) * f(x))`` on the shared item encoder's feature ``f(x)``
  (``ConditionalSimNet.forward``);
* the condition-weight branch over a pair (``ConceptBranch``: Linear(2d, 32), ReLU, Linear(32, K), softmax) on
  the two garments' L2-normalised general embeddings; the pair's embeddings are ``e_i = sum_k w_k h_k(x_i)``
  and their distance is ``||e_i - e_j||`` (``CS_Tripletnet.forward``, the port's ``test_compatibility``);
* compatibility of an outfit = minus the mean over its garment pairs of that distance;
* the training loss of the port's ``main_polyvore.train``: garment triplets (anchor and close garment from a
  positive outfit, far = the garment of the close one's category in a sampled negative), each pair with its
  own weights (anchor-far, anchor-close), margin ranking (``scenet_margin``), plus ``scenet_mask_loss`` x the
  masks' mean L1 norm and ``scenet_embed_loss`` x the general embeddings' ``||E||_F / sqrt(N)``.

Departures: the branch's weights of a pair are the mean of its softmax over both orders of the pair
(``[g_i, g_j]`` and ``[g_j, g_i]``), so that a pair's distance, and an outfit's score, do not depend on the
order of its garments (the reference feeds the anchor first); scores take the training path (ReLU masks, each
condition's embedding L2-normalised over its features), where the port's test path reads the raw masks and
normalises across the conditions; each garment pair gives triplets in both orders (the port takes each
unordered pair once, the later garment replaced by the far one); the image-image similarity term (``sim_i``,
weight 5e-5 in the port) is left out, as for Type-Aware; the plugin's optimiser, batch and image size for
every baseline (the reference: Adam, 5e-5, ResNet-18).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.model.compatibility import CompatibilityRecommender, embedding_norm, margin_ranking


class ConditionSpaces(nn.Module):
    """K shared condition masks and the condition-weight branch over a garment pair."""

    def __init__(self, dim, conditions, hidden=32):
        super().__init__()
        self.masks = nn.Embedding(conditions, dim)
        self.masks.weight.data.normal_(0.9, 0.7)  # the reference's learned masks
        self.branch = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, conditions))

    def weights(self, x, y):
        """Condition weights of the pairs (x, y): ``[..., d]`` each -> ``[..., K]``, the mean of the branch's
        softmax over both orders of the pair."""
        gx, gy = F.normalize(x, dim=-1, eps=1e-10), F.normalize(y, dim=-1, eps=1e-10)
        forward = torch.softmax(self.branch(torch.cat([gx, gy], dim=-1)), dim=-1)
        backward = torch.softmax(self.branch(torch.cat([gy, gx], dim=-1)), dim=-1)
        return (forward + backward) / 2

    def embed(self, x, weights):
        """``sum_k w_k normalize(relu(m_k) * x)``: x ``[..., d]``, weights ``[..., K]`` -> ``[..., d]``."""
        per_condition = F.normalize(x.unsqueeze(-2) * F.relu(self.masks.weight), dim=-1, eps=1e-10)  # [..., K, d]
        return (weights.unsqueeze(-1) * per_condition).sum(-2)

    def distance(self, x, y):
        """``||e(x) - e(y)||`` under the pair's condition weights: x, y ``[..., d]`` -> ``[...]``."""
        weights = self.weights(x, y)
        return (self.embed(x, weights) - self.embed(y, weights)).norm(dim=-1)

    def forward(self, x, mask):
        """x ``[M, L, d]``, mask ``[M, L]`` -> ``[M]``: minus the mean over slot pairs i < j of their distance."""
        length = x.shape[1]
        distances = self.distance(x.unsqueeze(2).expand(-1, -1, length, -1),
                                  x.unsqueeze(1).expand(-1, length, -1, -1))  # [M, L, L]
        upper = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        pairs = (mask.unsqueeze(2) & mask.unsqueeze(1) & upper).float()  # [M, L, L]
        return -(distances * pairs).sum((1, 2)) / pairs.sum((1, 2)).clamp_min(1)


class SCENet(CompatibilityRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.margin = config["scenet_margin"]
        self.embed_weight = config["scenet_embed_loss"]
        self.mask_weight = config["scenet_mask_loss"]

        # define layers and loss
        self.condition_spaces = ConditionSpaces(self.embedding_size, config["scenet_conditions"],
                                                config["scenet_branch_hidden"])

    def compatibility(self, x, mask, garments):
        return self.condition_spaces(x, mask)  # [M]

    def calculate_loss(self, interaction):
        anchor, close, far, _, _ = self.training_triplets(interaction)  # [N, d]
        spaces = self.condition_spaces
        loss = margin_ranking(spaces.distance(anchor, close), spaces.distance(anchor, far), self.margin)
        mask_norm = F.relu(spaces.masks.weight).sum(-1).mean()  # mean over conditions of the L1 norm
        return loss, self.embed_weight * embedding_norm(anchor, far, close), self.mask_weight * mask_norm
