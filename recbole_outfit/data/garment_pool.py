"""A pool of labelled synthetic garments for pretraining the item encoder: our stand-in for ImageNet.

The paper's item encoders start from ImageNet-pretrained AlexNet weights (section 4.1.4): the network has
learned to see before it learns what users like. Here the stand-in is a classification task on garments
drawn by the synthetic generator's own renderer (:func:`~recbole_outfit.data.synthetic.render_garment`),
labelled with the attributes the generator draws: category (top, bottom, shoe), colour (10), pattern (4)
and shape (3 silhouettes per category, 9 in all).

The pool never holds a garment of a dataset. A garment is its attributes and the seed its image is rendered
from (the seed places, sizes and colours it within its attribute values and draws the background noise).
The generator draws every dataset image's seed below :data:`~recbole_outfit.data.synthetic.RENDER_SEED_LIMIT`
(``2**31``); pool seeds lie at or above it, so no pool image is a dataset image, whatever seeds either uses.
Images go the dataset's way: rendered at ``render_px``, encoded as the generator's JPEGs (:func:`render_jpeg`),
decoded and resized to the stored ``image_size`` by the converter's decoder.
"""

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from recbole_outfit.data import polyvore
from recbole_outfit.data.image_store import decode_image
from recbole_outfit.data.synthetic import COLOURS, PATTERNS, RENDER_SEED_LIMIT, SHAPES, render_jpeg

SILHOUETTES = len(SHAPES["top"])  # silhouettes per category (three each in the generator's SHAPES)
# the attributes a pool garment is labelled with and their number of classes (the heads of the classifier)
ATTRIBUTES = {
    "category": len(polyvore.CATEGORIES),
    "colour": len(COLOURS),
    "pattern": len(PATTERNS),
    "shape": len(polyvore.CATEGORIES) * SILHOUETTES,  # a silhouette of its category: 3 x 3
}


@dataclass
class GarmentPool:
    """``images``: uint8 ``[n, 3, S, S]``; ``labels``: ``{attribute: int64 [n]}`` (see :data:`ATTRIBUTES`);
    ``render_seeds``: int64 ``[n]``, each >= ``RENDER_SEED_LIMIT``."""

    images: np.ndarray
    labels: dict
    render_seeds: np.ndarray

    def __len__(self):
        return len(self.images)


def draw_pool(n, seed, render_px, image_size, show_progress=True):
    """``n`` garments with uniformly drawn attributes, rendered at ``render_px`` and stored at ``image_size``
    like a dataset's images; the same ``seed`` gives the same pool."""
    rng = np.random.default_rng([seed, RENDER_SEED_LIMIT])  # a stream of its own, apart from any world's
    category = rng.integers(len(polyvore.CATEGORIES), size=n)
    colour = rng.integers(len(COLOURS), size=n)
    pattern = rng.integers(len(PATTERNS), size=n)
    silhouette = rng.integers(SILHOUETTES, size=n)
    render_seeds = RENDER_SEED_LIMIT + rng.integers(RENDER_SEED_LIMIT, size=n)  # [2**31, 2**32)
    images = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    for i in tqdm(range(n), unit="img", desc="Drawing the pretraining pool", disable=not show_progress, ncols=100):
        name = polyvore.CATEGORIES[category[i]]
        jpeg = render_jpeg(name, int(colour[i]), int(pattern[i]), int(silhouette[i]), int(render_seeds[i]), render_px)
        images[i] = decode_image(jpeg, image_size)
    labels = {"category": category, "colour": colour, "pattern": pattern, "shape": category * SILHOUETTES + silhouette}
    return GarmentPool(images, {k: v.astype(np.int64) for k, v in labels.items()}, render_seeds.astype(np.int64))
