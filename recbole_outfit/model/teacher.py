"""Teacher: the large visual outfit recommender trained with the N-pair loss (paper section 3.2.1, Eq. 10).

Kim et al., "Personalized outfit recommendation with false negative distillation and contrastive
learning". AlexNet-large item encoder (``backbone: large``), Set Transformer outfit encoder, cosine score.
Each positive pair of a batch of B is contrasted with the negatives sampled in that step; with
``negative_pool: batch`` (default) every pair uses all B*n sampled negatives of the batch, so one step
encodes each outfit once (``own``: only its n; ``batch_and_positives``: also other users' positives).
``--backbone=XS`` (or S, M) trains the same objective at another size (the paper's N-pair student).
"""

from recbole_outfit.model.loss import npair_loss
from recbole_outfit.model.outfit_recommender import OutfitRecommender


class Teacher(OutfitRecommender):
    def calculate_loss(self, interaction):
        pos, neg, mask, _ = self.batch_scores(interaction)  # [B], [B, K], [B, K]
        return npair_loss(pos, neg, self.tau, mask)
