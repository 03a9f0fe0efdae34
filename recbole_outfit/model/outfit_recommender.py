"""``OutfitRecommender``: the base of every visual outfit model (paper section 3.1, Fig. 3).

A user embedding u_i, an item encoder f (an AlexNet of some size) turning each garment image into a d-dim
feature, the Set Transformer T turning an outfit's features into o_j, and the preference score
``r_ij = cos(u_i, o_j)`` (Eq. 9). Subclasses implement ``calculate_loss``; ``predict`` scores labeled
(user, outfit) rows as RecBole's ``labeled`` evaluation asks.

Speed, at no cost to the maths:

* within a training batch each distinct garment is encoded once (positives, negatives and augmented views
  often share garments);
* in evaluation (``eval_feature_cache: True``) item features are cached for the whole evaluation pass, so
  each distinct garment is encoded once per pass, not once per outfit row. ``eval_feature_cache: False``
  gives the straightforward per-row behaviour (for benchmarks). The cache is dropped whenever the model
  switches mode, moves, or loads weights.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from recbole.model.abstract_recommender import GeneralRecommender
from recbole.utils import InputType

from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS, NEG_OWNED
from recbole_outfit.model.float32_numerics import float32
from recbole_outfit.model.layers import ImagePreprocessor, SetTransformer, build_backbone
from recbole_outfit.options import choose



def select_negatives(scores, users, per_positive, pool, owned=None):
    """Split a batch score matrix into positive and negative scores.

    Args:
        scores: ``[B, B + B*n]``: column b < B is row b's positive outfit, columns ``B + b*n + k`` the
            negatives sampled for row b.
        users: ``[B]`` user ids (to keep a user's own positives out of its negatives).
        per_positive: n.
        pool: ``own`` (each row uses its own n negatives), ``batch`` (every row uses all B*n sampled
            negatives: N = B*n in Eq. 10, the paper's shared set), ``batch_and_positives`` (also the other
            rows' positives, except those of the same user).
        owned: ``[B, B + B*n]`` bool (the training batch's ``neg_owned``): scored outfit m is one of row b's
            user's training positives. The sampler keeps a negative away from its own row's positives only,
            so in a shared pool another row's negative (a hard one: another user's positive, possibly this
            row's own positive outfit) can be this row's positive; those are masked out of row b's loss.
            Needed for the shared pools; ``own`` does not use it.
    Returns:
        ``(pos [B], neg [B, K], neg_mask [B, K] or None)``
    """
    batch = scores.shape[0]
    rows = torch.arange(batch, device=scores.device)
    pos = scores[rows, rows]
    sampled = scores[:, batch:]
    if pool == "own":
        return pos, sampled.view(batch, batch, per_positive)[rows, rows], None
    if owned is None:
        raise ValueError(f"negative_pool {pool!r} needs the batch's neg_owned table (the training dataloader "
                         "adds it) to mask a user's own positives out of the shared negatives")
    owned = owned.to(scores.device)
    if pool == "batch":
        return pos, sampled, ~owned[:, batch:]
    other_user = users.unsqueeze(1) != users.unsqueeze(0)  # [B, B]
    mask = torch.cat([other_user, torch.ones_like(sampled, dtype=torch.bool)], dim=1) & ~owned
    return pos, scores, mask


class OutfitRecommender(GeneralRecommender):
    """Base class: user embeddings, item encoder f, Set Transformer T, score cos(u, o) (Eq. 9)."""

    input_type = InputType.PAIRWISE
    # artifacts the pipeline builds and hands to the constructor: the item encoder's starting weights when
    # backbone_weights is set (FNDCL adds its teacher and neighbours)
    needs = ("backbone",)
    other_parameter_name = ["user_tokens"]  # saved in checkpoints: maps embedding rows back to user ids

    def __init_subclass__(cls, **kwargs):
        """Scores are computed in float32 under mixed precision (ties, temperature-0.1 softmaxes), in every
        subclass that defines its own ``scores``: see :mod:`recbole_outfit.model.float32_numerics`."""
        super().__init_subclass__(**kwargs)
        if "scores" in cls.__dict__:
            cls.scores = float32(cls.__dict__["scores"])

    def __init__(self, config, dataset, backbone=None):
        """``backbone``: the AlexNet state dict the item encoder starts from (``backbone_weights``: ImageNet's,
        a file's or the synthetic pretraining's), read and handed over by the pipeline; None = random
        initialisation (also a model rebuilt from a checkpoint, whose weights then load over it)."""
        super().__init__(config, dataset)

        # load parameters info
        self.embedding_size = config["embedding_size"]
        self.tau = config["tau"]
        self.negative_pool = choose("negative_pool", config["negative_pool"])
        self.per_positive = config["train_neg_sample_num"]
        self.garment_batch_size = config["garment_batch_size"]
        self.eval_feature_cache = config["eval_feature_cache"]
        self.user_tokens = [str(token) for token in dataset.field2id_token[self.USER_ID]]  # plain: weights-only loads

        # dataset tables (not parameters)
        self.images = dataset.image_store(place=config["image_store_place"], gpu_budget=config["gpu_store_budget"],
                                          prefetch=config["image_prefetch"])
        self.register_buffer("garment_image_row", dataset.garment_image_row.clone(), persistent=False)
        self.n_garments = len(dataset.garment_image_row)

        # define layers and loss
        self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
        self.preprocess = ImagePreprocessor(flip=config["image_flip"], channels_last=config["channels_last"])
        self.item_encoder = build_backbone(config["backbone"], self.embedding_size, backbone,
                                           config["backbone_dropout"], config["backbone_extra_fc"],
                                           channels_last=config["channels_last"])
        self.outfit_encoder = self.build_outfit_encoder(config)

        # parameters initialization
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        self._feature_cache = None

    def build_outfit_encoder(self, config):
        """The outfit encoder T; ``forward(x [M, L, d], mask [M, L]) -> [M, d']``. Set Transformer (Eq. 1-8)."""
        return SetTransformer(self.embedding_size, config["num_heads"])

    # ------------------------------------------------------------------ encoders

    def encode_images(self, garments):
        """Item encoder f on the images of ``garments`` ``[G]`` -> ``[G, d]`` float32 (in chunks). Under autocast
        the encoder computes in low precision and its features are cast up, so caches and index writes keep
        one dtype."""
        device = self.user_embedding.weight.device
        if device.type == "cuda" and self.images.on_device is None:
            self.images.to(device)
        chunks = []
        parts = garments.split(self.garment_batch_size)
        for i, part in enumerate(parts):
            images = self.images.gather(self.garment_image_row[part], device)  # [g, 3, S, S] uint8
            if i + 1 < len(parts):  # host path: the next chunk is read while this one computes
                self.images.prefetch(self.garment_image_row[parts[i + 1]], device)
            chunks.append(self.encode_image_batch(images))
        return torch.cat(chunks) if chunks else garments.new_zeros((0, self.embedding_size), dtype=torch.float)

    def encode_image_batch(self, images):
        """Features of one chunk of uint8 images ``[g, 3, S, S]`` -> ``[g, d]`` float32: f on the preprocessed
        images (a model with more than one encoder per garment overrides this)."""
        return self.item_encoder(self.preprocess(images)).float()

    def encode_garments(self, garments):
        """Features of distinct garments ``[G]`` -> ``[G, d]``; cached for the pass in evaluation."""
        if self.training or torch.is_grad_enabled() or not self.eval_feature_cache:
            return self.encode_images(garments)
        if self._feature_cache is None:
            device = self.user_embedding.weight.device
            self._feature_cache = (torch.zeros(self.n_garments, self.embedding_size, device=device),
                                   torch.zeros(self.n_garments, dtype=torch.bool, device=device))
        features, known = self._feature_cache
        missing = garments[~known[garments]]
        if len(missing):
            features[missing] = self.encode_images(missing)
            known[missing] = True
        return features[garments]

    def encode_outfits(self, garments, constant_garments=None):
        """Outfit representations o = T(f(x_1..x_n)): garments ``[..., L]`` (0 = padding) -> ``[..., d]``.

        ``constant_garments`` (ids): their item features are computed without gradient (a forward pass
        only), for garments whose features need not be trained through this batch.
        """
        x, mask = self.slot_features(garments, constant_garments)  # [M, L, d], [M, L]
        outfits = self.outfit_encoder(x, mask)  # [M, d']
        return outfits.reshape(garments.shape[:-1] + outfits.shape[-1:])

    def slot_features(self, garments, constant_garments=None):
        """Item features f(x) of every slot: garments ``[..., L]`` (0 = padding) -> ``(x [M, L, d], mask [M, L])``
        with M the product of the leading dimensions (zeros in padding slots); each distinct garment is encoded
        once (see :meth:`encode_outfits` for ``constant_garments``)."""
        flat = garments.reshape(-1, garments.shape[-1])  # [M, L]
        mask = flat > 0
        if self.training or self.eval_feature_cache:
            distinct, inverse = torch.unique(flat[mask], return_inverse=True)
            if constant_garments is None:
                features = self.encode_garments(distinct)
            else:
                constant = torch.isin(distinct, constant_garments)
                with torch.no_grad():
                    fixed = self.encode_garments(distinct[constant])
                trained = self.encode_garments(distinct[~constant])
                features = trained.new_empty((len(distinct), trained.shape[-1]))
                features[constant], features[~constant] = fixed, trained
            slot_features = features[inverse]
        else:  # per-row baseline: every slot encodes its own image
            slot_features = self.encode_images(flat[mask])
        x = slot_features.new_zeros(flat.shape + slot_features.shape[-1:])  # [M, L, d]
        x[mask] = slot_features
        return x, mask

    # ------------------------------------------------------------------ scores

    @float32
    def scores(self, users, outfits):
        """Preference scores r (Eq. 9: cos(u_i, o_j)), in float32 (also under autocast).

        users ``[B]``; outfits ``[M, d]`` (every user with every outfit) or ``[B, M, d]`` (each user with its
        own M outfits) -> ``[B, M]``.
        """
        u = F.normalize(self.user_embedding(users), dim=-1).unsqueeze(1)  # [B, 1, d]
        o = F.normalize(outfits, dim=-1)
        return (u @ o.transpose(-1, -2)).squeeze(1)  # [B, M]

    def batch_scores(self, interaction):
        """Encode a training batch (positives and sampled negatives once each) and score it.

        Returns ``(pos [B], neg [B, K], neg_mask, outfit_repr [B + B*n, d])``.
        """
        users = interaction[self.USER_ID]  # [B]
        positives = interaction[GARMENTS]  # [B, L]
        negatives = interaction[NEG_GARMENTS]  # [B, n, L]
        outfits = torch.cat([positives, negatives.flatten(0, 1)])  # [B + B*n, L]
        outfit_repr = self.encode_outfits(outfits)
        scores = self.scores(users, outfit_repr)  # [B, B + B*n]
        pos, neg, mask = select_negatives(scores, users, negatives.shape[1], self.negative_pool,
                                          interaction[NEG_OWNED] if self.negative_pool != "own" else None)
        return pos, neg, mask, outfit_repr

    # ------------------------------------------------------------------ reading images ahead

    def reads_images_ahead(self):
        """Whether training batches' images are read ahead: the store is on the host and prefetch is on."""
        return self.images.on_device is None and self.images.host.prefetch_enabled

    def prefetch_garments(self, interaction):
        """The garments ``[G]`` this model's step encodes first for ``interaction`` (``None``: not known without
        the step's own random draws): the distinct garments of the positives and their negatives."""
        outfits = torch.cat([interaction[GARMENTS], interaction[NEG_GARMENTS].flatten(0, 1)])  # [B + B*n, L]
        return torch.unique(outfits[outfits > 0])

    def prefetch_batch(self, interaction):
        """Start reading the images of a coming training batch (its first encoder chunk) in the background."""
        garments = self.prefetch_garments(interaction)
        if garments is not None and len(garments):
            device = self.user_embedding.weight.device
            if device.type == "cuda" and self.images.on_device is None:
                self.images.to(device)
            self.images.prefetch(self.garment_image_row[garments[: self.garment_batch_size]], device)

    def predict(self, interaction):
        outfits = self.encode_outfits(interaction[GARMENTS])  # [B, d]
        return self.scores(interaction[self.USER_ID], outfits.unsqueeze(1)).squeeze(1)  # [B]

    def full_sort_predict(self, interaction):
        raise NotImplementedError("outfit models score labeled (user, outfit) candidates; use eval_args.mode: labeled")

    def use_garments(self, dataset):
        """Encode the garments of another dataset (its image store and garment ids) with this trained model,
        e.g. a cold-start dataset whose garments are all new. User embeddings are unchanged."""
        device = self.user_embedding.weight.device
        self.images = dataset.image_store(place=self.images.place, gpu_budget=self.images.gpu_budget,
                                          prefetch=self.images.host.prefetch_enabled)
        self.garment_image_row = dataset.garment_image_row.clone().to(device)
        self.n_garments = len(dataset.garment_image_row)
        self._feature_cache = None

    # ------------------------------------------------------------------ cache lifetime

    def train(self, mode=True):
        self._feature_cache = None
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self._feature_cache = None
        return super()._apply(fn, *args, **kwargs)

    def load_state_dict(self, state_dict, strict=True, **kwargs):
        self._feature_cache = None
        return super().load_state_dict(state_dict, strict=strict, **kwargs)
