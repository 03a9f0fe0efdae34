"""Polyvore-U release -> RecBole atomic files (docs/architecture.md, "Atomic files").

    python -m recbole_outfit.data.convert --src ROOT --dataset polyvore630 [--out dataset_atomic]
        [--image_size N] [--force] [--skip_missing] [--workers W]

Output folder ``<out>/<dataset>/``:

* ``<ds>.item``     ``outfit_id:token  garments:token_seq  categories:token_seq`` - every outfit of any split
* ``<ds>.garment``  ``garment_id:token  category:token  image:token`` - garment id = JPEG name without ``.jpg``
* ``<ds>.<split>.inter`` ``user_id:token  outfit_id:token  label:float`` for ``train`` (positives only),
  ``valid_teacher`` / ``valid_student`` (the released val split cut in two, per user, seeded), ``test``
  (positives + ``tuples_test_nega``) and ``test_hard`` (positives + ``tuples_test_nega_hard``)
* ``<ds>.images.npy`` uint8 ``[G, 3, S, S]`` in ``.garment`` row order, and ``<ds>.manifest.json``.

The manifest names the dataset's categories in their order (``categories``: top, bottom, shoe). The writers
(:class:`Catalogue`, :func:`write_dataset`) are shared with ``data/import_outfits.py``.

The folder is written to a temporary sibling ``<out>/.<dataset>.tmp-<pid>/`` and renamed into place; a rerun
whose inputs and options match the manifest does nothing. Before any tuple is read the output folder must be
writable; before any image is decoded the free disk space must hold the image store. Temporary folders left
by converters that were killed are removed by the next run (only those whose process no longer runs).
"""

import argparse
import json
import logging
import os
import re
import shutil
import sys
import time
from logging import getLogger

import numpy as np

from recbole_outfit.atomic import atomic_write, publish_folder, remove_stale_temp
from recbole_outfit.data import polyvore
from recbole_outfit.data.image_store import build_image_store, find_image_source
from recbole_outfit.data.integrity import damaged_files, record_files
from recbole_outfit.errors import (ConfigError, DataFormatError, MissingImagesError, OutfitError,
                                   exits_2_on_user_error)

CONVERTER_VERSION = 1
DEFAULT_IMAGE_SIZE = 224
DEFAULT_SPLIT_SEED = 2020
INTER_SPLITS = ("train", "valid_teacher", "valid_student", "test", "test_hard")
# free space kept on top of the estimated output (file system metadata, logs, other writers)
DISK_MARGIN_BYTES = 64 * 2**20
# bytes per row of a .inter / .item / .garment line, generous (ids of Polyvore-U are at most 6 digits)
TEXT_BYTES_PER_ROW = 40


def raw_folder_for(dataset):
    """``polyvore630`` -> ``tuples_630``; any name ending in 630/519/53/32 maps the same way."""
    if dataset in polyvore.DATASET_FOLDERS:
        return polyvore.DATASET_FOLDERS[dataset]
    match = re.search(r"(630|519|53|32)$", dataset)
    if match:
        return f"tuples_{match.group(1)}"
    raise OutfitError(
        f"cannot tell which tuples folder dataset {dataset!r} comes from", where="--dataset",
        fix="name it polyvore630/519/53/32 (or end the name with 630, 519, 53 or 32), or pass --folder tuples_NNN",
    )


def atomic_paths(out_dir, dataset):
    """Every file the converter writes, by role."""
    base = os.path.join(out_dir, dataset)
    paths = {
        "item": f"{base}.item",
        "garment": f"{base}.garment",
        "images": f"{base}.images.npy",
        "manifest": f"{base}.manifest.json",
    }
    paths.update({split: f"{base}.{split}.inter" for split in INTER_SPLITS})
    return paths


def read_manifest(folder, dataset):
    path = atomic_paths(folder, dataset)["manifest"]
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:  # unreadable or cut short: the folder counts as not converted
        getLogger().warning(f"Ignoring the unreadable manifest {path} ({error}); the dataset is converted again")
        return None


def is_complete(folder, dataset):
    """True when every file of a converted dataset exists (manifest written last)."""
    return read_manifest(folder, dataset) is not None and all(
        os.path.isfile(p) for p in atomic_paths(folder, dataset).values())


