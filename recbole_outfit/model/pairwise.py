"""``PairwiseOutfitRecommender``: the base of the BPR-trained baselines (OutfitBPR, LPAE, FHN).

BPR (Rendle et al., UAI 2009) with a temperature, as the FND-CL paper trains its BPR baselines "for a more
fair comparison": ``-log sigmoid((r_ij - r_ijk) / tau)`` over each positive's sampled negatives
(``negative_pool: own`` in their yamls: one negative per positive). ``tau`` is each baseline's own yaml key
(FHN.yaml, OutfitBPR.yaml, LPAE.yaml, OutfitNet.yaml, OutfitNetFIR.yaml), 0.1 by default (the paper's
temperature, tau_FND); ``tau: 1`` is plain BPR, as the baselines' own papers train them. Not RecBole's ``BPR``
(``--model=BPR``, an ID-embedding model): this base scores outfits from their garments' images.
"""

from recbole_outfit.model.loss import bpr_loss
from recbole_outfit.model.outfit_recommender import OutfitRecommender


class PairwiseOutfitRecommender(OutfitRecommender):
    """An outfit recommender whose loss is BPR with temperature; subclasses change the scores or encoders."""

    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)  # [B], [B, K], [B, K]
        return bpr_loss(pos, neg, self.tau, mask)
