"""``CompatibilityRecommender``: the base of the non-personalized outfit compatibility baselines.

Type-Aware, SCE-Net and Bi-LSTM (the FND-CL paper's Table 2 and the first rows of its Table 3) score how well
an outfit's garments go together; the user plays no part. Each subclass defines ``compatibility(x, mask,
garments) -> [M]`` on the item encoder's features (the shared item encoder, ``backbone: XS`` by default as for
every baseline), and every user gets that score for the outfit (``personalized = False``: the cold-start
evaluator then scores cold users with the model as it is). They train on every user's training outfits as
positives, with the plugin sampler's random negatives (category-wise random mixtures shaped like the positive).
A hard negative (``train_neg_hard_ratio`` > 0) is another user's training outfit, which these models also
train on as a positive: they are meant for random negatives (the paper's hard-negative Table 4 omits them).

The base class's user embedding stays in the model (the plugin's evaluation and service code read its device),
but no score reads it and it gets no gradient.
"""

import torch
import torch.nn.functional as F

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS
from recbole_outfit.model.outfit_recommender import OutfitRecommender


def garment_triplets(pos_garments, pos_categories, neg_garments, neg_categories):
    """The garment triplets of a batch, the reference implementations' training unit: an anchor garment i of a
    positive outfit, a close garment j != i of the same outfit, and the far garment in slot j of one of its
    sampled negatives, which must be of j's category (the references draw the far garment from j's type). Both
    orders of a pair, (i, j) and (j, i), are triplets (the references take each unordered pair once).

    Args:
        pos_garments: ``[B, L]`` garment ids of the positives (0 = padding); pos_categories ``[B, L]``.
        neg_garments: ``[B, n, L]`` of the negatives; neg_categories ``[B, n, L]``.
    Returns:
        ``(b, k, i, j)``: LongTensors ``[N]``, row, negative, anchor slot and close/far slot of each triplet.
    """
    length = pos_garments.shape[1]
    valid = pos_garments > 0  # [B, L]
    distinct_slots = ~torch.eye(length, dtype=torch.bool, device=pos_garments.device)
    pairs = valid.unsqueeze(2) & valid.unsqueeze(1) & distinct_slots  # [B, L(i), L(j)]
    far = (neg_garments > 0) & (neg_categories == pos_categories.unsqueeze(1))  # [B, n, L(j)]
    return (pairs.unsqueeze(1) & far.unsqueeze(2)).nonzero(as_tuple=True)  # over [B, n, L(i), L(j)]


def margin_ranking(close, far, margin):
    """The references' ``MarginRankingLoss(far, close, 1)``: ``mean max(0, d_close - d_far + margin)`` over
    triplets ``[N]`` (0 for none)."""
    return torch.clamp(close - far + margin, min=0).sum() / max(len(close), 1)


def embedding_norm(*embeddings):
    """The references' embedding regulariser: the mean over the triplet's roles of ``||E||_F / sqrt(N)``
    (``embed_norm / sqrt(len(x))``), for general embeddings ``[N, d]``."""
    count = embeddings[0].shape[0]
    return sum(e.norm(2) for e in embeddings) / len(embeddings) / max(count, 1) ** 0.5


class CompatibilityRecommender(OutfitRecommender):
    """An outfit's score is its compatibility, the same for every user; subclasses define ``compatibility``."""

    personalized = False  # every user gets the same score: the cold-start evaluator uses the model as it is

    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)
        self.register_buffer("garment_category", dataset.garment_category.clone(), persistent=False)

    def build_outfit_encoder(self, config):
        return None  # no Set Transformer: the subclass's compatibility is the outfit's representation

    def use_garments(self, dataset):
        super().use_garments(dataset)
        self.garment_category = dataset.garment_category.clone().to(self.user_embedding.weight.device)

    def compatibility(self, x, mask, garments):
        """Compatibility scores of outfits: features ``x [M, L, d]``, ``mask [M, L]``, ids ``garments [M, L]``
        -> ``[M]`` (higher = more compatible)."""
        raise NotImplementedError

    def encode_outfits(self, garments, constant_garments=None):
        """An outfit's representation is its compatibility score: garments ``[..., L]`` -> ``[..., 1]``."""
        x, mask = self.slot_features(garments, constant_garments)  # [M, L, d], [M, L]
        scores = self.compatibility(x, mask, garments.reshape(-1, garments.shape[-1]))  # [M]
        return scores.reshape(garments.shape[:-1] + (1,))

    def scores(self, users, outfits):
        """Every user's score is the outfit's compatibility: outfits ``[M, 1]`` (every user with every outfit) or
        ``[B, M, 1]`` (each user with its own M outfits) -> ``[B, M]``."""
        compatibility = outfits[..., 0]
        if compatibility.dim() == 1:
            return compatibility.unsqueeze(0).expand(len(users), -1)
        return compatibility

    def training_triplets(self, interaction):
        """Encode a training batch's positives and negatives (each distinct garment once) and form its garment
        triplets. Returns ``(anchor, close, far, anchor_category, close_category)``: features ``[N, d]`` and
        categories ``[N]`` of the :func:`garment_triplets`."""
        positives = interaction[GARMENTS]  # [B, L]
        negatives = interaction[NEG_GARMENTS]  # [B, n, L]
        batch, per_positive, length = negatives.shape
        positives = F.pad(positives, (0, length - positives.shape[1]))  # the sampler's length (padding only)
        x, _ = self.slot_features(torch.cat([positives, negatives.flatten(0, 1)]))  # [B + B*n, L, d]
        x_pos, x_neg = x[:batch], x[batch:].view(batch, per_positive, length, -1)
        pos_categories = self.garment_category[positives]  # [B, L] (-1 for padding)
        neg_categories = self.garment_category[negatives]  # [B, n, L]
        b, k, i, j = garment_triplets(positives, pos_categories, negatives, neg_categories)
        return x_pos[b, i], x_pos[b, j], x_neg[b, k, j], pos_categories[b, i], pos_categories[b, j]
