"""Synthetic Polyvore-U: a small root in exactly the Polyvore-U release format, learnable from pixels.

    python -m recbole_outfit.data.synthetic --out dataset_raw/synthetic [--seed S] [--scale X]
        [--difficulty D] [--style_breadth B] [--image_px P] [--folders tuples_630,...]

The world (one per seed, shared by all four folders so cold-start users resemble warm ones):

* Garments carry three visual attributes, drawn in the JPEG: colour (10 palette colours), pattern (solid,
  stripes, dots, checks) and shape (three silhouettes per category).
* ``n_styles`` latent styles. A style prefers two colours, one pattern and one shape per category; a
  garment's utility under a style is ``1.0 [colour] + 0.6 [pattern] + 0.4 [shape]`` for each match.
* Each user follows one or two styles. A positive outfit picks one of the user's styles and draws each
  garment with probability proportional to ``exp(beta * utility)``; outfits with two patterned garments are
  kept with probability ``exp(-clash)`` (a non-personal compatibility rule).
* Random negatives are category-wise mixtures of items that occur in the split's positives (some fit the
  user by chance: false negatives); hard negatives are other users' positives of the split.
* Train positives use one garment pool, val/test positives a disjoint pool, so test garments are new
  (an ID-based recommender is at chance) and a model must read the images.

Two knobs. ``--difficulty`` in [0, 1] lowers ``beta`` (style adherence) from 3.0 to 1.0.
``--style_breadth`` in [0, 1] makes that share of the values a style does not prefer preferred as well
(0: the original narrow styles): garments then fit many styles, so a category-wise random mixture fits its
user more often. On ``tuples_630`` (seed 0, difficulty 0.3) the false-negative rate of the random test
negatives is 2.2 % at breadth 0, 9 % at 0.6, 17 % at 0.8 and 29 % at 0.9.

``synthetic.json`` records per folder the counts, the false-negative rate of the random test and training
negatives (the share whose true preference reaches the median of their user's positives) and the AUC of the
oracle that knows the true preference model (the ceiling any model can reach). ``world.npz`` keeps what was
drawn (styles, garment attributes, each user's styles; :class:`FolderWorld`), so the true preference of
any (user, outfit) pair can be computed later (:func:`load_world`, :func:`true_preference`).
"""

import argparse
import io
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from logging import getLogger

import numpy as np
from PIL import Image
from tqdm import tqdm

from recbole_outfit.atomic import atomic_write, publish_folder, remove_stale_temp
from recbole_outfit.data import polyvore
from recbole_outfit.data.image_store import JPEG_FOLDER
from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.functional import per_user_auc

DEFAULT_DIFFICULTY = 0.3  # the bundled datasets' setting (properties/dataset/synthetic*.yaml)

GENERATOR_VERSION = 2  # 2: world.npz, style_breadth, train false-negative rate
RENDER_SEED_LIMIT = 2**31  # every dataset image is rendered from a seed below it (the pretraining pool: above)

COLOURS = np.array([
    (200, 30, 40),    # red
    (240, 130, 20),   # orange
    (240, 210, 40),   # yellow
    (50, 150, 60),    # green
    (30, 150, 150),   # teal
    (40, 70, 180),    # blue
    (120, 50, 160),   # purple
    (235, 120, 170),  # pink
    (30, 30, 30),     # black
    (150, 150, 150),  # grey
], dtype=np.float32)
PATTERNS = ("solid", "stripes", "dots", "checks")
SHAPES = {
    "top": ("tee", "tank", "longsleeve"),
    "bottom": ("trousers", "shorts", "skirt"),
    "shoe": ("sneaker", "boot", "heel"),
}
ATTRIBUTE_WEIGHTS = {"colour": 1.0, "pattern": 0.6, "shape": 0.4}


@dataclass(frozen=True)
class FolderSpec:
    """Size of one tuples folder at ``--scale 1``: users, positives per user and split, garment pools."""

    users: int
    train: int
    val: int
    test: int
    train_pool: int  # garments per category available to train positives
    eval_pool: int  # garments per category available to val/test positives
    two_top_rate: float  # share of outfits with a second top (variable-length folders)

    def scaled(self, scale, garment_scale=None):
        """Users times ``scale``, garment pools times ``garment_scale`` (default: ``scale``)."""
        garment_scale = scale if garment_scale is None else garment_scale
        grow = lambda n, factor: max(2, int(round(n * factor)))
        return replace(self, users=grow(self.users, scale), train_pool=grow(self.train_pool, garment_scale),
                       eval_pool=grow(self.eval_pool, garment_scale))


DEFAULT_SPECS = {
    "tuples_630": FolderSpec(users=60, train=30, val=8, test=10, train_pool=900, eval_pool=450, two_top_rate=0.0),
    "tuples_519": FolderSpec(users=50, train=30, val=8, test=10, train_pool=800, eval_pool=400, two_top_rate=0.35),
    "tuples_53": FolderSpec(users=12, train=20, val=4, test=10, train_pool=250, eval_pool=150, two_top_rate=0.0),
    "tuples_32": FolderSpec(users=8, train=20, val=4, test=10, train_pool=200, eval_pool=120, two_top_rate=0.35),
}


