"""Reading a Polyvore-U release (Lu et al., CVPR 2019, "Learning Binary Code for Personalized Fashion
Recommendation"), with every check the converter promises. Format: README, "Polyvore-U".

A root holds ``tuples_630/``, ``tuples_519/``, ``tuples_53/``, ``tuples_32/`` and ``images/`` (the JPEG folder
``images/291x291/`` or the LMDB ``images/lmdb``). Each tuples folder holds the per-category image lists
``image_list_{top,bottom,shoe}`` (line n = item id n of that category) and CSV tuple files
``tuples_{split}_{posi,nega,nega_hard}`` with header ``user,top,bottom,shoe`` (fixed length) or
``user,top,top,bottom,shoe`` (variable length, ``-1`` = no second top). Row i of a negative file belongs to
positive row ``i // ratio``.
"""

import os
from dataclasses import dataclass

import numpy as np

from recbole_outfit.errors import DataFormatError, location

CATEGORIES = ("top", "bottom", "shoe")
FIXED_HEADER = ("user", "top", "bottom", "shoe")
VARIABLE_HEADER = ("user", "top", "top", "bottom", "shoe")
SPLITS = ("train", "val", "test")
NEGATIVE_RATIO = 10
MISSING = -1  # marks an absent second top in variable-length files

# dataset name -> tuples folder of the release
DATASET_FOLDERS = {
    "polyvore630": "tuples_630",
    "polyvore519": "tuples_519",
    "polyvore53": "tuples_53",
    "polyvore32": "tuples_32",
}

HINT = "See the README section 'Polyvore-U' for the expected layout"


def image_list_path(folder, category):
    return os.path.join(folder, f"image_list_{category}")


def tuple_path(folder, split, kind):
    """``kind`` is ``posi``, ``nega`` or ``nega_hard``."""
    return os.path.join(folder, f"tuples_{split}_{kind}")


def garment_token(file_name):
    """Garment id token = the JPEG file name without ``.jpg``."""
    stem, ext = os.path.splitext(file_name)
    return stem if ext.lower() in (".jpg", ".jpeg") else file_name


@dataclass
class TupleTable:
    """One tuple file. ``items[i, s]`` is the per-category id in slot s (category ``slot_categories[s]``),
    ``-1`` where a variable-length outfit has no second top. Row i sits on line ``i + 2`` of ``path``."""

    path: str
    users: np.ndarray  # [n] int64, the user index as written
    items: np.ndarray  # [n, slots] int64
    slot_categories: tuple

    def __len__(self):
        return len(self.users)


