"""The frozen teacher of False Negative Distillation (paper section 3.2.2, Eq. 11-12).

``d_ijk = alpha * (r_hat_i - r_hat_ijk)``: ``r_hat_ijk`` is the teacher's score of user i for negative k,
``r_hat_i`` (Eq. 11) the teacher's mean score over user i's training positives, computed once before the
student trains. :class:`DistillationTeacher` holds that part for any teacher (``fnd_scale: normalized``
divides the gap by its mean over sampled training negatives, so that one alpha suits teachers of any
spread); :class:`FrozenTeacher` scores with a trained model, ``model/oracle.py``'s ``OracleTeacher`` with
the synthetic generator's true preferences.

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
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.outfit_recommender import select_negatives
from recbole_outfit.options import choose




class DistillationTeacher:
    """What False Negative Distillation takes from a teacher (Eq. 11-12), whatever computes its scores.

    A subclass gives ``user_scores(users [B], outfits [B, L]) -> [B]`` (each user's score for its own outfit)
    and ``pair_scores(users [B], outfits [N, L]) -> [B, N]`` (every user against every outfit), and may
    override :meth:`before_scoring` (called once with the training positives before any score).

    ``scale`` (``fnd_scale``): ``paper`` gives ``d = alpha (r_hat_i - r_hat_ijk)`` (Eq. 12); ``normalized``
    gives ``d = alpha (r_hat_i - r_hat_ijk) / g`` with ``g`` the mean of ``r_hat_i - r_hat_ijk`` over sampled
    training negatives (computed once in :meth:`prepare` and logged), so that d has mean alpha there
    whatever the spread of the teacher's scores.
    """

    name = "Teacher"  # in the log

    def __init__(self, alpha, scale="paper", device="cpu"):
        scale = choose("fnd_scale", scale)  # ~ = paper
        self.alpha, self.scale, self.device = alpha, scale, device
        self.user_mean_score = None  # r_hat_i, [n_users]
        self.gap_scale = 1.0  # g: 1 for ``paper``

    def user_scores(self, users, outfits):
        raise NotImplementedError

    def pair_scores(self, users, outfits):
        raise NotImplementedError

    def before_scoring(self, garments):
        """Called once by :meth:`prepare` with the training positives' garment ids ``[P, L]``."""

    @torch.no_grad()
    def prepare(self, train_dataset):
        """r_hat_i (Eq. 11): the mean score of each user over its training positives; then the gap's scale."""
        outfits = train_dataset.outfit_garments[train_dataset.inter_feat[train_dataset.iid_field]]
        outfits = outfits.to(self.device)
        users = train_dataset.inter_feat[train_dataset.uid_field].to(self.device)
        self.before_scoring(outfits)
        scores = torch.cat([self.user_scores(users[i:i + 1024], outfits[i:i + 1024])
                            for i in range(0, len(users), 1024)])
        n_users = train_dataset.num(train_dataset.uid_field)
        total = torch.zeros(n_users, device=self.device).index_add_(0, users, scores)
        count = torch.zeros(n_users, device=self.device).index_add_(0, users, torch.ones_like(scores))
        self.user_mean_score = total / count.clamp_min(1)
        getLogger().info(f"{self.name}: r_hat over {len(users)} training positives of "
                         f"{int((count > 0).sum())} users (mean {self.user_mean_score[count > 0].mean():.3f})")
        self.calibrate(train_dataset)

    @torch.no_grad()
    def calibrate(self, train_dataset, rows=1024, per_positive=4):
        """The gap ``r_hat_i - r_hat_ijk`` on sampled training negatives (seeded: the same sample every run):
        logged, and its mean kept as ``g`` for ``fnd_scale: normalized``. Its size depends on how far apart
        the teacher's scores lie, so alpha must suit the teacher (paper 4.5: the best alpha differs by
        dataset). Returns the gaps ``[rows * per_positive]``."""
        rng = np.random.default_rng(0)
        pick = torch.from_numpy(rng.choice(len(train_dataset), size=min(rows, len(train_dataset)), replace=False))
        users = train_dataset.inter_feat[train_dataset.uid_field][pick]
        positives = train_dataset.outfit_garments[train_dataset.inter_feat[train_dataset.iid_field][pick]]
        negatives = OutfitNegativeSampler(train_dataset, per_positive, rng=rng).sample(users, positives)
        users, negatives = users.to(self.device), negatives.to(self.device)
        scores = self.user_scores(users.repeat_interleave(per_positive), negatives.flatten(0, 1))
        gap = self.user_mean_score[users].repeat_interleave(per_positive) - scores  # r_hat_i - r_hat_ijk
        mean_gap = float(gap.mean())
        if self.scale == "normalized":
            if mean_gap <= 0:
                raise ConfigError(f"the teacher scores sampled training negatives above its users' positives on "
                                  f"average (mean r_hat_i - r_hat_ijk = {mean_gap:.3f}), so it cannot be normalized",
                                  where="fnd_scale", fix="use fnd_scale: paper, or a teacher that ranks positives first")
            self.gap_scale = mean_gap
        if self.scale == "normalized" and mean_gap < 0.25 * float(gap.std()):
            getLogger().warning(f"{self.name}: the mean gap ({mean_gap:.3f}) is small against its spread (std "
                                f"{float(gap.std()):.3f}): the teacher barely ranks positives above random negatives, "
                                f"and fnd_scale: normalized scales its noise up to d of mean alpha")
        d = self.alpha * gap / self.gap_scale
        rule = "alpha * gap" if self.scale == "paper" else f"alpha * gap / {self.gap_scale:.3f} (fnd_scale: normalized)"
        getLogger().info(f"{self.name} on {len(gap)} sampled training negatives: mean r_hat_i - r_hat_ijk = "
                         f"{mean_gap:.3f}, so d = {rule} has mean {d.mean():.3f} with alpha = {self.alpha} "
                         f"(d = 1 is the N-pair loss); d < 0 (false negative) for {(gap < 0).float().mean():.1%}")
        return gap

    @torch.no_grad()
    def false_negativeness(self, users, outfits, per_positive, pool, owned=None):
        """d ``[B, K]`` (Eq. 12) for the same negatives ``select_negatives`` gives the student.

        users ``[B]``; outfits ``[B + B*n, L]`` (positives, then each row's n sampled negatives); owned
        ``[B, B + B*n]`` (the batch's ``neg_owned``, for the shared pools): the student's mask drops the same
        entries, so their d is never used.
        """
        scores = self.pair_scores(users, outfits)  # r_hat, [B, B + B*n]
        _, negative_scores, _ = select_negatives(scores, users, per_positive, pool, owned)
        return self.alpha * (self.user_mean_score[users].unsqueeze(1) - negative_scores) / self.gap_scale

    def parameter_count(self):
        raise NotImplementedError


class FrozenTeacher(DistillationTeacher):
    """A trained teacher model's scores and false-negativeness d for a student's batches."""

    def __init__(self, model, alpha, feature_cache=True, scale="paper"):
        """``model``: a trained outfit model, frozen, in eval mode, on the student's device, its user rows in
        the student dataset's order (the pipeline builds it from the teacher checkpoint)."""
        super().__init__(alpha, scale, model.user_embedding.weight.device)
        self.model = model
        self.feature_cache = feature_cache
        # without the cache, every step runs the teacher's item encoder on every garment slot
        self.model.eval_feature_cache = feature_cache
        self.garment_features = None  # [n_garments, d] when cached

    @torch.no_grad()
    def before_scoring(self, outfits):
        """Cache the training garments' features (when enabled): the large encoder is then released."""
        if not self.feature_cache:
            return
        model = self.model
        garments = torch.unique(outfits[outfits > 0])
        features = torch.zeros(model.n_garments, model.embedding_size, device=outfits.device)
        features[garments] = model.encode_images(garments)
        self.garment_features = features
        model.item_encoder = None  # frozen features are cached: the large encoder is no longer needed
        getLogger().info(f"Teacher: {len(garments)} garment features cached")

    def _outfit_repr(self, outfits):
        model = self.model
        if not self.feature_cache:
            return model.encode_outfits(outfits)
        mask = outfits > 0
        return model.outfit_encoder(self.garment_features[outfits] * mask.unsqueeze(-1), mask)

    def user_scores(self, users, outfits):
        """Score of each user for its own outfit: users ``[B]``, outfits ``[B, L]`` -> ``[B]``."""
        return self.model.scores(users, self._outfit_repr(outfits).unsqueeze(1)).squeeze(1)

    def pair_scores(self, users, outfits):
        """Score of every user for every outfit: users ``[B]``, outfits ``[N, L]`` -> ``[B, N]``."""
        return self.model.scores(users, self._outfit_repr(outfits))

    def parameter_count(self):
        return sum(p.numel() for p in self.model.parameters())
