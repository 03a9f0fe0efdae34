"""A catalogue of one's own (garments, outfits, users' positives) -> RecBole atomic files (docs/data.md).

    python -m recbole_outfit.data.import_outfits --src DIR --dataset NAME [--out dataset_atomic]
        [--image_size S] [--force] [--skip_missing] [--seed S] [--workers W]

``DIR`` holds three CSV files (UTF-8, a byte-order mark and CRLF line ends accepted, extra columns ignored):

* ``garments.csv``: ``garment_id,category,image`` (image: a JPEG or PNG file, path relative to ``DIR``);
* ``outfits.csv``: ``outfit_id,garments`` (garment ids separated by spaces, two or more, any categories);
* ``interactions.csv``: ``user_id,outfit_id[,split]`` (a user's positive outfits; ``split``: ``train``,
  ``valid`` or ``test``).

What Polyvore-U's release did for its users is done here: without a ``split`` column each user's positives
are split 9:2:2 (seeded) so that no garment of the user's test outfits is in the user's training outfits (the
training outfits that share one are dropped and counted in the manifest; users left without a training
outfit are dropped and named in the log); the validation positives are cut into the teacher's and the
student's halves; each validation and test positive gets 10 random negatives, category-wise mixtures of the
split's garments in the positive's own category layout, and each test positive 10 hard negatives, other
users' test positives. The output is the Polyvore-U converter's (``data/convert.py``: the same writers,
temporary folder, atomic publication and up-to-date check), plus ``<NAME>.yaml`` beside the files, which
``--dataset=NAME --data_path=<out>`` reads, and the manifest names the dataset's categories in their order.

Every problem of the CSV files (a missing column, a duplicate id, an unknown garment or outfit, an outfit of
one garment, a user with too few positives, an unknown split, a missing image file) stops the import with
its file and line before any image is decoded; an image that cannot be decoded is named with its
``garments.csv`` line after decoding. ``--skip_missing`` drops exactly the outfits whose images are missing
or undecodable instead.
"""

import argparse
import csv
import hashlib
import logging
import os
import sys
from logging import getLogger

import numpy as np

from recbole_outfit.atomic import atomic_write, remove_stale_temp
from recbole_outfit.data import convert, polyvore
from recbole_outfit.data.image_store import JpegFolderSource
from recbole_outfit.errors import ConfigError, DataFormatError, exits_2_on_user_error, location

IMPORTER_VERSION = 1
GARMENTS_FILE, OUTFITS_FILE, INTERACTIONS_FILE = "garments.csv", "outfits.csv", "interactions.csv"
COLUMNS = {GARMENTS_FILE: ("garment_id", "category", "image"), OUTFITS_FILE: ("outfit_id", "garments"),
           INTERACTIONS_FILE: ("user_id", "outfit_id")}
SPLIT_COLUMN = "split"
SPLIT_VALUES = ("train", "valid", "test")
SPLIT_SHARES = (9, 2, 2)  # train : valid : test per user, the paper's (section 4.1.1)
MIN_POSITIVES = 4  # one training, two validation (one per half) and one test positive
RATIO = polyvore.NEGATIVE_RATIO
DOC = "see docs/data.md for the format"


# --------------------------------------------------------------------------------------------- reading


class Row(dict):
    """One CSV row: its columns by name, plus the 1-based ``line`` it starts on."""

    line = 0


def read_table(path, required, optional=()):
    """The rows of one CSV file, checked: the file exists, the header names every ``required`` column, no
    required value is empty. Values are stripped of surrounding spaces; other columns are ignored."""
    if not os.path.isfile(path):
        raise DataFormatError("required file is missing", where=path, fix=f"write it with the columns "
                              f"{','.join(required)} ({DOC})")
    try:
        return _read_rows(path, required, optional)
    except UnicodeDecodeError:
        with open(path, "rb") as f:
            line = next(i for i, raw in enumerate(f, 1) if not _decodes(raw))
        raise DataFormatError("line is not UTF-8", where=location(path, line),
                              fix="save the file as UTF-8 (a spreadsheet's 'CSV UTF-8' export)") from None


