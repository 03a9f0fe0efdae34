"""Cached artifacts that are checked, not trusted: a SHA-256 sidecar written when an artifact is published and
compared when it is reused.

``<artifact>.sha256`` holds the artifact's digest. :func:`is_intact` is false for a missing, truncated,
altered or unsigned artifact; the stage that owns it then rebuilds it (with a warning naming the file).
"""

import hashlib
import os

from recbole_outfit.atomic import atomic_write


def file_digest(path):
    """SHA-256 hex digest of the file ``path``, read in blocks."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _signed_digest(path):
    """The digest recorded in ``path``'s sidecar, or None when the artifact or its sidecar is missing."""
    sidecar = path + ".sha256"
    if not (os.path.isfile(path) and os.path.isfile(sidecar)):
        return None
    with open(sidecar, "r", encoding="utf-8") as f:
        return f.read().strip()


def sign(path):
    """Write ``<path>.sha256`` for the published artifact ``path``; returns ``path``."""
    with atomic_write(path + ".sha256") as f:
        f.write(file_digest(path) + "\n")
    return path


def read_intact(path):
    """The bytes of ``path`` when they match the digest in its sidecar, else None (missing, altered, unsigned).
    One read serves both the check and the use, so what is used is exactly what was checked."""
    expected = _signed_digest(path)
    if expected is None:
        return None
    with open(path, "rb") as f:
        data = f.read()
    return data if hashlib.sha256(data).hexdigest() == expected else None


def is_intact(path):
    """True when ``path`` exists and matches the digest in its sidecar."""
    expected = _signed_digest(path)
    return expected is not None and expected == file_digest(path)
