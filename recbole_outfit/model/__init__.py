"""The plugin's models, registered by class name (``--model=<name>``)."""

from recbole_outfit.model.fndcl import FND, FNDCL
from recbole_outfit.model.outfit_recommender import OutfitRecommender
from recbole_outfit.model.teacher import Teacher

MODELS = {cls.__name__: cls for cls in (Teacher, FNDCL, FND)}