def _decodes(raw):
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _read_rows(path, required, optional):
    rows = []
    # utf-8-sig: a byte-order mark is dropped; newline="": csv takes CRLF and LF line ends alike
    with open(path, "r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise DataFormatError("file is empty (not even a header)", where=location(path, 1),
                                  fix=f"the first line must name the columns {','.join(required)}") from None
        missing = [name for name in required if name not in header]
        if missing:
            raise DataFormatError(f"column {missing[0]!r} is missing from the header {','.join(header)!r}",
                                  where=location(path, 1),
                                  fix=f"the header must name {','.join(required)} ({DOC})")
        index = {name: header.index(name) for name in (*required, *optional) if name in header}
        start = reader.line_num + 1
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not any(field.strip() for field in fields):
                continue  # a blank line (e.g. the end of a file written with an extra line break)
            row = Row({name: fields[i].strip() if i < len(fields) else "" for name, i in index.items()})
            row.line = line
            for name in required:
                if not row[name]:
                    raise DataFormatError(f"empty {name}", where=location(path, line),
                                          fix=f"every row needs a {name} ({DOC})")
            rows.append(row)
    return rows


def _check_token(path, row, column, what):
    value = row[column]
    if any(c.isspace() for c in value):
        raise DataFormatError(f"{what} {value!r} contains whitespace", where=location(path, row.line),
                              fix=f"{what}s are tokens of the atomic files: use ids without spaces or tabs")


def _first_lines(rows, key):
    """``{key(row): row}`` of the first row of each key, and the first row that repeats one (or None)."""
    seen = {}
    for row in rows:
        k = key(row)
        if k in seen:
            return seen, (row, seen[k])
        seen[k] = row
    return seen, None


