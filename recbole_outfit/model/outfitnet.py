"""OutfitNet: a non-personalized item relevancy stage, then the user's attention over an outfit's garments.

Lin, Moosaei, Yang, "OutfitNet: Fashion Outfit Recommendation with Attention-Based Multiple Instance
Learning", WWW 2020 (a baseline of the FND-CL paper, Tables 2 and 4: "two stages to capture both general
compatibility and personal taste. The objective of both stages is to maximize the difference between
positive and negative scores, similar to BPR"). No public code exists; what follows is the paper's two-stage
design as its abstract and the FND-CL paper describe it, with our equations (numbered here, E1-E6):

**Stage 1, Fashion Item Relevancy (FIR)**, :class:`OutfitNetFIR`, learned from outfits alone (no user): an
item encoder f_R gives each garment its relevancy embedding ``e_k = f_R(x_k)``; two garments of one outfit
are relevant, a garment and a random garment of the other's category are not:

* (E1) ``rel(k, l) = cos(e_k, e_l)``;
* (E2) ``L_FIR = -mean over (outfit, slots k != l) of log sigmoid((rel(k, l) - rel(k, l')) / tau)``, with l'
  the garment in slot l of the outfit's sampled negative (a category-wise random mixture shaped like the
  positive, so l' has l's category; pairs whose categories differ, e.g. against a hard negative of another
  shape, are left out: the garment triplets of ``model/compatibility.py``, as Type-Aware and SCE-Net train);
* (E3) the outfit's compatibility (its score as a model of its own) ``c(o) = mean_{k<l} rel(k, l)``, the same
  for every user.

Run as the pipeline stage ``relevancy`` (``OutfitNet.needs``), cached and reused like the teacher, and
frozen in stage 2: only its item encoder (f_R) is handed over.

**Stage 2, Outfit Preference (OP)**, :class:`OutfitNet`: the outfit is a bag of garments (multiple instance
learning); each garment gets a preference embedding from a trained item encoder f (the shared XS one) and
its frozen relevancy embedding, the user scores each garment and attends to the garments:

* (E4) ``h_k = W [f(x_k); e_k / |e_k|]``;
* (E5) ``s_uk = cos(u, h_k)`` (the user's taste for garment k) and
  ``alpha_uk = softmax_k((W_q u) . (W_k h_k) / sqrt(d))`` over the outfit's garments (the user's attention);
* (E6) ``r_uo = sum_k alpha_uk s_uk``; loss BPR with temperature ``-log sigmoid((r_uo+ - r_uo-) / tau)``
  (``PairwiseOutfitRecommender``), one sampled negative per positive (``negative_pool: own``).

Temperature scaling (E2, E6): the FND-CL paper applies it to every BPR / cross-entropy baseline "for a more
fair comparison"; ``tau`` (OutfitNet.yaml, OutfitNetFIR.yaml) defaults to the paper's 0.1; ``tau: 1`` is plain
BPR, OutfitNet's own objective.

Reconstructed (the abstract gives no equations and no code is public), so departures may hide in: the form of
the attention (E5: the user as the query of a dot-product attention; attention-based MIL in Ilse et al. scores
each instance by ``w^T tanh(V h_k)``, which we make personal by the user query, as OutfitNet attends per
user), the fusion layer (E4: one linear layer over the concatenation), cosine scores, FIR's pair loss (E2: a
triplet of garments in BPR form). Stage 1 learns from the same dataset's training outfits (every user's),
against random mixtures only (the stage sets ``train_neg_hard_ratio: 0``). Both stages use our item
encoder (XS by default, ``--backbone``) instead of the paper's CNN, and images only (no text).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.model.compatibility import CompatibilityRecommender
from recbole_outfit.model.layers import build_backbone
from recbole_outfit.model.pairwise import PairwiseOutfitRecommender


def pair_relevancy(x, mask):
    """E3: mean cosine similarity over the outfit's garment pairs. x ``[M, L, d]``, mask ``[M, L]`` -> ``[M]``."""
    e = F.normalize(x, dim=-1) * mask.unsqueeze(-1)
    total = e.sum(1)  # [M, d]
    pair_sum = 0.5 * ((total * total).sum(-1) - (e * e).sum((1, 2)))  # sum_{k<l} cos(e_k, e_l)
    count = mask.sum(1).float()
    return pair_sum / (count * (count - 1) / 2).clamp_min(1)


