"""How good and how fast is ``compose``? Recall of the brute-force top-k, and time at Polyvore-630 size.

    python -m recbole_outfit.benchmarks.compose --checkpoint PATH [--users 10] [--pool 40] [--k 10]
        [--polyvore_garments 139661] [--out results/compose]

1. **Recall** (on the checkpoint's own catalogue): for ``--users`` users (seeded) and a random sub-catalogue of
   ``--pool`` garments per category (``pool^3`` outfits, small enough to score every one), the brute-force
   top-k is computed, then ``compose`` with each bounded setting (shortlists scored exactly, or a beam);
   recall@k = ``|bounded top-k ∩ brute-force top-k| / k``, averaged over users, with the time per user. The
   full catalogue is timed too (brute force there is out of reach: every category's size multiplied).
2. **Polyvore-630 size**: a catalogue of ``--polyvore_garments`` garments (Polyvore-630's count, a third per
   category) whose features are the trained model's garment features resampled with noise; the model's own
   Set Transformer and user vectors; the time of the one-off per-garment affinities (once per load) and of
   each user's search. Encoding that many images is not included: the measured encoding rate of this
   machine is reported beside it.

Writes ``<out>.md`` (tables) and ``<out>.json``.
"""

import argparse
import sys
import time

import numpy as np
import torch

from recbole_outfit.atomic import atomic_write
from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.recommend.compose import OutfitSearch, Slot
from recbole_outfit.recommend.recommender import load_recommender
from recbole_outfit.report import format_table, write_json_atomic

# (name, shortlist, beam, exhaustive_limit): bounded settings compared with brute force
SETTINGS = (
    ("shortlists of 8, every combination", 8, 1, 1_000),
    ("shortlists of 16, every combination", 16, 1, 5_000),
    ("shortlists of 24, every combination", 24, 1, 20_000),
    ("beam 32 over shortlists of 24", 24, 32, 0),
    ("beam 64 over shortlists of 40 (default)", 40, 64, 20_000),
    ("beam 256 over shortlists of 48", 48, 256, 0),
)


def recall_table(rec, users, pool_size, k, seed):
    rng = np.random.default_rng(seed)
    pool = []
    for category in range(3):
        ids = (rec.garment_category == category).nonzero().squeeze(1).numpy()
        pool += [rec.garment_tokens[i] for i in rng.choice(ids, size=min(pool_size, len(ids)), replace=False)]
    rows = {name: {"recall": [], "seconds": [], "scored": []} for name, *_ in SETTINGS}
    brute_seconds = []
    for user in users:
        started = time.time()
        exact = rec.compose(user, k=k, pool=pool, exact=True)
        brute_seconds.append(time.time() - started)
        truth = {frozenset(r["garments"]) for r in exact}
        for name, shortlist, beam, limit in SETTINGS:
            started = time.time()
            got = rec.compose(user, k=k, pool=pool, shortlist=shortlist, beam=beam, exhaustive_limit=limit)
            rows[name]["seconds"].append(time.time() - started)
            rows[name]["recall"].append(len(truth & {frozenset(r["garments"]) for r in got}) / len(truth))
            rows[name]["scored"].append(got[0]["info"]["scored"])
    return pool, brute_seconds, rows


def full_catalogue_times(rec, users, k):
    times = {}
    for name, shortlist, beam, limit in SETTINGS:
        seconds, scored = [], []
        for user in users:
            started = time.time()
            got = rec.compose(user, k=k, shortlist=shortlist, beam=beam, exhaustive_limit=limit)
            seconds.append(time.time() - started)
            scored.append(got[0]["info"]["scored"])
        times[name] = {"seconds": float(np.mean(seconds)), "scored": float(np.mean(scored))}
    return times


@torch.no_grad()
def polyvore_size(rec, users, garments, k, seed):
    """Search times on a catalogue of ``garments`` resampled features (a third per category)."""
    generator = torch.Generator().manual_seed(seed)
    real = rec._searcher().features  # [G, d], row 0 padding
    per_category = garments // 3
    features = [real.new_zeros((1, real.shape[1]))]
    slots = []
    start = 1
    for category in range(3):
        ids = (rec.garment_category == category).nonzero().squeeze(1)
        picks = ids[torch.randint(len(ids), (per_category,), generator=generator)]
        noise = torch.randn((per_category, real.shape[1]), generator=generator) * real[ids].std(0)
        features.append(real[picks] + 0.5 * noise)
        slots.append(Slot(category, torch.arange(start, start + per_category)))
        start += per_category
    search = OutfitSearch(rec.model.outfit_encoder, torch.cat(features), batch_size=rec.batch_size)
    started = time.time()
    search.affinity(rec.user_vector(users[0]), torch.arange(1, start))  # T of every garment alone: once per load
    affinity_seconds = time.time() - started
    times = {}
    for name, shortlist, beam, limit in SETTINGS:
        seconds = []
        for user in users:
            started = time.time()
            search.search(rec.user_vector(user), slots, k, shortlist=shortlist, beam=beam, exhaustive_limit=limit)
            seconds.append(time.time() - started)
        times[name] = float(np.mean(seconds))
    return {"garments": per_category * 3, "per_category": per_category, "affinity_seconds": affinity_seconds,
            "search_seconds": times}