class Catalogue:
    """The validated contents of ``DIR``: garments, outfits, users' positives (no image decoded yet)."""

    def __init__(self, src, skip_missing=False):
        self.src = src
        logger = getLogger()
        self.paths = {name: os.path.join(src, name) for name in COLUMNS}
        garments = read_table(self.paths[GARMENTS_FILE], COLUMNS[GARMENTS_FILE])
        outfits = read_table(self.paths[OUTFITS_FILE], COLUMNS[OUTFITS_FILE])
        interactions = read_table(self.paths[INTERACTIONS_FILE], COLUMNS[INTERACTIONS_FILE], (SPLIT_COLUMN,))
        self._read_garments(garments)
        self.missing_images = self._check_images(garments, skip_missing)
        self._read_outfits(outfits)
        self._read_interactions(interactions)
        self.dropped_for_images = self._drop_outfits_without_images() if self.missing_images else {}
        logger.info(f"Read {len(self.garment_ids):,} garments in {len(self.categories)} categories "
                    f"({', '.join(self.categories)}), {len(self.outfit_ids):,} outfits, "
                    f"{len(self.users):,} positives of {len(set(self.users)):,} users from {src}")

    # ------------------------------------------------------------------ the three files

    def _read_garments(self, rows):
        path = self.paths[GARMENTS_FILE]
        for row in rows:
            _check_token(path, row, "garment_id", "garment id")
            _check_token(path, row, "category", "category")
            if "\t" in row["image"] or "\n" in row["image"]:
                raise DataFormatError(f"image path {row['image']!r} contains a tab or line break",
                                      where=location(path, row.line), fix="rename the image file")
        first, repeat = _first_lines(rows, lambda r: r["garment_id"])
        if repeat:
            raise DataFormatError(f"garment id {repeat[0]['garment_id']!r} is listed twice (also on line "
                                  f"{repeat[1].line})", where=location(path, repeat[0].line),
                                  fix="each garment needs its own id")
        self.garment_rows = rows
        self.garment_ids = [r["garment_id"] for r in rows]
        self.garment_index = {g: i for i, g in enumerate(self.garment_ids)}
        self.garment_categories = [r["category"] for r in rows]
        self.images = [r["image"] for r in rows]
        self.categories = tuple(dict.fromkeys(self.garment_categories))  # in order of first appearance

    def _check_images(self, rows, skip_missing):
        """Indices of garments whose image file does not exist (an error without ``skip_missing``)."""
        missing = [i for i, row in enumerate(rows) if not os.path.isfile(os.path.join(self.src, row["image"]))]
        if missing and not skip_missing:
            row = rows[missing[0]]
            raise DataFormatError(
                f"image {row['image']!r} of garment {row['garment_id']!r} does not exist under {self.src} "
                f"({len(missing)} garments have no image file)", where=location(self.paths[GARMENTS_FILE], row.line),
                fix="image paths are relative to --src; restore the files, or pass --skip_missing to drop "
                    "exactly the outfits that need them")
        return set(missing)

    def _read_outfits(self, rows):
        path = self.paths[OUTFITS_FILE]
        for row in rows:
            _check_token(path, row, "outfit_id", "outfit id")
        first, repeat = _first_lines(rows, lambda r: r["outfit_id"])
        if repeat:
            raise DataFormatError(f"outfit id {repeat[0]['outfit_id']!r} is listed twice (also on line "
                                  f"{repeat[1].line})", where=location(path, repeat[0].line),
                                  fix="each outfit needs its own id")
        members = []
        for row in rows:
            tokens = row["garments"].split()
            if len(tokens) < 2:
                raise DataFormatError(f"outfit {row['outfit_id']!r} holds {len(tokens)} garment; an outfit needs "
                                      f"two or more", where=location(path, row.line),
                                      fix="list two or more garment ids separated by spaces, or remove the row")
            unknown = [g for g in tokens if g not in self.garment_index]
            if unknown:
                raise DataFormatError(f"outfit {row['outfit_id']!r} names garment {unknown[0]!r}, which "
                                      f"{GARMENTS_FILE} does not list", where=location(path, row.line),
                                      fix=f"add the garment to {GARMENTS_FILE} or correct the id")
            if len(set(tokens)) != len(tokens):
                twice = next(g for g in tokens if tokens.count(g) > 1)
                raise DataFormatError(f"outfit {row['outfit_id']!r} names garment {twice!r} twice",
                                      where=location(path, row.line), fix="list each garment of an outfit once")
            members.append([self.garment_index[g] for g in tokens])
        self.outfit_rows = rows
        self.outfit_ids = [r["outfit_id"] for r in rows]
        self.outfit_index = {o: i for i, o in enumerate(self.outfit_ids)}
        self.outfit_members = members  # [O] lists of garment indices, in the file's order

    def _read_interactions(self, rows):
        path = self.paths[INTERACTIONS_FILE]
        self.has_split = bool(rows) and SPLIT_COLUMN in rows[0]
        for row in rows:
            _check_token(path, row, "user_id", "user id")
            if row["outfit_id"] not in self.outfit_index:
                raise DataFormatError(f"outfit {row['outfit_id']!r} is not listed in {OUTFITS_FILE}",
                                      where=location(path, row.line), fix=f"add it to {OUTFITS_FILE} or correct the id")
            if self.has_split and row[SPLIT_COLUMN] not in SPLIT_VALUES:
                raise DataFormatError(f"unknown split {row[SPLIT_COLUMN]!r}", where=location(path, row.line),
                                      fix=f"split must be one of {', '.join(SPLIT_VALUES)}, or leave the column out "
                                          f"to split each user's positives {':'.join(map(str, SPLIT_SHARES))}")
        _, repeat = _first_lines(rows, lambda r: (r["user_id"], r["outfit_id"]))
        if repeat:
            raise DataFormatError(f"user {repeat[0]['user_id']!r} has outfit {repeat[0]['outfit_id']!r} twice (also "
                                  f"on line {repeat[1].line})", where=location(path, repeat[0].line),
                                  fix="list each positive (user, outfit) once")
        self.interaction_rows = rows
        self.user_ids = list(dict.fromkeys(r["user_id"] for r in rows))  # in order of first appearance
        user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.users = np.array([user_index[r["user_id"]] for r in rows], dtype=np.int64)  # [P]
        self.outfits = np.array([self.outfit_index[r["outfit_id"]] for r in rows], dtype=np.int64)  # [P]
        self.lines = np.array([r.line for r in rows], dtype=np.int64)  # [P]
        self.splits = np.array([r[SPLIT_COLUMN] if self.has_split else "" for r in rows], dtype=object)

    def _drop_outfits_without_images(self):
        """``--skip_missing``: the positives whose outfit needs a missing image are dropped."""
        bad = np.array([any(g in self.missing_images for g in m) for m in self.outfit_members], dtype=bool)
        keep = ~bad[self.outfits]
        for name in ("users", "outfits", "lines", "splits"):
            setattr(self, name, getattr(self, name)[keep])
        getLogger().warning(f"--skip_missing: {len(self.missing_images)} garments have no image file; dropped "
                            f"{int(bad.sum())} outfits that need them and their {int((~keep).sum())} positives")
        return {"garments_without_image": len(self.missing_images), "outfits": int(bad.sum()),
                "positives": int((~keep).sum())}

    def describe_failure(self, name, reason):
        """An image the decoder could not use, named by its ``garments.csv`` line."""
        lines = [r.line for r in self.garment_rows if r["image"] == name]
        where = location(self.paths[GARMENTS_FILE], lines[0]) if lines else name
        return f"{name} of {where} ({reason})"