def damaged(folder, dataset, manifest=None):
    """``[(path, what is wrong)]`` for the files of the converted dataset in ``folder`` that no longer match
    the sizes and checksums its manifest recorded (``data.integrity``); None when the manifest records none
    (converted by a version before checksums)."""
    manifest = read_manifest(folder, dataset) if manifest is None else manifest
    files = (manifest or {}).get("files")
    if not isinstance(files, dict):
        return None
    return damaged_files(folder, files)


def damage_text(problems):
    return "; ".join(f"{path} {what}" for path, what in problems)


# --------------------------------------------------------------------------------------------- reading


class RawFolder:
    """The validated contents of one tuples folder that the atomic files need."""

    TABLES = [("train", "posi"), ("val", "posi"), ("val", "nega"), ("test", "posi"), ("test", "nega"),
              ("test", "nega_hard")]

    def __init__(self, root, folder_name, ratio=polyvore.NEGATIVE_RATIO):
        self.root = root
        self.folder = self.locate(root, folder_name)
        logger = getLogger()
        self.image_lists = {c: polyvore.read_image_list(polyvore.image_list_path(self.folder, c))
                            for c in polyvore.CATEGORIES}
        sizes = {c: len(names) for c, names in self.image_lists.items()}
        self.tables = {}
        header = None
        for split, kind in self.TABLES:
            table = polyvore.read_tuples(polyvore.tuple_path(self.folder, split, kind), sizes, header)
            header = ("user",) + table.slot_categories
            self.tables[split, kind] = table
            logger.info(f"Read {len(table):>9,} rows from {table.path}")
            if kind == "posi" and len(table) == 0:  # training or evaluation would fail on it much later
                raise DataFormatError(f"{os.path.basename(table.path)} holds no outfits (a header and no rows)",
                                      where=table.path, fix="restore the file from the Polyvore-U release (every "
                                                            "split needs at least one positive outfit)")
        for split, kind in self.TABLES:
            if kind != "posi":
                strict = kind == "nega"
                _, others = polyvore.check_negative_table(self.tables[split, "posi"], self.tables[split, kind],
                                                          ratio, strict_users=strict)
                if others:
                    logger.info(f"{others} rows of {self.tables[split, kind].path} name another user "
                                f"(hard negatives); each is scored for the user of its positive")
        unused = [os.path.basename(polyvore.tuple_path(self.folder, s, k))
                  for s, k in (("train", "nega"), ("train", "nega_hard"), ("val", "nega_hard"))] + ["fill_in_blank_test"]
        logger.info(f"Not converted (by design): {', '.join(unused)}; training negatives are sampled online, "
                    f"validation uses random negatives, fill-in-the-blank is not evaluated")
        self.ratio = ratio
        self.slot_categories = self.tables["train", "posi"].slot_categories
        # global garment index: per-category id + offset of the category
        self.offsets = dict(zip(polyvore.CATEGORIES, np.cumsum([0] + [sizes[c] for c in polyvore.CATEGORIES[:-1]])))
        self.garment_names = [name for c in polyvore.CATEGORIES for name in self.image_lists[c]]
        self.garment_categories = [c for c in polyvore.CATEGORIES for _ in self.image_lists[c]]

    @staticmethod
    def locate(root, folder_name):
        folder = os.path.join(root, folder_name)
        if not os.path.isdir(folder):
            raise DataFormatError(f"folder {folder_name} not found", where=root,
                                  fix=f"--src must be the Polyvore-U root that contains {folder_name}/")
        return folder

    @classmethod
    def input_files(cls, folder):
        """Every raw file the conversion reads (the train negatives and fill-in-the-blank file are not used)."""
        files = [polyvore.image_list_path(folder, c) for c in polyvore.CATEGORIES]
        files += [polyvore.tuple_path(folder, split, kind) for split, kind in cls.TABLES]
        return files

    def global_items(self, table):
        """[n, slots] global garment indices (-1 for an absent second top), tops in canonical order."""
        items = table.items.copy()
        for slot, category in enumerate(table.slot_categories):
            present = items[:, slot] != polyvore.MISSING
            items[present, slot] += self.offsets[category]
        if table.slot_categories == polyvore.VARIABLE_HEADER[1:]:
            # an outfit is a set: two tops in either order are the same outfit
            both = items[:, 1] != polyvore.MISSING
            first, second = items[both, 0].copy(), items[both, 1].copy()
            items[both, 0], items[both, 1] = np.minimum(first, second), np.maximum(first, second)
        return items


