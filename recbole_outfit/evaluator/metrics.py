"""``user_auc`` and ``user_ndcg`` as RecBole metrics (VALUE type, evaluated on labeled rows).

RecBole discovers metrics only inside ``recbole.evaluator.metrics``; :func:`register_metrics` adds ours to
its registry tables. They need the user id of each scored row (``data.uid``), which RecBole's ``Collector``
does not gather: :class:`~recbole_outfit.evaluator.collector.PerUserCollector` does, and the plugin's
trainers install it.
"""

from recbole.evaluator import register
from recbole.evaluator.base_metric import AbstractMetric
from recbole.utils import EvaluatorType

from recbole_outfit.evaluator.functional import user_auc, user_ndcg

USER_FIELD_NEED = "data.uid"


class _PerUserMetric(AbstractMetric):
    metric_type = EvaluatorType.VALUE
    metric_need = ["rec.score", "data.label", USER_FIELD_NEED]
    smaller = False
    name, function = None, None

    def calculate_metric(self, dataobject):
        users = dataobject.get(USER_FIELD_NEED)
        scores = dataobject.get("rec.score").float()
        labels = dataobject.get("data.label")
        return {self.name: round(type(self).function(users, scores, labels), self.decimal_place)}


class UserAUC(_PerUserMetric):
    """Per-user ROC-AUC averaged over users (FHN's AUC); see ``evaluator.functional.user_auc``."""

    name, function = "user_auc", user_auc


class UserNDCG(_PerUserMetric):
    """FHN's NDCG: mean over all cutoffs per user, then over users; see ``evaluator.functional.user_ndcg``."""

    name, function = "user_ndcg", user_ndcg


def register_metrics():
    for metric in (UserAUC, UserNDCG):
        register.metrics_dict[metric.name] = metric
        register.metric_information[metric.name] = metric.metric_need
        register.metric_types[metric.name] = metric.metric_type