# ----------------------------------------------------------------------------------------------- world


class World:
    """Styles and the preference model shared by every folder of one synthetic root."""

    def __init__(self, seed, difficulty=DEFAULT_DIFFICULTY, n_styles=8, clash=1.0, style_breadth=0.0):
        if not 0.0 <= difficulty <= 1.0:
            raise ConfigError(f"difficulty must lie in [0, 1], got {difficulty}", where="synthetic_difficulty",
                              fix="0 = users follow their styles strictly ... 1 = loosely")
        if not 0.0 <= style_breadth <= 1.0:
            raise ValueError(f"style_breadth must lie in [0, 1], got {style_breadth}")
        self.rng = np.random.default_rng(seed)
        self.beta = 3.0 * (1.0 - difficulty) + 1.0 * difficulty
        self.clash = clash
        self.n_styles = n_styles
        self.style_breadth = style_breadth
        # preferred[c] : [n_styles, n_values] 0/1 for each attribute of category c
        self.preferred = {}
        for category in polyvore.CATEGORIES:
            colours = np.zeros((n_styles, len(COLOURS)))
            patterns = np.zeros((n_styles, len(PATTERNS)))
            shapes = np.zeros((n_styles, len(SHAPES[category])))
            for s in range(n_styles):
                colours[s, self.rng.choice(len(COLOURS), 2, replace=False)] = 1
                patterns[s, self.rng.integers(len(PATTERNS))] = 1
                shapes[s, self.rng.integers(len(SHAPES[category]))] = 1
            self.preferred[category] = {"colour": colours, "pattern": patterns, "shape": shapes}
        self._broaden(np.random.default_rng([seed, 7]), style_breadth)

    def _broaden(self, rng, breadth):
        """Make ``breadth`` of the values a style does not prefer preferred, for every style, attribute and
        category (``x = breadth * n_not_preferred`` values: ``floor(x)``, one more with probability
        ``x - floor(x)``, so that the false-negative rate grows smoothly with ``breadth``).

        Drawn from their own stream, in the same order whatever ``breadth`` is: the base styles (and so
        ``breadth = 0``, the generator's original world) do not change, and a broader world's preferences
        contain a narrower one's. Broad styles make garments fit many styles, so a category-wise random
        mixture fits its user more often (more false negatives among random negatives)."""
        for category in polyvore.CATEGORIES:
            for attribute in ATTRIBUTE_WEIGHTS:
                values = self.preferred[category][attribute]
                for s in range(self.n_styles):
                    others = rng.permutation(np.flatnonzero(values[s] == 0))
                    extra = breadth * len(others)
                    extra = int(np.floor(extra)) + int(rng.random() < extra - np.floor(extra))
                    values[s, others[:extra]] = 1

    def utility(self, category, catalog):
        """[n_styles, n_garments] utility of each garment of ``catalog`` under each style."""
        pref = self.preferred[category]
        return sum(weight * pref[attr][:, catalog[attr]] for attr, weight in ATTRIBUTE_WEIGHTS.items())

    def user_styles(self, rng, n_users):
        """[n_users, n_styles] mixture weights: one style, or two with random weights."""
        mix = np.zeros((n_users, self.n_styles))
        for u in range(n_users):
            k = 1 + (rng.random() < 0.5)
            styles = rng.choice(self.n_styles, k, replace=False)
            mix[u, styles] = rng.dirichlet(np.ones(k)) if k > 1 else 1.0
        return mix


def make_catalog(rng, category, n):
    """Attributes of ``n`` garments of one category, drawn uniformly."""
    return {"colour": rng.integers(len(COLOURS), size=n), "pattern": rng.integers(len(PATTERNS), size=n),
            "shape": rng.integers(len(SHAPES[category]), size=n)}


# ----------------------------------------------------------------------------------------------- the saved world


WORLD_FILE = "world.npz"
SPLIT_POOL = {"train": "train", "val": "eval", "test": "eval"}  # which garment pool a split's positives use


