from recbole_outfit.evaluator.functional import per_user_auc, per_user_ndcg, user_auc, user_ndcg
from recbole_outfit.evaluator.metrics import UserAUC, UserNDCG, register_metrics
from recbole_outfit.evaluator.collector import PerUserCollector

__all__ = ["per_user_auc", "per_user_ndcg", "user_auc", "user_ndcg", "UserAUC", "UserNDCG", "register_metrics", "PerUserCollector"]
