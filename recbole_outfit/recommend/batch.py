"""Every user's recommendations to one file: JSON lines, or Parquet when the name ends in ``.parquet``.

One record per user: ``{"user": id, "outfits": [outfit ids, best first], "scores": [cosines]}``, as
``Recommender.rank_all`` yields them (the catalogue, each user's training outfits left out). Parquet needs
pyarrow (the ``batch`` extra); the file is published atomically either way.
"""

import json
import os
import time

from recbole_outfit.atomic import atomic_write
from recbole_outfit.errors import ConfigError


def check_output_path(path, flag):
    """Refuse, before any work, an output path that is a folder or whose folder is missing or not writable."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigError(f"{flag} {path} is a folder", where=flag, fix="give a file name")
    if not os.path.isdir(folder):
        raise ConfigError(f"{flag} {path}: the folder {folder} does not exist", where=flag,
                          fix="create the folder or write somewhere else")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"{flag} {path}: the folder {folder} is not writable", where=flag,
                          fix="write somewhere else")


def is_parquet(path):
    return str(path).lower().endswith(".parquet")


def check_parquet_available(path, flag="--out"):
    if is_parquet(path):
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise ConfigError(f"{flag} {path} is Parquet, which needs pyarrow", where=flag,
                              fix='pip install "recbole-outfit[batch]" (or pip install pyarrow), or write .jsonl') \
                from error


def write_recommendations(records, path, progress=None):
    """Write ``records`` (an iterable of dicts from ``rank_all``) to ``path``; returns ``(users, seconds)``.
    ``progress(done, seconds)`` is called every few seconds."""
    started, last, count = time.time(), time.time(), 0

    def tick():
        nonlocal last
        if progress and time.time() - last > 2:
            last = time.time()
            progress(count, last - started)

    if is_parquet(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        users, outfits, scores = [], [], []
        for record in records:
            users.append(record["user"])
            outfits.append(record["outfits"])
            scores.append(record["scores"])
            count += 1
            tick()
        table = pa.table({"user": pa.array(users, pa.string()), "outfits": pa.array(outfits, pa.list_(pa.string())),
                          "scores": pa.array(scores, pa.list_(pa.float32()))})
        with atomic_write(path, "wb") as f:
            pq.write_table(table, f)
    else:
        with atomic_write(path) as f:
            for record in records:
                f.write(json.dumps(record) + "\n")
                count += 1
                tick()
    return count, time.time() - started


def read_recommendations(path):
    """The records of a file :func:`write_recommendations` wrote (a list of dicts)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
