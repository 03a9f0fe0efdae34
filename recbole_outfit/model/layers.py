"""Layers: the Set Transformer outfit encoder (paper Eq. 1-8), AlexNet item encoders, image preprocessing.

The Set Transformer follows Lee et al. (ICML 2019) as the FND-CL paper writes it: two Set Attention Blocks
and pooling by multi-head attention on one learnable seed. Masks mark real garments (True) and padding
(False); padded slots never serve as keys, so an outfit with padding equals the same outfit without it.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

from recbole_outfit.errors import ConfigError
from recbole_outfit.options import BACKBONES, choose

# ----------------------------------------------------------------------------------------------- set modules


class MultiHeadAttention(nn.Module):
    """Eq. 1-3: ``Concat(A_1..A_h) W^M`` with ``A_i = Softmax(Q W_i^Q (K W_i^K)^T / sqrt(d/h)) V W_i^V``.

    Per-head projections of width d/h (``d_q^M = d_q / h``), scaled by the head width as Eq. 1 writes it
    for the projected queries.
    """

    def __init__(self, dim, num_heads):
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"embedding_size {dim} is not divisible by num_heads {num_heads}",
                              where="embedding_size / num_heads", fix="pick a head count that divides the size")
        self.num_heads = num_heads
        self.w_q = nn.Linear(dim, dim)
        self.w_k = nn.Linear(dim, dim)
        self.w_v = nn.Linear(dim, dim)
        self.w_m = nn.Linear(dim, dim)

    def _heads(self, x):  # [B, L, d] -> [B, h, L, d/h]
        batch, length, dim = x.shape
        return x.view(batch, length, self.num_heads, dim // self.num_heads).transpose(1, 2)

    def forward(self, query, key, value, key_mask=None):
        """query ``[B, Lq, d]``, key/value ``[B, Lk, d]``, key_mask ``[B, Lk]`` (True = real) -> ``[B, Lq, d]``."""
        q, k, v = self._heads(self.w_q(query)), self._heads(self.w_k(key)), self._heads(self.w_v(value))
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # [B, 1, 1, Lk]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, h, Lq, d/h]
        batch, _, length, _ = out.shape
        return self.w_m(out.transpose(1, 2).reshape(batch, length, -1))


class MultiHeadAttentionBlock(nn.Module):
    """The one attention block of the Set Transformer (Lee et al.'s MAB), Eq. 4-5 and 7-8:
    ``H = LN(X + MultiHead(X, Y, Y))``, ``MAB(X, Y) = LN(H + sigma(H))`` with sigma a row-wise Linear + ReLU.

    ``forward(x [B, Lx, d], y [B, Ly, d], y_mask [B, Ly]) -> [B, Lx, d]``.
    """

    def __init__(self, dim, num_heads):
        super().__init__()
        self.attention = MultiHeadAttention(dim, num_heads)
        self.norm_attention = nn.LayerNorm(dim)
        self.feed_forward = nn.Linear(dim, dim)
        self.norm_output = nn.LayerNorm(dim)

    def forward(self, x, y, y_mask):
        h = self.norm_attention(x + self.attention(x, y, y, y_mask))
        return self.norm_output(h + F.relu(self.feed_forward(h)))


class SetAttentionBlock(MultiHeadAttentionBlock):
    """Eq. 4-5: ``SAB(X) = MAB(X, X)``: every garment attends to every real garment of its outfit."""

    def forward(self, x, mask):  # x [B, L, d], mask [B, L] -> [B, L, d]
        return super().forward(x, x, mask)


class PoolingByAttention(nn.Module):
    """Eq. 7-8: ``PMA(F) = MAB(s, F)`` with one learnable seed s: the outfit representation o."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.seed = nn.Parameter(torch.empty(1, 1, dim))
        nn.init.xavier_uniform_(self.seed)
        self.block = MultiHeadAttentionBlock(dim, num_heads)

    def forward(self, f, mask):  # f [B, L, d], mask [B, L] -> [B, d]
        return self.block(self.seed.expand(f.shape[0], -1, -1), f, mask).squeeze(1)


class SetTransformer(nn.Module):
    """Outfit encoder T (Eq. 6-8): ``o = PMA(SAB(SAB(X)))``; order-free, any outfit size.

    ``forward(x, mask)``: x ``[B, L, d]`` item features, mask ``[B, L]`` bool (True = real garment) -> ``[B, d]``.
    """

    def __init__(self, dim=128, num_heads=8):
        super().__init__()
        self.blocks = nn.ModuleList([SetAttentionBlock(dim, num_heads), SetAttentionBlock(dim, num_heads)])
        self.pool = PoolingByAttention(dim, num_heads)

    def forward(self, x, mask):
        for block in self.blocks:
            x = block(x, mask)
        return self.pool(x, mask)


# ----------------------------------------------------------------------------------------------- item encoders

# fully-connected width of each size (paper section 4.7): large = AlexNet, M / S = widths halved /
# quartered, XS = "AlexNet-small" (no fully-connected layers; global average pooling, then a linear map)
BACKBONE_FC_WIDTH = dict(zip(BACKBONES, (4096, 2048, 1024, None)))  # large, M, S, XS


class PooledLinear(nn.Module):
    """AlexNet's ``AdaptiveAvgPool2d(6)``, flatten, dropout and first fully-connected layer, computed exactly
    but cheaply on small feature maps.

    Average pooling is linear, so ``W pool(x) = (W P) x`` with P the ``[36, h*w]`` pooling matrix. When the
    conv map is smaller than 6 x 6 (inputs under ~190 px: 1 x 1 at 64 px, 3 x 3 at 128 px), pooling only
    replicates values and the layer can be applied to ``h*w`` instead of 36 positions: at 64 px the first
    fully-connected layer costs 36x less. The folded form is used whenever it is exact: in evaluation, and in
    training when dropout is 0 (dropout draws a separate mask for each replicated copy, which the folded form
    cannot). Parameters are those of ``nn.Linear(256 * 36, out)``, so torchvision's weights load unchanged;
    ``fast=False`` forces the plain computation.
    """

    def __init__(self, channels, out_features, dropout=0.0, grid=6, fast=True):
        super().__init__()
        self.channels, self.grid, self.fast = channels, grid, fast
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(channels * grid * grid, out_features)
        self._pool_matrices = {}

    def _pool_matrix(self, h, w, device):
        key = (h, w, str(device))
        if key not in self._pool_matrices:
            basis = torch.eye(h * w, device=device).view(h * w, 1, h, w)
            pooled = F.adaptive_avg_pool2d(basis, self.grid)  # [h*w, 1, 6, 6]
            self._pool_matrices[key] = pooled.view(h * w, self.grid * self.grid).t().contiguous()  # [36, h*w]
        return self._pool_matrices[key]

    def forward(self, x):  # [B, C, h, w] -> [B, out]
        h, w = x.shape[-2:]
        foldable = h * w < self.grid * self.grid and not (self.training and self.dropout.p > 0)
        if not (self.fast and foldable):
            return self.linear(self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, self.grid), 1)))
        weight = self.linear.weight.view(-1, self.channels, self.grid * self.grid)  # [out, C, 36]
        effective = (weight @ self._pool_matrix(h, w, x.device)).flatten(1)  # [out, C*h*w]
        return F.linear(torch.flatten(x, 1), effective, self.linear.bias)


