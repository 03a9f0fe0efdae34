"""``Recommender``: a trained outfit model loaded once and asked many times.

    from recbole_outfit.recommend import load_recommender
    rec = load_recommender("saved/NPair-synthetic630-....pth")
    rec.rank("12", k=10)                      # the user's top outfits of the catalogue
    rec.score("12", [("101", "2040", "3307")])  # any garment tuples
    rec.compose("12", k=5, fixed={"top": "101"})
    rec.compose("12", k=5, template=["top", "bottom", "shoe", "bag"])  # any of the dataset's categories
    rec.cold_user(["o17", "o230"], k=10)      # a new user from a few outfits they like (Eq. 20-24)
    rec.score("12", [("top.jpg", "skirt.png", "3307")])  # photos beside catalogue garments
    rec.compose("12", k=5, fixed={"top": PIL.Image.open("top.jpg")})
    rec.embeddings()                          # numpy vectors for a vector index
    rec.rank_all(k=10)                        # every user's top-k, batched over users

Ids are the dataset's tokens (as in the atomic files): user tokens, outfit tokens, garment tokens. Every
score is Eq. 9, ``cos(u_i, T(f(x_1..x_n)))``. Garment features are computed once per load by the model's own
evaluation cache (``OutfitRecommender.encode_garments``) and outfit vectors once on first use.

A garment can also be a photo: a PIL image, a uint8 ``[H, W, 3]`` array, bytes, an ``os.PathLike``, or a
``str`` that is not a garment id of the dataset and names an existing file. Photos are preprocessed as the
image store was built and encoded once per load (``recommend.photos``); in results they appear as
``photo:<hash>`` tokens, which later calls accept as garment ids while the photo stays registered.
"""

import os
from collections import Counter

import numpy as np
import torch

from recbole_outfit.data.dataset import GARMENT_ID
from recbole_outfit.errors import ConfigError
from recbole_outfit.evaluator.cold_start import STRATEGIES, cold_start_scores
from recbole_outfit.model.outfit_recommender import OutfitRecommender
from recbole_outfit.quick_start import load_data_and_model
from recbole_outfit.recommend.compose import OutfitSearch, Slot
from recbole_outfit.recommend.photos import PHOTO_PREFIX, PhotoRef, PhotoRegistry, is_photo


class UnknownIdError(ConfigError):
    """A user, outfit or garment id the loaded dataset does not know (``kind`` says which)."""

    def __init__(self, kind, token, fix=None):
        self.kind, self.token = kind, token
        super().__init__(f"unknown {kind} {token!r}", where=kind,
                         fix=fix or f"use a {kind} id of the dataset the model was trained on")


def load_recommender(checkpoint, config_dict=None, **settings):
    """Load a plugin checkpoint (``quick_start.load_data_and_model``) and wrap it in a :class:`Recommender`."""
    config, model, dataset, train_data, _, test_data = load_data_and_model(checkpoint, config_dict=config_dict)
    test = test_data.get("test") if isinstance(test_data, dict) else test_data
    return Recommender(config, model, dataset, train_data, test_data=test, **settings)


