"""Pictures from the command line (matplotlib and scikit-learn: ``pip install "recbole-outfit[plot]"``).
    python -m recbole_outfit.plots grid  --checkpoint PATH --user U [--k 6] [--compose] --out grid.png
    python -m recbole_outfit.plots tsne  --checkpoint PATH [--users U1,U2,U3] [--others 300] --out tsne.png
    python -m recbole_outfit.plots curve (--history RUN-history.json | --log log/RUN.log) --out curve.png

``grid``: a user's top outfits (or composed ones), one row each with the garment images and the score.
``tsne``: the paper's Fig. 8 - users (X) and outfits in two dimensions (scikit-learn's t-SNE on the unit
vectors, so that closeness follows the cosine score of Eq. 9): each highlighted user's training positives
(solid border), test positives (dashed) and other outfits of the catalogue (grey).
``curve``: loss parts and validation metrics per epoch, from the history a ``--plot=True`` run writes beside
its checkpoint, or from any run's RecBole log. A bad file, user or option is one paragraph and exit 2.
"""

import argparse
import json
import os
import re
import sys

from recbole_outfit.errors import ConfigError, DataFormatError, exits_2_on_user_error
from recbole_outfit.startup import loading


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.plots", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grid = commands.add_parser("grid", help="a user's top (or composed) outfits as images")
    grid.add_argument("--checkpoint", required=True)
    grid.add_argument("--trust_checkpoint", action="store_true", help="a checkpoint that needs full unpickling")
    grid.add_argument("--user", required=True)
    grid.add_argument("--k", type=int, default=6)
    grid.add_argument("--compose", action="store_true", help="composed outfits instead of catalogue outfits")
    grid.add_argument("--out", required=True)
    tsne = commands.add_parser("tsne", help="t-SNE of users and outfits (the paper's Fig. 8)")
    tsne.add_argument("--checkpoint", required=True)
    tsne.add_argument("--trust_checkpoint", action="store_true", help="a checkpoint that needs full unpickling")
    tsne.add_argument("--users", help="comma-separated user ids to highlight (default: 3 drawn by --seed)")
    tsne.add_argument("--others", type=int, default=300, help="other outfits drawn from the catalogue")
    tsne.add_argument("--seed", type=int, default=0)
    tsne.add_argument("--out", required=True)
    curve = commands.add_parser("curve", help="training curve of a run")
    source = curve.add_mutually_exclusive_group(required=True)
    source.add_argument("--history", help="<checkpoint>-history.json written by a --plot=True run")
    source.add_argument("--log", help="a run's log file (log/<model>/...log)")
    curve.add_argument("--out", required=True)
    return parser


if __name__ == "__main__":  # --help and a wrong argument answer before the imports below load torch
    build_parser().parse_args()
    loading("RecBole, torch and matplotlib")

import numpy as np

from recbole_outfit.plots import draw
from recbole_outfit.recommend.recommender import load_recommender


# ---------------------------------------------------------------------------------------------- curve

_TRAIN = re.compile(r"epoch (\d+) training \[time: [^,]*, (.*)\]")
_EVAL = re.compile(r"epoch (\d+) evaluating \[")
_PAIR = re.compile(r"([A-Za-z_@0-9]+) : (-?[0-9.]+(?:e-?\d+)?)")
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def history_from_log(path):
    """The per-epoch history of a RecBole log: train loss (parts) and validation results per epoch."""
    if not os.path.isfile(path):
        raise ConfigError(f"log {path!r} does not exist", where="--log", fix="give a file under log/")
    losses, valid, pending, named, means = {}, {}, None, None, False
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = [_COLOUR.sub("", line) for line in f]
    for number, line in enumerate(lines):
        match = _TRAIN.search(line)
        if match and "mean per batch: " in match.group(2):  # this version's line: each part's name and mean
            parts = [part.rsplit(" ", 1) for part in match.group(2).split("mean per batch: ", 1)[1].split(", ")]
            named, means = [name for name, _ in parts], True
            losses[int(match.group(1))] = [float(v) for _, v in parts]
            continue
        if match:  # RecBole's line: the sum over batches, parts numbered
            parts = re.findall(r"train[ _]loss(\d*): (-?[0-9.]+(?:e-?\d+)?)", match.group(2))
            losses[int(match.group(1))] = [float(v) for _, v in parts]
            continue
        match = _EVAL.search(line)
        if match:
            pending = int(match.group(1))
            continue
        if pending is not None and "valid result" in line:
            following = lines[number + 1] if number + 1 < len(lines) else ""
            valid[pending] = {k: float(v) for k, v in _PAIR.findall(following)}
            pending = None
    if not losses:
        raise DataFormatError("no 'epoch N training [...]' line found", where=path,
                              fix="give the log of a run that trained at least one epoch")
    epochs = sorted(losses)
    count = max(len(v) for v in losses.values())
    names = named if named and len(named) == count else (
        ["loss"] if count == 1 else [f"loss part {i + 1}" for i in range(count)])
    metrics = sorted({m for v in valid.values() for m in v})
    head = "".join(lines[:400])
    model = re.search(r"^model = (\S+)", head, re.M)
    dataset = re.search(r"^dataset = (\S+)", head, re.M)
    metric = re.search(r"^valid_metric = (\S+)", head, re.M)
    key = metric.group(1).lower() if metric else None
    scored = [(v[key], e) for e, v in valid.items() if key in v]
    name = os.path.basename(path).split("-")  # RecBole names logs <model>-<dataset>-<time>.log
    return {"model": model.group(1) if model else (name[0] if len(name) > 2 else None),
            "dataset": dataset.group(1) if dataset else (name[1] if len(name) > 2 else None),
            "epochs": epochs, "loss_unit": "mean per batch" if means else "sum over batches, RecBole's log",
            "loss": {n: [losses[e][i] if i < len(losses[e]) else None for e in epochs] for i, n in enumerate(names)},
            "valid": {m: [valid.get(e, {}).get(m) for e in epochs] for m in metrics},
            "valid_metric": key, "best_epoch": max(scored)[1] if scored else None}


