"""Recommending to cold starters without retraining (paper section 3.5, Eq. 20-24; protocol of section 4.3).

A model trained on a warm dataset (e.g. ``synthetic630``) scores a cold user c, who has only K known
positive outfits, through the warm users: ``s_ci`` = mean of warm user i's scores for c's known outfits
(Eq. 20), neighbours ``N_c = {i : s_ci > delta} + {argmax_i s_ci}`` (Eq. 21), and c's score for a candidate
is the neighbours' average score (``avg``, Eq. 22) or their softmax(s_ci / tau)-weighted average (``wavg``,
Eq. 23-24). ``mean`` (every warm user, unweighted) is the non-personalized reference. ``anchor`` is LPAE's
own anchor search (``model.anchor_search_scores``: the cold user's anchors searched among the warm users'
anchors from its K known outfits; see ``model/lpae.py``), for the models that have it.

A non-personalized model (``personalized = False``: Type-Aware, SCE-Net, Bi-LSTM) gives every user the same
score, so it scores cold users as it is (strategy ``own``): its cells are the same for every K (paper Table 3).

The cold dataset's garments are new: they go through the trained item and outfit encoders (the model is
pointed at the cold dataset's image store); warm users' scores come from the trained user embeddings.
For each cold user, K known outfits are drawn from their positives and their test candidates (positives and
negatives, 1:10) are ranked; per-user AUC is averaged over users, and the draw is repeated ``cold_repeats``
times (seeded): the table gives mean and standard deviation over repeats.
"""

from logging import getLogger

import numpy as np
import torch

from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.functional import per_user_auc
from recbole_outfit.report import format_table

STRATEGIES = ("avg", "wavg", "mean")
ANCHOR_SEARCH = "anchor"  # LPAE's anchor search: needs a model with ``anchor_search_scores``
OWN = "own"  # a non-personalized model's own scores, the same for every user


def is_personalized(model):
    """False for a model that gives every user the same score (``personalized = False`` on its class)."""
    return getattr(model, "personalized", True)


def cold_start_scores(known_scores, candidate_scores, strategy, delta=0.0, tau=0.2):
    """Scores of one cold user for J candidates.

    Args:
        known_scores: ``[U, K]`` r_ij+ of each warm user i for each of the cold user's K known outfits.
        candidate_scores: ``[U, J]`` each warm user's score for each candidate.
        strategy: ``avg`` (Eq. 22), ``wavg`` (Eq. 23-24), ``mean`` (all warm users, no neighbourhood) or
            ``own`` (a non-personalized model's score, which is every warm user's).
        delta: similarity threshold of Eq. 21; tau: temperature of Eq. 23.
    Returns:
        ``[J]``
    """
    if strategy == "mean":
        return candidate_scores.mean(0)
    if strategy == OWN:  # a non-personalized model: every warm user's row is the same score
        return candidate_scores[0]
    similarity = known_scores.mean(1)  # s_ci, Eq. 20
    neighbours = similarity > delta  # Eq. 21
    neighbours[similarity.argmax()] = True  # at least the most similar user
    if strategy == "avg":
        return candidate_scores[neighbours].mean(0)
    if strategy == "wavg":
        weights = torch.softmax(similarity[neighbours] / tau, dim=0)  # s-bar_ci, Eq. 23
        return weights @ candidate_scores[neighbours]  # Eq. 24
    raise ConfigError(f"unknown cold-start strategy {strategy!r}", where="strategy",
                      fix=f"use one of {', '.join(STRATEGIES + (OWN,))}")


@torch.no_grad()
def outfit_representations(model, cold_dataset, outfits):
    """``[O, D]`` representations of cold outfits ``outfits`` (item ids of ``cold_dataset``), encoding the cold
    garments with the trained encoders."""
    model.eval()
    model.use_garments(cold_dataset)
    garments = cold_dataset.outfit_garments[outfits].to(model.user_embedding.weight.device)
    return torch.cat([model.encode_outfits(part) for part in garments.split(1024)])


@torch.no_grad()
def outfit_scores(model, cold_dataset, outfits, representations=None):
    """``[U_warm, O]`` cos(u_i, o_j) of every warm user for cold outfits ``outfits`` (item ids of
    ``cold_dataset``), encoding the cold garments with the trained encoders."""
    if representations is None:
        representations = outfit_representations(model, cold_dataset, outfits)
    warm_users = torch.arange(1, model.n_users, device=representations.device)  # id 0 is RecBole's padding user
    return model.scores(warm_users, representations).cpu()


