"""Exports of a trained model's vectors, and an approximate nearest-outfit index over them.

Scores are cosines (Eq. 9), so an index over L2-normalised outfit vectors queried with a normalised user
vector by inner product returns a user's best catalogue outfits. The index is hnswlib's HNSW graph
(the ``index`` extra, ``pip install hnswlib``); :func:`recall_at_k` measures it against exact search.
"""

import os

import numpy as np

from recbole_outfit.atomic import atomic_write, temp_name
from recbole_outfit.errors import ConfigError


def write_embeddings(path, embeddings):
    """``Recommender.embeddings()`` -> a ``.npz`` with ``users``, ``user_ids``, ``garments``, ``garment_ids``,
    ``outfits``, ``outfit_ids`` (vectors float32, ids as strings); written atomically."""
    arrays = {}
    for name, (tokens, vectors) in embeddings.items():
        arrays[name] = np.asarray(vectors, dtype=np.float32)
        arrays[name[:-1] + "_ids"] = np.asarray([str(t) for t in tokens])
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _normalised(vectors):
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def require_hnswlib():
    try:
        import hnswlib
    except ImportError as error:
        raise ConfigError("the nearest-outfit index needs hnswlib", where="--index",
                          fix='pip install "recbole-outfit[index]" (or pip install hnswlib)') from error
    return hnswlib


def build_index(outfit_vectors, ef_construction=200, m=16, ef=100, seed=0):
    """An HNSW inner-product index over normalised outfit vectors ``[O, d']`` (labels = row numbers)."""
    hnswlib = require_hnswlib()
    vectors = _normalised(outfit_vectors)
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), ef_construction=ef_construction, M=m, random_seed=seed)
    index.add_items(vectors, np.arange(len(vectors)), num_threads=1)
    index.set_ef(ef)
    return index


def query_index(index, user_vectors, k=10):
    """Rows ``[U, k]`` of the ``k`` outfits nearest each user vector (best first) and their cosines."""
    labels, distances = index.knn_query(_normalised(user_vectors), k=k, num_threads=1)
    return labels, 1.0 - distances  # hnswlib's "ip" distance is 1 - inner product


def exact_top(outfit_vectors, user_vectors, k=10):
    """Exact top-``k`` rows by cosine ``[U, k]`` (best first)."""
    scores = _normalised(user_vectors) @ _normalised(outfit_vectors).T  # [U, O]
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def recall_at_k(index, outfit_vectors, user_vectors, k=10):
    """Mean over users of ``|index top-k ∩ exact top-k| / k``."""
    found, _ = query_index(index, user_vectors, k)
    exact = exact_top(outfit_vectors, user_vectors, k)
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(found, exact)]))


def save_index(index, path):
    """Write the index atomically (hnswlib's own format; load with ``hnswlib.Index(space="ip", dim=d)``
    then ``load_index(path)``)."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, temp_name(name))
    try:
        index.save_index(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
