"""Composing new outfits for a user: a search over the garment catalogue scored by the Set Transformer.

An outfit is one garment per slot, a slot per category of a template (the recommender's default: the
user's most frequent layouts, e.g. ``top, bottom, shoe``; a slot may also be optional). Its score for user
i is Eq. 9, ``cos(u_i, T(f(x_1), ..., f(x_n)))``, and T is not additive over garments, so the best outfits
can only be found by scoring combinations. The full product of the categories is far too large at
Polyvore size (about 46,000 garments per category in Polyvore-630), so:

1. **exact**: when the product of the slots' candidate counts is at most ``exhaustive_limit``, every
   combination is scored (in batches of ``batch_size``) and the top-k is exact;
2. **shortlist**: otherwise each free slot keeps its ``shortlist`` garments of highest *affinity* with the
   user, ``cos(u_i, T(f(x)))`` (the garment scored as a one-garment outfit; T takes any set size), and the
   combinations of the shortlists are scored exactly when their product is at most ``exhaustive_limit``;
3. **beam**: otherwise slots are filled one at a time, each partial outfit scored through T (as a smaller
   set) and the ``beam`` best kept.

Garment features come from the model's evaluation cache (each garment encoded once per model load); the
search itself only runs T, in batches. Everything here works on internal garment ids (0 = padding).
"""

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Slot:
    """One position of a composed outfit.

    category: index into the dataset's ``categories``; candidates: garment ids ``[c]``;
    optional: the slot may stay empty; fixed: given by the caller (not searched);
    distinct_from: index of an earlier slot of the same category (the two must differ, and when neither is
    fixed each unordered pair is counted once: this slot's id is larger).
    """

    category: int
    candidates: torch.Tensor
    optional: bool = False
    fixed: bool = False
    distinct_from: int = None

    def choices(self):
        """Candidates, with 0 (empty) first for an optional slot."""
        if self.optional:
            return torch.cat([self.candidates.new_zeros(1), self.candidates])
        return self.candidates


@dataclass
class SearchResult:
    garments: torch.Tensor  # [n, slots] garment ids (0 = empty optional slot), best first
    scores: torch.Tensor  # [n]
    info: dict = field(default_factory=dict)  # method, combinations scored, seconds


