"""Cached artifacts that are checked, not trusted: a SHA-256 sidecar written when an artifact is published and
compared when it is reused.

``<artifact>.sha256`` holds the artifact's digest. :func:`is_intact` is false for a missing, truncated,
altered or unsigned artifact; the stage that owns it then rebuilds it (with a warning naming the file).
"""

import hashlib
import os

from recbole_outfit.atomic import atomic_write


def _digest(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sign(path):
    """Write ``<path>.sha256`` for the published artifact ``path``; returns ``path``."""
    with atomic_write(path + ".sha256") as f:
        f.write(_digest(path) + "\n")
    return path


def read_intact(path):
    """The bytes of ``path`` when they match the digest in its sidecar, else None (missing, altered, unsigned).
    One read serves both the check and the use, so what is used is exactly what was checked."""
    sidecar = path + ".sha256"
    if not (os.path.isfile(path) and os.path.isfile(sidecar)):
        return None
    with open(sidecar, "r", encoding="utf-8") as f:
        expected = f.read().strip()
    with open(path, "rb") as f:
        data = f.read()
    return data if hashlib.sha256(data).hexdigest() == expected else None


def is_intact(path):
    """True when ``path`` exists and matches the digest in its sidecar."""
    sidecar = path + ".sha256"
    if not (os.path.isfile(path) and os.path.isfile(sidecar)):
        return False
    with open(sidecar, "r", encoding="utf-8") as f:
        expected = f.read().strip()
    return expected == _digest(path)