class FolderWorld:
    """Everything drawn for one tuples folder that the true preference of a (user, outfit) pair depends on.

    Saved with the raw root (``world.npz``, see :func:`save_world`) so that an oracle can score any outfit,
    sampled training negatives included. Arrays, per category ``c`` of ``polyvore.CATEGORIES``:

    * ``preferred[c][attribute]``: ``[n_styles, n_values]`` 0/1, the values each style prefers;
    * ``catalog[c][attribute]``: ``[n_garments_c]`` the value of each garment (catalog id = image index);
    * ``user_mix``: ``[n_users, n_styles]`` each user's style weights (user id = row);
    * ``log_z[pool][c]``: ``[n_styles]`` log normaliser of the positives' garment draw in ``pool``
      (``train`` or ``eval``; :data:`SPLIT_POOL` maps a split to its pool);
    * ``negative_pool_sizes[split][c]``: distinct garments of ``c`` among the split's positives (what random
      negatives are drawn from).
    """

    def __init__(self, folder, beta, clash, preferred, catalog, user_mix, log_z, negative_pool_sizes):
        self.folder, self.beta, self.clash = folder, float(beta), float(clash)
        self.preferred, self.catalog, self.user_mix = preferred, catalog, np.asarray(user_mix, dtype=np.float64)
        self.log_z, self.negative_pool_sizes = log_z, negative_pool_sizes
        self.n_styles = self.user_mix.shape[1]
        self.tag = folder.split("_")[-1]

    def utilities(self, category, index=None):
        """``[n_styles, n]`` utility (``sum_a weight_a [value_a preferred]``) of garments ``index`` of
        ``category`` (default: all) under each style."""
        catalog = self.catalog[category]
        index = np.arange(len(catalog["colour"])) if index is None else np.asarray(index)
        pref = self.preferred[category]
        return sum(weight * pref[attr][:, catalog[attr][index]] for attr, weight in ATTRIBUTE_WEIGHTS.items())

    def patterned(self, category, index):
        return self.catalog[category]["pattern"][np.asarray(index)] != PATTERNS.index("solid")

    def clashes(self, outfits):
        """``[n]`` 1 where an outfit (``[n, 4]`` catalog ids: top, top 2 or -1, bottom, shoe) has two or more
        patterned garments, else 0."""
        count = self.patterned("top", outfits[:, 0]).astype(int)
        has_second = outfits[:, 1] != polyvore.MISSING
        count[has_second] += self.patterned("top", outfits[has_second, 1])
        count += self.patterned("bottom", outfits[:, 2]) + self.patterned("shoe", outfits[:, 3])
        return (count >= 2).astype(float)

    def true_preference(self, users, outfits, split="train"):
        """``[n]`` true preference of user ``users[k]`` (``[n]`` user ids) for outfit ``outfits[k]`` (``[n, 4]``
        catalog ids): ``log p_user(o) - log q(o)``, the log-likelihood ratio between the user's positive
        draw (a style from ``user_mix``, each garment with probability ``exp(beta * utility) / Z`` over the
        ``split``'s garment pool, two patterned garments kept with probability ``exp(-clash)``) and the
        category-wise random mixture over the ``split``'s positive garments that random negatives come
        from; the Bayes-optimal ranking score (constants shared by every outfit of a length dropped)."""
        users, outfits = np.asarray(users), np.asarray(outfits)
        log_z, sizes = self.log_z[SPLIT_POOL[split]], self.negative_pool_sizes[split]
        per_style = np.zeros((len(outfits), self.n_styles))
        for category, slot in (("top", 0), ("top", 1), ("bottom", 2), ("shoe", 3)):
            present = outfits[:, slot] != polyvore.MISSING
            u = self.utilities(category, outfits[present, slot]).T  # [n_present, n_styles]
            per_style[present] += self.beta * u - log_z[category][None, :] + np.log(sizes[category])
        with np.errstate(divide="ignore"):
            log_mix = np.log(self.user_mix[users])  # [n, n_styles]
        scores = np.logaddexp.reduce(per_style + log_mix, axis=1)
        return scores - self.clash * self.clashes(outfits)

    def garment_index(self, tokens):
        """(category names, catalog ids) of garment tokens (image names without ``.jpg``, e.g.
        ``syn630_top_000123``); ``ValueError`` for a token of another folder."""
        categories, index = [], np.empty(len(tokens), dtype=np.int64)
        for k, token in enumerate(tokens):
            parts = str(token).split("_")
            if len(parts) != 3 or parts[0] != f"syn{self.tag}" or parts[1] not in self.catalog:
                raise ValueError(f"garment {token!r} is not a garment of the synthetic folder {self.folder}")
            categories.append(parts[1])
            index[k] = int(parts[2])
        return categories, index

    def to_arrays(self):
        """Flat ``{name: array}`` for ``numpy.savez`` (names ``<folder>/...``)."""
        f = self.folder
        arrays = {f"{f}/beta": np.float64(self.beta), f"{f}/clash": np.float64(self.clash),
                  f"{f}/user_mix": self.user_mix}
        for c in polyvore.CATEGORIES:
            for attr in ATTRIBUTE_WEIGHTS:
                arrays[f"{f}/preferred/{c}/{attr}"] = self.preferred[c][attr]
                arrays[f"{f}/catalog/{c}/{attr}"] = self.catalog[c][attr]
            for pool, values in self.log_z.items():
                arrays[f"{f}/log_z/{pool}/{c}"] = values[c]
            for split, sizes in self.negative_pool_sizes.items():
                arrays[f"{f}/negative_pool_sizes/{split}/{c}"] = np.int64(sizes[c])
        return arrays

    @classmethod
    def from_arrays(cls, arrays, folder):
        def tree(prefix):  # {"a/b": x} under prefix -> {"a": {"b": x}}
            result = {}
            for name in arrays:
                if name.startswith(prefix):
                    outer, inner = name[len(prefix):].split("/")
                    value = arrays[name]
                    result.setdefault(outer, {})[inner] = value.item() if value.ndim == 0 else value
            return result

        if f"{folder}/beta" not in arrays:
            raise KeyError(folder)
        preferred = tree(f"{folder}/preferred/")
        catalog = tree(f"{folder}/catalog/")
        return cls(folder, float(arrays[f"{folder}/beta"]), float(arrays[f"{folder}/clash"]), preferred, catalog,
                   arrays[f"{folder}/user_mix"], tree(f"{folder}/log_z/"), tree(f"{folder}/negative_pool_sizes/"))


