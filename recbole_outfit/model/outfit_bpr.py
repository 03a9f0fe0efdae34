"""OutfitBPR: our architecture (item encoder, Set Transformer, cosine score) with the BPR loss.

The paper's Fig. 4 reference for N-pair and FND (Kim et al., section 4.5; Rendle et al., UAI 2009, for BPR).
BPR uses one negative per positive (``negative_pool: own``) and, as the paper does "for a more fair
comparison", a temperature: ``-log sigmoid((r_ij - r_ijk) / tau)``. Same item encoder (XS), data and
negatives as the students, so it differs from ``NPair`` only in the loss.
"""

from recbole_outfit.model.pairwise import PairwiseOutfitRecommender


class OutfitBPR(PairwiseOutfitRecommender):
    """The BPR loss on the base architecture: nothing to add."""
