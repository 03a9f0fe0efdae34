"""Use a trained outfit model: scores, rankings, composed outfits, new users, vectors (``Recommender``), and
the command line ``python -m recbole_outfit.recommend`` (see ``__main__``)."""

from recbole_outfit.recommend.compose import OutfitSearch, SearchResult, Slot
from recbole_outfit.recommend.recommender import Recommender, UnknownIdError, load_recommender

__all__ = ["Recommender", "UnknownIdError", "load_recommender", "OutfitSearch", "SearchResult", "Slot"]