def true_preference(world, users, outfits, split="train"):
    """True preference ``[n]`` of ``users`` ``[n]`` for ``outfits`` ``[n, 4]`` in a :class:`FolderWorld`
    (see :meth:`FolderWorld.true_preference`)."""
    return world.true_preference(users, outfits, split)


def save_world(path, worlds):
    """Write the :class:`FolderWorld` of every folder (``{folder: world}``) to ``path`` (``.npz``), with the
    generator version."""
    arrays = {"generator_version": np.int64(GENERATOR_VERSION), "folders": np.array(sorted(worlds))}
    for world in worlds.values():
        arrays.update(world.to_arrays())
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def load_world(root, folder):
    """The :class:`FolderWorld` of ``folder`` saved in the synthetic root ``root``; ``ConfigError`` when the
    root has no world file (not a synthetic root, or one written before the world was kept) or not that
    folder."""
    path = os.path.join(root or "", WORLD_FILE)
    fix = ("the oracle needs a synthetic dataset generated by this version of the generator (it keeps its world "
           "in <raw_path>/world.npz): use a synthetic* dataset, or delete its raw root so that it is regenerated")
    if not root or not os.path.isfile(path):
        raise ConfigError(f"no generator world at {path!r}: the true preferences of this dataset are unknown",
                          where="raw_path", fix=fix)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    if int(arrays["generator_version"]) != GENERATOR_VERSION:
        raise ConfigError(f"{path} was written by generator version {int(arrays['generator_version'])}, this is "
                          f"version {GENERATOR_VERSION}", where="raw_path", fix=fix)
    try:
        return FolderWorld.from_arrays(arrays, folder)
    except KeyError:
        raise ConfigError(f"{path} holds no world for {folder!r} (it has {', '.join(map(str, arrays['folders']))})",
                          where="raw_folder", fix=fix) from None


# ----------------------------------------------------------------------------------------------- sampling


class SplitSampler:
    """Draws positives of one split from one garment pool (``pool[c]``: catalog ids of category c)."""

    def __init__(self, world, utilities, pools, patterned, rng):
        self.world, self.pools, self.patterned, self.rng = world, pools, patterned, rng
        # cdf[c][s]: cumulative probabilities over pools[c] under style s; log_z[c][s] its log normaliser
        self.cdf, self.log_z = {}, {}
        for category, pool in pools.items():
            logits = world.beta * utilities[category][:, pool]  # [n_styles, P]
            top = logits.max(axis=1, keepdims=True)
            weights = np.exp(logits - top)
            self.cdf[category] = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
            self.log_z[category] = np.log(weights.sum(axis=1)) + top[:, 0]

    def _draw(self, category, styles):
        """One garment of ``category`` per entry of ``styles`` (inverse-CDF sampling, grouped by style)."""
        index = np.empty(len(styles), dtype=np.int64)
        u = self.rng.random(len(styles))
        for style in np.unique(styles):
            rows = styles == style
            cdf = self.cdf[category][style]
            index[rows] = np.minimum(np.searchsorted(cdf, u[rows], side="right"), len(cdf) - 1)
        return self.pools[category][index]

    def outfits(self, styles, two_tops):
        """[n, 4] catalog ids (top, top2 or -1, bottom, shoe) for outfits of the given styles."""
        n = len(styles)
        result = np.full((n, 4), polyvore.MISSING, dtype=np.int64)
        todo = np.arange(n)
        while len(todo):
            s = styles[todo]
            result[todo, 0] = self._draw("top", s)
            second = todo[two_tops[todo]]
            if len(second):
                result[second, 1] = self._draw("top", styles[second])
            result[todo, 2] = self._draw("bottom", s)
            result[todo, 3] = self._draw("shoe", s)
            clash = self.clashes(result[todo])
            same_tops = result[todo, 0] == result[todo, 1]
            keep = (self.rng.random(len(todo)) < np.exp(-self.world.clash * clash)) & ~same_tops
            todo = todo[~keep]
        return result

    def clashes(self, outfits):
        """1 where an outfit has two or more patterned garments."""
        count = self.patterned["top"][outfits[:, 0]].astype(int)
        has_second = outfits[:, 1] != polyvore.MISSING
        count[has_second] += self.patterned["top"][outfits[has_second, 1]]
        count += self.patterned["bottom"][outfits[:, 2]] + self.patterned["shoe"][outfits[:, 3]]
        return (count >= 2).astype(float)