# --------------------------------------------------------------------------------------------- building


def _split_validation(users, ratio, seed):
    """Per user, a seeded half of the val positives goes to the teacher, the rest to the student.

    Returns a bool array over positive rows: True = valid_teacher. Users with an odd count alternate which
    half gets the extra positive so the halves stay balanced overall.
    """
    rng = np.random.default_rng(seed)
    teacher = np.zeros(len(users), dtype=bool)
    odd_seen = 0
    for user in np.unique(users):
        rows = np.flatnonzero(users == user)
        rows = rows[rng.permutation(len(rows))]
        take = len(rows) // 2
        if len(rows) % 2:
            take += odd_seen % 2 == 0
            odd_seen += 1
        teacher[rows[:take]] = True
    return teacher


def _labeled_rows(positive_users, positive_outfits, negative_outfits, ratio, keep_positive=None):
    """Rows (user, outfit, label) of a split: each positive followed by its ``ratio`` negatives."""
    n = len(positive_users)
    keep = np.ones(n, dtype=bool) if keep_positive is None else keep_positive
    users = np.repeat(positive_users[keep], 1 + ratio)
    outfits = np.concatenate([positive_outfits[keep, None], negative_outfits.reshape(n, ratio)[keep]], axis=1)
    labels = np.zeros((keep.sum(), 1 + ratio), dtype=np.float32)
    labels[:, 0] = 1
    return users, outfits.reshape(-1), labels.reshape(-1)