# --------------------------------------------------------------------------------------------- splitting


def _line_of_user(catalogue, user):
    return location(catalogue.paths[INTERACTIONS_FILE], int(catalogue.lines[catalogue.users == user][0]))


def given_split(catalogue, tolerate_few=False):
    """The ``split`` column's assignment: ``{split: positive rows}``. A user with validation or test positives
    needs a training positive."""
    splits = {name: np.flatnonzero(catalogue.splits == name) for name in SPLIT_VALUES}
    trained = set(catalogue.users[splits["train"]].tolist())
    evaluated = catalogue.users[np.concatenate([splits["valid"], splits["test"]])]
    untrained = [u for u in dict.fromkeys(evaluated.tolist()) if u not in trained]
    if untrained and not tolerate_few:
        raise DataFormatError(
            f"user {catalogue.user_ids[untrained[0]]!r} has validation or test positives but no training positive "
            f"({len(untrained)} such users)", where=_line_of_user(catalogue, untrained[0]),
            fix="give every evaluated user a train row (a model learns a user from their training outfits)")
    keep = ~np.isin(catalogue.users, untrained)
    return {name: rows[keep[rows]] for name, rows in splits.items()}, {"users_without_training": len(untrained)}


def seeded_split(catalogue, seed, tolerate_few=False):
    """Each user's positives split 9:2:2 (at least one test, two validation and one training positive), with
    no garment of the user's test outfits in the user's training outfits: a training outfit sharing one is
    dropped. Users left without a training outfit are dropped (and named in the log).

    Returns ``({split: positive rows}, notes)``.
    """
    rng = np.random.default_rng([seed, 1])
    members = catalogue.outfit_members
    total = sum(SPLIT_SHARES)
    chosen = {name: [] for name in SPLIT_VALUES}
    dropped_rows, too_few, left_without = 0, [], []
    for user in range(len(catalogue.user_ids)):
        rows = np.flatnonzero(catalogue.users == user)
        if len(rows) < MIN_POSITIVES:
            too_few.append(user)
            continue
        rows = rows[rng.permutation(len(rows))]
        n_test = max(1, int(round(len(rows) * SPLIT_SHARES[2] / total)))
        n_valid = max(2, int(round(len(rows) * SPLIT_SHARES[1] / total)))
        test, valid, rest = rows[:n_test], rows[n_test:n_test + n_valid], rows[n_test + n_valid:]
        test_garments = {g for r in test for g in members[catalogue.outfits[r]]}
        train = [r for r in rest if not test_garments.intersection(members[catalogue.outfits[r]])]
        dropped_rows += len(rest) - len(train)
        if not train:
            left_without.append(user)
            continue
        for name, part in (("train", train), ("valid", valid), ("test", test)):
            chosen[name].extend(part)
    if too_few and not tolerate_few:
        user = too_few[0]
        raise DataFormatError(
            f"user {catalogue.user_ids[user]!r} has {int((catalogue.users == user).sum())} positives, too few to "
            f"split ({len(too_few)} users have fewer than {MIN_POSITIVES})", where=_line_of_user(catalogue, user),
            fix=f"a user needs {MIN_POSITIVES} positives (training, two validation halves, test): remove the rows "
                f"of users with fewer, or give a split column")
    logger = getLogger()
    if dropped_rows:
        logger.warning(f"Split {':'.join(map(str, SPLIT_SHARES))}: dropped {dropped_rows} training positives that "
                       f"share a garment with their user's test outfits (Polyvore-U's rule)")
    if too_few or left_without:
        names = [catalogue.user_ids[u] for u in too_few + left_without]
        logger.warning(f"Split: {len(names)} users dropped, too few positives left "
                       f"({len(too_few)} below {MIN_POSITIVES}, {len(left_without)} without a training outfit that "
                       f"shares no garment with their test outfits): {', '.join(names[:20])}"
                       f"{' ...' if len(names) > 20 else ''}")
    notes = {"training_positives_dropped_for_disjoint_test": dropped_rows,
             "users_dropped_too_few": [catalogue.user_ids[u] for u in too_few],
             "users_dropped_no_training_left": [catalogue.user_ids[u] for u in left_without]}
    return {name: np.array(sorted(rows), dtype=np.int64) for name, rows in chosen.items()}, notes