class Recommender:
    """Scores, rankings, composed outfits and cold-start recommendations of one trained outfit model.

    Args:
        config, model, dataset, train_data: as ``load_data_and_model`` returns them.
        test_data: the test loader (optional): its positives are each user's held-out outfits.
        shortlist: garments kept per slot by :meth:`compose` on large catalogues.
        beam: partial outfits kept per slot when even the shortlists' product is too large (the defaults, a
            beam of 64 over shortlists of 40, found 99 % of the brute-force top-10 on synthetic630
            sub-catalogues in about 1 s per user on 2 CPU cores: README "Using a trained model").
        exhaustive_limit: :meth:`compose` scores every combination up to this many (exact top-k).
        batch_size: outfits per call of the Set Transformer.
        layouts: how many of a user's most frequent outfit layouts :meth:`compose` fills by default.
        photo_capacity: photos kept encoded (:class:`~recbole_outfit.recommend.photos.PhotoRegistry`).
        max_photo_pixels: photos with more pixels (width x height) are refused before they are decoded.
    """

    def __init__(self, config, model, dataset, train_data, test_data=None, shortlist=40, beam=64,
                 exhaustive_limit=20_000, batch_size=1024, layouts=2, photo_capacity=1024,
                 max_photo_pixels=40_000_000):
        if not isinstance(model, OutfitRecommender):
            raise ConfigError(f"{config['model']} is not an outfit model (it scores outfits by id, it cannot score "
                              f"or compose new outfits)", where="checkpoint",
                              fix="load a checkpoint of a recbole-outfit model (Teacher, NPair, FND, FNDCL, ...)")
        _check_sizes(shortlist=shortlist, beam=beam, batch_size=batch_size, exhaustive_limit=exhaustive_limit,
                     layouts=layouts)
        self.config, self.model, self.dataset = config, model, dataset
        self.train_data, self.test_data = train_data, test_data
        self.shortlist, self.beam, self.exhaustive_limit = shortlist, beam, exhaustive_limit
        self.batch_size, self.layout_count = batch_size, layouts
        self.categories = tuple(dataset.categories)  # the dataset's category names; garment_category indexes them
        self.device = model.user_embedding.weight.device
        self.uid_field, self.iid_field = dataset.uid_field, dataset.iid_field
        self.user_tokens = dataset.field2id_token[self.uid_field]
        self.outfit_tokens = dataset.field2id_token[self.iid_field]
        self.garment_tokens = dataset.field2id_token[GARMENT_ID]
        self.outfit_garments = dataset.outfit_garments  # [O, L], 0 = padding
        self.garment_category = dataset.garment_category  # [G], -1 = padding
        model.eval_feature_cache = True
        model.eval()  # once: switching mode drops the feature cache
        train = train_data._dataset.inter_feat
        self._known = {}
        for user, outfit in zip(train[self.uid_field].tolist(), train[self.iid_field].tolist()):
            self._known.setdefault(user, []).append(outfit)
        self._held_out = {}
        if test_data is not None:
            test = test_data._dataset.inter_feat
            labels = test[dataset.label_field].tolist() if dataset.label_field in test else None
            for row, (user, outfit) in enumerate(zip(test[self.uid_field].tolist(), test[self.iid_field].tolist())):
                if labels is None or labels[row] > 0:
                    self._held_out.setdefault(user, []).append(outfit)
        self._outfit_vectors = None
        self._outfit_index = None
        self._search = None
        self._layout_counts = self._count_layouts()
        self.photos = PhotoRegistry(model, len(self.garment_tokens), capacity=photo_capacity)
        self.max_photo_pixels = max_photo_pixels

    # ------------------------------------------------------------------ ids

    def user_id(self, user):
        """Internal id of a user token (``str`` or ``int``); :class:`UnknownIdError` if unknown."""
        uid = self.dataset.field2token_id[self.uid_field].get(str(user))
        if not uid:
            raise UnknownIdError("user", str(user))
        return uid

    def outfit_id(self, outfit):
        iid = self.dataset.field2token_id[self.iid_field].get(str(outfit))
        if not iid:
            raise UnknownIdError("outfit", str(outfit))
        return iid

    def garment_id(self, garment):
        """Internal id of a garment token (or of a registered ``photo:`` token)."""
        gid = self.dataset.field2token_id[GARMENT_ID].get(str(garment))
        if not gid:
            gid = self.photos.id_of(str(garment))
        if not gid:
            raise UnknownIdError("garment", str(garment),
                                 fix="use a garment id of the dataset the model was trained on, or an image file")
        return gid

    def is_photo(self, garment):
        """True when ``garment`` is given as a photo (see the module docstring), not as a garment id."""
        if is_photo(garment):
            return True
        if isinstance(garment, str) and not self.dataset.field2token_id[GARMENT_ID].get(garment) \
                and garment not in self.photos:
            return os.path.isfile(garment)
        return False

    def add_photos(self, photos, where="photo"):
        """Register photos (encoded once per set of pixels); returns their ``photo:`` tokens."""
        return [self.photos.token(g) for g in self.photos.add(list(photos), self.max_photo_pixels, where=where)]

    def users(self):
        """Every user token, in id order."""
        return list(self.user_tokens[1:])

    def known_outfits(self, user):
        """Outfit tokens of ``user``'s training positives."""
        return [self.outfit_tokens[i] for i in self._known.get(self.user_id(user), [])]

    def held_out_outfits(self, user):
        """Outfit tokens of ``user``'s test positives (empty when no test data was given)."""
        return [self.outfit_tokens[i] for i in self._held_out.get(self.user_id(user), [])]

    def outfit(self, outfit):
        """``{"outfit", "garments", "categories"}`` of an outfit token."""
        row = self.outfit_garments[self.outfit_id(outfit)]
        return self._describe(row[row > 0], None, outfit=str(outfit))

    def garment_image(self, garment):
        """The stored image of a garment token (or of a registered photo): uint8 ``[S, S, 3]``. Read straight
        from the store's memory map, not through the model's batch reader, so it is safe beside model work in
        another thread (the page serves images while a request computes)."""
        if str(garment).startswith(PHOTO_PREFIX):
            try:
                return self.photos.image(str(garment))
            except KeyError:
                raise UnknownIdError("garment", str(garment), fix="photos are kept while the model stays loaded "
                                     "and at most photo_capacity of them: send the photo again") from None
        gid = self.garment_id(garment)
        row = int(self.dataset.garment_image_row[gid])
        return np.array(self.model.images.array[row]).transpose(1, 2, 0)

    def _garment_ids(self, outfit):
        """A garment tuple (tokens or photos) -> internal ids ``[n]``; checked: known and distinct."""
        return self._garment_id_lists([outfit])[0]

    def _garment_id_lists(self, outfits):
        """Garment tuples -> internal id tensors, the photos among them registered in one batch."""
        for outfit in outfits:
            if isinstance(outfit, (str, int)) or is_photo(outfit):
                raise ConfigError(f"an outfit must be a tuple of garment ids or photos, got {outfit!r}",
                                  where="outfits", fix="give garment tuples such as ('101', '2040', 'top.jpg')")
        photo = [[self.is_photo(g) for g in outfit] for outfit in outfits]
        sources = [g for outfit, flags in zip(outfits, photo) for g, p in zip(outfit, flags) if p]
        photo_ids = iter(self.photos.add(sources, self.max_photo_pixels) if sources else ())
        lists = []
        for outfit, flags in zip(outfits, photo):
            ids = [next(photo_ids) if p else self.garment_id(g) for g, p in zip(outfit, flags)]
            if not ids or len(set(ids)) != len(ids):
                raise ConfigError(f"outfit {_show(outfit)} must hold one or more distinct garments", where="outfits")
            lists.append(torch.tensor(ids))
        return lists

    def _pad(self, outfits):
        """A list of garment-id tensors -> ``[M, L]`` (0 = padding; L = the longest)."""
        length = max(len(o) for o in outfits)
        table = torch.zeros((len(outfits), length), dtype=torch.long)
        for row, ids in enumerate(outfits):
            table[row, : len(ids)] = ids
        return table

    # ------------------------------------------------------------------ scoring

    def user_vector(self, user):
        """``[d']`` the trained embedding u_i of a user token."""
        return self.model.user_embedding.weight[self.user_id(user)].detach()

    @torch.no_grad()
    def _encode(self, garments):
        """``[M, L]`` garment ids -> ``[M, d']`` outfit vectors (garment features from the model's cache; photo
        features from the photo registry)."""
        if not bool((garments >= self.photos.n_catalogue).any()):
            parts = [self.model.encode_outfits(part.to(self.device)) for part in garments.split(self.batch_size)]
        else:
            parts = [self._encode_with_photos(part.to(self.device)) for part in garments.split(self.batch_size)]
        return torch.cat(parts) if parts else torch.zeros((0, self.model.user_embedding.weight.shape[1]))

    def _encode_with_photos(self, garments):
        """``OutfitRecommender.encode_outfits`` (evaluation, feature cache) with photo ids among the garments."""
        mask = garments > 0  # [M, L]
        distinct, inverse = torch.unique(garments[mask], return_inverse=True)
        photo = distinct >= self.photos.n_catalogue
        catalogue = self.model.encode_garments(distinct[~photo])  # [c, d]
        features = catalogue.new_empty((len(distinct), catalogue.shape[1]))
        features[~photo] = catalogue
        features[photo] = self.photos.feature_rows(distinct[photo])
        x = features.new_zeros(garments.shape + features.shape[-1:])  # [M, L, d]
        x[mask] = features[inverse]
        return self.model.outfit_encoder(x, mask)  # [M, d']

    def outfit_vectors(self):
        """``[O, d']`` T of every outfit of the catalogue (row 0, RecBole's padding item, is zero); cached."""
        if self._outfit_vectors is None:
            vectors = self._encode(self.outfit_garments[1:])
            self._outfit_vectors = torch.cat([vectors.new_zeros((1, vectors.shape[1])), vectors])
        return self._outfit_vectors

    @torch.no_grad()
    def score(self, user, outfits):
        """Scores (Eq. 9) of ``user`` for ``outfits``: tuples of garment ids or photos, any length -> numpy
        ``[M]``."""
        uid = self.user_id(user)
        garments = self._pad(self._garment_id_lists(outfits))
        users = torch.tensor([uid], device=self.device)
        return self.model.scores(users, self._encode(garments)).squeeze(0).cpu().numpy()

    @torch.no_grad()
    def score_outfits(self, user, outfits):
        """:meth:`score` with each outfit described (garments, categories, its catalogue token when it is one),
        in the order given."""
        uid = self.user_id(user)
        garments = self._pad(self._garment_id_lists(outfits))
        scores = self.model.scores(torch.tensor([uid], device=self.device), self._encode(garments)).squeeze(0).cpu()
        return [self._describe(row[row > 0], float(s), outfit=self._existing_outfit(row))
                for row, s in zip(garments, scores)]

    @torch.no_grad()
    def rank(self, user, candidates=None, k=10):
        """Top-``k`` of ``candidates`` for ``user``: outfit tokens, or garment tuples, or None for every
        outfit of the catalogue except the user's training positives. Returns dicts with ``score``, best first.
        """
        _check_sizes(k=k)
        uid = self.user_id(user)
        users = torch.tensor([uid], device=self.device)
        if candidates is None:
            known = torch.tensor(self._known.get(uid, []), dtype=torch.long)
            ids = torch.ones(len(self.outfit_tokens), dtype=torch.bool)
            ids[0] = False
            ids[known] = False
            ids = ids.nonzero().squeeze(1)
            scores = self.model.scores(users, self.outfit_vectors()[ids.to(self.device)]).squeeze(0).cpu()
            garments = self.outfit_garments[ids]
            tokens = [self.outfit_tokens[i] for i in ids.tolist()]
        elif all(isinstance(c, (str, int)) for c in candidates):
            ids = torch.tensor([self.outfit_id(c) for c in candidates], dtype=torch.long)
            garments = self.outfit_garments[ids]
            scores = self.model.scores(users, self.outfit_vectors()[ids.to(self.device)]).squeeze(0).cpu()
            tokens = [str(c) for c in candidates]
        else:
            garments = self._pad(self._garment_id_lists(candidates))
            scores = self.model.scores(users, self._encode(garments)).squeeze(0).cpu()
            tokens = [self._existing_outfit(row) for row in garments]
        top = scores.topk(min(k, len(scores))).indices.tolist()
        return [self._describe(garments[i][garments[i] > 0], float(scores[i]), outfit=tokens[i]) for i in top]

    @torch.no_grad()
    def rank_all(self, users=None, k=10, batch_users=256):
        """:meth:`rank` (the catalogue, training positives left out) for many users at once: one score matrix
        per batch of ``batch_users``. Yields ``{"user", "outfits", "scores"}`` per user, in ``users`` order
        (default: every user)."""
        _check_sizes(k=k, batch_users=batch_users)
        users = self.users() if users is None else [str(u) for u in users]
        vectors = self.outfit_vectors()[1:]  # [O - 1, d'] (row 0 is RecBole's padding item)
        for start in range(0, len(users), batch_users):
            part = users[start: start + batch_users]
            ids = torch.tensor([self.user_id(u) for u in part], device=self.device)
            scores = self.model.scores(ids, vectors).cpu()  # [b, O - 1]
            for row, uid in enumerate(ids.tolist()):
                known = torch.tensor(self._known.get(uid, []), dtype=torch.long)
                scores[row, known - 1] = float("-inf")
            available = len(vectors) - min(len(self._known.get(u, [])) for u in ids.tolist())
            top = scores.topk(min(k, available), dim=1)
            for row, user in enumerate(part):
                keep = top.values[row] > float("-inf")
                yield {"user": user, "outfits": [self.outfit_tokens[i + 1] for i in top.indices[row][keep].tolist()],
                       "scores": top.values[row][keep].tolist()}

    # ------------------------------------------------------------------ composing outfits

    def _count_layouts(self):
        """``{user id: Counter}`` of the layouts of each user's training outfits, and the dataset's over every
        outfit (key None). A layout is an outfit's categories, as a sorted tuple of category indices."""
        categories = self.dataset.outfit_categories  # [O, L], -1 = padding
        layout_of = [tuple(sorted(c for c in row if c >= 0)) for row in categories.tolist()]
        counts = {None: Counter(layout_of[1:])}
        for user, outfits in self._known.items():
            counts[user] = Counter(layout_of[o] for o in outfits)
        return counts

    def layouts(self, user=None, count=None):
        """The ``count`` (default ``layouts``) most frequent layouts of ``user``'s training outfits (of every
        outfit when the user is None or has none), most frequent first, ties by the dataset's frequency:
        lists of category names, e.g. ``[["top", "bottom", "shoe"], ["top", "top", "bottom", "shoe"]]``."""
        count = self.layout_count if count is None else count
        overall = self._layout_counts[None]
        own = self._layout_counts.get(self.user_id(user)) if user is not None else None
        counts = own or overall
        ranked = sorted(counts, key=lambda layout: (-counts[layout], -overall[layout], layout))
        return [[self.categories[c] for c in layout] for layout in ranked[:count]]

    def _template(self, names):
        """A template (category names) -> sorted category indices; ConfigError for an unknown name."""
        if isinstance(names, str) or len(names) < 2:
            raise ConfigError(f"a template is a list of two or more category names, got {names!r}",
                              where="template", fix=f"e.g. {list(self.categories[:3])}")
        unknown = [n for n in names if n not in self.categories]
        if unknown:
            raise ConfigError(f"unknown category {unknown[0]!r} in the template", where="template",
                              fix=f"categories are {', '.join(self.categories)}")
        return tuple(sorted(self.categories.index(n) for n in names))

    def _searcher(self):
        if self._search is None:
            with torch.no_grad():
                garments = torch.arange(len(self.garment_tokens), device=self.device)
                features = self.model.encode_garments(garments[1:])
                features = torch.cat([features.new_zeros((1, features.shape[1])), features])  # [G, d]
            self._search = OutfitSearch(self.model.outfit_encoder, features, batch_size=self.batch_size)
        return self._search

    def build_slots(self, fixed=None, pool=None, template=None):
        """:class:`Slot` list for :meth:`compose`: one slot per category of ``template`` (category names;
        default the dataset's most frequent layout), ``fixed`` ``{category: garment token or list}``, ``pool``
        (garment tokens) restricts the catalogue."""
        layout = self._template(template or self.layouts(count=1)[0])
        fixed = self._fixed(fixed)
        if pool is None:
            allowed = torch.ones(len(self.garment_tokens), dtype=torch.bool)
        else:
            allowed = torch.zeros(len(self.garment_tokens), dtype=torch.bool)
            allowed[torch.tensor([self.garment_id(g) for g in pool], dtype=torch.long)] = True
        allowed[0] = False
        slots, first_of = [], {}
        for category in layout:
            name = self.categories[category]
            given = fixed.get(name, [])
            position = sum(1 for slot in slots if slot.category == category)
            if position < len(given) and isinstance(given[position], PhotoRef):  # a photo is taken as this category
                slot = Slot(category, torch.tensor([int(given[position])], device=self.device), optional=False,
                            fixed=True)
            elif position < len(given):
                gid = self.garment_id(given[position])
                if int(self.garment_category[gid]) != category:
                    raise ConfigError(f"garment {given[position]!r} is a "
                                      f"{self.categories[self.garment_category[gid]]}, not a {name}", where="fixed",
                                      fix=f"fix a {name} garment as {name}")
                slot = Slot(category, torch.tensor([gid], device=self.device), optional=False, fixed=True)
            else:
                ids = ((self.garment_category == category) & allowed).nonzero().squeeze(1).to(self.device)
                slot = Slot(category, ids)
            slot.distinct_from = first_of.get(category)
            first_of.setdefault(category, len(slots))
            slots.append(slot)
        return slots

    def _fixed(self, fixed):
        """``fixed`` with each value a list, checked: known categories, no more garments of a category than an
        outfit of this dataset holds; photos registered (each becomes a :class:`PhotoRef`)."""
        fixed = {name: [v] if isinstance(v, (str, int)) or is_photo(v) else list(v)
                 for name, v in dict(fixed or {}).items()}
        unknown = sorted(set(fixed) - set(self.categories))
        if unknown:
            raise ConfigError(f"unknown category {unknown[0]!r} in fixed", where="fixed",
                              fix=f"categories are {', '.join(self.categories)}")
        for name, given in fixed.items():
            category = self.categories.index(name)
            most = max(layout.count(category) for layout in self._layout_counts[None])
            if len(given) > most:
                raise ConfigError(f"{len(given)} {name} garments fixed, outfits of this dataset have at most {most}",
                                  where="fixed")
        sources = [g for given in fixed.values() for g in given if not isinstance(g, PhotoRef) and self.is_photo(g)]
        if sources:
            ids = iter(self.photos.add(sources, self.max_photo_pixels, where="fixed photo"))
            fixed = {name: [PhotoRef(next(ids)) if not isinstance(g, PhotoRef) and self.is_photo(g) else g
                            for g in given] for name, given in fixed.items()}
        return fixed

    def _compose_layouts(self, user, fixed, template):
        """The layouts :meth:`compose` fills: ``template`` (one list of names, or several), else the user's most
        frequent layouts that hold the fixed garments (a layout short of a fixed category gets it added)."""
        if template:
            templates = [template] if all(isinstance(n, str) for n in template) else list(template)
            return [list(t) for t in templates]
        layouts = []
        for layout in self.layouts(user):
            for name, given in fixed.items():
                layout = layout + [name] * max(0, len(given) - layout.count(name))
            if sorted(layout) not in [sorted(other) for other in layouts]:
                layouts.append(layout)
        return layouts

    def compose(self, user, k=10, fixed=None, pool=None, exact=False, shortlist=None, beam=None,
                exhaustive_limit=None, template=None):
        """Top-``k`` *new* outfits for ``user`` built from the garment catalogue, one garment per slot of a
        template (the user's training outfits are left out). ``template``: category names (one garment
        each, e.g. ``["top", "bottom", "shoe", "bag"]``) or a list of such lists; default: the user's
        ``layouts`` most frequent layouts (:meth:`layouts`), each searched and the results merged by score.
        ``fixed`` completes a partial outfit, e.g. ``{"top": "101"}``; ``pool`` restricts the catalogue to
        some garment tokens; ``exact=True`` scores every combination (brute force, whatever the size);
        ``shortlist``, ``beam``, ``exhaustive_limit`` override this object's settings for the call. Returns
        dicts as :meth:`rank`, the first with ``info`` (search method, combinations scored, seconds, the
        layouts searched)."""
        shortlist = self.shortlist if shortlist is None else shortlist
        beam = self.beam if beam is None else beam
        exhaustive_limit = self.exhaustive_limit if exhaustive_limit is None else exhaustive_limit
        _check_sizes(shortlist=shortlist, beam=beam, exhaustive_limit=exhaustive_limit, k=k)
        uid = self.user_id(user)
        fixed = self._fixed(fixed)
        layouts = self._compose_layouts(user, fixed, template)
        search = self._searcher()
        if any(isinstance(g, PhotoRef) for given in fixed.values() for g in given):
            search = search.extended(self.photos.features)  # photo ids index after the catalogue's rows
        exclude = {frozenset(row[row > 0].tolist()) for row in self.outfit_garments[self._known.get(uid, [])]}
        vector = self.model.user_embedding.weight[uid].detach()
        found, infos = [], []
        for layout in layouts:
            slots = self.build_slots(fixed, pool, layout)
            with torch.no_grad():
                if exact:
                    result = search.brute_force(vector, slots, k, exclude)
                else:
                    result = search.search(vector, slots, k, exclude, shortlist, beam, exhaustive_limit)
            names = [self.categories[slot.category] for slot in slots]
            found += [(float(s), g, names) for g, s in zip(result.garments, result.scores)]
            infos.append(result.info)
        found.sort(key=lambda pair: -pair[0])  # stable: a tie keeps the more frequent layout first
        rows = [self._describe(g[g > 0].cpu(), s, outfit=self._existing_outfit(g),
                               categories=[n for n, gid in zip(names, g.tolist()) if gid > 0])
                for s, g, names in found[:k]]
        if rows:
            methods = list(dict.fromkeys(info["method"] for info in infos))
            rows[0]["info"] = {"method": "+".join(methods), "scored": sum(info["scored"] for info in infos),
                               "seconds": sum(info["seconds"] for info in infos),
                               "layouts": [list(layout) for layout in layouts]}
        return rows

    # ------------------------------------------------------------------ new users (cold start)

    @torch.no_grad()
    def cold_scores(self, liked_outfits, candidates, strategy="wavg"):
        """Scores of a new user who likes ``liked_outfits`` for ``candidates`` (each an outfit token or a tuple of
        garment ids or photos), through the warm users: ``recbole_outfit.evaluator.cold_start.cold_start_scores``
        (Eq. 20-24) with the saved ``cold_delta`` and ``cold_tau``. Returns numpy ``[J]``."""
        strategy = self._strategy(strategy)
        if not len(liked_outfits):
            raise ConfigError("no liked outfits given", where="liked", fix="give one or more outfit ids")
        liked, _ = self._outfit_vectors_of(liked_outfits)
        vectors, _ = self._outfit_vectors_of(candidates)
        return self._cold(liked, vectors, strategy).numpy()

    def _outfit_vectors_of(self, outfits):
        """Outfit tokens or garment tuples -> ``([M, d'] vectors, [M] garment-id tensors)``."""
        outfits = list(outfits)
        tokens = [isinstance(o, (str, int)) for o in outfits]
        tuples = [o for o, t in zip(outfits, tokens) if not t]
        garments = iter(self._garment_id_lists(tuples) if tuples else ())
        rows = [self.outfit_garments[self.outfit_id(o)] if t else next(garments) for o, t in zip(outfits, tokens)]
        rows = [row[row > 0] for row in rows]
        ids = torch.tensor([self.outfit_id(o) if t else 0 for o, t in zip(outfits, tokens)], dtype=torch.long)
        vectors = self.outfit_vectors()[ids.to(self.device)]
        if tuples:
            new = torch.tensor([not t for t in tokens])
            vectors[new.to(self.device)] = self._encode(self._pad([r for r, t in zip(rows, tokens) if not t]))
        return vectors, rows

    def _cold(self, liked, vectors, strategy):
        """Eq. 20-24 for liked outfit vectors ``[K, d']`` and candidate vectors ``[J, d']`` -> ``[J]``."""
        warm = torch.arange(1, self.model.n_users, device=self.device)  # id 0 is RecBole's padding user
        known = self.model.scores(warm, liked).cpu()  # [U, K]
        delta, tau = self.config["cold_delta"] or 0.0, self.config["cold_tau"] or 0.2
        parts = []
        for part in vectors.split(self.batch_size * 4):  # Eq. 22 and 24 are per candidate: exact in chunks
            candidate = self.model.scores(warm, part).cpu()  # [U, j]
            parts.append(cold_start_scores(known, candidate, strategy, delta, tau))
        return torch.cat(parts) if parts else torch.zeros(0)

    @torch.no_grad()
    def cold_user(self, liked_outfits, k=10, strategy="wavg", candidates=None):
        """Top-``k`` outfits for a new user from a few outfits they like (outfit tokens, or tuples of garment
        ids or photos); candidates: the same kinds, or None for every catalogue outfit but the liked ones."""
        _check_sizes(k=k)
        strategy = self._strategy(strategy)
        liked = [str(o) if isinstance(o, (str, int)) else o for o in liked_outfits]
        if candidates is None:
            skip = {self.outfit_id(o) for o in liked if isinstance(o, str)}
            candidates = [t for i, t in enumerate(self.outfit_tokens) if i and i not in skip]
        candidates = list(candidates)
        if not len(liked):
            raise ConfigError("no liked outfits given", where="liked", fix="give one or more outfit ids")
        liked_vectors, _ = self._outfit_vectors_of(liked)
        vectors, rows = self._outfit_vectors_of(candidates)
        scores = self._cold(liked_vectors, vectors, strategy)
        top = scores.topk(min(k, len(scores))).indices.tolist()
        return [self._describe(rows[i], float(scores[i]),
                               outfit=str(candidates[i]) if isinstance(candidates[i], (str, int))
                               else self._existing_outfit(rows[i])) for i in top]

    @staticmethod
    def _strategy(strategy):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {strategy!r}", where="strategy", fix=f"use one of {STRATEGIES}")
        return strategy

    # ------------------------------------------------------------------ export

    @torch.no_grad()
    def embeddings(self):
        """User, garment and outfit vectors for a vector index: ``{"users": (tokens, [U, d']), "garments":
        (tokens, [G, d]), "outfits": (tokens, [O, d'])}`` as numpy (padding rows left out). Score = cosine of a
        user and an outfit vector (Eq. 9)."""
        features = self._searcher().features
        return {
            "users": (list(self.user_tokens[1:]), self.model.user_embedding.weight[1:].cpu().numpy()),
            "garments": (list(self.garment_tokens[1:]), features[1:].cpu().numpy()),
            "outfits": (list(self.outfit_tokens[1:]), self.outfit_vectors()[1:].cpu().numpy()),
        }

    # ------------------------------------------------------------------ helpers

    def _existing_outfit(self, garment_ids):
        """Token of the catalogue outfit made of exactly these garments, or None."""
        if self._outfit_index is None:
            self._outfit_index = {frozenset(row[row > 0].tolist()): i for i, row in enumerate(self.outfit_garments)
                                  if i}
        ids = garment_ids.tolist() if torch.is_tensor(garment_ids) else list(garment_ids)
        found = self._outfit_index.get(frozenset(g for g in ids if g))
        return self.outfit_tokens[found] if found else None

    def _describe(self, garment_ids, score, outfit=None, categories=None):
        """``{"outfit", "garments", "categories"[, "score"]}``; a photo's category is the slot it was fixed in
        (``categories``), else ``"photo"``."""
        ids = garment_ids.tolist()
        photo = [self.photos.is_photo_id(g) for g in ids]
        row = {"outfit": outfit, "garments": [self.photos.token(g) if p else self.garment_tokens[g]
                                              for g, p in zip(ids, photo)],
               "categories": categories or ["photo" if p else self.categories[int(self.garment_category[g])]
                                            for g, p in zip(ids, photo)]}
        if score is not None:
            row["score"] = score
        return row


def _show(outfit):
    """An outfit for a message: tokens as given, photos as their kind."""
    return "(" + ", ".join(repr(g) if isinstance(g, (str, int)) else type(g).__name__ for g in outfit) + ")"


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "exhaustive_limit" else 1):
            raise ConfigError(f"{name} must be a positive int, got {value!r}", where=name)
