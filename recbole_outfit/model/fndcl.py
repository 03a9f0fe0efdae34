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

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS, NEG_OWNED
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.augment import OutfitAugmenter
from recbole_outfit.model.loss import fnd_loss, npair_loss, nt_xent
from recbole_outfit.model.outfit_recommender import OutfitRecommender, select_negatives
from recbole_outfit.options import check_augmentation_pair


class FNDCL(OutfitRecommender):
    """The FND-CL student. Built from what it is handed: the pipeline (``recbole_outfit.pipeline``) prepares
    what :attr:`needs` lists and passes it in; a model rebuilt from a checkpoint for evaluation needs none of them.

    Args:
        teacher: a prepared :class:`~recbole_outfit.model.distillation.FrozenTeacher` (training with
            ``distill: True``), else None.
        neighbours: LongTensor ``[n_garments, k]`` of same-category neighbours for the ``replace``
            augmentation (training with ``replace`` among ``cl_augmentations``), else None.
        backbone: the item encoder's starting weights, as for every outfit model (:class:`OutfitRecommender`).
    """

    needs = OutfitRecommender.needs + ("teacher", "neighbours")
    loss_part_names = ("recommendation (Eq. 13-14)", "contrastive (Eq. 17-18)")  # the two parts calculate_loss returns

    def __init__(self, config, dataset, teacher=None, neighbours=None, backbone=None):
        super().__init__(config, dataset, backbone)

        # load parameters info
        self.alpha = config["fnd_alpha"]
        self.distill = config["distill"]
        self.cl_weight = config["cl_weight"]
        self.tau_cl = config["tau_cl"]
        self.cl_replace_grad = config["cl_replace_grad"]
        self.teacher = teacher
        check_augmentation_pair(config["cl_augmentations"])
        self.augmenter_names = tuple(config["cl_augmentations"])

        # define layers and loss
        self.augmenter = None
        if self.cl_weight > 0:
            d = self.embedding_size
            self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, d))  # g
            if neighbours is not None or "replace" not in config["cl_augmentations"]:
                self.augmenter = OutfitAugmenter(config["cl_augmentations"], neighbours)

    def _check_training_parts(self):
        """Training needs the teacher and the augmenter it was not handed when rebuilt for evaluation."""
        if self.distill and self.teacher is None:
            raise ConfigError("distillation needs a teacher", where="FNDCL(teacher=...)",
                              fix="run through run_recbole_outfit (its pipeline trains or reuses a teacher), pass "
                                  "--teacher_checkpoint=PATH, or set distill: False for the N-pair student")
        if self.cl_weight > 0 and self.augmenter is None:
            raise ConfigError("the replace augmentation needs a neighbour table", where="FNDCL(neighbours=...)",
                              fix="run through run_recbole_outfit (its pipeline builds or reuses the table), or "
                                  "drop replace from cl_augmentations")

    def prefetch_garments(self, interaction):
        """As the base class's, except when the views replace garments: the replacements are random draws of
        the step itself, so its garments are not known ahead (no prefetch)."""
        if self.cl_weight > 0 and "replace" in self.augmenter_names:
            return None
        return super().prefetch_garments(interaction)

    def calculate_loss(self, interaction):
        self._check_training_parts()
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
        owned = interaction[NEG_OWNED] if self.negative_pool != "own" else None  # [B, B + B*n]
        pos, neg, mask = select_negatives(scores, users, per_positive, self.negative_pool, owned)
        if self.distill:
            d = self.teacher.false_negativeness(users, scored, per_positive, self.negative_pool, owned)  # [B, K]
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