# --------------------------------------------------------------------------------------------- negatives


class OutfitTable:
    """Outfits by index: the catalogue's, then the negatives drawn for it (each distinct garment set once)."""

    def __init__(self, members):
        self.members = [list(m) for m in members]
        self.by_set = {}
        for index, m in enumerate(self.members):
            self.by_set.setdefault(frozenset(m), index)

    def index_of(self, garments):
        key = frozenset(garments)
        if key not in self.by_set:
            self.by_set[key] = len(self.members)
            self.members.append(list(garments))
        return self.by_set[key]

    def items(self):
        """``[O, L]`` garment indices, ``-1`` padding."""
        width = max(map(len, self.members))
        table = np.full((len(self.members), width), polyvore.MISSING, dtype=np.int64)
        for row, m in enumerate(self.members):
            table[row, :len(m)] = m
        return table


def random_mixtures(rng, table, categories, users, positives, owned, split, attempts=100):
    """``RATIO`` category-wise random mixtures per positive: slot by slot a garment of the positive's category
    drawn from the distinct garments of that category among the split's positives (Polyvore-U's rule),
    never the same garment twice, never a positive of the user. ``[P, RATIO]`` outfit indices."""
    garments = {g for o in positives for g in table.members[o]}
    pools = {}
    for g in sorted(garments):
        pools.setdefault(categories[g], []).append(g)
    pools = {c: np.array(p) for c, p in pools.items()}
    result = np.empty((len(positives), RATIO), dtype=np.int64)
    for row, (user, outfit) in enumerate(zip(users.tolist(), positives.tolist())):
        layout = [categories[g] for g in table.members[outfit]]
        for k in range(RATIO):
            for _ in range(attempts):
                mixture = [int(pools[c][rng.integers(len(pools[c]))]) for c in layout]
                if len(set(mixture)) == len(mixture) and frozenset(mixture) not in owned[user]:
                    break
            else:
                raise DataFormatError(
                    f"no random negative can be drawn for a {split} outfit of layout {' '.join(layout)}: the "
                    f"{split} positives hold too few garments of these categories", where=INTERACTIONS_FILE,
                    fix=f"give the {split} split more outfits with these categories")
            result[row, k] = table.index_of(mixture)
    return result


