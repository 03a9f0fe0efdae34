"""Use a trained outfit model: scores, rankings, composed outfits, new users, vectors (``Recommender``), and
the command line ``python -m recbole_outfit.recommend`` (see ``__main__``).

The names below load on first use (PEP 562), so that the command line's ``--help`` and argument errors answer
before torch and RecBole are imported.
"""

import importlib

_EXPORTS = {"OutfitSearch": "compose", "SearchResult": "compose", "Slot": "compose", "Recommender": "recommender",
            "UnknownIdError": "recommender", "load_recommender": "recommender"}

__all__ = ["Recommender", "UnknownIdError", "load_recommender", "OutfitSearch", "SearchResult", "Slot"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
