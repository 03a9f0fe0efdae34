"""The frozen teacher of False Negative Distillation (paper section 3.2.2, Eq. 11-12).

``d_ijk = alpha * (r_hat_i - r_hat_ijk)``: ``r_hat_ijk`` is the teacher's score of user i for negative k,
``r_hat_i`` (Eq. 11) the teacher's mean score over user i's training positives, computed once before the
student trains.

The teacher is frozen and in eval mode, so the feature it gives a garment never changes. With
``teacher_feature_cache: True`` (default) every training garment is encoded by the teacher's large item
encoder once, up front, and each step only runs the teacher's Set Transformer on cached features; the
teacher's item encoder is then released. ``False`` runs the full teacher on each batch, as a
straightforward port would (same d, much slower; kept for the benchmark).

The teacher arrives built (the pipeline loads its checkpoint, see ``recbole_outfit/pipeline/stages.py``);
nothing here reads a file. It is held outside the student's module tree: it is not saved in student checkpoints and not
counted in the student's parameters.
"""

from logging import getLogger

import numpy as np
import torch

from recbole_outfit.data.sampler import OutfitNegativeSampler
from recbole_outfit.model.outfit_recommender import select_negatives


class FrozenTeacher:
    """Teacher scores and false-negativeness d for a student's batches."""

    def __init__(self, model, alpha, feature_cache=True):
        """``model``: a trained outfit model, frozen, in eval mode, on the student's device, its user rows in
        the student dataset's order (the pipeline builds it from the teacher checkpoint)."""
        self.model = model
        self.alpha = alpha
        self.feature_cache = feature_cache
        # without the cache, every step runs the teacher's item encoder on every garment slot
        self.model.eval_feature_cache = feature_cache
        self.garment_features = None  # [n_garments, d] when cached
        self.user_mean_score = None  # r_hat_i, [n_users]

    @torch.no_grad()
    def prepare(self, train_dataset):
        """Cache training garments' features (when enabled) and compute r_hat_i (Eq. 11)."""
        model = self.model
        outfits = train_dataset.outfit_garments[train_dataset.inter_feat[train_dataset.iid_field]]
        outfits = outfits.to(model.user_embedding.weight.device)
        users = train_dataset.inter_feat[train_dataset.uid_field].to(outfits.device)
        if self.feature_cache:
            garments = torch.unique(outfits[outfits > 0])
            features = torch.zeros(model.n_garments, model.embedding_size, device=outfits.device)
            features[garments] = model.encode_images(garments)
            self.garment_features = features
            model.item_encoder = None  # frozen features are cached: the large encoder is no longer needed
        scores = torch.cat([self._user_scores(users[i:i + 1024], outfits[i:i + 1024])
                            for i in range(0, len(users), 1024)])
        total = torch.zeros(model.n_users, device=outfits.device).index_add_(0, users, scores)
        count = torch.zeros(model.n_users, device=outfits.device).index_add_(0, users, torch.ones_like(scores))
        self.user_mean_score = total / count.clamp_min(1)
        getLogger().info(f"Teacher: r_hat over {len(users)} training positives of {int((count > 0).sum())} users "
                         f"(mean {self.user_mean_score[count > 0].mean():.3f})"
                         + (f"; {len(garments)} garment features cached" if self.feature_cache else ""))
        self.log_false_negativeness(train_dataset)

    @torch.no_grad()
    def log_false_negativeness(self, train_dataset, rows=1024, per_positive=4):
        """Log how d is distributed on sampled training negatives: its scale depends on how far apart the
        teacher's scores lie, so alpha must suit the teacher (paper 4.5: the best alpha differs by dataset)."""
        rng = np.random.default_rng(0)
        pick = torch.from_numpy(rng.choice(len(train_dataset), size=min(rows, len(train_dataset)), replace=False))
        users = train_dataset.inter_feat[train_dataset.uid_field][pick]
        positives = train_dataset.outfit_garments[train_dataset.inter_feat[train_dataset.iid_field][pick]]
        negatives = OutfitNegativeSampler(train_dataset, per_positive, rng=rng).sample(users, positives)
        device = self.model.user_embedding.weight.device
        users, negatives = users.to(device), negatives.to(device)
        scores = self._user_scores(users.repeat_interleave(per_positive), negatives.flatten(0, 1))
        gap = self.user_mean_score[users].repeat_interleave(per_positive) - scores  # r_hat_i - r_hat_ijk
        getLogger().info(f"Teacher on {len(gap)} sampled training negatives: mean r_hat_i - r_hat_ijk = "
                         f"{gap.mean():.3f}, so d = alpha * gap has mean {self.alpha * gap.mean():.3f} with alpha = "
                         f"{self.alpha} (d = 1 is the N-pair loss); d < 0 (false negative) for {(gap < 0).float().mean():.1%}")

    def _outfit_repr(self, outfits):
        model = self.model
        if not self.feature_cache:
            return model.encode_outfits(outfits)
        mask = outfits > 0
        return model.outfit_encoder(self.garment_features[outfits] * mask.unsqueeze(-1), mask)

    def _user_scores(self, users, outfits):
        """Score of each user for its own outfit: users ``[B]``, outfits ``[B, L]`` -> ``[B]``."""
        return self.model.scores(users, self._outfit_repr(outfits).unsqueeze(1)).squeeze(1)

    @torch.no_grad()
    def false_negativeness(self, users, outfits, per_positive, pool):
        """d ``[B, K]`` (Eq. 12) for the same negatives ``select_negatives`` gives the student.

        users ``[B]``; outfits ``[B + B*n, L]`` (positives, then each row's n sampled negatives).
        """
        scores = self.model.scores(users, self._outfit_repr(outfits))  # r_hat, [B, B + B*n]
        _, negative_scores, _ = select_negatives(scores, users, per_positive, pool)
        return self.alpha * (self.user_mean_score[users].unsqueeze(1) - negative_scores)

    def parameter_count(self):
        return sum(p.numel() for p in self.model.parameters())
