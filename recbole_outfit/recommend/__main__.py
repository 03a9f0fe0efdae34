"""Recommendations from a trained checkpoint on the command line.

    python -m recbole_outfit.recommend --checkpoint PATH --user U [--k 10]            # top outfits of the catalogue
    python -m recbole_outfit.recommend --checkpoint PATH --user U --compose [--fixed top=ID]   # new outfits
        [--template top,bottom,shoe,bag]   # slots (default: the user's most frequent layouts)
    python -m recbole_outfit.recommend --checkpoint PATH --liked ID,ID,...            # a new user (cold start)
        [--out grid.png] [--json out.json]
    python -m recbole_outfit.recommend --checkpoint PATH --user U --images top.jpg,skirt.png,shoes.jpg  # photos
    python -m recbole_outfit.recommend --checkpoint PATH --user U --compose --fixed top=photo.jpg
    python -m recbole_outfit.recommend --checkpoint PATH --all_users --k 10 --out recs.jsonl   # or .parquet
    python -m recbole_outfit.recommend --checkpoint PATH --export_embeddings vectors.npz [--index outfits.hnsw]

Prints a markdown table; a bad user, garment, outfit, photo or checkpoint is one paragraph on stderr and
exit 2, before the checkpoint is loaded wherever it can be checked without it (options, output paths).
Progress lines go to stderr.
"""

import argparse
import os
import sys
import time

from recbole_outfit.errors import ConfigError, exits_2_on_user_error
from recbole_outfit.startup import loading


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.recommend",
                                     description="Outfit recommendations from a trained recbole-outfit checkpoint.")
    parser.add_argument("--checkpoint", required=True, help="a .pth file a run saved")
    parser.add_argument("--user", help="a user id of the training data")
    parser.add_argument("--k", type=int, default=10, help="how many outfits (default 10)")
    parser.add_argument("--compose", action="store_true", help="compose new outfits from the garment catalogue")
    parser.add_argument("--fixed", action="append", default=[], metavar="CATEGORY=GARMENT",
                        help="with --compose: keep this garment (repeatable, e.g. --fixed top=ID)")
    parser.add_argument("--template", action="append", default=[], metavar="CATEGORY,CATEGORY,...",
                        help="with --compose: the categories of the outfits to compose, one garment each "
                             "(repeatable; default: the user's most frequent layouts)")
    parser.add_argument("--liked", help="comma-separated outfit ids a new user likes (cold start, Eq. 20-24)")
    parser.add_argument("--strategy", default="wavg", help="cold start: wavg (default), avg or mean")
    parser.add_argument("--images", action="append", default=[], metavar="PHOTO,PHOTO,...",
                        help="with --user: score an outfit of photos (image files; garment ids may stand beside "
                             "them); repeat for several outfits")
    parser.add_argument("--all_users", action="store_true",
                        help="every user's top --k catalogue outfits into --out (.jsonl, or .parquet)")
    parser.add_argument("--batch_users", type=int, default=256, help="--all_users: users scored at once")
    parser.add_argument("--export_embeddings", metavar="PATH.npz",
                        help="write user, garment and outfit vectors with their ids to this .npz")
    parser.add_argument("--index", metavar="PATH",
                        help="build a nearest-outfit HNSW index (hnswlib, the index extra), save it here and "
                             "report its recall@10 against exact search over every user")
    parser.add_argument("--out", help="with --all_users: the recommendations file (.jsonl or .parquet); otherwise "
                                      "an outfit grid PNG (needs the plot extra)")
    parser.add_argument("--json", dest="json_path", help="write the results as JSON here")
    parser.add_argument("--shortlist", type=int, default=40, help="compose: garments kept per slot (default 40)")
    parser.add_argument("--beam", type=int, default=64, help="compose: partial outfits kept per slot (default 64)")
    parser.add_argument("--exhaustive_limit", type=int, default=20_000,
                        help="compose: score every combination up to this many (default 20000)")
    parser.add_argument("--trust_checkpoint", action="store_true",
                        help="load a checkpoint that needs full unpickling (only a file you trust)")
    parser.add_argument("--gpu_id", default=None, help="GPU to use (default: the saved run's; '' = CPU)")
    return parser


if __name__ == "__main__":  # --help and a wrong argument answer before the imports below load torch
    build_parser().parse_args()
    loading("RecBole and torch")