class OutfitSearch:
    """Score and search garment combinations for a user vector.

    Args:
        encoder: the outfit encoder T, ``(x [M, L, d], mask [M, L]) -> [M, d']``.
        features: ``[G, d]`` garment features indexed by garment id (row 0 unused).
        batch_size: combinations per call of T.
    """

    def __init__(self, encoder, features, batch_size=4096):
        self.encoder = encoder
        self.features = features
        self.batch_size = batch_size
        self._single = None  # [G, d'] T of each garment alone, for affinities

    def extended(self, extra):
        """A search over these garments plus ``extra`` features ``[E, d]`` (ids ``len(features)`` onwards, e.g.
        photos): for fixed slots only, since the per-garment affinity cache it shares covers the base rows."""
        if self._single is None:
            self._init_single()
        search = OutfitSearch(self.encoder, torch.cat([self.features, extra.to(self.features.device)]),
                              self.batch_size)
        search._single, search._single_known = self._single, self._single_known
        return search

    def _init_single(self):
        self._single = torch.zeros(len(self.features), self.features.shape[1], device=self.features.device)
        self._single_known = torch.zeros(len(self.features), dtype=torch.bool, device=self.features.device)

    @torch.no_grad()
    def outfit_vectors(self, garments):
        """``[M, L]`` garment ids (0 = empty) -> ``[M, d']`` outfit representations, in batches."""
        parts = []
        for part in garments.split(self.batch_size):
            mask = part > 0  # [m, L]
            x = self.features[part] * mask.unsqueeze(-1)  # [m, L, d]
            parts.append(self.encoder(x, mask))
        return torch.cat(parts) if parts else self.features.new_zeros((0, self.features.shape[1]))

    def score(self, user_vector, garments):
        """Eq. 9 for one user ``[d']`` and combinations ``[M, L]`` -> ``[M]``."""
        outfits = F.normalize(self.outfit_vectors(garments), dim=-1)
        return outfits @ F.normalize(user_vector, dim=-1)

    @torch.no_grad()
    def affinity(self, user_vector, garments):
        """``cos(u, T({f(x)}))`` of each garment ``[g]`` scored alone (cached T per garment) -> ``[g]``."""
        if self._single is None:
            self._init_single()
        missing = garments[~self._single_known[garments]].unique()
        if len(missing):
            self._single[missing] = self.outfit_vectors(missing.unsqueeze(1))
            self._single_known[missing] = True
        return F.normalize(self._single[garments], dim=-1) @ F.normalize(user_vector, dim=-1)

    # ------------------------------------------------------------------ search

    def search(self, user_vector, slots, k, exclude=(), shortlist=40, beam=64, exhaustive_limit=20_000):
        """Top-``k`` combinations for ``user_vector`` (see the module docstring for the three methods).

        Args:
            slots: list of :class:`Slot`.
            exclude: a set of ``frozenset`` of garment ids (outfits not to return, e.g. the user's own).
        Returns:
            :class:`SearchResult` with at most ``k`` rows.
        """
        started = time.time()
        if any(len(s.candidates) == 0 for s in slots if not s.optional):
            return SearchResult(torch.zeros((0, len(slots)), dtype=torch.long), torch.zeros(0),
                                {"method": "empty", "scored": 0, "seconds": 0.0})
        want = k + len(exclude)
        if _product(slots) <= exhaustive_limit:
            garments, scores, scored = self._exhaustive(user_vector, slots, want)
            method = "exact"
        else:
            short = [s if s.fixed else Slot(s.category, self._shortlist(user_vector, s, shortlist), s.optional,
                                            s.fixed, s.distinct_from) for s in slots]
            if _product(short) <= exhaustive_limit:
                garments, scores, scored = self._exhaustive(user_vector, short, want)
                method = "shortlist"
            else:
                garments, scores, scored = self._beam(user_vector, short, want, beam)
                method = "beam"
        garments, scores = _drop_excluded(garments, scores, exclude, k)
        return SearchResult(garments, scores, {"method": method, "scored": int(scored),
                                               "seconds": round(time.time() - started, 4)})

    def brute_force(self, user_vector, slots, k, exclude=()):
        """Every combination scored: the exact top-k, whatever its cost (for tests and measurements)."""
        started = time.time()
        garments, scores, scored = self._exhaustive(user_vector, slots, k + len(exclude))
        return SearchResult(*_drop_excluded(garments, scores, exclude, k),
                            {"method": "brute_force", "scored": int(scored), "seconds": round(time.time() - started, 4)})

    def _shortlist(self, user_vector, slot, size):
        if len(slot.candidates) <= size:
            return slot.candidates
        best = self.affinity(user_vector, slot.candidates).topk(size).indices
        return slot.candidates[best]

    def _exhaustive(self, user_vector, slots, want):
        choices = [s.choices() for s in slots]
        total = math.prod(len(c) for c in choices)
        step = max(self.batch_size * 4, 1)
        best_garments = torch.zeros((0, len(slots)), dtype=torch.long, device=choices[0].device)
        best_scores = torch.zeros(0, device=self.features.device)
        scored = 0
        for start in range(0, total, step):
            garments = _combinations(choices, start, min(start + step, total))
            garments = garments[_valid(garments, slots)]
            if not len(garments):
                continue
            scores = self.score(user_vector, garments)
            scored += len(garments)
            best_garments, best_scores = _top(torch.cat([best_garments, garments]),
                                              torch.cat([best_scores, scores]), want)
        return best_garments, best_scores, scored

    def _beam(self, user_vector, slots, want, width):
        # fixed slots first (they narrow every later choice), mandatory before optional slots
        order = sorted(range(len(slots)), key=lambda i: (not slots[i].fixed, slots[i].optional, i))
        device = slots[0].candidates.device
        beams = torch.zeros((1, len(slots)), dtype=torch.long, device=device)
        scores, scored = None, 0
        for step, index in enumerate(order):
            choices = slots[index].choices()
            grown = beams.repeat_interleave(len(choices), 0)  # [b * c, n]
            grown[:, index] = choices.repeat(len(beams))
            filled = set(order[: step + 1])
            grown = grown[_valid(grown, slots, filled)]
            scores = self.score(user_vector, grown)
            scored += len(grown)
            keep = max(width, want) if step == len(order) - 1 else width
            beams, scores = _top(grown, scores, keep)
        return beams, scores, scored


def _product(slots):
    return math.prod(len(s.choices()) for s in slots)


def _combinations(choices, start, end):
    """Rows ``start..end`` of the product of ``choices`` (mixed radix, last slot fastest) -> ``[m, n]``."""
    index = torch.arange(start, end, device=choices[0].device)
    columns = []
    for candidates in reversed(choices):
        columns.append(candidates[index % len(candidates)])
        index = index // len(candidates)
    return torch.stack(columns[::-1], dim=1)


def _valid(garments, slots, filled=None):
    """``[m]`` bool: combinations where same-category slots hold different garments, counted once."""
    keep = torch.ones(len(garments), dtype=torch.bool, device=garments.device)
    for j, slot in enumerate(slots):
        i = slot.distinct_from
        if i is None or (filled is not None and not (i in filled and j in filled)):
            continue
        a, b = garments[:, i], garments[:, j]
        if slots[i].fixed or slot.fixed:
            ok = a != b
        else:
            ok = b > a
        keep &= ok | (slot.optional & (b == 0))
    return keep


def _top(garments, scores, k):
    if len(scores) <= k:
        order = scores.argsort(descending=True)
    else:
        order = scores.topk(k).indices
    return garments[order], scores[order]


def _drop_excluded(garments, scores, exclude, k):
    if exclude:
        keep = torch.tensor([frozenset(g for g in row.tolist() if g) not in exclude for row in garments],
                            dtype=torch.bool, device=garments.device)
        garments, scores = garments[keep], scores[keep]
    return garments[:k], scores[:k]
