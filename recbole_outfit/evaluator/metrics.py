"""The plugin's metrics, declared here and nowhere else (VALUE type, evaluated on labeled rows).

RecBole discovers its metrics by scanning ``recbole.evaluator.metrics`` for ``AbstractMetric`` subclasses;
:func:`register_metrics` does the same for this module and adds every metric class defined here to RecBole's
registry tables. A new metric is one class in this file (a ``name``, a ``label`` for tables, a
``function(users, scores, labels)``); ``metrics: [...]`` in a yaml then evaluates it and the comparison tables
show it as a column. They need the user id of each scored row (``data.uid``), which RecBole's ``Collector``
does not gather: :class:`~recbole_outfit.evaluator.collector.PerUserCollector` does, and the plugin's
trainers install it.
"""

import inspect
import sys

from recbole.evaluator import register
from recbole.evaluator.base_metric import AbstractMetric
from recbole.utils import EvaluatorType

from recbole_outfit.evaluator.functional import user_auc, user_ndcg

USER_FIELD_NEED = "data.uid"


class _PerUserMetric(AbstractMetric):
    metric_type = EvaluatorType.VALUE
    metric_need = ["rec.score", "data.label", USER_FIELD_NEED]
    smaller = False
    name, label, function = None, None, None  # registry name, table header, function(users, scores, labels)

    def calculate_metric(self, dataobject):
        users = dataobject.get(USER_FIELD_NEED)
        scores = dataobject.get("rec.score").float()
        labels = dataobject.get("data.label")
        return {self.name: round(type(self).function(users, scores, labels), self.decimal_place)}


class UserAUC(_PerUserMetric):
    """Per-user ROC-AUC averaged over users (FHN's AUC); see ``evaluator.functional.user_auc``."""

    name, label, function = "user_auc", "AUC", user_auc


class UserNDCG(_PerUserMetric):
    """FHN's NDCG: mean over all cutoffs per user, then over users; see ``evaluator.functional.user_ndcg``."""

    name, label, function = "user_ndcg", "NDCG", user_ndcg


def plugin_metrics():
    """``{name: class}`` of every metric declared in this module (discovered, as RecBole discovers its own)."""
    members = inspect.getmembers(sys.modules[__name__], inspect.isclass)
    return {cls.name: cls for _, cls in members
            if issubclass(cls, AbstractMetric) and cls.__module__ == __name__ and cls.name}


def metric_label(name):
    """Table header of metric ``name``: the plugin metric's label, else the name as RecBole writes it."""
    metric = plugin_metrics().get(name.lower())
    return metric.label if metric is not None else name


def register_metrics():
    """Add every metric of this module to RecBole's registry (idempotent)."""
    for name, metric in plugin_metrics().items():
        register.metrics_dict[name] = metric
        register.metric_information[name] = metric.metric_need
        register.metric_types[name] = metric.metric_type
