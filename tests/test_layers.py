"""Set Transformer (Eq. 1-8) properties, item encoders, losses."""

import pytest
import torch

from recbole_outfit.model.backbone_weights import read_backbone_weights
from recbole_outfit.model.layers import ImagePreprocessor, SetTransformer, build_backbone
from recbole_outfit.model.loss import bpr_loss, npair_loss


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return SetTransformer(dim=32, num_heads=8).eval()


def test_set_transformer_is_order_free(encoder):
    x = torch.randn(5, 4, 32)
    mask = torch.ones(5, 4, dtype=torch.bool)
    out = encoder(x, mask)
    assert out.shape == (5, 32)
    for permutation in (torch.tensor([3, 1, 0, 2]), torch.tensor([1, 2, 3, 0])):
        assert torch.allclose(encoder(x[:, permutation], mask), out, atol=1e-5)


def test_padding_changes_nothing(encoder):
    x = torch.randn(3, 3, 32)
    without = encoder(x, torch.ones(3, 3, dtype=torch.bool))
    padded = torch.cat([x[:, :1], torch.randn(3, 2, 32) * 50, x[:, 1:]], dim=1)  # garbage in two padded slots
    mask = torch.tensor([[True, False, False, True, True]] * 3)
    assert torch.allclose(encoder(padded, mask), without, atol=1e-5)
    # and an outfit of a different size in the same batch does not disturb it
    mixed_mask = mask.clone()
    mixed_mask[0, 1] = True
    assert torch.allclose(encoder(padded, mixed_mask)[1:], without[1:], atol=1e-5)


def test_set_transformer_parameters():
    encoder = SetTransformer(dim=128, num_heads=8)
    attention = 4 * (128 * 128 + 128)
    block = attention + (128 * 128 + 128) + 2 * 2 * 128
    expected = 2 * block + block + 128  # two SABs, PMA (same layers) and its seed
    assert sum(p.numel() for p in encoder.parameters()) == expected


@pytest.mark.parametrize("size, params", [
    # conv layers of AlexNet: 2,469,696; heads as described in recbole_outfit/model/layers.py
    ("XS", 2_469_696 + 256 * 128 + 128),
    ("S", 2_469_696 + 9216 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 128 + 128),
    ("M", 2_469_696 + 9216 * 2048 + 2048 + 2048 * 2048 + 2048 + 2048 * 128 + 128),
    ("large", 2_469_696 + 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 128 + 128),
])
def test_backbone_shapes_and_parameter_counts(size, params):
    backbone = build_backbone(size, 128).eval()
    assert sum(p.numel() for p in backbone.parameters()) == params
    with torch.no_grad():
        assert backbone(torch.randn(2, 3, 64, 64)).shape == (2, 128)


@pytest.mark.slow  # builds and saves the large AlexNet: over 5 s
def test_unknown_backbone_and_local_weights(tmp_path):
    from recbole_outfit.errors import ConfigError

    with pytest.raises(ConfigError, match="backbone must be one of large, M, S, XS, got .XL."):
        build_backbone("XL", 128)
    with pytest.raises(ConfigError, match="does not exist"):  # the pipeline reads the file, the model copies
        read_backbone_weights(str(tmp_path / "missing.pth"))
    import torchvision

    alexnet = torchvision.models.alexnet(weights=None)
    torch.save(alexnet.state_dict(), tmp_path / "alexnet.pth")
    large = build_backbone("large", 16, state=read_backbone_weights(str(tmp_path / "alexnet.pth")))
    assert torch.equal(large.features[0].weight, alexnet.features[0].weight)
    assert torch.equal(large.head[0].linear.weight, alexnet.classifier[1].weight)  # fc6 and fc7 for large
    assert torch.equal(large.head[3].weight, alexnet.classifier[4].weight)
    small = build_backbone("S", 16, state=read_backbone_weights(str(tmp_path / "alexnet.pth")))
    assert torch.equal(small.features[3].weight, alexnet.features[3].weight)


@pytest.mark.parametrize("side", [64, *(pytest.param(side, marks=pytest.mark.slow) for side in (128, 224))])
def test_folded_pooling_is_exact(side):
    torch.manual_seed(0)
    fast = build_backbone("S", 16, dropout=0.0)
    plain = build_backbone("S", 16, dropout=0.0)
    plain.load_state_dict(fast.state_dict())
    plain.head[0].fast = False
    images = torch.randn(3, 3, side, side)
    out_fast, out_plain = fast(images), plain(images)
    assert torch.allclose(out_fast, out_plain, rtol=1e-4, atol=1e-4 * out_plain.abs().max().item())
    out_fast.square().sum().backward()
    out_plain.square().sum().backward()
    for a, b in zip(fast.parameters(), plain.parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-3, atol=1e-4 * b.grad.abs().max().item())


def test_image_preprocessing():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    pre = ImagePreprocessor(flip=True)
    pre.eval()
    x = pre(images)
    assert x.dtype == torch.float32
    pre.train()
    torch.manual_seed(0)
    flipped = pre(images)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()


def test_npair_loss_definition():
    pos, neg = torch.randn(4), torch.randn(4, 6)
    tau = 0.1
    expected = -torch.log(torch.exp(pos / tau) / (torch.exp(pos / tau) + torch.exp(neg / tau).sum(1))).mean()
    assert torch.allclose(npair_loss(pos, neg, tau), expected, atol=1e-5)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[:, 3:] = False
    assert torch.allclose(npair_loss(pos, neg, tau, mask), npair_loss(pos, neg[:, :3], tau), atol=1e-6)


def test_bpr_loss_definition():
    pos, neg = torch.randn(4), torch.randn(4, 3)
    expected = -torch.log(torch.sigmoid((pos[:, None] - neg) / 0.5)).mean()
    assert torch.allclose(bpr_loss(pos, neg, 0.5), expected, atol=1e-6)


def whole_model_parameters(size, users=630, extra_fc=False, cl=False):
    """Parameters of an outfit model: item encoder, Set Transformer, user embeddings (+ padding row), [g]."""
    backbone = sum(p.numel() for p in build_backbone(size, 128, extra_fc=extra_fc).parameters())
    set_transformer = sum(p.numel() for p in SetTransformer(128, 8).parameters())
    projection = 2 * (128 * 128 + 128) if cl else 0
    return backbone + set_transformer + (users + 1) * 128 + projection


@pytest.mark.slow  # builds every backbone size: over 5 s
def test_parameter_counts_against_the_paper():
    # Table 5 (Polyvore-630): XS 2.85M, S 13.88M, M 28.10M, Teacher 65.99M
    assert abs(whole_model_parameters("XS") - 2.85e6) / 2.85e6 < 0.03
    # "if CL is added, only the number of parameters increases by about 0.03M"
    assert round((whole_model_parameters("XS", cl=True) - whole_model_parameters("XS")) / 1e6, 2) == 0.03
    # with the extra width/2 layer the fully-connected sizes reproduce the paper to the reported digit
    for size, paper_630, paper_519 in (("S", 13.88, 13.86), ("M", 28.10, 28.09), ("large", 65.99, 65.97)):
        assert round(whole_model_parameters(size, 630, extra_fc=True) / 1e6, 2) == paper_630
        assert round(whole_model_parameters(size, 519, extra_fc=True) / 1e6, 2) == paper_519
        assert whole_model_parameters(size, 630) < paper_630 * 1e6  # the plain AlexNet head is smaller
