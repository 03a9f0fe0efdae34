"""Recommendations from a trained checkpoint on the command line.

    python -m recbole_outfit.recommend --checkpoint PATH --user U [--k 10]            # top outfits of the catalogue
    python -m recbole_outfit.recommend --checkpoint PATH --user U --compose [--fixed top=ID]   # new outfits
        [--template top,bottom,shoe,bag]   # slots (default: the user's most frequent layouts)
    python -m recbole_outfit.recommend --checkpoint PATH --liked ID,ID,...            # a new user (cold start)
        [--out grid.png] [--json out.json]

Prints a markdown table; a bad user, garment, outfit or checkpoint is one paragraph on stderr and exit 2.
"""

import argparse
import sys

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
    parser.add_argument("--out", help="write an outfit grid PNG here (needs the plot extra)")
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


def run(args):
    if args.k < 1:
        raise ConfigError(f"--k must be at least 1, got {args.k}", where="--k")
    if (args.user is None) == (args.liked is None):
        raise ConfigError("give either --user (a known user) or --liked (a new user's outfits)",
                          where="--user / --liked", fix="e.g. --user 12, or --liked o17,o230")
    if args.liked is not None and (args.compose or args.fixed):
        raise ConfigError("--compose and --fixed need --user (a trained user embedding)", where="--compose")
    if (args.fixed or args.template) and not args.compose:
        raise ConfigError("--fixed and --template shape a composed outfit", where="--fixed / --template",
                          fix="add --compose")
    templates = [[c.strip() for c in t.split(",") if c.strip()] for t in args.template]
    fixed = parse_fixed(args.fixed)
    overrides = {} if args.gpu_id is None else {"gpu_id": args.gpu_id}
    if args.trust_checkpoint:
        overrides["trust_checkpoint"] = True
    rec = load_recommender(args.checkpoint, config_dict=overrides, shortlist=args.shortlist, beam=args.beam,
                           exhaustive_limit=args.exhaustive_limit)
    if args.liked is not None:
        liked = [o.strip() for o in args.liked.split(",") if o.strip()]
        rows = rec.cold_user(liked, k=args.k, strategy=args.strategy)
        mode, title = "cold_user", f"new user who likes {', '.join(liked)} ({args.strategy})"
    elif args.compose:
        rows = rec.compose(args.user, k=args.k, fixed=fixed, template=templates or None)
        mode, title = "compose", f"outfits composed for user {args.user}"
    else:
        rec.user_id(args.user)
        rows = rec.rank(args.user, k=args.k)
        mode, title = "rank", f"top outfits for user {args.user}"
    table = format_table(["rank", "score", "outfit", "garments"],
                         [[i + 1, f"{r['score']:.4f}", r["outfit"] or "(new)",
                           " ".join(f"{c}:{g}" for c, g in zip(r["categories"], r["garments"]))]
                          for i, r in enumerate(rows)])
    print(f"{rec.config['model']} on {rec.config['dataset']}: {title}\n{table}")
    if rows and rows[0].get("info"):
        info = rows[0]["info"]
        print(f"search: {info['method']}, {info['scored']} combinations scored in {info['seconds']:.2f}s")
    if args.json_path:
        write_json_atomic(args.json_path, {"checkpoint": args.checkpoint, "model": rec.config["model"],
                                           "dataset": rec.config["dataset"], "mode": mode, "user": args.user,
                                           "liked": args.liked, "fixed": fixed, "k": args.k, "results": rows})
        print(f"results written to {args.json_path}")
    if args.out:
        outfit_grid(rows, rec.garment_image, args.out, title=f"{rec.config['model']}: {title}")
        print(f"grid written to {args.out}")
    return rows


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
