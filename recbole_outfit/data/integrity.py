"""What a converted dataset's files were when the converter wrote them, and whether they still are.

The converter records, in the manifest's ``files``, the size and SHA-256 of every file it writes (the atomic
files and the image store). Before a dataset is used (``data.prepare.ensure_atomic_dataset``, which every run,
``recommend`` and the page go through) :func:`damaged_files` compares them:

* sizes always (a ``stat``: a truncated or cut-short image store is named before numpy's memory map fails);
* the checksums of the text files always (a few MB even for Polyvore-630: well under a second);
* the checksum of the image store (gigabytes: 12 s for 1.6 GiB from the page cache, 57 s from disk, on two
  busy CPU cores, docs/troubleshooting.md) only when the file's ``stat`` (size, modification and change times, inode) differs
  from the one recorded in ``<dataset>.images.npy.verified.json`` by the last full check. The converter writes
  that record right after computing the digest, so an unchanged store is never read in full again, while any
  write to it (which moves its modification and change times) makes the next use read and check all of it.
  Damage that leaves the ``stat`` as it was (the disk itself flipping bits) is not seen this way; deleting
  the ``.verified.json`` file makes the next use check the whole store.
"""

import hashlib
import json
import os
from logging import getLogger

from recbole_outfit.atomic import atomic_write

STORE_ROLE = "images"


def file_digest(path):
    """SHA-256 hex digest of ``path``, read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def stat_stamp(path):
    """What changes whenever ``path`` is written, replaced or moved to another file system."""
    stat = os.stat(path)
    return {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}


def verified_record_path(store_path):
    return store_path + ".verified.json"


def record_files(paths):
    """``{role: {"file", "bytes", "sha256"}}`` for the written files ``paths`` (``{role: path}``, the manifest
    excluded); the image store's full check is recorded as done."""
    record = {}
    for role, path in paths.items():
        digest = file_digest(path)
        record[role] = {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": digest}
        if role == STORE_ROLE:
            _write_verified(path, digest)
    return record


def _write_verified(store_path, digest):
    try:
        with atomic_write(verified_record_path(store_path)) as f:
            json.dump({"sha256": digest, "stat": stat_stamp(store_path)}, f)
    except OSError as error:  # a read-only dataset folder: every use then checks the whole store
        getLogger().debug(f"cannot record the image store's check in {verified_record_path(store_path)}: {error}")


def _store_checked_before(store_path, digest):
    """True when the last full check of ``store_path`` found ``digest`` and the file has not changed since."""
    try:
        with open(verified_record_path(store_path), "r", encoding="utf-8") as f:
            done = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(done, dict) and done.get("sha256") == digest and done.get("stat") == stat_stamp(store_path)


def damaged_files(folder, files):
    """``[(path, what is wrong)]`` for the files recorded in a manifest's ``files`` (see the module docstring);
    empty when all match."""
    damaged = []
    for role, expected in files.items():
        path = os.path.join(folder, expected["file"])
        if not os.path.isfile(path):
            damaged.append((path, "is missing"))
            continue
        size = os.path.getsize(path)
        if size != expected["bytes"]:
            damaged.append((path, f"is {size:,} bytes, {expected['bytes']:,} when it was written "
                                  f"({'truncated or cut short' if size < expected['bytes'] else 'altered'})"))
            continue
        if role == STORE_ROLE and _store_checked_before(path, expected["sha256"]):
            continue
        if role == STORE_ROLE and size > 2**30:
            getLogger().info(f"Checking the image store {path} ({size / 2**30:.1f} GiB) against its checksum: the "
                             f"file changed since its last check (a full read)")
        if file_digest(path) != expected["sha256"]:
            damaged.append((path, "does not match the checksum recorded when it was written (altered or corrupted)"))
        elif role == STORE_ROLE:
            _write_verified(path, expected["sha256"])
    return damaged
