"""``AttributeClassifier``: AlexNet learning to name garment attributes, the stand-in for the paper's ImageNet
pretraining of the item encoders.

Paper (section 4.1.4): teacher and students start from AlexNet weights pretrained on ImageNet classification.
Ours: the same layers (:class:`~recbole_outfit.model.layers.AlexNetEncoder`) trained from scratch to predict
the drawn attributes of a pool of synthetic garments (:mod:`recbole_outfit.data.garment_pool`), with the sum of
one cross-entropy per attribute. Two heads (``pretrain_head``):

* ``gap`` (the default): the convolutional features, global average pooling and one linear map to every
  attribute's classes. Only the convolutional layers are kept: the part every backbone size shares, so the
  large teacher's fully-connected fc6 / fc7 start random.
* ``classifier``: AlexNet's own classifier (fc6, fc7, width 4096) before the linear map, as ImageNet's AlexNet
  has it. The convolutional layers *and* fc6 / fc7 are kept under torchvision's names, so the large teacher
  starts from pretrained fc6 / fc7 as it does from ImageNet's file, and the students (whose layers after the
  convolutions have other shapes) take the convolutional layers only.
"""

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import InputType, ModelType

from recbole_outfit.model.layers import (BACKBONE_FC_WIDTH, AlexNetEncoder, ImagePreprocessor,
                                         torchvision_alexnet_state)
from recbole_outfit.options import choose



class AttributeClassifier(AbstractRecommender):
    """AlexNet features -> ``head`` -> ``sum(heads.values())`` logits, split into one head per attribute. A
    stage model (its settings: ``properties/model/AttributeClassifier.yaml``); it scores no outfits.

    Args:
        heads: ``{attribute: number of classes}`` (:data:`~recbole_outfit.data.garment_pool.ATTRIBUTES`).
        head: ``gap`` (global average pooling, one linear map) or ``classifier`` (AlexNet's fc6 / fc7, then
            one linear map); see the module docstring.
    """

    type = ModelType.GENERAL
    input_type = InputType.POINTWISE

    def __init__(self, heads, head="gap"):
        super().__init__()
        head = choose("pretrain_head", head)  # what follows the convolutions while pretraining (module docstring)
        self.heads = dict(heads)
        self.preprocess = ImagePreprocessor(flip=True)  # the item encoders' normalisation and flip
        # gap: the XS layout (features, GAP, linear); classifier: the large layout (features, fc6, fc7, linear)
        fc_width = BACKBONE_FC_WIDTH["large"] if head == "classifier" else None
        self.encoder = AlexNetEncoder(sum(self.heads.values()), fc_width=fc_width)

    def logits(self, images):
        """uint8 ``[B, 3, S, S]`` -> ``{attribute: [B, classes]}``."""
        out = self.encoder(self.preprocess(images))  # [B, sum of classes]
        return dict(zip(self.heads, out.split(list(self.heads.values()), dim=1)))

    def loss(self, images, labels):
        """Sum over attributes of the cross-entropy; ``labels``: ``{attribute: int64 [B]}``."""
        logits = self.logits(images)
        return sum(F.cross_entropy(logits[name], labels[name]) for name in self.heads)

    @torch.no_grad()
    def correct(self, images, labels):
        """``{attribute: number of images whose class is predicted right}`` (in eval mode: no flip)."""
        logits = self.logits(images)
        return {name: int((logits[name].argmax(1) == labels[name]).sum()) for name in self.heads}

    def backbone_state(self):
        """What the item encoders load, under torchvision's AlexNet names: the convolutional layers
        (``features.0.weight``, ...), and fc6 / fc7 (``classifier.1.*`` / ``classifier.4.*``) with the
        ``classifier`` head."""
        return torchvision_alexnet_state(self.encoder)

    def calculate_loss(self, interaction):
        raise NotImplementedError("the attribute classifier trains on a garment pool (trainer/attribute_pretraining.py)")

    def predict(self, interaction):
        raise NotImplementedError("the attribute classifier is a pretraining model; it does not score outfits")
