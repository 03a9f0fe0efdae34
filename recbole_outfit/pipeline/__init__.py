"""The run pipeline: the stages a model needs, then data, model, RecBole's Trainer, test and results.

``quick_start`` (the entry points), the experiments and the benchmarks sit above it; models, data, evaluator
and trainer below it never import it. See ``docs/architecture.md``.
"""

from recbole_outfit.pipeline.keys import RESULT_ONLY_KEYS, fingerprint, stage_config
from recbole_outfit.pipeline.run import build_model, evaluate_checkpoint, train_and_test
from recbole_outfit.pipeline.stages import STAGES, prepare_stages

__all__ = ["RESULT_ONLY_KEYS", "STAGES", "build_model", "evaluate_checkpoint", "fingerprint", "prepare_stages",
           "stage_config", "train_and_test"]
