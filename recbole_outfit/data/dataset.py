"""``OutfitDataset``: RecBole's ``Dataset`` over the converter's atomic files (docs/architecture.md, "Atomic files").

RecBole loads ``<ds>.item`` (outfits), ``<ds>.garment`` (through ``additional_feat_suffix``) and the
pre-split ``<ds>.<split>.inter`` files (through ``benchmark_filename``) as usual. This subclass

* puts ``garments`` (the outfit's garment tokens) and ``garment_id`` into one id space, so an outfit's
  garment ids index the garment table directly;
* checks that every outfit an interaction names is defined in ``.item`` and every garment of an outfit in
  ``.garment`` (RecBole would silently give unknown ids empty features);
* exposes per-outfit tensors: ``outfit_garments`` ``[n_outfits, L]`` (0 = padding), ``outfit_mask``,
  ``outfit_categories``; per-garment ``garment_category`` (an index into ``categories``, the dataset's
  category names in the order its manifest gives: Polyvore-U's top, bottom, shoe, or an imported
  catalogue's own) and ``garment_image_row`` (the row of the garment's image in the image store); and
  :meth:`image_store`;
* reads atomic files with pandas' C parser (``fast_loader: True``) instead of RecBole's python-engine
  reader, with the same fields, types, sequence lengths and values (:meth:`_load_feat`), and checks and
  builds its tables with array operations: at Polyvore-630 size loading takes seconds instead of a minute.
"""

import os

import numpy as np
import pandas as pd
import torch
from recbole.data.dataset import Dataset
from recbole.data.interaction import Interaction
from recbole.utils import FeatureSource, FeatureType

from recbole_outfit.data.convert import read_manifest
from recbole_outfit.data.image_store import ImageStore
from recbole_outfit.data.polyvore import CATEGORIES
from recbole_outfit.errors import DataFormatError, location

GARMENT_ID = "garment_id"  # .garment: the garment token
GARMENT_CATEGORY = "category"  # .garment: the garment's category (a name of the dataset's ``categories``)
GARMENT_IMAGE = "image"  # .garment: JPEG file name
GARMENTS = "garments"  # .item: the outfit's garment tokens (token_seq)
CATEGORIES_FIELD = "categories"  # .item: their categories (token_seq)
NEG_GARMENTS = "neg_garments"  # training batches: sampled negative outfits [B, n, L]
NEG_OWNED = "neg_owned"  # training batches: [B, B + B*n] bool, scored outfit m is a training positive of row b's user


def split_rows(flat, lengths):
    """``flat`` cut into consecutive rows of ``lengths`` (views): ``np.split`` without its per-piece cost."""
    ends = np.cumsum(lengths).tolist()
    return [flat[start:end] for start, end in zip([0] + ends[:-1], ends)]


def split_token_rows(values, separator):
    """Rows of ``separator``-joined tokens -> one array per row of its non-empty tokens.

    values: object array ``[R]`` of str. Equal, row by row, to RecBole's
    ``np.array(list(filter(None, row.split(separator))))``, computed with one split over the whole column:
    rows are joined with a marker token between them, so the row of every token is the number of markers
    before it. The rows are views of one object array of str (RecBole's are numpy unicode arrays: the
    same strings, and the same ids once remapped).
    """
    if not len(values):
        return []
    marker = "\x01"  # a control character no token holds (numpy would strip a trailing NUL)
    if any(marker in row for row in values):
        return [np.array(list(filter(None, row.split(separator)))) for row in values]
    tokens = np.array(f"{separator}{marker}{separator}".join(values).split(separator), dtype=object)  # + markers, ""
    is_marker = tokens == marker
    row = np.cumsum(is_marker)  # [T] row index of each token
    keep = ~is_marker & (tokens != "")
    lengths = np.bincount(row[keep], minlength=len(values))  # [R] non-empty tokens per row
    return split_rows(tokens[keep], lengths)


def pad_rows(rows, max_length):
    """Integer rows (arrays of different lengths) -> int64 array ``[R, W]``: each row cut to ``max_length``
    and right-padded with 0, W = the longest cut row; ``pad_sequence`` over ``LongTensor(row[:max_length])``
    in one operation."""
    full = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))  # [R]
    lengths = np.minimum(full, max_length)
    if (lengths < full).any():
        rows = [row[:max_length] for row in rows]
    width = int(lengths.max()) if len(rows) else 0
    table = np.zeros((len(rows), width), dtype=np.int64)
    if width:
        table[np.arange(width) < lengths[:, None]] = np.concatenate(list(rows))  # row-major = row order
    return table