from recbole_outfit.plots.draw import outfit_grid
from recbole_outfit.recommend.batch import (check_output_path, check_parquet_available, is_parquet,
                                            write_recommendations)
from recbole_outfit.recommend.index import build_index, recall_at_k, require_hnswlib, save_index, write_embeddings
from recbole_outfit.recommend.recommender import load_recommender
from recbole_outfit.report import format_table, write_json_atomic


def parse_fixed(items):
    """``["top=ID", ...]`` -> ``{"top": ["ID", ...]}``."""
    fixed = {}
    for item in items:
        category, sep, garment = item.partition("=")
        if not sep or not category or not garment:
            raise ConfigError(f"--fixed {item!r} is not CATEGORY=GARMENT", where="--fixed",
                              fix="write it like --fixed top=<garment id>")
        fixed.setdefault(category.strip(), []).append(garment.strip())
    return fixed


def parse_images(items):
    """``["a.jpg,b.png,ID", ...]`` -> one tuple per item; every name that is not a garment id must be a file
    (checked by the recommender, which knows the ids)."""
    outfits = []
    for item in items:
        parts = tuple(p.strip() for p in item.split(",") if p.strip())
        if not parts:
            raise ConfigError(f"--images {item!r} names no photo", where="--images",
                              fix="e.g. --images top.jpg,skirt.png,shoes.jpg")
        outfits.append(parts)
    return outfits


def check_args(args):
    """Every check that needs no checkpoint (run before loading it)."""
    if not os.path.isfile(args.checkpoint):
        raise ConfigError(f"no checkpoint file {args.checkpoint}", where="--checkpoint",
                          fix="give the .pth file a run saved (its path is in the run's log and results JSON)")
    if args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}", where="--k")
    if args.batch_users < 1:
        raise ConfigError(f"--batch_users must be at least 1, got {args.batch_users}", where="--batch_users")
    exports = args.export_embeddings or args.index
    if args.all_users:
        if args.user is not None or args.liked is not None or args.compose or args.images:
            raise ConfigError("--all_users ranks the catalogue for every user: it takes no --user, --liked, "
                              "--compose or --images", where="--all_users")
        if not args.out or not (args.out.lower().endswith((".jsonl", ".json")) or is_parquet(args.out)):
            raise ConfigError("--all_users writes to --out, a .jsonl or .parquet file", where="--out",
                              fix="e.g. --out recs.jsonl")
        check_parquet_available(args.out)
    elif (args.user is None) == (args.liked is None) and not (exports and args.user is None and args.liked is None):
        raise ConfigError("give either --user (a known user) or --liked (a new user's outfits)",
                          where="--user / --liked", fix="e.g. --user 12, or --liked o17,o230")
    if args.liked is not None and (args.compose or args.fixed or args.images):
        raise ConfigError("--compose, --fixed and --images need --user (a trained user embedding)",
                          where="--compose")
    if (args.fixed or args.template) and not args.compose:
        raise ConfigError("--fixed and --template shape a composed outfit", where="--fixed / --template",
                          fix="add --compose")
    if args.images and args.compose:
        raise ConfigError("--images scores given outfits; --compose builds new ones", where="--images",
                          fix="to complete an outfit around a photo use --compose --fixed top=photo.jpg")
    for flag, path in (("--out", args.out), ("--json", args.json_path), ("--export_embeddings", args.export_embeddings),
                       ("--index", args.index)):
        if path:
            check_output_path(path, flag)
    if args.export_embeddings and not args.export_embeddings.endswith(".npz"):
        raise ConfigError(f"--export_embeddings {args.export_embeddings} must end in .npz", where="--export_embeddings")
    if args.index:
        require_hnswlib()


def progress(message):
    print(message, file=sys.stderr, flush=True)