def _outfit_keys(users, outfits):
    """Hashable keys (user, outfit) with the two tops in canonical order."""
    tops = np.sort(outfits[:, :2], axis=1)
    canon = np.concatenate([tops, outfits[:, 2:]], axis=1)
    return [(u,) + tuple(row) for u, row in zip(users.tolist(), canon.tolist())]


def _random_mixtures(rng, positives, per_positive, users, forbidden):
    """``per_positive`` random category-wise mixtures for each positive, shaped like it, drawn uniformly from
    the distinct items of that category among ``positives``; never one of the user's positives."""
    pools = {
        "top": np.unique(positives[:, :2][positives[:, :2] != polyvore.MISSING]),
        "bottom": np.unique(positives[:, 2]),
        "shoe": np.unique(positives[:, 3]),
    }
    shape = np.repeat(positives, per_positive, axis=0)
    owners = np.repeat(users, per_positive)
    result = shape.copy()
    todo = np.arange(len(result))
    while len(todo):
        for slot, category in ((0, "top"), (1, "top"), (2, "bottom"), (3, "shoe")):
            present = shape[todo, slot] != polyvore.MISSING
            rows = todo[present]
            result[rows, slot] = rng.choice(pools[category], len(rows))
        keys = _outfit_keys(owners[todo], result[todo])
        bad = np.array([k in forbidden or k[1] == k[2] for k in keys], dtype=bool)
        todo = todo[bad]
    return result


def _hard_negatives(rng, positives, users, per_positive, forbidden):
    """``per_positive`` positives of other users of the same split for each positive."""
    n = len(positives)
    result = np.empty((n * per_positive, 4), dtype=np.int64)
    owners = np.repeat(users, per_positive)
    picks = rng.integers(n, size=n * per_positive)
    todo = np.arange(n * per_positive)
    while len(todo):
        picks[todo] = rng.integers(n, size=len(todo))
        result[todo] = positives[picks[todo]]
        keys = _outfit_keys(owners[todo], result[todo])
        bad = (users[picks[todo]] == owners[todo]) | np.array([k in forbidden for k in keys], dtype=bool)
        todo = todo[bad]
    return result


# ----------------------------------------------------------------------------------------------- folders