class OutfitNetFIR(CompatibilityRecommender):
    """OutfitNet's stage 1, Fashion Item Relevancy (E1-E3): non-personalized, learned from outfits; every user
    gets an outfit's compatibility c(o) as its score."""

    def compatibility(self, x, mask, garments):
        return pair_relevancy(x.float(), mask)  # E3, [M]

    def calculate_loss(self, interaction):
        """E2 over the batch's garment triplets (anchor k and relevant l of a positive, l' in slot l of one of
        its negatives, of l's category: ``CompatibilityRecommender.training_triplets``)."""
        anchor, close, far, _, _ = self.training_triplets(interaction)  # [N, d]
        relevant = F.cosine_similarity(anchor, close, dim=-1)  # rel(k, l)
        irrelevant = F.cosine_similarity(anchor, far, dim=-1)  # rel(k, l')
        return -F.logsigmoid((relevant - irrelevant) / self.tau).sum() / max(len(anchor), 1)


class GarmentBag(nn.Module):
    """OutfitNet's outfit side: the garments themselves (a bag, E4-E6 score them per user), flattened so that the
    outfit representation is one vector: ``forward(x [M, L, d], mask [M, L]) -> [M, L * (d + 1)]``."""

    def forward(self, x, mask):
        return torch.cat([x, mask.unsqueeze(-1).to(x.dtype)], dim=-1).flatten(1)


class OutfitNet(PairwiseOutfitRecommender):
    """OutfitNet's stage 2, Outfit Preference (E4-E6), on the frozen relevancy encoder of stage 1."""

    # the item encoder's starting weights (when backbone_weights is set) and stage 1's relevancy encoder
    needs = ("backbone", "relevancy")

    def __init__(self, config, dataset, backbone=None, relevancy=None):
        """``relevancy``: the state dict of stage 1's item encoder f_R, handed over by the pipeline (None for a
        model rebuilt from a checkpoint, which holds f_R among its own weights)."""
        super().__init__(config, dataset, backbone)
        d = self.embedding_size

        # define layers: frozen f_R (stage 1), fusion W (E4), attention W_q, W_k (E5)
        self.relevancy_encoder = build_backbone(config["backbone"], d, None, config["backbone_dropout"],
                                                config["backbone_extra_fc"], channels_last=config["channels_last"])
        if relevancy is not None:
            self.relevancy_encoder.load_state_dict(relevancy)
        self.relevancy_encoder.requires_grad_(False).eval()
        self.fusion = nn.Linear(2 * d, d)
        self.query = nn.Linear(d, d, bias=False)
        self.key = nn.Linear(d, d, bias=False)

    def build_outfit_encoder(self, config):
        return GarmentBag()

    def train(self, mode=True):
        super().train(mode)
        self.relevancy_encoder.eval()  # frozen stage 1: always in evaluation mode
        return self

    def encode_image_batch(self, images):
        """h_k (E4) of one chunk of uint8 images ``[g, 3, S, S]`` -> ``[g, d]`` float32."""
        images = self.preprocess(images)
        preference = self.item_encoder(images).float()  # f(x_k)
        with torch.no_grad():
            relevancy = F.normalize(self.relevancy_encoder(images).float(), dim=-1)  # e_k / |e_k|
        return self.fusion(torch.cat([preference, relevancy], dim=-1)).float()

    def scores(self, users, outfits):
        """r_uo (E5-E6): users ``[B]``; outfits ``[M, L*(d+1)]`` (every user with every outfit) or
        ``[B, M, L*(d+1)]`` (each user with its own M outfits) -> ``[B, M]``."""
        d = self.embedding_size
        bag = outfits.view(*outfits.shape[:-1], -1, d + 1)  # [.., M, L, d + 1]
        h, mask = bag[..., :d], bag[..., d] > 0.5  # [.., M, L, d], [.., M, L]
        u = self.user_embedding(users)  # [B, d]
        query = self.query(u)  # [B, d]
        keys = self.key(h)  # [.., M, L, d]
        pattern = "bd,mld->bml" if outfits.dim() == 2 else "bd,bmld->bml"
        taste = torch.einsum(pattern, F.normalize(u, dim=-1), F.normalize(h, dim=-1))  # s_uk, [B, M, L]
        logits = torch.einsum(pattern, query, keys) / math.sqrt(d)  # [B, M, L]
        mask = mask.unsqueeze(0).expand_as(logits) if outfits.dim() == 2 else mask
        attention = torch.softmax(logits.masked_fill(~mask, torch.finfo(logits.dtype).min), dim=-1)  # alpha_uk
        return (attention * taste).sum(-1)  # [B, M]

