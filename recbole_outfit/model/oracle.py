"""The oracle teacher of False Negative Distillation: the synthetic world's true preferences as r_hat.

FND (paper 3.2.2, Eq. 11-12) takes from its teacher a score ``r_hat_ij`` of user i for outfit j: ``r_hat_i``
is the mean over the user's training positives (Eq. 11) and ``d_ijk = alpha (r_hat_i - r_hat_ijk)`` the
false-negativeness of a sampled negative (Eq. 12). On the synthetic datasets the generator keeps the world
it drew (:class:`recbole_outfit.data.synthetic.FolderWorld`), so the true preference of any (user, outfit)
pair is known, sampled training negatives included. :class:`OracleTeacher` scores with it (``teacher:
oracle``): a perfect teacher, which checks that FND's implementation does what the method claims; the
student's code path is the same as with a trained teacher.

The true preference is a log-likelihood ratio (:meth:`FolderWorld.true_preference`), not a cosine: its gaps
are several units wide where a trained teacher's are a fraction of one. ``fnd_scale: normalized`` divides
the gap by its mean over sampled training negatives, so that one alpha means the same for both.

The oracle is built from what it is handed (the world and the dataset); it reads no file.
"""

import numpy as np
import torch

from recbole_outfit.data.polyvore import CATEGORIES, MISSING
from recbole_outfit.model.distillation import DistillationTeacher

TOP, BOTTOM, SHOE = (CATEGORIES.index(c) for c in ("top", "bottom", "shoe"))


class OracleTeacher(DistillationTeacher):
    """Teacher scores from the generator's true preferences.

    Args:
        world: the :class:`~recbole_outfit.data.synthetic.FolderWorld` of the dataset's tuples folder.
        dataset: the student's dataset (garment tokens name catalog garments; user tokens are world rows).
        alpha: FND's alpha (Eq. 12).
        scale: ``fnd_scale``: ``paper`` or ``normalized`` (see :class:`DistillationTeacher`).
        device: where d is returned.
    """

    name = "Oracle teacher"  # in the log

    def __init__(self, world, dataset, alpha, scale="paper", device="cpu"):
        super().__init__(alpha, scale, device)
        self.world = world
        garment_tokens = list(dataset.field2id_token["garment_id"])
        categories, catalog = world.garment_index(garment_tokens[1:])  # id 0 is padding
        self.garment_category = np.r_[-1, [CATEGORIES.index(c) for c in categories]]  # [n_garments]
        self.garment_catalog = np.r_[MISSING, catalog]  # [n_garments] catalog id in the world
        user_tokens = list(dataset.field2id_token[dataset.uid_field])
        self.user_row = np.r_[-1, [int(t) for t in user_tokens[1:]]]  # [n_users] row of world.user_mix
        if self.user_row.max() >= len(world.user_mix):
            raise ValueError(f"the dataset has user {self.user_row.max()} but the world of {world.folder} only "
                             f"{len(world.user_mix)} users")
        self.n_users = len(user_tokens)

    def catalog_outfits(self, outfits):
        """Dataset outfits ``[N, L]`` (garment ids, 0 = padding) -> ``[N, 4]`` catalog ids in the world's layout
        (top, second top or -1, bottom, shoe)."""
        outfits = outfits.cpu().numpy() if torch.is_tensor(outfits) else np.asarray(outfits)
        category = self.garment_category[outfits]  # [N, L], -1 = padding
        catalog = self.garment_catalog[outfits]
        result = np.full((len(outfits), 4), MISSING, dtype=np.int64)
        is_top = category == TOP
        top_rank = np.cumsum(is_top, axis=1) - 1  # first top -> slot 0, second -> slot 1
        rows, cols = np.nonzero(is_top)
        result[rows, top_rank[rows, cols]] = catalog[rows, cols]
        for code, slot in ((BOTTOM, 2), (SHOE, 3)):
            rows, cols = np.nonzero(category == code)
            result[rows, slot] = catalog[rows, cols]
        return result

    def _true_preference(self, users, catalog_outfits):
        users = users.cpu().numpy() if torch.is_tensor(users) else np.asarray(users)
        scores = self.world.true_preference(self.user_row[users], catalog_outfits, split="train")
        return torch.as_tensor(scores, dtype=torch.float32, device=self.device)

    def user_scores(self, users, outfits):
        """True preference of each user for its own outfit: users ``[B]``, outfits ``[B, L]`` -> ``[B]``."""
        return self._true_preference(users, self.catalog_outfits(outfits))

    def pair_scores(self, users, outfits):
        """True preference of every user for every outfit: users ``[B]``, outfits ``[N, L]`` -> ``[B, N]``."""
        batch, n = len(users), len(outfits)
        catalog = self.catalog_outfits(outfits)  # [N, 4]
        scores = self._true_preference(torch.as_tensor(users).repeat_interleave(n), np.tile(catalog, (batch, 1)))
        return scores.view(batch, n)

    def parameter_count(self):
        return 0
