"""The plugin's models, registered by class name (``--model=<name>``)."""

from recbole_outfit.model.bilstm import BiLSTM
from recbole_outfit.model.fhn import FHN
from recbole_outfit.model.fndcl import FND, FNDCL
from recbole_outfit.model.lpae import LPAE
from recbole_outfit.model.npair import NPair
from recbole_outfit.model.outfit_bpr import OutfitBPR
from recbole_outfit.model.outfit_recommender import OutfitRecommender
from recbole_outfit.model.outfitnet import OutfitNet, OutfitNetFIR
from recbole_outfit.model.scenet import SCENet
from recbole_outfit.model.teacher import Teacher
from recbole_outfit.model.type_aware import TypeAware

MODELS = {cls.__name__: cls for cls in (Teacher, NPair, FND, FNDCL, OutfitBPR, LPAE, FHN,
                                        TypeAware, SCENet, BiLSTM, OutfitNet, OutfitNetFIR)}

__all__ = ["MODELS", "OutfitRecommender", *MODELS]
