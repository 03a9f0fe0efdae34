"""Using a trained model: load_data_and_model, Recommender (score, rank, compose, cold_user, embeddings), the CLI."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import ColdStartEvaluator, ColdUsers
from recbole_outfit.evaluator.functional import per_user_auc
from recbole_outfit.quick_start import load_data_and_model
from recbole_outfit.recommend import Recommender, UnknownIdError
from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def by_category(rec, per_category, offset=0):
    """The first ``per_category`` garment tokens of each category (after ``offset``)."""
    pool = []
    for category in range(3):
        ids = (rec.garment_category == category).nonzero().squeeze(1).tolist()
        pool += [rec.garment_tokens[i] for i in ids[offset: offset + per_category]]
    return pool


def brute_force(rec, user, pool, k):
    """Every (top, bottom, shoe) of ``pool`` scored one outfit at a time through ``score``; the user's training
    outfits left out. Returns [(frozenset of garments, score)], best first."""
    groups = {}
    for garment in pool:
        groups.setdefault(int(rec.garment_category[rec.garment_id(garment)]), []).append(garment)
    combos = list(itertools.product(*(groups[c] for c in sorted(groups))))
    scores = rec.score(user, combos)
    known = {frozenset(rec.outfit(o)["garments"]) for o in rec.known_outfits(user)}
    ranked = sorted(((frozenset(c), float(s)) for c, s in zip(combos, scores)), key=lambda x: -x[1])
    return [r for r in ranked if r[0] not in known][:k]


@pytest.mark.slow
def test_load_data_and_model_rebuilds_the_saved_run(checkpoint):
    from recbole_outfit.checkpoint import load_checkpoint

    config, model, dataset, train_data, valid_data, test_data = load_data_and_model(checkpoint)
    assert config["model"] == "NPair" and not model.training
    saved = load_checkpoint(checkpoint)["state_dict"]
    for name, value in model.state_dict().items():
        assert torch.equal(value.cpu(), saved[name].cpu()), name
    assert set(test_data) == {"test"} and len(train_data) > 0 and valid_data is not None
    assert dataset.num(dataset.uid_field) == model.n_users


@pytest.mark.slow
def test_a_file_that_is_not_a_checkpoint_is_a_config_error(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="notes.pth"):  # refused by the checkpoint reader, whatever its reason
        load_data_and_model(str(text))
    weights = tmp_path / "weights.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, weights)
    with pytest.raises(ConfigError, match="not a recbole-outfit checkpoint"):
        load_data_and_model(str(weights))
    with pytest.raises(ConfigError, match="does not exist"):
        load_data_and_model(str(tmp_path / "missing.pth"))


@pytest.mark.slow
def test_score_is_eq9_with_masks(rec):
    user = rec.users()[0]
    outfit = rec.outfit(rec.known_outfits(user)[0])["garments"]
    model = rec.model
    with torch.no_grad():  # independent path: the images encoded directly, no cache
        ids = torch.tensor([rec.garment_id(g) for g in outfit])
        features = model.item_encoder(model.preprocess(model.images.gather(model.garment_image_row[ids], "cpu")))
        full = model.outfit_encoder(features.unsqueeze(0), torch.ones(1, len(ids), dtype=torch.bool))[0]
        pair = model.outfit_encoder(features[:2].unsqueeze(0), torch.ones(1, 2, dtype=torch.bool))[0]
        u = model.user_embedding.weight[rec.user_id(user)]
    expected = [F.cosine_similarity(u, full, dim=0).item(), F.cosine_similarity(u, pair, dim=0).item()]
    # a 3-garment and a 2-garment outfit in one call: the shorter one is padded and masked
    assert np.allclose(rec.score(user, [outfit, outfit[:2]]), expected, atol=1e-5)
    with pytest.raises(UnknownIdError):
        rec.score(user, [(outfit[0], "no-such-garment")])
    with pytest.raises(UnknownIdError):
        rec.score("no-such-user", [outfit])
    with pytest.raises(ConfigError, match="distinct"):
        rec.score(user, [(outfit[0], outfit[0])])


@pytest.mark.slow
def test_rank_orders_candidates_and_leaves_training_outfits_out(rec):
    user = rec.users()[1]
    candidates = [t for t in rec.outfit_tokens[1:60]]
    top = rec.rank(user, candidates, k=5)
    scores = rec.score(user, [rec.outfit(c)["garments"] for c in candidates])
    assert [r["outfit"] for r in top] == [candidates[i] for i in np.argsort(-scores, kind="stable")[:5]]
    assert np.allclose([r["score"] for r in top], np.sort(scores)[::-1][:5], atol=1e-5)
    everything = rec.rank(user, k=len(rec.outfit_tokens))
    assert not {r["outfit"] for r in everything} & set(rec.known_outfits(user))
    assert len(everything) == len(rec.outfit_tokens) - 1 - len(set(rec.known_outfits(user)))
    garment_tuples = [rec.outfit(c)["garments"] for c in candidates[:4]]
    assert [r["outfit"] for r in rec.rank(user, garment_tuples, k=4)] == \
        [r["outfit"] for r in rec.rank(user, candidates[:4], k=4)]


@pytest.mark.slow
def test_compose_is_exact_on_a_small_catalogue(rec):
    user = rec.users()[2]
    pool = by_category(rec, 6)  # 6 x 6 x 6 = 216 outfits
    expected = brute_force(rec, user, pool, k=8)
    got = rec.compose(user, k=8, pool=pool)
    assert got[0]["info"]["method"] == "exact"
    assert [frozenset(r["garments"]) for r in got] == [g for g, _ in expected]
    assert np.allclose([r["score"] for r in got], [s for _, s in expected], atol=1e-5)
    for row in got:
        assert row["categories"] == ["top", "bottom", "shoe"]


@pytest.mark.slow
def test_compose_search_paths_on_a_catalogue_too_large_to_enumerate(rec):
    user = rec.users()[3]
    pool = by_category(rec, 12)  # 1,728 outfits
    expected = brute_force(rec, user, pool, k=5)
    # beam search with a beam and shortlists covering everything: exact
    got = rec.compose(user, k=5, pool=pool, shortlist=100, beam=10_000, exhaustive_limit=10)
    assert got[0]["info"]["method"] == "beam"
    assert [frozenset(r["garments"]) for r in got] == [g for g, _ in expected]
    # bounded: shortlists of 5 (125 combinations, scored exactly) and a narrow beam over shortlists of 8
    for settings, method in (({"shortlist": 5, "exhaustive_limit": 200}, "shortlist"),
                             ({"shortlist": 8, "beam": 4, "exhaustive_limit": 100}, "beam")):
        got = rec.compose(user, k=5, pool=pool, **settings)
        assert got[0]["info"]["method"] == method and got[0]["info"]["scored"] < 1728
        for row in got:  # valid outfits, each with its true score
            assert sorted(row["categories"]) == ["bottom", "shoe", "top"]
            assert row["score"] == pytest.approx(float(rec.score(user, [row["garments"]])[0]), abs=1e-5)
        assert [r["score"] for r in got] == sorted((r["score"] for r in got), reverse=True)
        assert got[0]["score"] <= expected[0][1] + 1e-6


@pytest.mark.slow
def test_compose_completes_a_partial_outfit_and_skips_known_outfits(rec):
    user = rec.users()[0]
    known = rec.outfit(rec.known_outfits(user)[0])
    top, bottom, shoe = known["garments"]
    pool = by_category(rec, 4) + [top, bottom, shoe]
    got = rec.compose(user, k=50, fixed={"top": top}, pool=pool)
    assert got and all(r["garments"][0] == top for r in got)
    assert len(got) == 5 * 5 - 1  # every (bottom, shoe) with this top, but the user's own outfit
    assert frozenset(known["garments"]) not in {frozenset(r["garments"]) for r in got}
    with pytest.raises(ConfigError, match="is a top, not a shoe"):
        rec.compose(user, fixed={"shoe": top})
    with pytest.raises(UnknownIdError):
        rec.compose(user, fixed={"top": "no-such-garment"})
    with pytest.raises(ConfigError, match="unknown category"):
        rec.compose(user, fixed={"hat": top})


@pytest.mark.slow
def test_cold_user_gives_the_cold_start_evaluators_numbers(rec):
    """Per-user AUC of the dataset's users treated as new users, through cold_scores, equals what
    ColdStartEvaluator computes for the same draws (both run Eq. 20-24)."""
    from recbole_outfit.utils import create_dataset

    cold = ColdUsers(create_dataset(rec.config))  # the training users, as the evaluator sees cold users
    tokens = cold.dataset.field2id_token[cold.dataset.iid_field]
    evaluator = ColdStartEvaluator(shots=[2], repeats=2, seed=5, delta=rec.config["cold_delta"],
                                   tau=rec.config["cold_tau"], strategies=["wavg", "avg"])
    users = cold.users()
    mine = {s: [] for s in evaluator.strategies}
    for _, draw in evaluator.draws(cold):
        for strategy in evaluator.strategies:
            predicted = np.empty(len(cold.test_outfits))
            for u in users:
                rows = np.flatnonzero(cold.test_users == u)
                liked = [tokens[i] for i in cold.known_outfits[draw[u]]]
                candidates = [tokens[i] for i in cold.test_outfits[rows]]
                predicted[rows] = rec.cold_scores(liked, candidates, strategy)
            keep = np.isin(cold.test_users, users)
            mine[strategy].append(per_user_auc(cold.test_users[keep], predicted[keep], cold.test_labels[keep])[1].mean())
    theirs = evaluator.evaluate(rec.model, cold)
    for strategy in evaluator.strategies:
        assert np.mean(mine[strategy]) == pytest.approx(theirs[strategy][2]["mean"], abs=1e-6)
    top = rec.cold_user(liked, k=4)
    assert len(top) == 4 and not set(liked) & {r["outfit"] for r in top}
    assert [r["score"] for r in top] == sorted((r["score"] for r in top), reverse=True)
    with pytest.raises(UnknownIdError):
        rec.cold_user(["no-such-outfit"])
    with pytest.raises(ConfigError, match="no liked outfits"):
        rec.cold_user([])


@pytest.mark.slow
def test_embeddings_reproduce_the_scores(rec):
    vectors = rec.embeddings()
    users, user_vectors = vectors["users"]
    outfits, outfit_vectors = vectors["outfits"]
    garments, garment_vectors = vectors["garments"]
    assert len(users) == user_vectors.shape[0] and len(outfits) == outfit_vectors.shape[0]
    assert garment_vectors.shape == (len(garments), rec.model.embedding_size)
    user = users[0]
    top = rec.rank(user, outfits[:30], k=3)
    u = user_vectors[0] / np.linalg.norm(user_vectors[0])
    o = outfit_vectors[[outfits.index(r["outfit"]) for r in top]]
    assert np.allclose(o @ u / np.linalg.norm(o, axis=1), [r["score"] for r in top], atol=1e-5)


@pytest.mark.slow
def test_garments_are_encoded_once_per_load(rec):
    fresh = Recommender(rec.config, rec.model, rec.dataset, rec.train_data)
    seen = []
    original = rec.model.encode_images

    def counting(garments):
        seen.extend(garments.tolist())
        return original(garments)

    rec.model.encode_images = counting
    try:
        user = fresh.users()[0]
        fresh.rank(user, k=5)
        fresh.compose(user, k=3, pool=by_category(fresh, 5))
        fresh.rank(fresh.users()[1], k=5)
        fresh.score(user, [fresh.outfit(fresh.known_outfits(user)[0])["garments"]])
    finally:
        del rec.model.encode_images
    assert len(seen) == len(set(seen)) and len(seen) <= len(fresh.garment_tokens) - 1


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "recbole_outfit.recommend", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": REPO})


@pytest.mark.slow
def test_cli_ranks_composes_and_takes_new_users(checkpoint, rec, tmp_path):
    user = rec.users()[0]
    done = run_cli("--checkpoint", checkpoint, "--user", user, "--k", "3", "--json", str(tmp_path / "r.json"),
                   "--out", str(tmp_path / "grid.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.load(open(tmp_path / "r.json"))
    assert saved["mode"] == "rank" and [r["outfit"] for r in saved["results"]] == \
        [r["outfit"] for r in rec.rank(user, k=3)]
    assert "| rank |" in done.stdout and os.path.getsize(tmp_path / "grid.png") > 1000
    top = rec.outfit(rec.known_outfits(user)[0])["garments"][0]
    done = run_cli("--checkpoint", checkpoint, "--user", user, "--k", "2", "--compose", "--fixed", f"top={top}",
                   "--json", str(tmp_path / "c.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(r["garments"][0] == top for r in json.load(open(tmp_path / "c.json"))["results"])
    liked = rec.known_outfits(user)[:2]
    done = run_cli("--checkpoint", checkpoint, "--liked", ",".join(liked), "--k", "3", "--json",
                   str(tmp_path / "n.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [r["outfit"] for r in json.load(open(tmp_path / "n.json"))["results"]] == \
        [r["outfit"] for r in rec.cold_user(liked, k=3)]


@pytest.mark.slow
@pytest.mark.parametrize("args, phrase", [
    (["--user", "no-such-user"], "unknown user 'no-such-user'"),
    (["--user", "USER", "--compose", "--fixed", "top=nope"], "unknown garment 'nope'"),
    (["--user", "USER", "--liked", "o1"], "give either --user"),
])
def test_cli_errors_are_one_paragraph(args, phrase, checkpoint, rec, tmp_path):
    args = [rec.users()[0] if a == "USER" else a for a in args]
    done = run_cli("--checkpoint", checkpoint, *args, cwd=tmp_path)
    assert done.returncode == 2 and phrase in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_cli_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pth").write_text("hello")
    done = run_cli("--checkpoint", str(tmp_path / "x.pth"), "--user", "1", cwd=tmp_path)
    assert done.returncode == 2 and "x.pth" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.slow
def test_compose_benchmark_reports_recall_against_brute_force(checkpoint, tmp_path):
    from recbole_outfit.benchmarks import compose as benchmark

    out = tmp_path / "compose"
    assert benchmark.main(["--checkpoint", checkpoint, "--users", "2", "--pool", "6", "--k", "5",
                           "--polyvore_garments", "300", "--out", str(out)]) == 0
    report = json.load(open(str(out) + ".json"))
    assert report["pool_per_category"] == 6 and len(report["users"]) == 2
    for name, shortlist, beam, limit in benchmark.SETTINGS:
        recall = report["recall"][name]["recall"]
        assert len(recall) == 2 and all(0 <= r <= 1 for r in recall)
        if shortlist >= 6 and limit >= 6 ** 3:  # the whole sub-catalogue is scored: exact
            assert recall == [1.0, 1.0]
    assert "| setting" in open(str(out) + ".md").read()
    assert benchmark.main(["--checkpoint", checkpoint, "--users", "0", "--out", str(out)]) == 2


@pytest.mark.slow
def test_compose_adds_an_optional_second_top_on_variable_length_data(workspace, tmp_path, monkeypatch):
    """synthetic519 outfits may hold two tops: compose searches outfits with one top and with two (each pair once),
    exactly as brute force over both shapes, by enumeration and by a wide beam."""
    from conftest import tiny_config
    from recbole_outfit.quick_start import run_recbole_outfit
    from recbole_outfit.recommend import load_recommender

    monkeypatch.chdir(tmp_path)
    result = run_recbole_outfit("NPair", "synthetic519", config_dict=tiny_config(workspace, tmp_path))
    rec519 = load_recommender(result["checkpoint"])
    user = rec519.users()[0]
    # the user's two most frequent layouts (one top is the more frequent), each searched
    assert rec519.layouts(user) == [["top", "bottom", "shoe"], ["top", "top", "bottom", "shoe"]]
    pool = by_category(rec519, 4)
    tops, bottoms, shoes = pool[:4], pool[4:8], pool[8:]
    combos = [(t, b, s) for t in tops for b in bottoms for s in shoes]
    combos += [(t1, t2, b, s) for t1, t2 in itertools.combinations(tops, 2) for b in bottoms for s in shoes]
    known = {frozenset(rec519.outfit(o)["garments"]) for o in rec519.known_outfits(user)}
    ranked = sorted(((frozenset(c), float(s)) for c, s in zip(combos, rec519.score(user, combos))
                     if frozenset(c) not in known), key=lambda x: -x[1])[:6]
    for settings in ({}, {"exhaustive_limit": 10, "shortlist": 100, "beam": 100_000}):
        got = rec519.compose(user, k=6, pool=pool, **settings)
        assert [frozenset(r["garments"]) for r in got] == [g for g, _ in ranked]
    assert got[0]["info"]["method"] == "beam"
    assert rec519.compose(user, k=1, pool=pool, exact=True)[0]["info"]["scored"] == len(combos)
