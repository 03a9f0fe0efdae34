"""LPAE: personalized outfit recommendation with learnable anchors.

Lu, Hu, Chen, Zeng, "Personalized Outfit Recommendation With Learnable Anchors", CVPR 2021 (a baseline of
the FND-CL paper, Table 2-4), held against the authors' code (lzcn/LPAE-Net, ``models/lpae_net.py``:
``UserMemory``, ``LPAENet.train_batch``). Each user is ``lpae_anchors`` learnable anchors (one per style the
user wears); ``lpae_variant: g`` adds ``lpae_general_anchors`` anchors shared by every user for
non-personalized compatibility, concatenated with the user's own (``UserMemory`` with ``com_memory``: one
set, one scoring rule). The score of an outfit o for the anchor set A (``lpae_score``):

* ``max`` (default, our reading of the paper: an outfit is matched by the anchor of its style):
  ``r = max_{a in A} cos(a, o)``;
* ``sum`` (LPAE-Net's code: ``cos_sim.sum(dim=-1)``): ``r = sum_{a in A} cos(a, o)``.

Loss: BPR with temperature, one sampled negative per positive (``PairwiseOutfitRecommender``), as the FND-CL paper
trains it ("for a more fair comparison, we apply temperature scaling": ``tau`` in LPAE.yaml, 0.1; ``tau: 1``
is LPAE-Net's plain ``soft_margin_loss(r+ - r-)``), plus LPAE-Net's log-determinant divergence of each batch
user's anchors, ``lpae_reg_weight * mean_users (tr(G) - log det G)``, G the Gram matrix of the user's raw
anchors (``UserMemory.reg``, weight 1e-2 in its configs; general anchors are not regularised, as there).

Cold start: LPAE's anchor search (:meth:`LPAE.anchor_search_scores`, the ``anchor`` strategy of
``evaluator/cold_start.py``, on when ``lpae_cold_start: anchor_search``). The paper names it and the FND-CL
paper uses it for Table 3 ("the most effective strategy in the cold-start case", needing no training);
LPAE-Net's public code holds only the fine-tuning path (``cold_start()``: every weight frozen except the
anchors). Reconstructed here: the search pool is every warm user's trained anchors; each of the cold
user's K known outfits takes the pool anchor nearest to it (cosine), and the cold user's anchor set is those
anchors (distinct), plus the general anchors for LPAE-g; candidates are then scored by the same rule.

Departures from LPAE-Net: our item encoder (XS, as for every student) and Set Transformer outfit encoder
(LPAE-Net: ResNet-34 features, its own Set Transformer and a linear ``trans`` of the outfit feature before
the cosine); anchors 4 per user and 4 general (LPAE-Net's configs: 64 for LPAE-u, 32 + 32 for LPAE-g),
initialised N(0, 0.1^2) (LPAE-Net: uniform in +-sqrt(3/d), std ~0.09); BPR pairs each positive with its own
negative (LPAE-Net's ``train_batch`` compares every positive of the batch with every negative, other users'
included); the temperature above. ``lpae_score: max`` and ``lpae_reg_weight: 0`` give this model as it was
before the review (results/ tables made before it used them).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.model.float32_numerics import float32
from recbole_outfit.model.loss import bpr_loss
from recbole_outfit.model.pairwise import PairwiseOutfitRecommender
from recbole_outfit.options import choose


class LPAE(PairwiseOutfitRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.variant = choose("lpae_variant", config["lpae_variant"])
        self.num_anchors = config["lpae_anchors"]
        self.score_rule = choose("lpae_score", config["lpae_score"])
        self.reg_weight = config["lpae_reg_weight"]
        choose("lpae_cold_start", config["lpae_cold_start"])

        # define layers and loss: the anchors replace the single user embedding
        self.user_embedding = nn.Embedding(self.n_users, self.num_anchors * self.embedding_size)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        if self.variant == "g":
            self.general_anchors = nn.Parameter(torch.randn(config["lpae_general_anchors"], self.embedding_size) * 0.1)

    def user_anchors(self, users):
        """The users' own anchors, raw: ``[B]`` -> ``[B, A, d]``."""
        return self.user_embedding(users).view(len(users), self.num_anchors, self.embedding_size)

    def anchor_rule(self, anchors, outfits):
        """Score of outfits for anchor sets (``lpae_score``): anchors ``[B, K, d]``; outfits ``[M, d]`` or
        ``[B, M, d]`` -> ``[B, M]``."""
        anchors = F.normalize(anchors, dim=-1)
        similarity = anchors @ F.normalize(outfits, dim=-1).transpose(-1, -2)  # [B, K, M]
        return similarity.max(dim=1).values if self.score_rule == "max" else similarity.sum(dim=1)

    def scores(self, users, outfits):
        """The rule over the user's anchors (and, for LPAE-g, the general anchors) -> ``[B, M]``."""
        anchors = self.user_anchors(users)
        if self.variant == "g":
            anchors = torch.cat([anchors, self.general_anchors.expand(len(users), -1, -1)], dim=1)
        return self.anchor_rule(anchors, outfits)

    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)  # [B], [B, K], [B, K]
        loss = bpr_loss(pos, neg, self.tau, mask)
        if self.reg_weight <= 0:
            return loss
        return loss, self.reg_weight * self.anchor_divergence(interaction[self.USER_ID])

    @float32
    def anchor_divergence(self, users):
        """LPAE-Net's ``UserMemory.reg``: mean over the batch's users of ``tr(G) - log det G``, G ``[A, A]`` the
        Gram matrix of the user's raw anchors (smallest, 0 + A, at orthonormal anchors)."""
        anchors = self.user_anchors(users)  # [B, A, d]
        gram = anchors @ anchors.transpose(1, 2)  # [B, A, A]
        return (gram.diagonal(dim1=1, dim2=2).sum(-1) - torch.logdet(gram)).mean()

    @torch.no_grad()
    def searched_anchors(self, known):
        """LPAE's anchor search for one cold user: known outfit representations ``[K, D]`` -> the anchor set
        ``[A', d]``: for each known outfit the nearest (cosine) of every warm user's anchors, distinct, then
        the general anchors (LPAE-g)."""
        pool = self.user_embedding.weight[1:].view(-1, self.embedding_size)  # warm users' anchors; row 0 = padding
        nearest = (F.normalize(known, dim=-1) @ F.normalize(pool, dim=-1).t()).argmax(dim=1)  # [K]
        anchors = pool[torch.unique(nearest)]
        if self.variant == "g":
            anchors = torch.cat([anchors, self.general_anchors])
        return anchors

    @torch.no_grad()
    def anchor_search_scores(self, known, candidates):
        """A cold user's scores by anchor search: known ``[K, D]`` and candidate ``[J, D]`` outfit
        representations -> ``[J]``."""
        return self.anchor_rule(self.searched_anchors(known).unsqueeze(0), candidates).squeeze(0)