def read_history(path):
    if not os.path.isfile(path):
        raise ConfigError(f"history {path!r} does not exist", where="--history",
                          fix="train with --plot=True (it writes <checkpoint>-history.json), or give --log")
    try:
        with open(path, "r", encoding="utf-8") as f:
            history = json.load(f)
    except ValueError as error:
        raise DataFormatError(f"not JSON ({error})", where=path) from error
    if not isinstance(history, dict) or not isinstance(history.get("loss"), dict) or "epochs" not in history:
        raise DataFormatError("not a training history (no epochs and loss)", where=path,
                              fix="give the <checkpoint>-history.json a --plot=True run wrote")
    return history


# ---------------------------------------------------------------------------------------------- t-SNE

def tsne_points(rec, users, others, seed):
    """Coordinates, kinds, owners (see ``draw.tsne_map``) of ``users`` and their outfits plus ``others``
    random outfits, by scikit-learn's t-SNE on unit vectors."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:
        raise ConfigError("the t-SNE picture needs scikit-learn", where="tsne",
                          fix='pip install "recbole-outfit[plot]"') from error
    rng = np.random.default_rng(seed)
    vectors = rec.outfit_vectors().cpu().numpy()  # [O, d']
    rows, kinds, owners, mine = [], [], [], set()
    for owner, user in enumerate(users):
        rows.append(rec.user_vector(user).cpu().numpy())
        kinds.append("user")
        owners.append(owner)
        for kind, outfits in (("positive", rec.known_outfits(user)), ("held_out", rec.held_out_outfits(user))):
            for outfit in outfits:
                iid = rec.outfit_id(outfit)
                rows.append(vectors[iid])
                kinds.append(kind)
                owners.append(owner)
                mine.add(iid)
    pool = np.setdiff1d(np.arange(1, len(vectors)), np.fromiter(mine, dtype=np.int64, count=len(mine)))
    for iid in rng.choice(pool, size=min(others, len(pool)), replace=False):
        rows.append(vectors[iid])
        kinds.append("other")
        owners.append(-1)
    points = np.asarray(rows, dtype=np.float64)
    points /= np.linalg.norm(points, axis=1, keepdims=True).clip(1e-12)
    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    embedded = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)
    return embedded, kinds, owners


def pick_users(rec, users, seed, count=3):
    if users:
        chosen = [u.strip() for u in users.split(",") if u.strip()]
        for user in chosen:
            rec.user_id(user)
        return chosen
    rng = np.random.default_rng(seed)
    candidates = [u for u in rec.users() if rec.known_outfits(u)]
    return [candidates[i] for i in sorted(rng.choice(len(candidates), size=min(count, len(candidates)),
                                                     replace=False))]


# ---------------------------------------------------------------------------------------------- main

def run(args):
    if args.command == "curve":
        history = read_history(args.history) if args.history else history_from_log(args.log)
        title = " on ".join(x for x in (history.get("model"), history.get("dataset")) if x) or None
        return draw.training_curve(history, args.out, title=title)
    draw.require_matplotlib()  # before the load: a missing matplotlib is reported first
    rec = load_recommender(args.checkpoint, config_dict={"trust_checkpoint": True} if args.trust_checkpoint else None)
    if args.command == "grid":
        if args.k < 1:
            raise ConfigError(f"--k must be at least 1, got {args.k}", where="--k")
        rows = rec.compose(args.user, k=args.k) if args.compose else rec.rank(args.user, k=args.k)
        what = "composed outfits" if args.compose else "top outfits"
        return draw.outfit_grid(rows, rec.garment_image, args.out,
                                title=f"{rec.config['model']} on {rec.config['dataset']}: {what} for user {args.user}")
    users = pick_users(rec, args.users, args.seed)
    points, kinds, owners = tsne_points(rec, users, args.others, args.seed)
    return draw.tsne_map(points, kinds, owners, args.out, user_names=users,
                         title=f"{rec.config['model']} on {rec.config['dataset']}: users and outfits (t-SNE)")


@exits_2_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    print(f"written {run(args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