class AtomicBuilder:
    """Outfit and garment tables plus the per-split rows of one folder."""

    def __init__(self, raw, split_seed):
        self.raw = raw
        tables = raw.tables
        blocks = [raw.global_items(tables[key]) for key in RawFolder.TABLES]
        all_items = np.concatenate(blocks)
        # distinct outfits, numbered in order of first appearance (train positives first)
        unique, first, inverse = np.unique(all_items, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        self.outfit_items = unique[order]  # [O, slots]
        outfit_of_row = rank[inverse.reshape(-1)]
        bounds = np.cumsum([0] + [len(b) for b in blocks])
        self.outfit_of = {key: outfit_of_row[bounds[i]:bounds[i + 1]] for i, key in enumerate(RawFolder.TABLES)}
        self.users = {key: tables[key].users for key in RawFolder.TABLES}
        self.ratio = raw.ratio
        self.teacher_half = _split_validation(tables["val", "posi"].users, raw.ratio, split_seed)

    def split_rows(self):
        """{split: (users, outfit indices, labels)} for the five .inter files."""
        of, users, ratio = self.outfit_of, self.users, self.ratio
        train = users["train", "posi"], of["train", "posi"], np.ones(len(of["train", "posi"]), dtype=np.float32)
        val_u, val_pos, val_neg = users["val", "posi"], of["val", "posi"], of["val", "nega"]
        rows = {
            "train": train,
            "valid_teacher": _labeled_rows(val_u, val_pos, val_neg, ratio, self.teacher_half),
            "valid_student": _labeled_rows(val_u, val_pos, val_neg, ratio, ~self.teacher_half),
            "test": _labeled_rows(users["test", "posi"], of["test", "posi"], of["test", "nega"], ratio),
            "test_hard": _labeled_rows(users["test", "posi"], of["test", "posi"], of["test", "nega_hard"], ratio),
        }
        return rows


def _drop_outfits(rows, bad_outfits):
    """Remove every row whose outfit needs a missing image; return kept rows and per-split counts."""
    kept, dropped = {}, {}
    for split, (users, outfits, labels) in rows.items():
        keep = ~np.isin(outfits, bad_outfits)
        kept[split] = users[keep], outfits[keep], labels[keep]
        dropped[split] = int((~keep).sum())
    return kept, dropped


def _compact_store(path, keep_rows, chunk=4096):
    """Rewrite the store with only ``keep_rows`` (in that order)."""
    source = np.load(path, mmap_mode="r")
    target_path = path + ".compact.npy"
    target = np.lib.format.open_memmap(target_path, mode="w+", dtype=np.uint8,
                                       shape=(len(keep_rows),) + source.shape[1:])
    for start in range(0, len(keep_rows), chunk):
        target[start:start + chunk] = source[keep_rows[start:start + chunk]]
    target.flush()
    del target, source
    os.replace(target_path, path)


# --------------------------------------------------------------------------------------------- writing


def _write_lines(path, header, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        f.writelines(line + "\n" for line in lines)


def _write_atomic_files(paths, catalogue, rows, garments):
    """garments: sorted global garment indices that appear in the kept outfits (= image store rows)."""
    tokens, categories = catalogue.garment_tokens, catalogue.garment_categories
    used_outfits = np.unique(np.concatenate([outfits for _, outfits, _ in rows.values()]))
    item_lines = []
    for o in used_outfits:
        items = catalogue.outfit_items[o]
        items = items[items != polyvore.MISSING]
        item_lines.append(f"{catalogue.outfit_tokens[o]}\t{' '.join(tokens[items])}\t"
                          f"{' '.join(categories[i] for i in items)}")
    _write_lines(paths["item"], ["outfit_id:token", "garments:token_seq", "categories:token_seq"], item_lines)
    _write_lines(paths["garment"], ["garment_id:token", "category:token", "image:token"],
                 [f"{tokens[g]}\t{categories[g]}\t{catalogue.image_tokens[g]}" for g in garments])
    outfit_tokens = catalogue.outfit_tokens
    for split, (users, outfits, labels) in rows.items():
        _write_lines(paths[split], ["user_id:token", "outfit_id:token", "label:float"],
                     [f"{catalogue.user_tokens[u]}\t{outfit_tokens[o]}\t{int(l)}"
                      for u, o, l in zip(users.tolist(), outfits.tolist(), labels.tolist())])
    return len(used_outfits)


def _signature(root, folder_name, source, options):
    """What the output depends on: input file sizes and times, the image source, the options.
    None when an input is missing (the reader then reports it)."""
    files = {}
    for path in RawFolder.input_files(os.path.join(root, folder_name)):
        if not os.path.isfile(path):
            return None
        stat = os.stat(path)
        files[os.path.relpath(path, root)] = [stat.st_size, stat.st_mtime_ns]
    return {"converter_version": CONVERTER_VERSION, "root": os.path.realpath(root), "folder": folder_name,
            "files": files, "images": source.signature(), "options": options}


def _synthetic_notes(root, folder_name):
    path = os.path.join(root, "synthetic.json")
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f).get("folders", {}).get(folder_name)


def stale_pattern(dataset):
    """Names of the converter's temporary folders in ``<out>``: ``.<dataset>.tmp-<pid>``, ``.<dataset>.old-<pid>``
    (and ``<dataset>.old-<pid>`` of earlier versions); group ``pid`` is the process that made it."""
    return rf"\.?{re.escape(dataset)}\.(?:tmp|old)-(?P<pid>\d+)"


def _make_temp_folder(out, dataset):
    """Create ``<out>/.<dataset>.tmp-<pid>/``; an output folder that cannot be written is a ConfigError."""
    tmp_dir = os.path.join(out, f".{dataset}.tmp-{os.getpid()}")
    try:
        os.makedirs(out, exist_ok=True)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        os.makedirs(tmp_dir)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"cannot write the converted dataset into the output folder {os.path.abspath(out)} ({reason})",
            where=out,
            fix="pass a folder you can write to with --out (for a training run: data_path), "
                "or change the folder's permissions",
        ) from None
    return tmp_dir


def _byte_count(n):
    return f"{n:,} bytes ({n / 2**30:.2f} GiB)"


