"""Garments that are not in the catalogue: photos (image files, PIL images, bytes) given to a trained model.

A photo is preprocessed exactly as the dataset's image store was built (``data.image_store.fit_image``: RGB,
bilinear resize to the store's side, no crop), hashed by its pixels (SHA-256 of the uint8 ``[3, S, S]``
array) and encoded once by the model's item encoder f; later uses of the same pixels reuse the feature.
Each photo gets a token ``photo:<first 16 hex digits of the hash>`` and an internal garment id after the
catalogue's (``n_catalogue + index``), so it can stand in any outfit or fixed slot beside catalogue garments.

The registry holds at most ``capacity`` photos (features and pixels); when full it starts again empty, which is
safe because ids are only meaningful inside one call (the caller holds the model for that call).
"""

import hashlib
import io
import os
from logging import getLogger

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from recbole_outfit.data.image_store import fit_image
from recbole_outfit.errors import ConfigError

PHOTO_PREFIX = "photo:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class PhotoRef(int):
    """The internal id of a registered photo, marked apart from a garment id given as an ``int``."""


class PhotoError(ConfigError):
    """A photo that cannot be used (unreadable, not an image, too many pixels)."""


def is_photo(value):
    """True for values that can only be a photo: PIL images, numpy arrays, bytes, ``os.PathLike``."""
    return isinstance(value, (Image.Image, np.ndarray, bytes, bytearray, os.PathLike))


def photo_pixels(source, size, max_pixels=None, where="photo"):
    """A photo -> uint8 ``[3, size, size]`` as the image store holds it.

    ``source``: a file path (``str`` or ``os.PathLike``), the file's bytes, a PIL image, or a uint8 array
    ``[H, W, 3]`` (RGB). ``max_pixels``: refuse larger images (width x height) before decoding them.
    """
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8 or source.ndim != 3 or source.shape[2] != 3:
            raise PhotoError(f"a photo array must be uint8 [H, W, 3], got {source.dtype} {list(source.shape)}",
                             where=where, fix="give an RGB uint8 array, an image file or a PIL image")
        source = Image.fromarray(source)
    if isinstance(source, Image.Image):
        _check_pixels(source, max_pixels, where)
        return fit_image(source, size)
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise PhotoError(f"no such image file {path!r}", where=where, fix="give the path of a JPEG or PNG file")
        with open(path, "rb") as f:
            data = f.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            _check_pixels(image, max_pixels, where)
            return fit_image(image, size)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise PhotoError(f"{where} is not a readable image ({type(error).__name__}: {error})", where=where,
                         fix="give a JPEG, PNG or WebP image file") from error


def _check_pixels(image, max_pixels, where):
    width, height = image.size
    if max_pixels and width * height > max_pixels:
        raise PhotoError(f"{where} has {width} x {height} = {width * height:,} pixels, more than {max_pixels:,}",
                         where=where, fix=f"resize it to at most {max_pixels:,} pixels")


def pixel_hash(pixels):
    """SHA-256 (hex) of a uint8 ``[3, S, S]`` array, its shape included."""
    digest = hashlib.sha256(str(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()


class PhotoRegistry:
    """Photos seen since the model was loaded: token -> internal id, feature and pixels.

    Args:
        model: the trained ``OutfitRecommender`` (its ``preprocess`` and ``item_encoder`` encode the photos).
        n_catalogue: garment ids below this are the catalogue's; photo ``p`` has id ``n_catalogue + p``.
        capacity: photos kept before the registry starts again empty.
    """

    def __init__(self, model, n_catalogue, capacity=1024):
        self.model = model
        self.n_catalogue = n_catalogue
        self.capacity = capacity
        self.size = model.images.image_size
        self.clear()

    def clear(self):
        self.index = {}  # token -> p (replaced first: readers then find nothing rather than a wrong row)
        self.tokens = []  # [P] "photo:<hash16>"
        self.pixels = []  # [P] uint8 [3, S, S]
        self.features = None  # [P, d] on the model's device

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.index

    def is_photo_id(self, gid):
        return gid >= self.n_catalogue

    def token(self, gid):
        return self.tokens[gid - self.n_catalogue]

    def id_of(self, token):
        """Internal id of a registered photo token, or None."""
        p = self.index.get(token)
        return None if p is None else self.n_catalogue + p

    def image(self, token):
        """uint8 ``[S, S, 3]`` of a registered photo token (KeyError when it is not registered)."""
        index, pixels = self.index, self.pixels
        p = index[token]
        if p >= len(pixels):
            raise KeyError(token)
        return pixels[p].transpose(1, 2, 0)

    @torch.no_grad()
    def add(self, sources, max_pixels=None, where="photo"):
        """Photos -> their internal ids (each distinct set of pixels encoded once, in one batch)."""
        pixels = [photo_pixels(s, self.size, max_pixels, where=f"{where} {i + 1}" if len(sources) > 1 else where)
                  for i, s in enumerate(sources)]
        tokens = [PHOTO_PREFIX + pixel_hash(p)[:16] for p in pixels]
        new = {t: p for t, p in zip(tokens, pixels) if t not in self.index}
        if len(self) + len(new) > self.capacity:
            self.clear()
            new = dict(zip(tokens, pixels))
        if new:
            if len(new) > 8:
                getLogger().warning(f"Encoding {len(new)} new photos")
            features = self._encode(list(new.values()))
            for token, array in new.items():  # lists first, then the index: a reader in another thread (the
                self.pixels.append(array)          # page's image route) never finds a token without its pixels
                self.tokens.append(token)
                self.index[token] = len(self.tokens) - 1
            self.features = features if self.features is None else torch.cat([self.features, features])
        return [self.n_catalogue + self.index[t] for t in tokens]

    def _encode(self, pixels):
        """uint8 ``[n, 3, S, S]`` -> item features ``[n, d]`` float32, as ``OutfitRecommender.encode_images``."""
        model = self.model
        device = model.user_embedding.weight.device
        batch = torch.from_numpy(np.stack(pixels))
        chunks = [model.item_encoder(model.preprocess(part.to(device))).float()
                  for part in batch.split(model.garment_batch_size)]
        return torch.cat(chunks)

    def feature_rows(self, gids):
        """Features ``[n, d]`` of photo ids ``[n]`` (each >= ``n_catalogue``)."""
        return self.features[(gids - self.n_catalogue).to(self.features.device)]