def hard_negatives(rng, table, users, positives, owned):
    """``RATIO`` hard negatives per test positive: test positives of other users (Polyvore-U's ``nega_hard``),
    never an outfit the user has. ``[P, RATIO]`` outfit indices."""
    if len(np.unique(users)) < 2:
        raise DataFormatError("hard test negatives need test positives of two or more users", where=INTERACTIONS_FILE,
                              fix="give test outfits to more users")
    result = np.empty((len(positives), RATIO), dtype=np.int64)
    for row, user in enumerate(users.tolist()):
        others = np.flatnonzero(users != user)
        for k in range(RATIO):
            for _ in range(100):
                pick = positives[others[rng.integers(len(others))]]
                if frozenset(table.members[pick]) not in owned[user]:
                    break
            else:
                raise DataFormatError("no hard negative can be drawn for a test outfit: the other users' test "
                                      "outfits are all outfits of this user too", where=INTERACTIONS_FILE,
                                      fix="give test outfits to more users")
            result[row, k] = pick
    return result


def build_rows(catalogue, splits, seed):
    """``({split: (users, outfits, labels)}, OutfitTable)`` for the five ``.inter`` files."""
    rng = np.random.default_rng([seed, 2])
    table = OutfitTable(catalogue.outfit_members)
    owned = {}
    for user, outfit in zip(catalogue.users.tolist(), catalogue.outfits.tolist()):
        owned.setdefault(user, set()).add(frozenset(table.members[outfit]))
    users = {name: catalogue.users[rows] for name, rows in splits.items()}
    outfits = {name: catalogue.outfits[rows] for name, rows in splits.items()}
    categories = catalogue.garment_categories
    valid_negatives = random_mixtures(rng, table, categories, users["valid"], outfits["valid"], owned, "valid")
    test_negatives = random_mixtures(rng, table, categories, users["test"], outfits["test"], owned, "test")
    test_hard = hard_negatives(rng, table, users["test"], outfits["test"], owned)
    teacher = convert._split_validation(users["valid"], RATIO, seed)
    rows = {
        "train": (users["train"], outfits["train"], np.ones(len(outfits["train"]), dtype=np.float32)),
        "valid_teacher": convert._labeled_rows(users["valid"], outfits["valid"], valid_negatives, RATIO, teacher),
        "valid_student": convert._labeled_rows(users["valid"], outfits["valid"], valid_negatives, RATIO, ~teacher),
        "test": convert._labeled_rows(users["test"], outfits["test"], test_negatives, RATIO),
        "test_hard": convert._labeled_rows(users["test"], outfits["test"], test_hard, RATIO),
    }
    return rows, table


def _negative_tokens(outfit_ids, count):
    """Tokens of the drawn negatives: ``mix<k>`` (underscores in front until no catalogue outfit starts so)."""
    prefix = "mix"
    while any(o.startswith(prefix) for o in outfit_ids):
        prefix = "_" + prefix
    return [f"{prefix}{k}" for k in range(count)]


# --------------------------------------------------------------------------------------------- writing


def dataset_yaml(dataset, src, image_size):
    """The settings a run of ``--dataset=<dataset>`` reads from ``<data_path>/<dataset>/<dataset>.yaml``."""
    return (f"# {dataset}: imported from {os.path.abspath(src)} by python -m recbole_outfit.data.import_outfits\n"
            f"# (docs/data.md). Read by --dataset={dataset} when the run's data_path holds this folder.\n"
            f"{'image_size: ' + str(int(image_size)):<34}"
            f"# (int) Side in pixels of the stored garment images (the import's --image_size).\n")


