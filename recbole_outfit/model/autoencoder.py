"""The CNN autoencoder behind the ``replace`` augmentation (paper section 3.3.2) and its neighbour table.

``GarmentAutoencoder`` reconstructs garment images (resized to 32 x 32) through a ``latent``-dim code; it is
trained by RecBole's own ``Trainer`` on batches of garment ids (:class:`GarmentDataLoader`), like any model.
:func:`neighbour_table` then ranks, for every training garment, the other training garments of its
category by cosine similarity of their codes and keeps the top k. Only training garments are used, so no
test image is seen during training.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.data.dataloader.abstract_dataloader import AbstractDataLoader
from recbole.data.interaction import Interaction
from recbole.model.abstract_recommender import AbstractRecommender
from recbole.utils import InputType, ModelType

from recbole_outfit.data.dataset import GARMENT_ID
from recbole_outfit.model.layers import ImagePreprocessor

RECONSTRUCTION_SIZE = 32


class GarmentAutoencoder(AbstractRecommender):
    """Conv encoder (3 stride-2 convs, pooled to 4x4, linear to ``autoencoder_latent``) and a mirrored decoder."""

    type = ModelType.GENERAL
    input_type = InputType.POINTWISE

    def __init__(self, config, dataset):
        super().__init__()
        # load parameters info
        latent = config["autoencoder_latent"]
        self.garment_batch_size = config["garment_batch_size"]
        self.images = dataset.image_store(place=config["image_store_place"])
        self.register_buffer("garment_image_row", dataset.garment_image_row.clone(), persistent=False)

        # define layers
        self.preprocess = ImagePreprocessor(flip=False)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, 32, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, 128, 4, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128 * 16, latent),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, 128 * 16), nn.ReLU(inplace=True), nn.Unflatten(1, (128, 4, 4)),
            nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # 8 x 8
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(inplace=True),  # 16 x 16
            nn.ConvTranspose2d(32, 3, 4, stride=2, padding=1),  # 32 x 32
        )

    def _images(self, garments):
        device = self.garment_image_row.device
        images = self.preprocess(self.images.gather(self.garment_image_row[garments], device))  # [B, 3, S, S]
        return images, F.interpolate(images, size=RECONSTRUCTION_SIZE, mode="bilinear", align_corners=False)

    def calculate_loss(self, interaction):
        images, target = self._images(interaction[GARMENT_ID])
        return F.mse_loss(self.decoder(self.encoder(images)), target)

    @torch.no_grad()
    def encode(self, garments):
        """Codes ``[G, latent]`` of garment ids ``[G]``."""
        self.eval()
        return torch.cat([self.encoder(self._images(part)[0]) for part in garments.split(self.garment_batch_size)])

    def predict(self, interaction):
        raise NotImplementedError("the garment autoencoder is a preprocessing model; it does not score outfits")


class GarmentDataLoader(AbstractDataLoader):
    """Shuffled batches of garment ids (``autoencoder_batch_size``) for training the autoencoder."""

    def __init__(self, config, dataset, garments, shuffle=True):
        self.garments = garments
        self.sample_size = len(garments)
        super().__init__(config, dataset, None, shuffle=shuffle)

    def _init_batch_size_and_step(self):
        self.step = self.config["autoencoder_batch_size"]
        self.set_batch_size(self.step)

    def collate_fn(self, index):
        return Interaction({GARMENT_ID: self.garments[torch.as_tensor(np.array(index))]})


def training_garments(dataset):
    """Distinct garment ids of the training positives (``dataset`` = the training split)."""
    outfits = dataset.outfit_garments[dataset.inter_feat[dataset.iid_field]]
    return torch.unique(outfits[outfits > 0])


def neighbour_table(codes, garments, categories, n_garments, k, chunk=1024):
    """Top-k same-category neighbours by cosine similarity of autoencoder codes.

    Args:
        codes: ``[G, latent]`` codes of ``garments`` ``[G]``; categories: ``[n_garments]`` category ids.
    Returns:
        LongTensor ``[n_garments, k]``: row g holds g's nearest garments (``-1`` where g is not a training
        garment or its category has fewer than k + 1 garments).
    """
    table = torch.full((n_garments, k), -1, dtype=torch.long)
    codes = F.normalize(codes.float(), dim=1)
    garment_categories = categories[garments]
    for category in torch.unique(garment_categories).tolist():
        members = garments[garment_categories == category]
        member_codes = codes[garment_categories == category]
        take = min(k, len(members) - 1)
        if take <= 0:
            continue
        for start in range(0, len(members), chunk):
            similarity = member_codes[start:start + chunk] @ member_codes.t()  # [c, m]
            rows = torch.arange(start, min(start + chunk, len(members)))
            similarity[torch.arange(len(rows)), rows] = -2.0  # not itself
            best = similarity.topk(take, dim=1).indices
            table[members[rows], :take] = members[best]
    return table
