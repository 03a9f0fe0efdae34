"""Baselines of the paper's comparison (section 4.1.3, Table 2), on the same item encoder (XS by default,
paper 4.1.4) and the same data and negatives, so a table compares objectives and scoring, not backbones.

* ``OutfitBPR``: our architecture (Set Transformer, cosine score) with the BPR loss, the paper's Fig. 4
  comparison. BPR uses one negative per positive (``negative_pool: own``) and a temperature, as the paper
  does "for a more fair comparison".
* ``LPAE`` (Lu, Hu, Chen, Zeng, "Personalized Outfit Recommendation With Learnable Anchors", CVPR 2021):
  each user is ``lpae_anchors`` learnable anchors; the score is the outfit's highest cosine similarity to
  the user's anchors (one anchor per style the user wears). ``lpae_variant: g`` adds ``lpae_general_anchors``
  anchors shared by every user, modelling non-personalized compatibility: the score is then the highest
  similarity over the user's and the general anchors. BPR loss with temperature. Departures: the paper's
  "anchor search" for cold users is not reproduced (our cold-start evaluator scores through warm users'
  scores for every model); its item encoder is replaced by ours.
* ``FHN`` (Lu, Hu, Jiang, Chen, Zeng, "Learning Binary Code for Personalized Fashion Recommendation",
  CVPR 2019) without binarization, as LPAE and FND-CL train it: per-category item codes
  ``c = tanh(W_category f(x))`` and a user code ``tanh(u)``; score = mean user-item term ``u . c_i / d``
  plus mean pairwise item-item term ``c_i . c_j / d`` (personal preference + compatibility), BPR loss.
  Departures: real-valued (tanh-relaxed) codes throughout, our item encoder, uniform weights of the terms.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.data.polyvore import CATEGORIES
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.loss import bpr_loss
from recbole_outfit.model.outfit_recommender import OutfitRecommender


class OutfitBPR(OutfitRecommender):
    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)  # [B], [B, K]
        return bpr_loss(pos, neg, self.tau, mask)


class LPAE(OutfitRecommender):
    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # load parameters info
        self.variant = config["lpae_variant"]
        self.num_anchors = config["lpae_anchors"]
        if self.variant not in ("u", "g"):
            raise ConfigError(f"lpae_variant must be u or g, got {self.variant!r}", where="lpae_variant",
                              fix="u: user anchors only (LPAE-u); g: plus general anchors (LPAE-g)")

        # define layers and loss: the anchors replace the single user embedding
        self.user_embedding = nn.Embedding(self.n_users, self.num_anchors * self.embedding_size)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        if self.variant == "g":
            self.general_anchors = nn.Parameter(torch.randn(config["lpae_general_anchors"], self.embedding_size) * 0.1)

    def scores(self, users, outfits):
        """max over the user's anchors (and, for LPAE-g, the general anchors) of cos(anchor, o) -> ``[B, M]``."""
        anchors = self.user_embedding(users).view(len(users), self.num_anchors, self.embedding_size)
        if self.variant == "g":
            anchors = torch.cat([anchors, self.general_anchors.expand(len(users), -1, -1)], dim=1)
        anchors = F.normalize(anchors, dim=-1)  # [B, K, d]
        o = F.normalize(outfits, dim=-1)
        similarity = anchors @ o.transpose(-1, -2)  # [B, K, M]
        return similarity.max(dim=1).values

    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)
        return bpr_loss(pos, neg, self.tau, mask)


class PairwiseCodes(nn.Module):
    """FHN's outfit side from per-garment codes ``[M, L, d]``: (mean code, mean pairwise code product / d)."""

    def forward(self, codes, mask):  # -> [M, d + 1]
        m = mask.unsqueeze(-1).float()
        count = mask.sum(1, keepdim=True).clamp_min(1).float()  # [M, 1]
        mean_code = (codes * m).sum(1) / count
        total = (codes * m).sum(1)
        pair_sum = 0.5 * ((total * total).sum(-1) - (codes * codes * m).sum((1, 2)))  # sum_{i<j} c_i . c_j
        pairs = (count * (count - 1) / 2).squeeze(1).clamp_min(1)
        compatibility = pair_sum / pairs / codes.shape[-1]
        return torch.cat([mean_code, compatibility.unsqueeze(1)], dim=1)


class FHN(OutfitRecommender):
    def __init__(self, config, dataset):
        super().__init__(config, dataset)
        # define layers and loss: per-category code layers on top of the shared item encoder
        self.code_layers = nn.ModuleList([nn.Linear(self.embedding_size, self.embedding_size) for _ in CATEGORIES])
        self.register_buffer("garment_category", dataset.garment_category.clone(), persistent=False)

    def build_outfit_encoder(self, config):
        return PairwiseCodes()

    def use_garments(self, dataset):
        super().use_garments(dataset)
        self.garment_category = dataset.garment_category.clone().to(self.user_embedding.weight.device)

    def encode_images(self, garments):
        """Relaxed binary codes ``tanh(W_category f(x))`` of garments ``[G]`` -> ``[G, d]``."""
        features = super().encode_images(garments)
        categories = self.garment_category[garments]
        codes = torch.zeros_like(features)
        for category, layer in enumerate(self.code_layers):
            rows = categories == category
            if rows.any():
                codes[rows] = torch.tanh(layer(features[rows]))
        return codes

    def scores(self, users, outfits):
        """``tanh(u) . mean_i c_i / d + mean_{i<j} c_i . c_j / d`` -> ``[B, M]``."""
        u = torch.tanh(self.user_embedding(users)).unsqueeze(1)  # [B, 1, d]
        personal = (u @ outfits[..., :-1].transpose(-1, -2)).squeeze(1) / self.embedding_size  # [B, M]
        return personal + outfits[..., -1]

    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)
        return bpr_loss(pos, neg, self.tau, mask)
