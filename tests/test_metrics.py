"""Per-user AUC and FHN's NDCG: against scikit-learn and a hand-computed example; the RecBole wiring."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from recbole_outfit.evaluator import PerUserCollector, UserAUC, UserNDCG, user_auc, user_ndcg
from recbole_outfit.evaluator.functional import per_user_auc, per_user_ndcg

# user 1: scores 0.9 0.8 0.7 0.1 / labels 0 1 0 1;  user 2: 0.5 0.5 0.2 / 1 0 0 (a tie);  user 3: negatives only
USERS = [1, 1, 1, 1, 2, 2, 2, 3, 3]
SCORES = [0.9, 0.8, 0.7, 0.1, 0.5, 0.5, 0.2, 0.3, 0.4]
LABELS = [0, 1, 0, 1, 1, 0, 0, 0, 0]


def test_hand_computed_example(caplog):
    # user 1: NDCG_k = 0, 1/2, 1/2, (1 + 1/2)/2 -> 0.4375 ; AUC = 1/4
    # user 2: the tie is broken against the positive: NDCG_k = 0, 1, 1 -> 2/3 ; AUC = (0.5 + 1)/2
    assert user_ndcg(USERS, SCORES, LABELS) == pytest.approx((0.4375 + 2 / 3) / 2)
    assert user_auc(USERS, SCORES, LABELS) == pytest.approx((0.25 + 0.75) / 2)
    assert "1 of 3 users have no positive or no negative" in caplog.text


def test_auc_matches_sklearn_per_user():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 3000)
    scores = rng.normal(size=3000).round(1)  # many ties
    labels = (rng.random(3000) < 0.15).astype(int)
    expected = []
    for u in np.unique(users):
        m = users == u
        if 0 < labels[m].sum() < m.sum():
            expected.append(roc_auc_score(labels[m], scores[m]))
    assert user_auc(users, scores, labels) == pytest.approx(np.mean(expected), abs=1e-12)
    shuffled = rng.permutation(3000)
    assert user_auc(users[shuffled], scores[shuffled], labels[shuffled]) == pytest.approx(np.mean(expected))


def naive_ndcg(scores, labels):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], labels[i]))
    gains = [2 ** labels[i] - 1 for i in order]
    ideal = sorted(labels, reverse=True)
    values, dcg, idcg = [], 0.0, 0.0
    for k in range(1, len(scores) + 1):
        discount = math.log2(max(k, 2))
        dcg += gains[k - 1] / discount
        idcg += (2 ** ideal[k - 1] - 1) / discount
        values.append(dcg / idcg)
    return sum(values) / len(values)


def test_ndcg_matches_a_direct_loop():
    rng = np.random.default_rng(1)
    users = rng.integers(0, 12, 600)
    scores = rng.normal(size=600).round(1)
    labels = (rng.random(600) < 0.2).astype(int)
    got_users, got = per_user_ndcg(users, scores, labels)
    for u, value in zip(got_users, got):
        m = users == u
        assert value == pytest.approx(naive_ndcg(list(scores[m]), list(labels[m])))
    assert user_ndcg(users, scores, labels) == pytest.approx(got.mean())


def test_perfect_and_constant_scorers():
    users = np.repeat(np.arange(5), 11)
    labels = np.tile([1] + [0] * 10, 5)
    assert user_auc(users, labels.astype(float), labels) == 1.0
    assert user_ndcg(users, labels.astype(float), labels) == 1.0
    constant = np.zeros(len(users))
    assert user_auc(users, constant, labels) == 0.5
    assert user_ndcg(users, constant, labels) < 0.5  # ties count against the positive


def test_recbole_metric_classes_and_collector():
    config = {"metric_decimal_place": 4, "metrics": ["user_auc", "user_ndcg"], "eval_args": {"mode": {"valid": "labeled"}},
              "topk": [10], "device": torch.device("cpu"), "USER_ID_FIELD": "user_id", "LABEL_FIELD": "label"}
    collector = PerUserCollector(config)
    from recbole.data.interaction import Interaction

    for lo, hi in ((0, 5), (5, 9)):
        batch = Interaction({"user_id": torch.tensor(USERS[lo:hi]), "label": torch.tensor(LABELS[lo:hi], dtype=torch.float)})
        collector.eval_batch_collect(torch.tensor(SCORES[lo:hi]), batch, None, None)
    struct = collector.get_data_struct()
    assert UserAUC(config).calculate_metric(struct) == {"user_auc": 0.5}
    assert UserNDCG(config).calculate_metric(struct) == {"user_ndcg": round((0.4375 + 2 / 3) / 2, 4)}
    assert "data.uid" not in collector.data_struct  # reset for the next evaluation
    users, _ = per_user_auc(struct.get("data.uid"), struct.get("rec.score"), struct.get("data.label"))
    assert users.tolist() == [1, 2]
