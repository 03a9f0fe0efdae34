"""NPair: the visual outfit recommender trained with the N-pair loss (paper Eq. 10).

Each positive pair (user i, outfit j) of a batch is contrasted with the negatives sampled in that step; with
``negative_pool: batch`` (default) every pair uses all B*n sampled negatives of the batch (N = B*n in Eq. 10,
the paper's shared set), so one step encodes each outfit once (``own``: only its n; ``batch_and_positives``:
also other users' positives).

Its size comes from its yaml: at the students' size (``backbone: XS``, ``properties/model/NPair.yaml``) it is
the N-pair student, the paper's reference point for FND (Fig. 4, 6); :class:`~recbole_outfit.model.teacher.Teacher`
is the same model in its large configuration.
"""

from recbole_outfit.model.loss import npair_loss
from recbole_outfit.model.outfit_recommender import OutfitRecommender


class NPair(OutfitRecommender):
    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)  # [B], [B, K], [B, K]
        return npair_loss(pos, neg, self.tau, mask)  # Eq. 10