def encoding_rate(rec):
    """Garment images encoded per second by the model's item encoder on this machine (a fresh pass)."""
    ids = torch.arange(1, min(len(rec.garment_tokens), 1025))
    with torch.no_grad():
        started = time.time()
        rec.model.encode_images(ids)
    return len(ids) / (time.time() - started)


@exits_2_on_user_error
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.benchmarks.compose", description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--users", type=int, default=10, help="users measured (seeded draw)")
    parser.add_argument("--pool", type=int, default=40, help="garments per category in the recall sub-catalogue")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--polyvore_garments", type=int, default=139_661,
                        help="garments of the Polyvore-size catalogue (Polyvore-630's count)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/compose", help="writes <out>.md and <out>.json")
    parser.add_argument("--trust_checkpoint", action="store_true", help="a checkpoint that needs full unpickling")
    args = parser.parse_args(argv)
    if min(args.users, args.pool, args.k) < 1 or args.polyvore_garments < 3:
        raise ConfigError("--users, --pool, --k must be positive and --polyvore_garments at least 3",
                          where="arguments")
    run(args)
    return 0


def run(args):
    rec = load_recommender(args.checkpoint, config_dict={"trust_checkpoint": True} if args.trust_checkpoint else None)
    rng = np.random.default_rng(args.seed)
    everyone = rec.users()
    users = [everyone[i] for i in sorted(rng.choice(len(everyone), size=min(args.users, len(everyone)),
                                                    replace=False))]
    print(f"recall on sub-catalogues of {args.pool} garments per category, {len(users)} users ...", flush=True)
    pool, brute_seconds, recall = recall_table(rec, users, args.pool, args.k, args.seed)
    print("full catalogue ...", flush=True)
    full = full_catalogue_times(rec, users[:3], args.k)
    print(f"Polyvore size ({args.polyvore_garments} garments) ...", flush=True)
    big = polyvore_size(rec, users[:3], args.polyvore_garments, args.k, args.seed)
    rate = encoding_rate(rec)
    sizes = [int((rec.garment_category == c).sum()) for c in range(3)]
    n = len(pool) // 3
    table = format_table(
        ["setting", f"recall@{args.k} (sub-catalogue)", "s / user (sub)", "outfits scored (sub)",
         "s / user (full synthetic630)", f"s / user ({big['garments']:,} garments)"],
        [[name, f"{np.mean(r['recall']):.3f}", f"{np.mean(r['seconds']):.2f}", f"{np.mean(r['scored']):,.0f}",
          f"{full[name]['seconds']:.2f}", f"{big['search_seconds'][name]:.2f}"] for name, r in recall.items()])
    lines = [
        f"# compose: bounded search vs brute force ({rec.config['model']} on {rec.config['dataset']})", "",
        f"Command: `python -m recbole_outfit.benchmarks.compose --checkpoint {args.checkpoint} --users {args.users} "
        f"--pool {args.pool} --k {args.k} --polyvore_garments {args.polyvore_garments} --seed {args.seed}`", "",
        f"* sub-catalogue: {n} garments per category drawn at random ({n ** 3:,} outfits); brute force scores every "
        f"one: {np.mean(brute_seconds):.1f} s per user; {len(users)} users.",
        f"* full synthetic630 catalogue: {sizes[0]:,} tops x {sizes[1]:,} bottoms x {sizes[2]:,} shoes "
        f"({np.prod(sizes):,.0f} outfits); mean of {min(3, len(users))} users.",
        f"* Polyvore-630 size: {big['garments']:,} garments ({big['per_category']:,} per category) with resampled "
        f"trained features; the per-garment affinities (once per model load) took {big['affinity_seconds']:.1f} s; "
        f"mean of {min(3, len(users))} users. Not included: encoding that many images, at this machine's measured "
        f"{rate:,.0f} garment images/s ({big['garments'] / rate / 60:.1f} min, once per load).",
        "", table, ""]
    text = "\n".join(lines)
    print(text)
    with atomic_write(args.out + ".md") as f:
        f.write(text)
    write_json_atomic(args.out + ".json", {"command": lines[2], "users": users, "pool_per_category": n,
                                          "brute_force_seconds": brute_seconds, "recall": recall, "full": full,
                                          "polyvore_size": big, "encoding_images_per_second": rate,
                                          "catalogue": sizes, "settings": SETTINGS})


if __name__ == "__main__":
    sys.exit(main())
