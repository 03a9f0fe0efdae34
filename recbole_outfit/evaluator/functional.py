"""Per-user AUC and NDCG, the evaluation protocol of FHN / LPAE / FND-CL (docs/architecture.md, "Evaluation protocol").

For each user, the candidates are that user's labeled rows (positives = 1, negatives = 0):

* ``user_auc``: ROC-AUC of the user's candidates (ties count one half, as ``sklearn.metrics.roc_auc_score``),
  then the unweighted mean over users.
* ``user_ndcg``: FHN's NDCG - not RecBole's NDCG@K. Order the user's candidates by score; gain
  ``2^label - 1``; discount ``log2(max(rank, 2))`` with rank from 1 (ranks 1 and 2 both get 1);
  ``ndcg_k = DCG_k / IDCG_k`` for every cutoff k = 1..n; the user's value is the mean of ``ndcg_k`` over k;
  then the unweighted mean over users. Score ties are counted against the positives (a tied negative ranks
  first), so a constant scorer cannot look good. FHN's own code orders with numpy's ``argsort`` over
  [positives, negatives]; that sort is not stable above 16 elements, so how FHN breaks ties depends on the
  list size and the numpy build. Without ties the two agree exactly.

A user with no positive or no negative candidate has no defined value: it is skipped and counted in a
warning. Everything is vectorised over users (one sort for all of them).
"""

from logging import getLogger

import numpy as np


def _as_numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _groups(sorted_users):
    """Start index and size of each run of equal users in a sorted array."""
    users, starts, sizes = np.unique(sorted_users, return_index=True, return_counts=True)
    return users, starts, sizes


def _warn_skipped(metric, skipped, total):
    if skipped:
        getLogger().warning(f"{metric}: {skipped} of {total} users have no positive or no negative candidate "
                            f"and are skipped")


def per_user_auc(user_ids, scores, labels):
    """``(users, auc)``: the users with both positives and negatives and each one's ROC-AUC."""
    users, scores, labels = _as_numpy(user_ids), _as_numpy(scores).astype(np.float64), _as_numpy(labels) > 0
    order = np.lexsort((scores, users))  # by user, then score ascending
    users, scores, labels = users[order], scores[order], labels[order]
    # average ranks within each user, ties shared: runs of equal (user, score)
    new_run = np.r_[True, (users[1:] != users[:-1]) | (scores[1:] != scores[:-1])]
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_size = np.diff(np.r_[run_start, len(users)])
    unique_users, user_start, user_size = _groups(users)
    position = np.arange(len(users)) - np.repeat(user_start, user_size)  # 0-based within user
    run_first_position = position[run_start]
    average_rank = run_first_position + (run_size + 1) / 2.0  # 1-based average rank of each run
    ranks = average_rank[run_id]
    n_pos = np.add.reduceat(labels.astype(np.float64), user_start)
    n_neg = user_size - n_pos
    rank_sum = np.add.reduceat(np.where(labels, ranks, 0.0), user_start)
    keep = (n_pos > 0) & (n_neg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return unique_users[keep], auc[keep]


def per_user_ndcg(user_ids, scores, labels):
    """``(users, ndcg)``: FHN's NDCG (mean over all cutoffs, ``max`` discount) per user."""
    users, scores, labels = _as_numpy(user_ids), _as_numpy(scores).astype(np.float64), _as_numpy(labels)
    labels = (labels > 0).astype(np.float64)
    unique_users, user_start, user_size = _groups(np.sort(users, kind="stable"))
    rank = np.arange(len(users)) - np.repeat(user_start, user_size) + 1  # 1-based, users sorted
    discount = np.log2(np.maximum(rank, 2.0))

    def cumulative_gain(order):
        gain = (2.0 ** labels[order] - 1.0) / discount
        total = np.cumsum(gain)
        offset = np.repeat(np.r_[0.0, total][user_start], user_size)
        return total - offset

    predicted = np.lexsort((labels, -scores, users))  # user, score descending, ties: negatives first
    ideal = np.lexsort((-labels, users))
    dcg, idcg = cumulative_gain(predicted), cumulative_gain(ideal)
    n_pos = np.add.reduceat(labels[ideal], user_start)
    keep = (n_pos > 0) & (n_pos < user_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndcg_k = dcg / idcg
    mean_ndcg = np.add.reduceat(np.nan_to_num(ndcg_k), user_start) / user_size
    return unique_users[keep], mean_ndcg[keep]


def _mean_over_users(name, per_user, user_ids, scores, labels):
    users, values = per_user(user_ids, scores, labels)
    total = len(np.unique(_as_numpy(user_ids)))
    _warn_skipped(name, total - len(users), total)
    return float(values.mean()) if len(values) else float("nan")


def user_auc(user_ids, scores, labels):
    """Mean over users of each user's ROC-AUC (users without both labels skipped, with a warning)."""
    return _mean_over_users("user_auc", per_user_auc, user_ids, scores, labels)


def user_ndcg(user_ids, scores, labels):
    """Mean over users of FHN's NDCG (all cutoffs, ``max`` discount; users without both labels skipped)."""
    return _mean_over_users("user_ndcg", per_user_ndcg, user_ids, scores, labels)
