"""FND-CL: the student trained with False Negative Distillation and outfit contrastive learning.

Kim, Seol, Lim, Lee, "Personalized outfit recommendation with false negative distillation and contrastive
learning" (sections 3.2.2-3.4). A small item encoder (``backbone: XS`` = AlexNet-small by default) with the
Set Transformer outfit encoder, trained with

    L = L_FND + lambda * L_CL                                                   (Eq. 19)

* L_FND (Eq. 13-14): the N-pair loss in which each negative's term is ``exp(d_ijk r_ijk / tau)``,
  ``d_ijk = alpha (r_hat_i - r_hat_ijk)`` from a frozen teacher (Eq. 11-12). ``distill: False`` gives the
  plain N-pair loss (Eq. 10): the N-pair student.
* L_CL (Eq. 17-18): NT-Xent between two augmented views of every positive outfit of the batch
  (``cl_augmentations``: erase / replace / identity), through a non-linear projection head g.
  ``cl_weight`` is lambda; 0 gives FND alone (registered as :class:`FND`).

So the paper's ablations are all configurations of this class: N-pair (``distill: False, cl_weight: 0``),
FND (``cl_weight: 0``), FND-CL (defaults), any alpha, augmentation pair or backbone size.

Departures, none of which changes the objective: positives, negatives and both views of a batch go through
the item encoder together, each distinct garment once; the teacher's garment features are computed once
(it is frozen), see ``model/distillation.py``. One option does change it, off by default:
``cl_replace_grad: False`` computes the features of garments that only a ``replace`` view holds without
gradient (a forward pass instead of forward + backward), for a cheaper step.
"""

import torch
import torch.nn as nn

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.augment import OutfitAugmenter
from recbole_outfit.model.distillation import FrozenTeacher
from recbole_outfit.model.loss import fnd_loss, npair_loss, nt_xent
from recbole_outfit.model.outfit_recommender import OutfitRecommender, select_negatives


class FNDCL(OutfitRecommender):
    def __init__(self, config, dataset):
        super().__init__(config, dataset)

        # load parameters info
        self.alpha = config["fnd_alpha"]
        self.distill = config["distill"]
        self.cl_weight = config["cl_weight"]
        self.tau_cl = config["tau_cl"]
        self.cl_replace_grad = config["cl_replace_grad"]
        training = not config["evaluation_only"]
        if training and self.distill and not config["teacher_checkpoint"]:
            raise ConfigError("distillation needs a teacher checkpoint", where="teacher_checkpoint",
                              fix="run through run_recbole_outfit (it trains or reuses a teacher), pass "
                                  "--teacher_checkpoint=PATH, or set distill: False for the N-pair student")

        # define layers and loss
        if self.cl_weight > 0:
            d = self.embedding_size
            self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, d))  # g
            if training:
                self.augmenter = OutfitAugmenter(config["cl_augmentations"], self._neighbours(config, dataset))
        self.teacher = None
        if training and self.distill:
            self.teacher = FrozenTeacher(config["teacher_checkpoint"], dataset, config["device"], self.alpha,
                                         feature_cache=config["teacher_feature_cache"])
            self.teacher.prepare(dataset)

    @staticmethod
    def _neighbours(config, dataset):
        if "replace" not in config["cl_augmentations"]:
            return None
        from recbole_outfit.trainer.stages import load_neighbour_table

        return load_neighbour_table(config["neighbour_table"], dataset)

    @classmethod
    def prepare_stages(cls, config):
        """Before the student: train (or reuse) the teacher; build (or reuse) the neighbour table."""
        from recbole_outfit.trainer import stages

        stages.prepare_student(config)

    def calculate_loss(self, interaction):
        users = interaction[self.USER_ID]  # [B]
        positives = interaction[GARMENTS]  # [B, L]
        negatives = interaction[NEG_GARMENTS]  # [B, n, L]
        batch, per_positive = negatives.shape[:2]
        scored = torch.cat([positives, negatives.flatten(0, 1)])  # [B + B*n, L]
        views, constant = (), None
        if self.cl_weight > 0:
            self.augmenter.to(positives.device)
            views = self.augmenter(positives)  # 2 x [B, L]
            if not self.cl_replace_grad:  # garments only the views hold (replacements): forward pass only
                in_views = torch.cat(views)
                constant = in_views[(in_views > 0) & ~torch.isin(in_views, scored)]
        representations = self.encode_outfits(torch.cat([scored, *views]), constant)  # each garment once
        outfit_repr = representations[: len(scored)]
        scores = self.scores(users, outfit_repr)  # r_ij, [B, B + B*n]
        pos, neg, mask = select_negatives(scores, users, per_positive, self.negative_pool)
        if self.distill:
            d = self.teacher.false_negativeness(users, scored, per_positive, self.negative_pool)  # [B, K]
            rec_loss = fnd_loss(pos, neg, d, self.tau, mask)  # Eq. 13-14
        else:
            rec_loss = npair_loss(pos, neg, self.tau, mask)  # Eq. 10
        if self.cl_weight <= 0:
            return rec_loss
        first, second = representations[len(scored):].split(batch)
        cl_loss = nt_xent(self.projection(first), self.projection(second), self.tau_cl)  # Eq. 17-18
        return rec_loss, self.cl_weight * cl_loss  # Eq. 19 (RecBole sums the parts and logs each)


class FND(FNDCL):
    """FND alone: FND-CL with lambda = 0 (``cl_weight: 0`` in FND.yaml), listed by its own name."""
