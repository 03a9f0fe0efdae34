"""``OutfitDataset``: RecBole's ``Dataset`` over the converter's atomic files (DESIGN.md section 5).

RecBole loads ``<ds>.item`` (outfits), ``<ds>.garment`` (through ``additional_feat_suffix``) and the
pre-split ``<ds>.<split>.inter`` files (through ``benchmark_filename``) as usual. This subclass

* puts ``garments`` (the outfit's garment tokens) and ``garment_id`` into one id space, so an outfit's
  garment ids index the garment table directly;
* checks that every outfit an interaction names is defined in ``.item`` and every garment of an outfit in
  ``.garment`` (RecBole would silently give unknown ids empty features);
* exposes per-outfit tensors: ``outfit_garments`` ``[n_outfits, L]`` (0 = padding), ``outfit_mask``,
  ``outfit_categories``; per-garment ``garment_category`` and ``garment_image_row`` (the row of the
  garment's image in the image store); and :meth:`image_store`.
"""

import json
import os

import numpy as np
import pandas as pd
import torch
from recbole.data.dataset import Dataset

from recbole_outfit.data.image_store import ImageStore
from recbole_outfit.data.polyvore import CATEGORIES
from recbole_outfit.errors import DataFormatError, location

GARMENT_ID = "garment_id"  # .garment: the garment token
GARMENT_CATEGORY = "category"  # .garment: top / bottom / shoe
GARMENT_IMAGE = "image"  # .garment: JPEG file name
GARMENTS = "garments"  # .item: the outfit's garment tokens (token_seq)
CATEGORIES_FIELD = "categories"  # .item: their categories (token_seq)
NEG_GARMENTS = "neg_garments"  # training batches: sampled negative outfits [B, n, L]


class OutfitDataset(Dataset):
    """RecBole Dataset for outfit recommendation; see the module docstring."""

    def _init_alias(self):
        # RecBole remaps token fields of additional files (.garment) only through an alias group
        self._set_alias(GARMENT_ID, [GARMENT_ID, GARMENTS])
        self._set_alias(GARMENT_CATEGORY, [GARMENT_CATEGORY, CATEGORIES_FIELD])
        self._set_alias(GARMENT_IMAGE, [GARMENT_IMAGE])
        super()._init_alias()

    def _data_processing(self):
        self._check_references()
        super()._data_processing()
        self._build_outfit_tables()

    # ------------------------------------------------------------------ validation (raw tokens)

    def _path(self, suffix):
        return os.path.join(self.dataset_path, f"{self.dataset_name}.{suffix}")

    def _check_references(self):
        item_feat = getattr(self, "item_feat", None)
        garment_feat = getattr(self, "garment_feat", None)
        if item_feat is None or garment_feat is None or GARMENTS not in item_feat:
            raise DataFormatError(
                f"{self.dataset_name} has no outfit table (.item with {GARMENTS}) or garment table (.garment)",
                where=self.dataset_path,
                fix="convert the dataset with python -m recbole_outfit.data.convert, and keep "
                    "load_col: ~ and additional_feat_suffix: [garment] in the config",
            )
        known_outfits = set(item_feat[self.iid_field].values)
        inter_outfits = self.inter_feat[self.iid_field].values
        unknown = np.flatnonzero(~pd.Series(inter_outfits).isin(known_outfits).values)
        if len(unknown):
            row = int(unknown[0])
            file, line = self._inter_file_of(row)
            raise DataFormatError(
                f"outfit {inter_outfits[row]!r} is not defined in {self._path('item')} "
                f"({len(unknown)} such rows)", where=location(file, line),
                fix="re-run the converter (--force) so the .inter and .item files come from one conversion",
            )
        known_garments = set(garment_feat[GARMENT_ID].values)
        for row, tokens in enumerate(item_feat[GARMENTS].values):
            missing = [t for t in tokens if t not in known_garments]
            if missing:
                raise DataFormatError(
                    f"outfit {item_feat[self.iid_field].values[row]!r} uses garment {missing[0]!r} that "
                    f"{self._path('garment')} does not list", where=location(self._path("item"), row + 2),
                    fix="re-run the converter (--force)",
                )

    def _inter_file_of(self, row):
        """(file, 1-based line) of a row of the concatenated benchmark files."""
        sizes = getattr(self, "file_size_list", None) or [len(self.inter_feat)]
        names = self.benchmark_filename_list or ["inter"]
        for name, size in zip(names, sizes):
            if row < size:
                suffix = f"{name}.inter" if self.benchmark_filename_list else "inter"
                return self._path(suffix), row + 2
            row -= size
        return self._path("inter"), None

    # ------------------------------------------------------------------ tables (remapped ids)

    def _build_outfit_tables(self):
        garment_feat = self.garment_feat
        n_garments = self.num(GARMENT_ID)
        rows = np.full(n_garments, -1, dtype=np.int64)
        rows[garment_feat[GARMENT_ID].values] = np.arange(len(garment_feat))
        category_tokens = self.field2id_token[GARMENT_CATEGORY]
        unknown = sorted(set(category_tokens[1:]) - set(CATEGORIES))
        if unknown:
            raise DataFormatError(f"unknown garment categories {unknown}; expected {list(CATEGORIES)}",
                                  where=self._path("garment"), fix="re-run the converter")
        token_to_category = np.array([-1] + [CATEGORIES.index(t) for t in category_tokens[1:]])
        category = np.full(n_garments, -1, dtype=np.int64)
        category[garment_feat[GARMENT_ID].values] = token_to_category[garment_feat[GARMENT_CATEGORY].values]

        outfits = self.item_feat[GARMENTS].values  # arrays of garment ids, item 0 (padding) empty
        length = max(len(o) for o in outfits)
        table = np.zeros((len(outfits), length), dtype=np.int64)
        for i, garments in enumerate(outfits):
            table[i, : len(garments)] = garments
        self.outfit_garments = torch.from_numpy(table)  # [n_outfits, L]
        self.outfit_mask = self.outfit_garments > 0  # [n_outfits, L]
        self.garment_category = torch.from_numpy(category)  # [n_garments], -1 for padding
        self.garment_image_row = torch.from_numpy(rows)  # [n_garments], -1 for padding
        self.outfit_categories = torch.where(self.outfit_mask, self.garment_category[self.outfit_garments],
                                             torch.full_like(self.outfit_garments, -1))  # [n_outfits, L]
        self.max_outfit_length = length

    # ------------------------------------------------------------------ images and manifest

    def image_store_path(self):
        return self._path("images.npy")

    def image_store(self, place="auto"):
        """The garment image store (rows in ``.garment`` order), checked against the garment table."""
        store = ImageStore(self.image_store_path(), place=place)
        if len(store) != len(self.garment_feat):
            raise DataFormatError(
                f"image store has {len(store)} rows but {self._path('garment')} lists {len(self.garment_feat)} "
                f"garments", where=self.image_store_path(), fix="re-run the converter (--force)",
            )
        return store

    def manifest(self):
        path = self._path("manifest.json")
        if not os.path.isfile(path):
            return {}
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)

    def __str__(self):
        info = super().__str__()
        garments = len(self.garment_feat) if getattr(self, "garment_feat", None) is not None else 0
        return info + f"\nThe number of garments: {garments}"