class ColdUsers:
    """A cold dataset's users: their known (training) positives and their labeled test candidates."""

    def __init__(self, dataset):
        train, _, test = dataset.build()[:3]
        uid, iid = dataset.uid_field, dataset.iid_field
        self.dataset = dataset
        self.known_users = train.inter_feat[uid].numpy()
        self.known_outfits = train.inter_feat[iid].numpy()
        self.test_users = test.inter_feat[uid].numpy()
        self.test_outfits = test.inter_feat[iid].numpy()
        self.test_labels = test.inter_feat[dataset.label_field].numpy()

    def users(self):
        """Cold users with both known outfits and test candidates."""
        return np.intersect1d(np.unique(self.test_users), np.unique(self.known_users))


class ColdStartEvaluator:
    """Per-user AUC of cold users over repeated draws of their K known outfits (paper Table 3)."""

    def __init__(self, shots=(1, 5), repeats=10, seed=2020, delta=0.0, tau=0.2, strategies=STRATEGIES):
        self.shots, self.repeats, self.seed = list(shots), repeats, seed
        self.delta, self.tau, self.strategies = delta, tau, list(strategies)

    def draws(self, cold):
        """Yield ``(K, {user: rows of cold.known_* drawn as that user's K known outfits})``, for each repeat
        and each K, from one generator seeded by ``seed``."""
        rng = np.random.default_rng(self.seed)
        for _ in range(self.repeats):
            for k in self.shots:
                draw = {}
                for u in cold.users():
                    rows = np.flatnonzero(cold.known_users == u)
                    draw[u] = rng.choice(rows, size=min(k, len(rows)), replace=False)
                yield k, draw

    def evaluate(self, model, cold):
        """``cold``: :class:`ColdUsers`. Returns ``{strategy: {shots: {"mean": auc, "std": auc}}}``; for a
        non-personalized model the one strategy ``own``: the model's scores as they are."""
        known_outfits = cold.known_outfits
        test_users, test_outfits, test_labels = cold.test_users, cold.test_outfits, cold.test_labels
        outfits, index = np.unique(np.concatenate([known_outfits, test_outfits]), return_inverse=True)
        representations = outfit_representations(model, cold.dataset, torch.from_numpy(outfits))  # [O, D]
        scores = outfit_scores(model, cold.dataset, outfits, representations)  # [U, O]
        known_col, test_col = index[: len(known_outfits)], index[len(known_outfits):]
        users = cold.users()
        strategies = self.strategies if is_personalized(model) else [OWN]
        aucs = {s: {k: [] for k in self.shots} for s in strategies}
        for k, user_rows in self.draws(cold):
            for strategy in strategies:
                predicted = np.empty(len(test_outfits), dtype=np.float64)
                for u in users:
                    rows = np.flatnonzero(test_users == u)
                    if strategy == ANCHOR_SEARCH:
                        predicted[rows] = model.anchor_search_scores(representations[known_col[user_rows[u]]],
                                                                     representations[test_col[rows]]).cpu().numpy()
                        continue
                    predicted[rows] = cold_start_scores(scores[:, known_col[user_rows[u]]], scores[:, test_col[rows]],
                                                        strategy, self.delta, self.tau).numpy()
                in_users = np.isin(test_users, users)
                _, per_user = per_user_auc(test_users[in_users], predicted[in_users], test_labels[in_users])
                aucs[strategy][k].append(float(per_user.mean()))
        result = {s: {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in by_k.items()}
                  for s, by_k in aucs.items()}
        kind = "" if is_personalized(model) else ", a non-personalized model: its own scores, K plays no part"
        getLogger().info(f"Cold start on {cold.dataset.dataset_name} ({len(users)} cold users, {self.repeats} draws, "
                         f"user_auc{kind}):\n{cold_start_table(result)}")
        return result


def cold_start_table(result):
    shots = sorted({k for by_k in result.values() for k in by_k})
    rows = [[strategy] + [f"{by_k[k]['mean']:.4f} ± {by_k[k]['std']:.4f}" for k in shots]
            for strategy, by_k in result.items()]
    return format_table(["strategy"] + [f"{k} outfit{'s' if k > 1 else ''}" for k in shots], rows)