class OutfitDataset(Dataset):
    """RecBole Dataset for outfit recommendation; see the module docstring."""

    def _init_alias(self):
        # RecBole remaps token fields of additional files (.garment) only through an alias group
        self._set_alias(GARMENT_ID, [GARMENT_ID, GARMENTS])
        self._set_alias(GARMENT_CATEGORY, [GARMENT_CATEGORY, CATEGORIES_FIELD])
        self._set_alias(GARMENT_IMAGE, [GARMENT_IMAGE])
        super()._init_alias()

    def _data_processing(self):
        self._check_tables()
        super()._data_processing()
        self._build_outfit_tables()

    def _remap_ID_all(self):
        super()._remap_ID_all()
        self._check_references()  # on the remapped ids, before RecBole adds rows for ids without features

    # ------------------------------------------------------------------ reading atomic files

    def _load_feat(self, filepath, source):
        """RecBole's ``Dataset._load_feat`` (same header parsing, field properties, ``load_col`` /
        ``unload_col``, ``seq_len``) with pandas' C parser and whole-column sequence splitting.

        RecBole reads with pandas' python engine and splits every sequence row in Python, about 35 s for a
        Polyvore-630-sized set; this gives the same DataFrame (column names, float64 / str values, each
        ``token_seq`` row an array of its non-empty tokens) in a few seconds. Files the C parser cannot read
        the same way (a separator longer than one character, ``float_seq`` fields) go to RecBole's reader,
        as does everything with ``fast_loader: False``.
        """
        separator, seq_separator = self.config["field_separator"], self.config["seq_separator"]
        if not self.config["fast_loader"] or len(separator) != 1 or not seq_separator:
            return super()._load_feat(filepath, source)
        load_col, unload_col = self._get_load_and_unload_col(source)
        if load_col == set():
            return None
        encoding = self.config["encoding"]
        with open(filepath, "r", encoding=encoding) as f:
            head = f.readline()[:-1]
        header = []
        for field_type in head.split(separator):
            field, ftype = field_type.split(":")
            try:
                ftype = FeatureType(ftype)
            except ValueError:
                raise DataFormatError(f"field {field!r} has the type {ftype!r}, which RecBole does not know",
                                      where=location(filepath, 1),
                                      fix="write the header as name:token, name:token_seq, name:float or "
                                          "name:float_seq") from None
            if ftype == FeatureType.FLOAT_SEQ:
                return super()._load_feat(filepath, source)
            header.append((field, ftype, field_type))
        columns, usecols, dtype = [], [], {}
        for field, ftype, field_type in header:
            if (load_col is not None and field not in load_col) or (unload_col is not None and field in unload_col):
                continue
            if isinstance(source, FeatureSource) or source != "link":  # RecBole's field properties
                self.field2source[field] = source
                self.field2type[field] = ftype
                if not ftype.value.endswith("seq"):
                    self.field2seqlen[field] = 1
                if "float" in ftype.value:
                    self.field2bucketnum[field] = 2
            columns.append(field)
            usecols.append(field_type)
            dtype[field_type] = np.float64 if ftype == FeatureType.FLOAT else str
        if not columns:
            self.logger.warning(f"No columns has been loaded from [{source}]")
            return None
        # round_trip: floats parsed exactly as Python's float() (the python engine's) parses them
        df = pd.read_csv(filepath, delimiter=separator, usecols=usecols, dtype=dtype, encoding=encoding,
                         engine="c", float_precision="round_trip")
        df.columns = columns
        seq_len = self.config["seq_len"] or {}
        for field in columns:
            if self.field2type[field] != FeatureType.TOKEN_SEQ:
                continue
            rows = split_token_rows(df[field].fillna("").to_numpy(dtype=object), seq_separator)
            max_seq_len = max(map(len, rows)) if rows else 0
            if field in seq_len:
                rows = [row[: seq_len[field]] for row in rows]
                self.field2seqlen[field] = min(seq_len[field], max_seq_len)
            else:
                self.field2seqlen[field] = max_seq_len
            df[field] = rows
        return df

    # ------------------------------------------------------------------ remapping and tensors (fast path)

    def _concat_remaped_tokens(self, remap_list):
        """RecBole's, with ``np.concatenate`` over a column's rows instead of ``Series.agg`` (same array)."""
        if not self.config["fast_loader"]:
            return super()._concat_remaped_tokens(remap_list)
        tokens = []
        for feat, field, ftype in remap_list:
            if ftype == FeatureType.TOKEN:
                tokens.append(feat[field].values)
            elif ftype == FeatureType.TOKEN_SEQ:
                tokens.append(np.concatenate(list(feat[field].values)))
        split_point = np.cumsum(list(map(len, tokens)))[:-1]
        return np.concatenate(tokens), split_point

    def _remap(self, remap_list):
        """RecBole's ``_remap`` (``pandas.factorize`` over the concatenated tokens, ids from 1, ``[PAD]`` = 0)
        with the sequence lengths counted by one pass instead of ``Series.agg(len)``."""
        if not self.config["fast_loader"]:
            return super()._remap(remap_list)
        if len(remap_list) == 0:
            return
        tokens, split_point = self._concat_remaped_tokens(remap_list)
        new_ids_list, mp = pd.factorize(tokens)
        new_ids_list = np.split(new_ids_list + 1, split_point)
        mp = np.array(["[PAD]"] + list(mp))
        token_id = dict(zip(mp, range(len(mp))))  # RecBole's {token: id}, keys numpy str as in RecBole
        for (feat, field, ftype), new_ids in zip(remap_list, new_ids_list):
            if field not in self.field2id_token:
                self.field2id_token[field] = mp
                self.field2token_id[field] = token_id
            if ftype == FeatureType.TOKEN:
                feat[field] = new_ids
            elif ftype == FeatureType.TOKEN_SEQ:
                lengths = np.fromiter(map(len, feat[field].values), dtype=np.int64, count=len(feat))
                feat[field] = split_rows(new_ids, lengths)

    def _fill_nan(self):
        """RecBole's missing-value filling (token 0, a float field's mean, an empty array for a sequence), with
        the missing rows of sequence fields found by ``isna`` instead of a Python call on every row (1M calls
        for a Polyvore-630-sized outfit table; the missing rows are the few ids RecBole added without
        features)."""
        if not self.config["fast_loader"]:
            return super()._fill_nan()
        for feat_name in self.feat_name_list:
            feat = getattr(self, feat_name)
            for field in feat:
                ftype = self.field2type[field]
                if ftype == FeatureType.TOKEN:
                    feat[field] = feat[field].fillna(value=0)
                elif ftype == FeatureType.FLOAT:
                    feat[field] = feat[field].fillna(value=feat[field].mean())
                else:
                    missing = np.flatnonzero(feat[field].isna().to_numpy()).tolist()
                    if missing:
                        dtype = np.int64 if ftype == FeatureType.TOKEN_SEQ else np.float64
                        column = feat[field].to_numpy(dtype=object, copy=True)
                        for row in missing:
                            column[row] = np.array([], dtype=dtype)
                        feat[field] = column

    def _dataframe_to_interaction(self, data):
        """RecBole's conversion to an ``Interaction``, with ``token_seq`` fields padded by one array
        operation instead of one tensor per row and ``pad_sequence`` (same ``[N, max length]`` int64
        tensor, 0 = padding). Frames with ``float_seq`` fields, or none of rows, go to RecBole's."""
        float_seq = any(self.field2type[k] == FeatureType.FLOAT_SEQ for k in data)
        if not self.config["fast_loader"] or float_seq or len(data) == 0:
            return super()._dataframe_to_interaction(data)
        new_data = {}
        for k in data:
            value = data[k].values
            ftype = self.field2type[k]
            if ftype == FeatureType.TOKEN:
                new_data[k] = torch.LongTensor(value)
            elif ftype == FeatureType.FLOAT:
                if k in self.config["numerical_features"]:
                    new_data[k] = torch.FloatTensor(value.tolist())
                else:
                    new_data[k] = torch.FloatTensor(value)
            elif ftype == FeatureType.TOKEN_SEQ:
                new_data[k] = torch.from_numpy(pad_rows(value, self.field2seqlen[k]))
        return Interaction(new_data)

    # ------------------------------------------------------------------ validation (raw tokens)

    def _path(self, suffix):
        return os.path.join(self.dataset_path, f"{self.dataset_name}.{suffix}")

    def _check_tables(self):
        item_feat = getattr(self, "item_feat", None)
        garment_feat = getattr(self, "garment_feat", None)
        if item_feat is None or garment_feat is None or GARMENTS not in item_feat:
            raise DataFormatError(
                f"{self.dataset_name} has no outfit table (.item with {GARMENTS}) or garment table (.garment)",
                where=self.dataset_path,
                fix="convert the dataset with python -m recbole_outfit.data.convert, and keep "
                    "load_col: ~ and additional_feat_suffix: [garment] in the config",
            )

    def _check_references(self):
        """Every outfit an interaction names is defined in ``.item``, every garment of an outfit in
        ``.garment`` (RecBole would silently give unknown ids empty features). Runs on the remapped ids (one
        id space per alias group), so it costs array lookups, not string hashing."""
        outfit_tokens = self.field2id_token[self.iid_field]
        defined = np.zeros(len(outfit_tokens), dtype=bool)  # [outfit ids]
        defined[self.item_feat[self.iid_field].values] = True
        inter_outfits = self.inter_feat[self.iid_field].values
        unknown = np.flatnonzero(~defined[inter_outfits])
        if len(unknown):
            row = int(unknown[0])
            file, line = self._inter_file_of(row)
            raise DataFormatError(
                f"outfit {str(outfit_tokens[inter_outfits[row]])!r} is not defined in {self._path('item')} "
                f"({len(unknown)} such rows)", where=location(file, line),
                fix="re-run the converter (--force) so the .inter and .item files come from one conversion",
            )
        garment_tokens = self.field2id_token[GARMENT_ID]
        listed = np.zeros(len(garment_tokens), dtype=bool)  # [garment ids]
        listed[self.garment_feat[GARMENT_ID].values] = True
        outfits = self.item_feat[GARMENTS].values  # one array of garment ids per outfit
        lengths = np.fromiter(map(len, outfits), dtype=np.int64, count=len(outfits))
        garments = np.concatenate(list(outfits)).astype(np.int64) if len(outfits) else np.zeros(0, dtype=np.int64)
        unknown = np.flatnonzero(~listed[garments])
        if len(unknown):
            row = int(np.searchsorted(np.cumsum(lengths), unknown[0], side="right"))  # the outfit holding it
            raise DataFormatError(
                f"outfit {str(outfit_tokens[self.item_feat[self.iid_field].values[row]])!r} uses garment "
                f"{str(garment_tokens[garments[unknown[0]]])!r} that {self._path('garment')} does not list",
                where=location(self._path("item"), row + 2), fix="re-run the converter (--force)",
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
        self.categories = self._category_names(category_tokens, garment_feat[GARMENT_CATEGORY].values)
        token_to_category = np.array([-1] + [self.categories.index(t) for t in category_tokens[1:]])
        category = np.full(n_garments, -1, dtype=np.int64)
        category[garment_feat[GARMENT_ID].values] = token_to_category[garment_feat[GARMENT_CATEGORY].values]

        outfits = self.item_feat[GARMENTS].values  # arrays of garment ids, item 0 (padding) empty
        table = pad_rows(outfits, max(map(len, outfits)))  # [n_outfits, L], 0 = padding
        self.outfit_garments = torch.from_numpy(table)  # [n_outfits, L]
        self.outfit_mask = self.outfit_garments > 0  # [n_outfits, L]
        self.garment_category = torch.from_numpy(category)  # [n_garments], -1 for padding
        self.garment_image_row = torch.from_numpy(rows)  # [n_garments], -1 for padding
        self.outfit_categories = torch.where(self.outfit_mask, self.garment_category[self.outfit_garments],
                                             torch.full_like(self.outfit_garments, -1))  # [n_outfits, L]
        self.max_outfit_length = table.shape[1]

    def _category_names(self, category_tokens, garment_categories):
        """The dataset's category names in its order (``garment_category`` indexes them): the manifest's
        ``categories``; for a conversion older than that list, Polyvore-U's top, bottom, shoe."""
        listed = (read_manifest(self.dataset_path, self.dataset_name) or {}).get("categories")
        names = tuple(listed) if listed else CATEGORIES
        tokens = [str(t) for t in category_tokens[1:]]
        unknown = sorted(set(tokens) - set(names))
        if unknown:
            row = int(np.flatnonzero(np.isin(category_tokens[garment_categories].astype(str), unknown))[0])
            raise DataFormatError(f"garment category {unknown[0]!r} is not one of the dataset's categories "
                                  f"({', '.join(names)}; the manifest's list, else Polyvore-U's)",
                                  where=location(self._path("garment"), row + 2),
                                  fix="re-run the converter or importer (--force) so the files come from one run")
        return names

    # ------------------------------------------------------------------ images

    def image_store_path(self):
        return self._path("images.npy")

    def image_store(self, place="auto", gpu_budget=None, prefetch=True):
        """The garment image store (rows in ``.garment`` order), checked against the garment table; the
        arguments as :class:`~recbole_outfit.data.image_store.ImageStore`'s."""
        store = ImageStore(self.image_store_path(), place=place, gpu_budget=gpu_budget, prefetch=prefetch)
        if len(store) != len(self.garment_feat):
            raise DataFormatError(
                f"image store has {len(store)} rows but {self._path('garment')} lists {len(self.garment_feat)} "
                f"garments", where=self.image_store_path(), fix="re-run the converter (--force)",
            )
        return store

    def __str__(self):
        """RecBole's summary, with the users and outfits counted as the converter and the tables count them:
        RecBole's ``user_num`` / ``item_num`` include the padding id 0."""
        info = super().__str__().splitlines()
        counts = {"The number of users": self.user_num - 1, "The number of items": self.item_num - 1}
        for i, line in enumerate(info):
            for label, count in counts.items():
                if line.startswith(label + ":") or (label in line and line.rstrip().endswith(f": {count + 1}")):
                    info[i] = f"{label.replace('items', 'outfits')}: {count}"
        garments = len(self.garment_feat) if getattr(self, "garment_feat", None) is not None else 0
        return "\n".join(info) + f"\nThe number of garments: {garments}"