def _file_stats(paths):
    return {os.path.basename(p): [os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in paths}


def _image_signature(src, images):
    """Count and digest of (path, size, mtime) of every image file listed (missing ones as such)."""
    digest = hashlib.sha256()
    for image in sorted(set(images)):
        path = os.path.join(src, image)
        stat = os.stat(path) if os.path.isfile(path) else None
        digest.update(f"{image}\t{stat.st_size if stat else -1}\t{stat.st_mtime_ns if stat else -1}\n".encode())
    return {"kind": "files", "path": os.path.realpath(src), "files": len(set(images)), "digest": digest.hexdigest()}


def import_outfits(src, dataset, out="dataset_atomic", image_size=convert.DEFAULT_IMAGE_SIZE, force=False,
                   skip_missing=False, seed=convert.DEFAULT_SPLIT_SEED, workers=None, show_progress=True):
    """Import the catalogue in ``src`` into ``<out>/<dataset>/``; return that folder's path."""
    logger = getLogger()
    convert.check_image_size(image_size)
    if not dataset or os.sep in dataset or (os.altsep and os.altsep in dataset) or dataset.startswith("."):
        raise ConfigError(f"dataset name {dataset!r} cannot name a folder and its files", where="--dataset",
                          fix="use a plain name such as my_shop (no path separators, not starting with a dot)")
    final_dir = os.path.join(out, dataset)
    catalogue = Catalogue(src, skip_missing)
    options = {"dataset": dataset, "image_size": int(image_size), "skip_missing": bool(skip_missing),
               "seed": int(seed), "ratio": RATIO}
    signature = {"importer_version": IMPORTER_VERSION, "root": os.path.realpath(src),
                 "files": _file_stats(catalogue.paths.values()), "images": _image_signature(src, catalogue.images),
                 "options": options}
    remove_stale_temp(out, convert.stale_pattern(dataset))  # leftovers of imports that were killed
    if convert.up_to_date(final_dir, dataset, signature, force):
        logger.info(f"{final_dir} is up to date with {src}; nothing to do (use --force to rebuild)")
        return final_dir
    if catalogue.has_split:
        splits, notes = given_split(catalogue, tolerate_few=skip_missing)
    else:
        splits, notes = seeded_split(catalogue, seed, tolerate_few=skip_missing)
    rows, table = build_rows(catalogue, splits, seed)
    n_catalogue = len(catalogue.outfit_ids)
    outfit_tokens = catalogue.outfit_ids + _negative_tokens(catalogue.outfit_ids, len(table.members) - n_catalogue)

    def read():
        result = convert.Catalogue(
            image_names=catalogue.images, garment_tokens=catalogue.garment_ids,
            garment_categories=catalogue.garment_categories, image_tokens=catalogue.images,
            outfit_items=table.items(), outfit_tokens=outfit_tokens, user_tokens=catalogue.user_ids, rows=rows,
            categories=catalogue.categories, describe_failure=catalogue.describe_failure)
        extra = {"max_garments_per_outfit": int(max(map(len, table.members))), "categories": len(catalogue.categories)}
        return result, extra

    def write_yaml(folder):
        with atomic_write(os.path.join(folder, f"{dataset}.yaml")) as f:
            f.write(dataset_yaml(dataset, src, image_size))

    source = JpegFolderSource(src)
    split_notes = {"split": {"given": catalogue.has_split, "shares": list(SPLIT_SHARES), **notes},
                   "skipped_for_missing_images": catalogue.dropped_for_images}
    return convert.write_dataset(out, dataset, read, signature, source, image_size, skip_missing, workers,
                                 show_progress, notes=split_notes, before_manifest=write_yaml)


@exits_2_on_user_error
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.data.import_outfits",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="folder holding garments.csv, outfits.csv, interactions.csv")
    parser.add_argument("--dataset", required=True, help="name of the dataset (its folder and file names)")
    parser.add_argument("--out", default="dataset_atomic", help="output root (default: dataset_atomic)")
    parser.add_argument("--image_size", type=int, default=convert.DEFAULT_IMAGE_SIZE,
                        help="stored image side in pixels")
    parser.add_argument("--force", action="store_true", help="rebuild even if the output is up to date")
    parser.add_argument("--skip_missing", action="store_true",
                        help="drop outfits whose images are missing or undecodable (and users left with too few)")
    parser.add_argument("--seed", type=int, default=convert.DEFAULT_SPLIT_SEED,
                        help="seed of the split, the validation halves and the test negatives")
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    import_outfits(args.src, args.dataset, args.out, args.image_size, args.force, args.skip_missing, args.seed,
                   args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
