"""The run pipeline: the stages a model needs, then data, model, RecBole's Trainer, test and results.

``quick_start`` (the entry points), the experiments and the benchmarks sit above it; models, data, evaluator
and trainer below it never import it. See ``docs/architecture.md``.

The names below load on first use (PEP 562), so that a light module of the package (``model_spec``, which
the command line reads before torch and RecBole load) can be imported without the rest.
"""

import importlib

_EXPORTS = {"RESULT_ONLY_KEYS": "keys", "fingerprint": "keys", "stage_config": "keys", "build_model": "run",
            "evaluate_checkpoint": "run", "train_and_test": "run", "STAGES": "stages", "prepare_stages": "stages"}

__all__ = ["RESULT_ONLY_KEYS", "STAGES", "build_model", "evaluate_checkpoint", "fingerprint", "prepare_stages",
           "stage_config", "train_and_test"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
