"""recbole-outfit: personalized outfit recommendation (FND-CL) as a RecBole 1.2.1 plugin."""

from recbole_outfit import compat  # noqa: F401  (fixes RecBole 1.2.1 on today's stack; must come first)
from recbole_outfit.evaluator.metrics import register_metrics

register_metrics()

__version__ = "0.1.0"
