"""The bare item encoder, the yardstick of the scale benchmark: what scoring and training would cost if they
did nothing but run the encoder.

* **scoring**: the item encoder's forward over the distinct garments of the test split, in the model's
  ``garment_batch_size`` chunks, the images already in memory as one uint8 tensor on the device (no store
  reads, no outfit encoder, no per-row scoring). Full scoring's garments per second against this is the
  share of the pass spent outside the encoder (goal: >= 0.9).
* **training step**: the encoder's forward and backward over the distinct garments of training batches drawn
  from the real loader, images pre-gathered, gradient of the features' sum. A real step (batch, negatives,
  store reads, outfit encoder, loss, backward, SGD step) against this (goal: <= 1.1x).
"""

import time

import numpy as np
import torch

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _images_of(model, garments, device):
    """uint8 ``[G, 3, S, S]`` on ``device`` for garment ids ``garments`` (read once, outside the timing)."""
    rows = model.garment_image_row[garments.to(model.garment_image_row.device)].cpu().numpy()
    return torch.from_numpy(np.ascontiguousarray(model.images.array[rows])).to(device)


def scored_garments_of(dataset, loader):
    """The distinct garment ids ``[G]`` of the rows of ``loader`` (what one scoring pass encodes)."""
    garments = dataset.outfit_garments[loader._dataset.inter_feat[dataset.iid_field]]  # [rows, L]
    return torch.unique(garments[garments > 0])


@torch.no_grad()
def bare_scoring(model, garments, device, repeats=1):
    """Garments per second of the item encoder's forward over ``garments`` (mean over ``repeats`` passes)."""
    model.eval()
    images = _images_of(model, garments, device)  # [G, 3, S, S]
    model.item_encoder(model.preprocess(images[: model.garment_batch_size]))  # warm-up
    seconds = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        for part in images.split(model.garment_batch_size):
            model.item_encoder(model.preprocess(part))
        _sync(device)
        seconds.append(time.perf_counter() - started)
    return len(garments) / float(np.mean(seconds))


def batch_garments(interaction):
    """Distinct garment ids of a training batch's positives and sampled negatives."""
    outfits = torch.cat([interaction[GARMENTS], interaction[NEG_GARMENTS].flatten(0, 1)])  # [B + B*n, L]
    return torch.unique(outfits[outfits > 0])


def bare_steps(model, loader, device, steps, warmup=2):
    """(mean seconds, mean garments) of the item encoder's forward + backward per training batch, over the
    distinct garments of ``warmup + steps`` batches drawn from ``loader`` (timed: the last ``steps``)."""
    model.train()
    batches = iter(loader)
    seconds, counts = [], []
    for step in range(warmup + steps):
        try:
            interaction = next(batches)
        except StopIteration:
            batches = iter(loader)
            interaction = next(batches)
        garments = batch_garments(interaction)
        images = _images_of(model, garments, device)  # outside the timing: the bare encoder reads nothing
        model.zero_grad(set_to_none=True)
        _sync(device)
        started = time.perf_counter()
        for part in images.split(model.garment_batch_size):
            model.item_encoder(model.preprocess(part)).float().sum().backward()
        _sync(device)
        if step >= warmup:
            seconds.append(time.perf_counter() - started)
            counts.append(len(garments))
    model.zero_grad(set_to_none=True)
    return float(np.mean(seconds)), float(np.mean(counts))