def _check_free_space(folder, needed, what, image_size):
    """Refuse to start writing ``needed`` bytes into ``folder`` when its file system has less free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ConfigError(
            f"not enough free disk space for {what}: it needs {_byte_count(needed)}, "
            f"the file system of {os.path.abspath(folder)} has {_byte_count(free)} free",
            where=folder,
            fix=f"free some space, store smaller images with --image_size (now {image_size}; the store grows with "
                f"its square: half the size needs a quarter of the space; for a training run: image_size), "
                f"or convert onto another disk with --out (for a training run: data_path)",
        )


def store_bytes(n_images, image_size):
    """Size of an image store ``[n, 3, S, S]`` uint8 (plus the ``.npy`` header)."""
    return int(n_images) * 3 * int(image_size) ** 2 + 128


def estimate_output_bytes(n_images, image_size, rows, n_outfits):
    """Bytes the converted folder will take: the image store, the text files, and ``DISK_MARGIN_BYTES``."""
    n_rows = sum(len(r[0]) for r in rows.values()) + int(n_outfits) + int(n_images)
    return store_bytes(n_images, image_size) + n_rows * TEXT_BYTES_PER_ROW + DISK_MARGIN_BYTES


class Catalogue:
    """What a converter hands :func:`write_dataset`: garments, outfits and the rows of every split.

    Garments and outfits are numbered 0..G-1 and 0..O-1 (global indices); ``outfit_items[o]`` holds the
    garment indices of outfit o, ``-1`` (``polyvore.MISSING``) padding. ``rows``: ``{split: (user indices,
    outfit indices, labels)}`` for the ``INTER_SPLITS``; the atomic files write the tokens of these indices.

    Args:
        image_names: per garment, the name its image source reads (a Polyvore-U JPEG name, a path under the
            catalogue's folder).
        garment_tokens, garment_categories, image_tokens: per garment, its ``.garment`` columns.
        outfit_tokens, user_tokens: the tokens of outfit and user indices.
        categories: the category names in the dataset's order (kept in the manifest; every consumer reads
            them from there).
        describe_failure: ``(image name, reason) -> text`` naming where a failed image comes from (a file
            and line of the input); default: the image name.
    """

    def __init__(self, image_names, garment_tokens, garment_categories, image_tokens, outfit_items, outfit_tokens,
                 user_tokens, rows, categories, describe_failure=None):
        self.image_names = list(image_names)
        self.garment_tokens = np.asarray(garment_tokens, dtype=object)
        self.garment_categories = list(garment_categories)
        self.image_tokens = list(image_tokens)
        self.outfit_items = outfit_items
        self.outfit_tokens = outfit_tokens
        self.user_tokens = user_tokens
        self.rows = rows
        self.categories = tuple(categories)
        self.describe_failure = describe_failure or (lambda name, reason: name)

    def garments_used(self, outfit_mask=None):
        """Sorted indices of the garments of the outfits that some row names (and ``outfit_mask`` keeps)."""
        used = np.zeros(len(self.outfit_items), dtype=bool)
        used[np.concatenate([outfits for _, outfits, _ in self.rows.values()])] = True
        if outfit_mask is not None:
            used &= outfit_mask
        items = self.outfit_items[used]
        return np.unique(items[items != polyvore.MISSING])


class _Identity:
    """``tokens[i] == str(i)``: the user tokens of Polyvore-U (the user index as written)."""

    def __getitem__(self, index):
        return str(index)


def up_to_date(final_dir, dataset, signature, force=False):
    """True when ``final_dir`` holds a complete conversion whose manifest records ``signature`` and whose files
    still have the sizes and checksums it recorded (a damaged or unverifiable one is said and converted again)."""
    manifest = read_manifest(final_dir, dataset)
    if not (not force and signature is not None and manifest is not None and manifest.get("signature") == signature
            and is_complete(final_dir, dataset)):
        return False
    problems = damaged(final_dir, dataset, manifest)
    if problems is None:
        getLogger().info(f"{final_dir} was converted by a version that recorded no checksums; converting it again")
    elif problems:
        getLogger().warning(f"The converted dataset is damaged: {damage_text(problems)}; converting it again")
    return problems == []


def check_image_size(image_size):
    if int(image_size) < 1:
        raise ConfigError(f"image size must be a positive number of pixels, got {image_size}", where="--image_size",
                          fix=f"pass --image_size N with N >= 1 (the default is {DEFAULT_IMAGE_SIZE})")


def convert(src, dataset, out="dataset_atomic", image_size=DEFAULT_IMAGE_SIZE, force=False, skip_missing=False,
            workers=None, folder=None, split_seed=DEFAULT_SPLIT_SEED, show_progress=True):
    """Convert one Polyvore-U tuples folder into ``<out>/<dataset>/``; return that folder's path."""
    logger = getLogger()
    folder_name = folder or raw_folder_for(dataset)
    check_image_size(image_size)
    final_dir = os.path.join(out, dataset)
    RawFolder.locate(src, folder_name)
    source = find_image_source(src)
    options = {"dataset": dataset, "image_size": int(image_size), "skip_missing": bool(skip_missing),
               "split_seed": int(split_seed), "ratio": polyvore.NEGATIVE_RATIO}
    signature = _signature(src, folder_name, source, options)
    remove_stale_temp(out, stale_pattern(dataset))  # leftovers of converters that were killed
    if up_to_date(final_dir, dataset, signature, force):
        logger.info(f"{final_dir} is up to date with {os.path.join(src, folder_name)} (sizes and checksums "
                    f"match); nothing to do (use --force to rebuild)")
        return final_dir

    def read():
        raw = RawFolder(src, folder_name)
        builder = AtomicBuilder(raw, split_seed)
        catalogue = Catalogue(
            image_names=raw.garment_names, garment_tokens=[polyvore.garment_token(n) for n in raw.garment_names],
            garment_categories=raw.garment_categories, image_tokens=raw.garment_names,
            outfit_items=builder.outfit_items, outfit_tokens=_OutfitTokens(), user_tokens=_Identity(),
            rows=builder.split_rows(), categories=polyvore.CATEGORIES)
        extra = {"max_garments_per_outfit": int(len(raw.slot_categories))}
        return catalogue, extra

    return write_dataset(out, dataset, read, signature, source, image_size, skip_missing, workers, show_progress,
                         synthetic=_synthetic_notes(src, folder_name))


