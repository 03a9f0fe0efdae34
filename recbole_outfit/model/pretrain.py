"""``AttributeClassifier``: AlexNet's convolutional features learning to name garment attributes, the stand-in
for the paper's ImageNet pretraining of the item encoders.

Paper (section 4.1.4): teacher and students start from AlexNet weights pretrained on ImageNet classification.
Ours: the same convolutional layers (:class:`~recbole_outfit.model.layers.AlexNetEncoder`, as every backbone
size has them) trained from scratch to predict the drawn attributes of a pool of synthetic garments
(:mod:`recbole_outfit.data.garment_pool`): global average pooling, one linear map to every attribute's classes,
and the sum of one cross-entropy per attribute. Only the convolutional features are kept; they are the part
every backbone size shares, so one pretraining serves the XS students and the large teacher alike (ImageNet
also gives AlexNet-large its fully-connected fc6 / fc7, which this task has no use for: they start random).
"""

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import InputType, ModelType

from recbole_outfit.model.layers import AlexNetEncoder, ImagePreprocessor


class AttributeClassifier(AbstractRecommender):
    """AlexNet features -> global average pooling -> one linear map to ``sum(heads.values())`` logits, split
    into one head per attribute. A stage model (its settings: ``properties/model/AttributeClassifier.yaml``);
    it scores no outfits.

    Args:
        heads: ``{attribute: number of classes}`` (:data:`~recbole_outfit.data.garment_pool.ATTRIBUTES`).
    """

    type = ModelType.GENERAL
    input_type = InputType.POINTWISE

    def __init__(self, heads):
        super().__init__()
        self.heads = dict(heads)
        self.preprocess = ImagePreprocessor(flip=True)  # the item encoders' normalisation and flip
        self.encoder = AlexNetEncoder(sum(self.heads.values()), fc_width=None)  # XS layout: features, GAP, linear

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

    def features_state(self):
        """The convolutional layers' tensors under torchvision's AlexNet names (``features.0.weight``, ...): what
        the item encoders of every size load."""
        return {f"features.{k}": v.detach().cpu().clone() for k, v in self.encoder.features.state_dict().items()}

    def calculate_loss(self, interaction):
        raise NotImplementedError("the attribute classifier trains on a garment pool (trainer/pretrain.py)")

    def predict(self, interaction):
        raise NotImplementedError("the attribute classifier is a pretraining model; it does not score outfits")