class FolderGenerator:
    """Users, garments and every tuple file of one folder."""

    def __init__(self, world, folder, spec, rng, variable_length):
        self.world, self.folder, self.spec, self.rng = world, folder, spec, rng
        self.variable_length = variable_length
        total = spec.train_pool + spec.eval_pool
        self.catalog = {c: make_catalog(rng, c, total) for c in polyvore.CATEGORIES}
        self.utilities = {c: world.utility(c, self.catalog[c]) for c in polyvore.CATEGORIES}
        self.patterned = {c: self.catalog[c]["pattern"] != PATTERNS.index("solid") for c in polyvore.CATEGORIES}
        ids = np.arange(total)
        self.pools = {"train": {c: ids[: spec.train_pool] for c in polyvore.CATEGORIES},
                      "eval": {c: ids[spec.train_pool:] for c in polyvore.CATEGORIES}}
        self.user_mix = world.user_styles(rng, spec.users)
        tag = folder.split("_")[-1]
        self.names = {c: [f"syn{tag}_{c}_{i:06d}.jpg" for i in range(total)] for c in polyvore.CATEGORIES}

    def _positives(self, sampler, per_user, forbidden):
        users = np.repeat(np.arange(self.spec.users), per_user)
        styles = np.array([self.rng.choice(self.world.n_styles, p=self.user_mix[u]) for u in users])
        two_tops = self.rng.random(len(users)) < (self.spec.two_top_rate if self.variable_length else 0.0)
        outfits = sampler.outfits(styles, two_tops)
        # no user posts the same outfit twice (across splits)
        for _ in range(100):
            seen, dup = set(forbidden), []
            for i, key in enumerate(_outfit_keys(users, outfits)):
                if key in seen:
                    dup.append(i)
                else:
                    seen.add(key)
            if not dup:
                break
            dup = np.array(dup)
            outfits[dup] = sampler.outfits(styles[dup], two_tops[dup])
        forbidden.update(_outfit_keys(users, outfits))
        return users, outfits

    def generate(self):
        samplers = {pool: SplitSampler(self.world, self.utilities, self.pools[pool], self.patterned, self.rng)
                    for pool in ("train", "eval")}
        forbidden = set()
        tables, stats = {}, {}
        for split, pool in (("train", "train"), ("val", "eval"), ("test", "eval")):
            users, outfits = self._positives(samplers[pool], getattr(self.spec, split), forbidden)
            tables[split, "posi"] = (users, outfits)
        for split in polyvore.SPLITS:
            users, outfits = tables[split, "posi"]
            ratio = polyvore.NEGATIVE_RATIO
            tables[split, "nega"] = (np.repeat(users, ratio), _random_mixtures(self.rng, outfits, ratio, users, forbidden))
            tables[split, "nega_hard"] = (np.repeat(users, ratio), _hard_negatives(self.rng, outfits, users, ratio, forbidden))
        self.drawn = self.folder_world(samplers, tables)
        stats.update(self._oracle_stats(self.drawn, tables))
        return tables, stats

    def folder_world(self, samplers, tables):
        """The :class:`FolderWorld` of this folder (what the true preferences depend on)."""
        sizes = {}
        for split in polyvore.SPLITS:
            positives = tables[split, "posi"][1]
            tops = positives[:, :2]
            sizes[split] = {"top": len(np.unique(tops[tops != polyvore.MISSING])),
                            "bottom": len(np.unique(positives[:, 2])), "shoe": len(np.unique(positives[:, 3]))}
        preferred = {c: {a: v.copy() for a, v in self.world.preferred[c].items()} for c in polyvore.CATEGORIES}
        log_z = {pool: dict(sampler.log_z) for pool, sampler in samplers.items()}
        return FolderWorld(self.folder, self.world.beta, self.world.clash, preferred, self.catalog, self.user_mix,
                           log_z, sizes)

    def _oracle_stats(self, world, tables):
        """Oracle AUC on test (random and hard negatives, ties count one half) and the false-negative rate of
        the random negatives of train and test: the share of negatives whose true preference reaches the
        median true preference of their user's positives of the split."""
        result = {}
        for split, kinds in (("test", ("nega", "nega_hard")), ("train", ("nega",))):
            users, positives = tables[split, "posi"]
            pos_score = world.true_preference(users, positives, split)
            median = np.full(self.spec.users, np.nan)
            for u in range(self.spec.users):
                median[u] = np.median(pos_score[users == u])
            for kind in kinds:
                neg_users, negatives = tables[split, kind]
                neg_score = world.true_preference(neg_users, negatives, split)
                rate = round(float((neg_score >= median[neg_users]).mean()), 4)
                if split == "train":
                    result["false_negative_rate_train"] = rate
                    continue
                _, aucs = per_user_auc(np.concatenate([users, neg_users]), np.concatenate([pos_score, neg_score]),
                                       np.r_[np.ones(len(users)), np.zeros(len(neg_users))])
                label = "random" if kind == "nega" else "hard"
                result[f"oracle_test_auc_{label}"] = round(float(np.mean(aucs)), 4)
                if kind == "nega":
                    result["false_negative_rate"] = rate
        return result

    def image_jobs(self):
        """(name, category, colour, pattern, shape, seed) for every garment image."""
        jobs = []
        for c in polyvore.CATEGORIES:
            cat = self.catalog[c]
            seeds = self.rng.integers(RENDER_SEED_LIMIT, size=len(self.names[c]))
            jobs += [(n, c, int(cat["colour"][i]), int(cat["pattern"][i]), int(cat["shape"][i]), int(seeds[i]))
                     for i, n in enumerate(self.names[c])]
        return jobs


# ----------------------------------------------------------------------------------------------- images


