"""FHN without binarization.

Lu, Hu, Jiang, Chen, Zeng, "Learning Binary Code for Personalized Fashion Recommendation", CVPR 2019 (a
baseline of the FND-CL paper, trained "with BPR without the binarization step, following LPAE"). Per-category
item codes ``c = tanh(W_category f(x))`` and a user code ``tanh(u)``; the score adds the mean user-item term
``u . c_i / d`` (personal preference) and the mean item-item term ``c_i . c_j / d`` (compatibility); BPR
loss with temperature, one negative per positive.

Departures: real-valued (tanh-relaxed) codes throughout (no sign / hashing), our item encoder (XS), uniform
weights of the terms.
"""

import torch
import torch.nn as nn

from recbole_outfit.model.pairwise import PairwiseOutfitRecommender


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


class FHN(PairwiseOutfitRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)
        # define layers and loss: per-category code layers on top of the shared item encoder
        self.code_layers = nn.ModuleList([nn.Linear(self.embedding_size, self.embedding_size)
                                          for _ in dataset.categories])  # one per category
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
                codes[rows] = torch.tanh(layer(features[rows])).to(codes.dtype)  # float32 also under autocast
        return codes

    def scores(self, users, outfits):
        """``tanh(u) . mean_i c_i / d + mean_{i<j} c_i . c_j / d`` -> ``[B, M]``."""
        u = torch.tanh(self.user_embedding(users)).unsqueeze(1)  # [B, 1, d]
        personal = (u @ outfits[..., :-1].transpose(-1, -2)).squeeze(1) / self.embedding_size  # [B, M]
        return personal + outfits[..., -1]
