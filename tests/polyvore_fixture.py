"""Hand-written Polyvore-U roots for converter tests: a few users, outfits and 8x8 JPEGs."""

import io
import os

import numpy as np
from PIL import Image

from recbole_outfit.data import polyvore
from recbole_outfit.data.image_store import JPEG_FOLDER, LMDB_FOLDER

RATIO = polyvore.NEGATIVE_RATIO


def jpeg_bytes(colour, size=8):
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), colour, dtype=np.uint8)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def image_colour(name):
    """A distinct, JPEG-stable colour per image name (for checking which image landed in which row)."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(name))
    return ((seed * 37) % 200 + 20, (seed * 91) % 200 + 20, (seed * 53) % 200 + 20)


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(str(v) for v in row) + "\n")


def make_root(root, variable=False, images="jpeg", n_items=(6, 5, 5), users=(0, 1, 2), seed=0):
    """Write a Polyvore-U root with folder ``tuples_519`` (variable) or ``tuples_630`` (fixed).

    Each user gets 2 train, 2 val and 2 test positives; each positive 10 random negatives and 10 hard
    negatives. Returns ``(root, folder_name, tables)`` where tables maps (split, kind) -> rows.
    """
    rng = np.random.default_rng(seed)
    folder_name = "tuples_519" if variable else "tuples_630"
    folder = os.path.join(root, folder_name)
    os.makedirs(folder, exist_ok=True)
    names = {c: [f"{c}{i}.jpg" for i in range(n)] for c, n in zip(polyvore.CATEGORIES, n_items)}
    for category in polyvore.CATEGORIES:
        with open(polyvore.image_list_path(folder, category), "w", encoding="utf-8") as f:
            f.write("".join(n + "\n" for n in names[category]))
    header = polyvore.VARIABLE_HEADER if variable else polyvore.FIXED_HEADER

    def outfit(user, second_top=None):
        top = int(rng.integers(n_items[0]))
        row = [user, top]
        if variable:
            row.append(second_top if second_top is not None else -1)
        return row + [int(rng.integers(n_items[1])), int(rng.integers(n_items[2]))]

    tables = {}
    for split in polyvore.SPLITS:
        positives = []
        for user in users:
            positives.append(outfit(user))
            positives.append(outfit(user, second_top=(positives[-1][1] + 1) % n_items[0]) if variable else outfit(user))
        negatives = [outfit(row[0]) for row in positives for _ in range(RATIO)]
        hard = [outfit(row[0]) for row in positives for _ in range(RATIO)]
        for kind, rows in (("posi", positives), ("nega", negatives), ("nega_hard", hard)):
            write_csv(polyvore.tuple_path(folder, split, kind), header, rows)
            tables[split, kind] = rows
    all_names = [n for c in polyvore.CATEGORIES for n in names[c]]
    if images == "jpeg":
        image_dir = os.path.join(root, JPEG_FOLDER)
        os.makedirs(image_dir, exist_ok=True)
        for name in all_names:
            with open(os.path.join(image_dir, name), "wb") as f:
                f.write(jpeg_bytes(image_colour(name)))
    else:
        import lmdb

        os.makedirs(os.path.join(root, LMDB_FOLDER), exist_ok=True)
        env = lmdb.open(os.path.join(root, LMDB_FOLDER), map_size=1 << 24)
        with env.begin(write=True) as txn:
            for name in all_names:
                txn.put(name.encode(), jpeg_bytes(image_colour(name)))
        env.close()
    return root, folder_name, tables


def rewrite_line(path, line_number, text):
    """Replace 1-based line ``line_number`` of ``path`` with ``text``."""
    with open(path, "r", encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines[line_number - 1] = text
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
