"""LPAE: personalized outfit recommendation with learnable anchors.

Lu, Hu, Chen, Zeng, "Personalized Outfit Recommendation With Learnable Anchors", CVPR 2021 (a baseline of
the FND-CL paper, Table 2-4). Each user is ``lpae_anchors`` learnable anchors and the score is the outfit's
highest cosine similarity to the user's anchors (one anchor per style the user wears). ``lpae_variant: g``
adds ``lpae_general_anchors`` anchors shared by every user for non-personalized compatibility; the score is
then the highest similarity over the user's and the general anchors. BPR loss with temperature, one negative
per positive, as the FND-CL paper trains it.

Departures: our item encoder (XS, as for every student) and Set Transformer outfit encoder; the way LPAE-g
combines the two anchor sets is our reading of the paper; its "anchor search" for cold users is not
reproduced (our cold-start evaluator scores cold users through warm users' scores for every model).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from recbole_outfit.model.pairwise import PairwiseOutfitRecommender
from recbole_outfit.options import choose


class LPAE(PairwiseOutfitRecommender):
    def __init__(self, config, dataset, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.variant = choose("lpae_variant", config["lpae_variant"])
        self.num_anchors = config["lpae_anchors"]

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