def run(args):
    check_args(args)
    templates = [[c.strip() for c in t.split(",") if c.strip()] for t in args.template]
    fixed = parse_fixed(args.fixed)
    images = parse_images(args.images)
    overrides = {} if args.gpu_id is None else {"gpu_id": args.gpu_id}
    if args.trust_checkpoint:
        overrides["trust_checkpoint"] = True
    started = time.time()
    progress(f"loading {args.checkpoint} (the model, its dataset and image store) ...")
    rec = load_recommender(args.checkpoint, config_dict=overrides, shortlist=args.shortlist, beam=args.beam,
                           exhaustive_limit=args.exhaustive_limit)
    progress(f"loaded {rec.config['model']} on {rec.config['dataset']} in {time.time() - started:.1f}s: "
             f"{len(rec.users())} users, {len(rec.outfit_tokens) - 1} outfits, {len(rec.garment_tokens) - 1} garments")
    rows = []
    if args.export_embeddings or args.index:
        export(rec, args)
    if args.all_users:
        return batch(rec, args)
    if args.user is None and args.liked is None:
        return rows
    if args.liked is not None:
        liked = [o.strip() for o in args.liked.split(",") if o.strip()]
        rows = rec.cold_user(liked, k=args.k, strategy=args.strategy)
        mode, title = "cold_user", f"new user who likes {', '.join(liked)} ({args.strategy})"
    elif args.compose:
        progress(f"composing for user {args.user} (the first search encodes every garment) ...")
        rows = rec.compose(args.user, k=args.k, fixed=fixed, template=templates or None)
        mode, title = "compose", f"outfits composed for user {args.user}"
    elif images:
        rows = rec.rank(args.user, candidates=images, k=len(images))
        mode, title = "score", f"given outfits scored for user {args.user}"
    else:
        rec.user_id(args.user)
        rows = rec.rank(args.user, k=args.k)
        mode, title = "rank", f"top outfits for user {args.user}"
    table = format_table(["rank", "score", "outfit", "garments"],
                         [[i + 1, f"{r['score']:.4f}", r["outfit"] or "(new)",
                           " ".join(g if g.startswith("photo:") and c == "photo" else f"{c}:{g}"
                                    for c, g in zip(r["categories"], r["garments"]))]
                          for i, r in enumerate(rows)])
    print(f"{rec.config['model']} on {rec.config['dataset']}: {title}\n{table}")
    if rows and rows[0].get("info"):
        info = rows[0]["info"]
        print(f"search: {info['method']}, {info['scored']} combinations scored in {info['seconds']:.2f}s")
    if args.json_path:
        write_json_atomic(args.json_path, {"checkpoint": args.checkpoint, "model": rec.config["model"],
                                           "dataset": rec.config["dataset"], "mode": mode, "user": args.user,
                                           "liked": args.liked, "fixed": fixed, "images": images, "k": args.k,
                                           "results": rows})
        print(f"results written to {args.json_path}")
    if args.out:
        outfit_grid(rows, rec.garment_image, args.out, title=f"{rec.config['model']}: {title}")
        print(f"grid written to {args.out}")
    return rows


def batch(rec, args):
    """--all_users: every user's top-k into --out; reports users / s."""
    users = rec.users()
    progress(f"encoding {len(rec.outfit_tokens) - 1} outfits ...")
    started = time.time()
    rec.outfit_vectors()
    progress(f"encoded in {time.time() - started:.1f}s; ranking them for {len(users)} users, {args.batch_users} at a "
             f"time ...")
    count, seconds = write_recommendations(
        rec.rank_all(users, k=args.k, batch_users=args.batch_users), args.out,
        progress=lambda done, s: progress(f"  {done}/{len(users)} users ({done / max(s, 1e-9):.0f} users/s)"))
    print(f"{count} users' top {args.k} written to {args.out} in {seconds:.1f}s "
          f"({count / max(seconds, 1e-9):.0f} users/s)")
    return []


def export(rec, args):
    """--export_embeddings and --index."""
    progress("encoding every garment and outfit ...")
    vectors = rec.embeddings()
    if args.export_embeddings:
        write_embeddings(args.export_embeddings, vectors)
        print(f"vectors written to {args.export_embeddings}: " + ", ".join(
            f"{name} {array.shape[0]} x {array.shape[1]}" for name, (_, array) in vectors.items()))
    if args.index:
        outfits, users = vectors["outfits"][1], vectors["users"][1]
        started = time.time()
        index = build_index(outfits)
        built = time.time() - started
        k = min(10, len(outfits))
        recall = recall_at_k(index, outfits, users, k=k)
        save_index(index, args.index)
        print(f"HNSW index of {len(outfits)} outfits built in {built:.1f}s and written to {args.index} "
              f"(labels = rows of the outfits in --export_embeddings order); recall@{k} against exact search over "
              f"{len(users)} users: {recall:.4f}")


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