class _OutfitTokens:
    """``o<index>``: the outfit tokens of a Polyvore-U conversion."""

    def __getitem__(self, index):
        return f"o{index}"


def write_dataset(out, dataset, read, signature, source, image_size, skip_missing=False, workers=None,
                  show_progress=True, synthetic=None, notes=None, before_manifest=None):
    """Write ``<out>/<dataset>/`` (atomic files, image store, manifest) into a temporary sibling and publish it.

    Shared by every converter (Polyvore-U here, a catalogue of one's own in ``data/import_outfits.py``).

    Args:
        read: ``() -> (Catalogue, extra counts)``, called once the temporary folder exists (so an unwritable
            ``out`` fails before any input is read).
        signature: what the output depends on (kept in the manifest; the up-to-date check compares it).
        source: the image source (``read(name) -> bytes or None``).
        notes: more manifest entries (e.g. what a split dropped).
        before_manifest: ``(folder) -> None`` writes more files into the temporary folder (published with it).
    Images that are missing or cannot be decoded stop the conversion (``MissingImagesError``) unless
    ``skip_missing``, which drops exactly the outfits that need them.
    """
    logger = getLogger()
    started = time.time()
    final_dir = os.path.join(out, dataset)
    tmp_dir = _make_temp_folder(out, dataset)  # before reading: an unwritable --out fails at once
    try:
        catalogue, extra = read()
        rows = catalogue.rows
        empty = [split for split, (users, _, _) in rows.items() if len(users) == 0]
        if empty:  # training or testing would fail on it much later (num_samples=0)
            raise DataFormatError(f"the converted split{'s' if len(empty) > 1 else ''} {', '.join(empty)} would hold "
                                  f"no rows", where=final_dir,
                                  fix="give inputs with more users and outfits (each split needs at least one row; "
                                      "the validation split is cut in two per user)")
        garments = catalogue.garments_used()
        _check_free_space(tmp_dir, estimate_output_bytes(len(garments), image_size, rows,
                                                         len(catalogue.outfit_items)),
                          f"{len(garments):,} images of {image_size}x{image_size}x3 bytes and the text files",
                          image_size)
        paths = atomic_paths(tmp_dir, dataset)
        names = [catalogue.image_names[g] for g in garments]
        failures, image_stats = build_image_store(names, source, image_size, paths["images"], workers=workers,
                                                  show_progress=show_progress)
        dropped = {}
        if failures:
            failed_set = {name for name, _ in failures}
            failed_garments = np.array([g for g, n in zip(garments, names) if n in failed_set])
            needs_failed = np.isin(catalogue.outfit_items, failed_garments).any(axis=1)
            bad_outfits = np.flatnonzero(needs_failed)
            if not skip_missing:
                by_reason = {}
                for name, reason in failures:
                    by_reason.setdefault(reason.split(" ")[0], []).append(catalogue.describe_failure(name, reason))
                summary = "; ".join(f"{len(v)} {k} (e.g. {', '.join(v[:5])})" for k, v in by_reason.items())
                raise MissingImagesError(
                    f"{len(failures)} of {len(names)} garment images cannot be used: {summary}; "
                    f"{len(bad_outfits)} outfits need them",
                    where=source.folder if hasattr(source, "folder") else source.path,
                    fix="restore the images, or pass --skip_missing to drop exactly the outfits that need them",
                )
            rows, dropped = _drop_outfits(rows, bad_outfits)
            keep_garments = catalogue.garments_used(~needs_failed)
            keep_rows = np.searchsorted(garments, keep_garments)
            _check_free_space(tmp_dir, store_bytes(len(keep_rows), image_size),
                              f"the image store without the {len(failures)} missing images (it is copied)", image_size)
            _compact_store(paths["images"], keep_rows)
            garments = keep_garments
            logger.warning(f"--skip_missing: {len(failures)} images missing or undecodable; dropped "
                           f"{len(bad_outfits)} outfits and {sum(dropped.values())} rows ({dropped})")
        n_outfits = _write_atomic_files(paths, catalogue, rows, garments)
        files = record_files({role: path for role, path in paths.items() if role != "manifest"})
        seconds = time.time() - started
        counts = {
            "users": int(len(np.unique(np.concatenate([u for u, _, _ in rows.values()])))),
            "outfits": n_outfits,
            "garments": int(len(garments)),
            "rows": {split: int(len(r[0])) for split, r in rows.items()},
            "positives": {split: int(r[2].sum()) for split, r in rows.items()},
            **extra,
        }
        manifest = {
            "format_version": CONVERTER_VERSION,
            "dataset": dataset,
            "signature": signature,
            "categories": list(catalogue.categories),
            "counts": counts,
            "image_store": {"file": os.path.basename(paths["images"]),
                            "shape": [len(garments), 3, image_size, image_size],
                            "dtype": "uint8", "layout": "NCHW, RGB, rows in .garment order"},
            "missing_images": {"count": len(failures), "examples": failures[:20], "rows_dropped": dropped},
            "throughput": {**image_stats, "total_seconds": round(seconds, 2),
                           "outfits_per_second": round(n_outfits / max(seconds, 1e-9), 1)},
            "synthetic": synthetic,
            "files": files,  # size and SHA-256 of every file above, checked before each use (data/integrity.py)
            **(notes or {}),
        }
        if before_manifest is not None:
            before_manifest(tmp_dir)
        with atomic_write(paths["manifest"]) as f:
            json.dump(manifest, f, indent=1)

        def same_output(folder):  # another converter of the same inputs published first: its folder is as good
            done = read_manifest(folder, dataset)
            return (done is not None and done.get("signature") == signature and is_complete(folder, dataset)
                    and damaged(folder, dataset, done) == [])

        publish_folder(tmp_dir, final_dir, same_output)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    logger.info(f"Wrote {final_dir}: {counts['users']} users, {n_outfits:,} outfits, {len(garments):,} garments "
                f"in {seconds:.1f}s ({n_outfits / max(seconds, 1e-9):,.0f} outfits/s)")
    return final_dir


@exits_2_on_user_error
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.data.convert", description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="Polyvore-U root (holds tuples_630/ ... and images/)")
    parser.add_argument("--dataset", required=True, help="polyvore630, polyvore519, polyvore53 or polyvore32")
    parser.add_argument("--out", default="dataset_atomic", help="output root (default: dataset_atomic)")
    parser.add_argument("--image_size", type=int, default=DEFAULT_IMAGE_SIZE, help="stored image side in pixels")
    parser.add_argument("--force", action="store_true", help="rebuild even if the output is up to date")
    parser.add_argument("--skip_missing", action="store_true", help="drop outfits whose images are missing")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    parser.add_argument("--folder", default=None, help="tuples folder, if the dataset name does not imply it")
    parser.add_argument("--split_seed", type=int, default=DEFAULT_SPLIT_SEED, help="seed of the val halves")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    convert(args.src, args.dataset, args.out, args.image_size, args.force, args.skip_missing, args.workers,
            args.folder, args.split_seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