class AlexNetEncoder(nn.Module):
    """AlexNet's convolutional layers, then either AlexNet's classifier with width ``fc_width`` ending in a
    linear map to ``dim`` (``large`` / ``M`` / ``S``), or global average pooling and a linear map (``XS``).

    ``extra_fc`` inserts one more layer of width ``fc_width / 2`` before the last (fc6, fc7, w/2, dim): the
    layout whose parameter counts equal the paper's Table 5 for large / M / S (65.99M / 28.10M / 13.88M on
    Polyvore-630, 65.97M / 28.09M / 13.86M on 519), which the paper's text does not spell out.
    """

    def __init__(self, dim, fc_width=None, dropout=0.5, extra_fc=False):
        super().__init__()
        self.features = torchvision.models.alexnet(weights=None).features  # [B, 256, h, w]
        if fc_width is None:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, dim))
        else:  # torchvision's classifier (dropout, fc6, relu, dropout, fc7, relu) with the last layer to dim
            layers = [PooledLinear(256, fc_width, dropout), nn.ReLU(inplace=True),
                      nn.Dropout(dropout), nn.Linear(fc_width, fc_width), nn.ReLU(inplace=True)]
            last = fc_width
            if extra_fc:
                layers += [nn.Linear(fc_width, fc_width // 2), nn.ReLU(inplace=True)]
                last = fc_width // 2
            self.head = nn.Sequential(*layers, nn.Linear(last, dim))

        self.reset_parameters()

    def reset_parameters(self):
        """He (Kaiming) initialisation for every layer feeding a ReLU, zero biases. PyTorch's default
        (uniform, gain 1/sqrt(3)) shrinks activations and gradients at each layer, so a randomly initialised
        AlexNet-large barely trains its convolutions; pretrained weights, when given, replace these."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, images):  # [B, 3, S, S] float, normalised -> [B, dim]
        return self.head(self.features(images))


# torchvision AlexNet classifier layers -> ours
_TORCHVISION_NAMES = {"classifier.1.": "head.0.linear.", "classifier.4.": "head.3."}


def load_alexnet_weights(encoder, state):
    """Copy every tensor of the AlexNet ``state`` dict (torchvision's names) whose name and shape fit
    ``encoder``: the features always, the classifier's fully-connected layers only for ``large`` (and only
    when ``state`` has them); return the names copied. The pipeline reads ``state`` from a file
    (``model/backbone_weights.py``); the model only copies what it is handed."""
    renamed = {}
    for name, tensor in state.items():
        for theirs, ours in _TORCHVISION_NAMES.items():
            if name.startswith(theirs):
                name = ours + name[len(theirs):]
        renamed[name] = tensor
    own = encoder.state_dict()
    usable = {k: v for k, v in renamed.items() if k in own and own[k].shape == v.shape}
    if not any(k.startswith("features.") for k in usable):
        raise ConfigError("the backbone weights hold no AlexNet convolutional layers that fit the item encoder",
                          where="backbone_weights",
                          fix="give a torchvision AlexNet state_dict (keys features.0.weight, ...)")
    encoder.load_state_dict(usable, strict=False)
    return sorted(usable)


def torchvision_alexnet_state(encoder):
    """``encoder``'s tensors under torchvision's AlexNet names, the reverse of :func:`load_alexnet_weights`'s
    renaming: the convolutional layers always, fc6 / fc7 (``classifier.1`` / ``classifier.4``) when the encoder
    has AlexNet's classifier; the last layer (to ``dim``) is the encoder's own and is left out."""
    state = {}
    for name, tensor in encoder.state_dict().items():
        if name.startswith("features."):
            state[name] = tensor
        for theirs, ours in _TORCHVISION_NAMES.items():
            if name.startswith(ours):
                state[theirs + name[len(ours):]] = tensor
    return {name: tensor.detach().cpu().clone() for name, tensor in state.items()}


def build_backbone(size, dim, state=None, dropout=0.5, extra_fc=False, channels_last=False):
    """Item encoder f of the given ``size`` (large, M, S, XS) mapping images to ``dim`` features.

    ``state``: None (random initialisation) or an AlexNet state dict handed by the pipeline (ImageNet's, a
    file's, or the synthetic pretraining's features; see ``backbone_weights``), whose fitting tensors are
    copied (:func:`load_alexnet_weights`). ``extra_fc``: see :class:`AlexNetEncoder` (no effect on XS).
    ``channels_last``: keep the convolution weights in channels-last (NHWC) memory format, for inputs in that
    format (:class:`ImagePreprocessor` with ``channels_last=True``); the same numbers, computed by faster
    kernels on CPU (oneDNN) and on GPU tensor cores. State dicts are unaffected (they load and save in either
    format).
    """
    size = choose("backbone", size)
    encoder = AlexNetEncoder(dim, BACKBONE_FC_WIDTH[size], dropout, extra_fc)
    if state is not None:
        load_alexnet_weights(encoder, state)
    if channels_last:
        encoder.to(memory_format=torch.channels_last)  # 4-d tensors only: the conv weights
    return encoder


class ImagePreprocessor(nn.Module):
    """uint8 ``[B, 3, S, S]`` -> float, ImageNet-normalised, randomly flipped left-right in training;
    runs on whatever device the images are on (the model's). With ``channels_last`` the batch is converted
    to channels-last memory format here, once, as the uint8 gather arrives (same shape and values; only
    the strides differ), so every convolution of a channels-last encoder reads it without a copy."""

    def __init__(self, flip=True, channels_last=False):
        super().__init__()
        self.flip = flip
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255, persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255, persistent=False)

    def forward(self, images):  # [B, 3, S, S] uint8 -> [B, 3, S, S] float
        images = images.contiguous(memory_format=self.memory_format)  # uint8: the cheapest copy to make
        x = (images.float() - self.mean) / self.std
        if self.training and self.flip:
            flipped = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flipped[:, None, None, None], x.flip(-1), x)
        return x.contiguous(memory_format=self.memory_format)  # no-op unless an op above changed the layout
