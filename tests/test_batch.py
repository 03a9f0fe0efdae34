"""Every user's recommendations (``rank_all``, ``--all_users``), the vectors' export and the nearest-outfit index."""

import os
import subprocess
import sys

import numpy as np
import pytest

from recbole_outfit.recommend.batch import read_recommendations, write_recommendations
from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def same_as_rank(rec, records, k):
    users = rec.users()[:3]
    by_user = {r["user"]: r for r in records}
    for user in users:
        expected = rec.rank(user, k=k)
        assert by_user[user]["outfits"] == [r["outfit"] for r in expected]
        assert np.allclose(by_user[user]["scores"], [r["score"] for r in expected], atol=1e-6)
        assert not set(by_user[user]["outfits"]) & set(rec.known_outfits(user))


def test_rank_all_equals_rank_for_each_user_whatever_the_batch(rec):
    for batch_users in (1, 2, 256):
        records = list(rec.rank_all(k=7, batch_users=batch_users))
        assert [r["user"] for r in records] == rec.users()
        same_as_rank(rec, records, 7)


@pytest.mark.parametrize("name", ["recs.jsonl", "recs.parquet"])
def test_recommendations_file_round_trips(rec, tmp_path, name):
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = tmp_path / name
    count, _ = write_recommendations(rec.rank_all(k=4), str(path))
    records = read_recommendations(str(path))
    assert count == len(rec.users()) == len(records)
    same_as_rank(rec, records, 4)


@pytest.mark.slow
def test_all_users_command_writes_one_line_per_user_and_exports(checkpoint, rec, tmp_path):
    pytest.importorskip("hnswlib")
    out = tmp_path / "recs.jsonl"
    done = subprocess.run([sys.executable, "-m", "recbole_outfit.recommend", "--checkpoint", checkpoint,
                           "--all_users", "--k", "5", "--out", str(out), "--batch_users", "2",
                           "--export_embeddings", str(tmp_path / "v.npz"), "--index", str(tmp_path / "o.hnsw")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "users/s" in done.stdout and "recall@10" in done.stdout
    lines = out.read_text().splitlines()
    assert len(lines) == len(rec.users())
    same_as_rank(rec, read_recommendations(str(out)), 5)
    vectors = np.load(tmp_path / "v.npz")
    assert list(vectors["user_ids"]) == rec.users()
    assert vectors["outfits"].shape == (len(rec.outfit_tokens) - 1, rec.model.user_embedding.weight.shape[1])
    assert list(vectors["outfit_ids"]) == list(rec.outfit_tokens[1:])


def test_all_users_refuses_bad_output_before_loading(checkpoint, tmp_path):
    (tmp_path / "d.jsonl").mkdir()
    for out, phrase in ((tmp_path / "d.jsonl", "is a folder"), (tmp_path / "no" / "r.jsonl", "does not exist"),
                        (tmp_path / "r.csv", ".jsonl or .parquet")):
        done = subprocess.run([sys.executable, "-m", "recbole_outfit.recommend", "--checkpoint", checkpoint,
                               "--all_users", "--out", str(out)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": REPO})
        assert done.returncode == 2 and phrase in done.stderr and f"loading {checkpoint}" not in done.stderr, done.stderr


def test_index_recall_at_10_against_exact_search():
    """hnswlib over a clustered set the size of a small catalogue: recall@10 of user queries >= 0.95."""
    pytest.importorskip("hnswlib")
    from recbole_outfit.recommend.index import build_index, exact_top, query_index, recall_at_k

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32))
    outfits = centres[rng.integers(0, 40, 20_000)] + 0.5 * rng.normal(size=(20_000, 32))
    users = centres[rng.integers(0, 40, 500)] + 0.5 * rng.normal(size=(500, 32))
    index = build_index(outfits)
    assert recall_at_k(index, outfits, users, k=10) >= 0.95
    found, cosines = query_index(index, users[:5], k=10)
    exact = exact_top(outfits, users[:5], k=10)
    normal = outfits / np.linalg.norm(outfits, axis=1, keepdims=True)
    assert np.allclose(cosines[:, 0], (users[:5] / np.linalg.norm(users[:5], axis=1, keepdims=True)
                                       * normal[exact[:, 0]]).sum(1), atol=1e-4)
    assert (found[:, 0] == exact[:, 0]).mean() >= 0.8


def test_index_of_the_trained_model_finds_its_rank(rec):
    """The index's neighbours of a user vector are the user's best catalogue outfits (before removing the
    training positives)."""
    pytest.importorskip("hnswlib")
    from recbole_outfit.recommend.index import build_index, recall_at_k

    vectors = rec.embeddings()
    outfits, users = vectors["outfits"][1], vectors["users"][1]
    assert recall_at_k(build_index(outfits), outfits, users, k=10) >= 0.95
