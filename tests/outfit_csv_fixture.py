"""Catalogues in the importer's CSV format (docs/data.md), written for tests.

* :func:`write_catalogue`: five categories, outfits of 2 to 5 garments, string ids, PNG and JPEG images of
  several sizes, a byte-order mark, CRLF line ends and an extra column (all of which the format accepts).
* :func:`export_polyvore_folder`: a Polyvore-U tuples folder (e.g. the synthetic generator's ``tuples_630``)
  rewritten in this format with its ``split`` column.
"""

import os

import numpy as np
from PIL import Image

from recbole_outfit.data import polyvore
from recbole_outfit.data.image_store import JPEG_FOLDER

FIVE = ("top", "bottom", "shoe", "bag", "outerwear")
COLOURS = {"top": (200, 40, 40), "bottom": (40, 60, 180), "shoe": (30, 30, 30), "bag": (220, 180, 40),
           "outerwear": (60, 140, 60)}
SIZES = ((24, 24), (40, 30), (64, 64))  # (width, height) of the images, in turn


def write_csv(path, header, rows, bom=True, crlf=True):
    end = "\r\n" if crlf else "\n"
    text = ",".join(header) + end + "".join(",".join(map(str, r)) + end for r in rows)
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        f.write(text)


def write_catalogue(folder, users=6, per_user=12, per_category=10, seed=0, split=False):
    """Write a catalogue of ``len(FIVE) * per_category`` garments and ``users * per_user`` positives into
    ``folder``; return ``{"users": [...], "outfits": {id: [garment ids]}, "categories": {garment: category}}``.

    A user prefers a shade per category (their garments are drawn mostly from a third of each category)
    and two layouts; with ``split`` the rows carry a ``split`` column (the last two positives of a user test,
    the two before them valid).
    """
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "img", "png"), exist_ok=True)
    os.makedirs(os.path.join(folder, "img", "jpg"), exist_ok=True)
    garments, category_of = [], {}
    for c, category in enumerate(FIVE):
        for i in range(per_category):
            gid = f"{category[:2]}-{i:03d}"
            k = c * per_category + i
            size = SIZES[k % len(SIZES)]
            shade = 0.5 + 0.5 * i / per_category
            colour = tuple(int(v * shade) for v in COLOURS[category])
            image = Image.new("RGB", size, (240, 240, 240))
            image.paste(colour, (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
            if k % 2:
                name = os.path.join("img", "png", f"{gid}.png")
                image.convert("RGBA").save(os.path.join(folder, name))
            else:
                name = os.path.join("img", "jpg", f"{gid}.jpg")
                image.save(os.path.join(folder, name), quality=90)
            garments.append((gid, category, name.replace(os.sep, "/"), f"note {k}"))
            category_of[gid] = category
    layouts = [("top", "bottom", "shoe"), ("top", "bottom"), ("top", "bottom", "shoe", "bag"),
               ("top", "bottom", "shoe", "bag", "outerwear"), ("outerwear", "bottom", "shoe"), ("top", "top", "bottom")]
    outfits, interactions, user_ids = {}, [], []
    for u in range(users):
        user = f"user-{chr(ord('a') + u)}"
        user_ids.append(user)
        own_layouts = [layouts[(u + j) % len(layouts)] for j in range(2)]
        band = rng.integers(3)
        seen = set()
        rows = []
        while len(rows) < per_user:
            layout = own_layouts[int(rng.random() < 0.35)]
            members = []
            for category in layout:
                pool = [f"{category[:2]}-{i:03d}" for i in range(per_category)
                        if (i * 3 // per_category == band or rng.random() < 0.3)]
                choice = pool[rng.integers(len(pool))]
                if choice in members:
                    break
                members.append(choice)
            else:
                key = frozenset(members)
                if key in seen:
                    continue
                seen.add(key)
                oid = f"look {len(outfits)}".replace(" ", "_")
                outfits[oid] = members
                rows.append(oid)
        for j, oid in enumerate(rows):
            split_value = "test" if j >= per_user - 2 else "valid" if j >= per_user - 4 else "train"
            interactions.append((user, oid, split_value) if split else (user, oid))
    write_csv(os.path.join(folder, "garments.csv"), ["garment_id", "category", "image", "note"], garments)
    write_csv(os.path.join(folder, "outfits.csv"), ["outfit_id", "garments"],
              [(o, " ".join(m)) for o, m in outfits.items()])
    write_csv(os.path.join(folder, "interactions.csv"), ["user_id", "outfit_id"] + (["split"] if split else []),
              interactions)
    return {"users": user_ids, "outfits": outfits, "categories": category_of}


def export_polyvore_folder(root, folder_name, out):
    """Rewrite the positives of ``root/folder_name`` (a Polyvore-U tuples folder) in the importer's format:
    garments from the image lists (id = JPEG name without ``.jpg``), one outfit per distinct garment set of
    the positives, interactions in file order (train, val, test) with their ``split``. Images stay where they
    are (paths relative to ``out`` through a link)."""
    os.makedirs(out, exist_ok=True)
    folder = os.path.join(root, folder_name)
    images = os.path.join(out, "images")
    if not os.path.exists(images):
        os.symlink(os.path.abspath(os.path.join(root, "images")), images)
    lists = {c: polyvore.read_image_list(polyvore.image_list_path(folder, c)) for c in polyvore.CATEGORIES}
    sizes = {c: len(v) for c, v in lists.items()}
    garments = [(polyvore.garment_token(n), c, f"{JPEG_FOLDER}/{n}".replace(os.sep, "/"))
                for c in polyvore.CATEGORIES for n in lists[c]]
    outfits, interactions = {}, []
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        table = polyvore.read_tuples(polyvore.tuple_path(folder, split, "posi"), sizes)
        for user, items in zip(table.users.tolist(), table.items.tolist()):
            members = [polyvore.garment_token(lists[c][i]) for c, i in zip(table.slot_categories, items)
                       if i != polyvore.MISSING]
            key = frozenset(members)
            if key not in outfits:
                outfits[key] = (f"outfit{len(outfits)}", members)
            interactions.append((user, outfits[key][0], name))
    write_csv(os.path.join(out, "garments.csv"), ["garment_id", "category", "image"], garments, bom=False, crlf=False)
    write_csv(os.path.join(out, "outfits.csv"), ["outfit_id", "garments"],
              [(o, " ".join(m)) for o, m in outfits.values()], bom=False, crlf=False)
    write_csv(os.path.join(out, "interactions.csv"), ["user_id", "outfit_id", "split"], interactions, bom=False,
              crlf=False)