def _read_lines(path):
    if not os.path.isfile(path):
        raise DataFormatError(
            "required file is missing", where=path, fix=HINT
        )
    # utf-8-sig: a byte-order mark at the start (written by some Windows editors) is dropped, not read as part
    # of the first image name or of the header
    with open(path, "r", encoding="utf-8-sig", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_image_list(path):
    """The JPEG file names of one category, in id order. Rejects empty lines, whitespace and duplicates."""
    names = _read_lines(path)
    seen = {}
    for i, name in enumerate(names):
        if not name.strip():
            raise DataFormatError("empty line in an image list", where=location(path, i + 1),
                                  fix="each line must hold one JPEG file name; remove the empty line")
        if "\ufeff" in name:
            raise DataFormatError(f"image name {name!r} contains a byte-order mark (U+FEFF)", where=location(path, i + 1),
                                  fix="files were joined with a byte-order mark in the middle; remove it from the line")
        if any(c.isspace() for c in name):
            raise DataFormatError(f"image name {name!r} contains whitespace", where=location(path, i + 1),
                                  fix="garment ids are built from file names and may not contain spaces or tabs")
        if name in seen:
            raise DataFormatError(f"image name {name!r} is listed twice (also on line {seen[name] + 1})",
                                  where=location(path, i + 1), fix="each item id must name a distinct image")
        seen[name] = i
    return names


def read_tuples(path, list_sizes, expected_header=None):
    """Parse and validate one tuple file.

    Args:
        path: the CSV file.
        list_sizes: ``{category: number of images in image_list_<category>}``; ids must lie in ``[0, size)``.
        expected_header: if given, the header every file of the folder must share.
    Returns:
        TupleTable
    """
    lines = _read_lines(path)
    if not lines:
        raise DataFormatError("file is empty (not even a header)", where=location(path, 1), fix=HINT)
    header = tuple(field.strip() for field in lines[0].split(","))
    if header not in (FIXED_HEADER, VARIABLE_HEADER):
        raise DataFormatError(
            f"wrong header {lines[0]!r}; expected {','.join(FIXED_HEADER)!r} (fixed length) "
            f"or {','.join(VARIABLE_HEADER)!r} (variable length)",
            where=location(path, 1), fix=HINT,
        )
    if expected_header is not None and header != tuple(expected_header):
        raise DataFormatError(
            f"header {','.join(header)!r} differs from the folder's other files ({','.join(expected_header)!r})",
            where=location(path, 1), fix="all tuple files of one folder must use the same layout",
        )
    slot_categories = header[1:]
    width = len(header)
    second_top_slot = 1 if header == VARIABLE_HEADER else None  # slot index within the item columns
    rows = np.empty((len(lines) - 1, width), dtype=np.int64)
    for i, line in enumerate(lines[1:]):
        fields = line.split(",")
        if len(fields) != width:
            raise DataFormatError(
                f"{len(fields)} columns where the header has {width}", where=location(path, i + 2),
                fix=f"each row must be {','.join(header)}",
            )
        try:
            rows[i] = [int(x) for x in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_int(f))
            raise DataFormatError(f"field {bad!r} is not an integer", where=location(path, i + 2),
                                  fix="user and item ids must be integers") from None
    users, items = rows[:, 0], rows[:, 1:]
    _check_ids(path, users, items, slot_categories, second_top_slot, list_sizes)
    return TupleTable(path=path, users=users, items=items, slot_categories=slot_categories)


def _is_int(text):
    try:
        int(text)
        return True
    except ValueError:
        return False


def _check_ids(path, users, items, slot_categories, second_top_slot, list_sizes):
    bad_user = np.flatnonzero(users < 0)
    if len(bad_user):
        raise DataFormatError(f"negative user index {users[bad_user[0]]}", where=location(path, bad_user[0] + 2),
                              fix="user indices start at 0")
    for slot, category in enumerate(slot_categories):
        column = items[:, slot]
        missing = column == MISSING
        if slot != second_top_slot and missing.any():
            row = int(np.flatnonzero(missing)[0])
            if second_top_slot is None:
                where = "a fixed-length file"
            else:
                where = "the first top column" if slot == 0 else f"the {category} column"
            raise DataFormatError(
                f"-1 (missing item) in {where}; only the second top of a variable-length file may be missing",
                where=location(path, row + 2), fix="every outfit needs a top, a bottom and shoes",
            )
        size = list_sizes[category]
        out_of_range = ~missing & ((column < 0) | (column >= size))
        if out_of_range.any():
            row = int(np.flatnonzero(out_of_range)[0])
            raise DataFormatError(
                f"{category} id {column[row]} is outside image_list_{category} ({size} images, ids 0..{size - 1})",
                where=location(path, row + 2), fix="check that the tuples and image lists come from the same folder",
            )


def check_negative_table(positives, negatives, ratio=NEGATIVE_RATIO, strict_users=True):
    """A negative file must hold exactly ``ratio`` rows per positive row, each for the positive's user.

    Returns the user of each negative row (taken from its positive). With ``strict_users=False`` a negative
    row naming another user is accepted (hard-negative files: the row is another user's positive outfit) and
    the number of such rows is returned as well.
    """
    if len(negatives) != ratio * len(positives):
        raise DataFormatError(
            f"{len(negatives)} negative rows for {len(positives)} positives in {positives.path}; "
            f"expected {ratio} x {len(positives)} = {ratio * len(positives)}",
            where=negatives.path,
            fix=f"row i of a negative file belongs to positive row i // {ratio}; the files must come from the same release",
        )
    owners = np.repeat(positives.users, ratio)
    differs = np.flatnonzero(negatives.users != owners)
    if len(differs) and strict_users:
        row = int(differs[0])
        raise DataFormatError(
            f"negative row for positive line {row // ratio + 2} of {positives.path} names user "
            f"{negatives.users[row]}, but that positive belongs to user {owners[row]}",
            where=location(negatives.path, row + 2),
            fix=f"row i of a negative file must belong to positive row i // {ratio}",
        )
    return owners, len(differs)