def _silhouette(category, shape, grid_x, grid_y, rng):
    """Boolean mask of a garment silhouette on the unit grid, with a little jitter in place and size."""
    dx, dy = rng.uniform(-0.04, 0.04, size=2)
    s = rng.uniform(0.92, 1.06)
    x = (grid_x - 0.5 - dx) / s + 0.5
    y = (grid_y - 0.5 - dy) / s + 0.5
    box = lambda x0, x1, y0, y1: (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    name = SHAPES[category][shape]
    if name == "tee":
        return box(0.3, 0.7, 0.22, 0.88) | box(0.14, 0.86, 0.22, 0.42)
    if name == "tank":
        return box(0.33, 0.67, 0.3, 0.88) | box(0.36, 0.42, 0.14, 0.3) | box(0.58, 0.64, 0.14, 0.3)
    if name == "longsleeve":
        return box(0.3, 0.7, 0.22, 0.88) | box(0.12, 0.3, 0.22, 0.84) | box(0.7, 0.88, 0.22, 0.84)
    if name == "trousers":
        return box(0.3, 0.7, 0.12, 0.3) | box(0.3, 0.48, 0.12, 0.95) | box(0.52, 0.7, 0.12, 0.95)
    if name == "shorts":
        return box(0.28, 0.72, 0.2, 0.36) | box(0.28, 0.48, 0.2, 0.6) | box(0.52, 0.72, 0.2, 0.6)
    if name == "skirt":
        half = 0.12 + 0.16 * np.clip((y - 0.18) / 0.6, 0, 1)
        return (np.abs(x - 0.5) <= half) & (y >= 0.18) & (y <= 0.78)
    if name == "sneaker":
        return (((x - 0.5) / 0.36) ** 2 + ((y - 0.66) / 0.14) ** 2 <= 1) | box(0.2, 0.55, 0.5, 0.78)
    if name == "boot":
        return box(0.34, 0.6, 0.12, 0.8) | (((x - 0.6) / 0.26) ** 2 + ((y - 0.74) / 0.1) ** 2 <= 1)
    # heel: a sloped foot and a thin heel post
    foot = (y >= 0.5 + 0.25 * (0.8 - x)) & (y <= 0.62 + 0.25 * (0.8 - x)) & (x >= 0.2) & (x <= 0.85)
    return foot | box(0.2, 0.27, 0.6, 0.86)


def render_garment(category, colour, pattern, shape, seed, px):
    """uint8 [px, px, 3] image: a coloured, patterned silhouette on a light, slightly noisy background."""
    rng = np.random.default_rng(seed)
    coords = (np.arange(px) + 0.5) / px
    grid_x, grid_y = np.meshgrid(coords, coords)
    mask = _silhouette(category, shape, grid_x, grid_y, rng)
    base = np.clip(COLOURS[colour] + rng.normal(0, 12, size=3), 0, 255)
    accent = np.array([245.0, 245, 245]) if base.mean() < 140 else base * 0.35
    period = 1.0 / 7
    phase = rng.uniform(0, period, size=2)
    name = PATTERNS[pattern]
    if name == "stripes":
        marks = ((grid_y + phase[1]) % period) < period * 0.4
    elif name == "dots":
        cx = (grid_x + phase[0]) % period - period / 2
        cy = (grid_y + phase[1]) % period - period / 2
        marks = cx ** 2 + cy ** 2 < (period * 0.28) ** 2
    elif name == "checks":
        marks = (((grid_x + phase[0]) % period) < period / 2) ^ (((grid_y + phase[1]) % period) < period / 2)
    else:
        marks = np.zeros_like(mask)
    background = 235 + rng.normal(0, 4, size=(px, px, 1)) + rng.uniform(-8, 8)
    image = np.repeat(background, 3, axis=2)
    image[mask] = base
    image[mask & marks] = accent
    return np.clip(image, 0, 255).astype(np.uint8)


JPEG_QUALITY = 90  # of every rendered garment image (the datasets' and the pretraining pool's)


def render_jpeg(category, colour, pattern, shape, seed, px):
    """:func:`render_garment` encoded as the JPEG bytes a garment image file holds."""
    buffer = io.BytesIO()
    Image.fromarray(render_garment(category, colour, pattern, shape, seed, px)).save(buffer, "JPEG",
                                                                                     quality=JPEG_QUALITY)
    return buffer.getvalue()


def _render_job(args):
    job, px, folder = args
    name, category, colour, pattern, shape, seed = job
    with open(os.path.join(folder, name), "wb") as f:
        f.write(render_jpeg(category, colour, pattern, shape, seed, px))


def render_images(jobs, px, folder, workers=None, show_progress=True):
    os.makedirs(folder, exist_ok=True)
    tasks = [(job, px, folder) for job in jobs]
    workers = workers or os.cpu_count() or 1
    progress = tqdm(total=len(tasks), unit="img", desc="Drawing garments", disable=not show_progress, ncols=100)
    if workers == 1:
        for task in tasks:
            _render_job(task)
            progress.update()
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for _ in pool.imap_unordered(_render_job, tasks, chunksize=64):
                progress.update()
    progress.close()


# ----------------------------------------------------------------------------------------------- writing


def _write_csv(path, header, rows):
    text = ",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows.tolist())
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _write_folder(root, gen, tables):
    folder = os.path.join(root, gen.folder)
    os.makedirs(folder, exist_ok=True)
    for category in polyvore.CATEGORIES:
        with open(polyvore.image_list_path(folder, category), "w", encoding="utf-8") as f:
            f.write("".join(name + "\n" for name in gen.names[category]))
    header = polyvore.VARIABLE_HEADER if gen.variable_length else polyvore.FIXED_HEADER
    columns = [0, 1, 2, 3] if gen.variable_length else [0, 2, 3]
    for (split, kind), (users, outfits) in tables.items():
        rows = np.concatenate([users[:, None], outfits[:, columns]], axis=1)
        _write_csv(polyvore.tuple_path(folder, split, kind), header, rows)
    # fill-in-the-blank: the true test outfit, then three with one garment swapped (format fidelity only)
    users, outfits = tables["test", "posi"]
    rng = np.random.default_rng(len(users))
    slot_category = {0: "top", 2: "bottom", 3: "shoe"}
    blanks = []
    for u, outfit in zip(users.tolist(), outfits):
        slot = int(rng.choice(list(slot_category)))
        candidates = [outfit]
        for other in rng.choice(len(gen.names[slot_category[slot]]), 3, replace=False):
            swapped = outfit.copy()
            swapped[slot] = other
            candidates.append(swapped)
        blanks.append(",".join(str(v) for c in candidates for v in [u] + c[columns].tolist()))
    with open(os.path.join(folder, "fill_in_blank_test"), "w", encoding="utf-8") as f:
        f.write("".join(b + "\n" for b in blanks))


def generate(out, seed=0, scale=1.0, difficulty=DEFAULT_DIFFICULTY, image_px=128, folders=None, workers=None, show_progress=True,
             garment_scale=None, style_breadth=0.0):
    """Write a synthetic Polyvore-U root to ``out`` (the folders, their JPEGs, ``world.npz`` with what was
    drawn); return the summary written to ``out/synthetic.json``."""
    logger = getLogger()
    started = time.time()
    folders = folders or list(DEFAULT_SPECS)
    world = World(seed, difficulty, style_breadth=style_breadth)
    summary = {"generator_version": GENERATOR_VERSION, "seed": seed, "scale": scale, "garment_scale": garment_scale,
               "difficulty": difficulty, "style_breadth": style_breadth, "beta": world.beta, "image_px": image_px,
               "world_file": WORLD_FILE, "folders": {}}
    jobs, drawn = [], {}
    for i, folder in enumerate(folders):
        spec = DEFAULT_SPECS[folder].scaled(scale, garment_scale)
        rng = np.random.default_rng([seed, i])
        variable = folder in ("tuples_519", "tuples_32")
        gen = FolderGenerator(world, folder, spec, rng, variable)
        tables, stats = gen.generate()
        _write_folder(out, gen, tables)
        drawn[folder] = gen.drawn
        jobs += gen.image_jobs()
        counts = {f"{split}_{kind}": int(len(tables[split, kind][0])) for split, kind in tables}
        summary["folders"][folder] = {"spec": asdict(spec), "variable_length": variable, "counts": counts,
                                      "garments": int(sum(len(n) for n in gen.names.values())), **stats}
        logger.info(f"{folder}: {spec.users} users, {counts['train_posi'] + counts['val_posi'] + counts['test_posi']} "
                    f"positive outfits, oracle test AUC {stats['oracle_test_auc_random']:.3f}, "
                    f"false-negative rate {stats['false_negative_rate']:.3f} (test), "
                    f"{stats['false_negative_rate_train']:.3f} (train)")
    save_world(os.path.join(out, WORLD_FILE), drawn)
    render_images(jobs, image_px, os.path.join(out, JPEG_FOLDER), workers, show_progress)
    summary["seconds"] = round(time.time() - started, 1)
    with open(os.path.join(out, "synthetic.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    logger.info(f"Synthetic Polyvore-U written to {out} in {summary['seconds']}s ({len(jobs)} garment images)")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.data.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="dataset_raw/synthetic", help="root to write (Polyvore-U layout)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies users (and garments)")
    parser.add_argument("--garment_scale", type=float, default=None, help="multiplies garments (default: --scale)")
    parser.add_argument("--difficulty", type=float, default=DEFAULT_DIFFICULTY, help="0 = easy (strong styles) ... 1 = hard")
    parser.add_argument("--style_breadth", type=float, default=0.0,
                        help="0 = narrow styles (about 2%% false negatives) ... 1 = every value preferred")
    parser.add_argument("--image_px", type=int, default=128, help="side of the JPEGs in pixels")
    parser.add_argument("--folders", default=",".join(DEFAULT_SPECS), help="comma-separated tuples folders")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    generate_and_publish(args.out, seed=args.seed, scale=args.scale, difficulty=args.difficulty,
                         image_px=args.image_px, folders=args.folders.split(","), workers=args.workers,
                         garment_scale=args.garment_scale, style_breadth=args.style_breadth)
    return 0


def generate_and_publish(out, **options):
    """:func:`generate` into ``<out>.tmp-<pid>``, then renamed over ``out`` (``atomic.publish_folder``): a
    generator killed half-way leaves ``out`` as it was (never one seed's tuples beside another's summary),
    and its temporary root is removed by the next generation. Returns the summary."""
    root = os.path.abspath(out)
    parent, name = os.path.dirname(root), os.path.basename(root)
    remove_stale_temp(parent, rf"\.?{re.escape(name)}\.(?:tmp|old)-(?P<pid>\d+)")
    tmp = f"{root}.tmp-{os.getpid()}"
    os.makedirs(parent, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        summary = generate(tmp, **options)
        publish_folder(tmp, root, lambda folder: _same_generation(folder, summary))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _same_generation(folder, summary):
    """True when ``folder`` holds a complete root generated with ``summary``'s options (another process's)."""
    try:
        with open(os.path.join(folder, "synthetic.json"), "r", encoding="utf-8") as f:
            done = json.load(f)
    except (OSError, ValueError):
        return False
    keys = ("generator_version", "seed", "scale", "garment_scale", "difficulty", "style_breadth", "image_px")
    return all(done.get(k) == summary.get(k) for k in keys) and set(summary["folders"]) <= set(done.get("folders", {}))


if __name__ == "__main__":
    sys.exit(main())
