"""Speed paths that must not change results: channels-last encoders and mixed precision (``enable_amp``)."""

import logging

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.model.layers import ImagePreprocessor, build_backbone
from recbole_outfit.model.loss import npair_loss, nt_xent
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.trainer import OutfitTrainer
from recbole_outfit.trainer.mixed_precision import amp_dtype
from recbole_outfit.utils import create_dataset, data_preparation, get_model


@pytest.mark.parametrize("size,side", [("XS", 64), ("S", 128)])
def test_channels_last_encoder_equals_the_contiguous_one(size, side):
    torch.manual_seed(0)
    plain = build_backbone(size, 32, dropout=0.0)
    fast = build_backbone(size, 32, dropout=0.0, channels_last=True)
    fast.load_state_dict(plain.state_dict())
    assert fast.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    images = torch.randint(0, 256, (6, 3, side, side), dtype=torch.uint8)
    x_plain = ImagePreprocessor(flip=False)(images)
    x_fast = ImagePreprocessor(flip=False, channels_last=True)(images)
    assert x_fast.is_contiguous(memory_format=torch.channels_last) and torch.equal(x_fast, x_plain)
    out_plain, out_fast = plain(x_plain), fast(x_fast)
    assert torch.allclose(out_fast, out_plain, rtol=1e-4, atol=1e-4 * out_plain.abs().max().item())
    out_plain.square().sum().backward()
    out_fast.square().sum().backward()
    for a, b in zip(fast.parameters(), plain.parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-3, atol=1e-4 * b.grad.abs().max().item())
    # a channels-last model saves and loads ordinary state dicts
    assert all(v.is_contiguous() for v in fast.state_dict().values() if v.dim() != 4)


def test_channels_last_model_scores_like_the_contiguous_one(workspace, run_dir):
    scores = {}
    for channels_last in (True, False):
        config = Config("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir,
                                                                         channels_last=channels_last))
        dataset = create_dataset(config)
        _, valid, _ = data_preparation(config, dataset)
        torch.manual_seed(0)
        model = get_model("NPair")(config, dataset).eval()
        with torch.no_grad():
            scores[channels_last] = torch.cat([model.predict(batch) for batch, *_ in valid])
    assert torch.allclose(scores[True], scores[False], atol=1e-5)


AUTOCAST_MODELS = [("NPair", {}), ("OutfitBPR", {}), ("LPAE", {"lpae_variant": "g"}), ("FHN", {}),
                   ("FNDCL", {"distill": False, "cl_augmentations": ["erase", "identity"]})]


@pytest.mark.slow  # a model and its dataset per row: over 5 s each
@pytest.mark.parametrize("model_name,overrides", AUTOCAST_MODELS, ids=[m for m, _ in AUTOCAST_MODELS])
def test_scores_and_losses_stay_float32_under_autocast(workspace, run_dir, model_name, overrides):
    """bfloat16 autocast (CPU's; the code path of CUDA's): the item encoder computes in bfloat16, features,
    scores and losses are float32, the loss is finite and its gradient reaches the item encoder."""
    config = Config(model_name, "synthetic630", config_dict=tiny_config(workspace, run_dir, **overrides))
    dataset = create_dataset(config)
    train, valid, _ = data_preparation(config, dataset)
    torch.manual_seed(0)
    model = get_model(model_name)(config, train._dataset)
    batch = next(iter(train))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        images = model.preprocess(model.images.gather(torch.tensor([0, 1]), "cpu"))
        assert model.item_encoder(images).dtype == torch.bfloat16  # autocast is really on
        assert model.encode_images(batch["garments"][:, 0]).dtype == torch.float32
        losses = model.calculate_loss(batch)
        loss = sum(losses) if isinstance(losses, tuple) else losses
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert model.item_encoder.features[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        scores = model.predict(next(iter(valid))[0])
    assert scores.dtype == torch.float32 and torch.isfinite(scores).all()


def test_losses_compute_in_float32_inside_autocast():
    z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    pos, neg = torch.rand(8) * 2 - 1, torch.rand(8, 5) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = nt_xent(z1, z2, 0.1), npair_loss(pos, neg, 0.1)
    assert torch.equal(inside[0], nt_xent(z1, z2, 0.1)) and torch.equal(inside[1], npair_loss(pos, neg, 0.1))


@pytest.mark.slow
def test_amp_on_cpu_is_ignored_with_one_log_line_and_the_run_works(workspace, run_dir, caplog, monkeypatch):
    # a CPU machine, also where CUDA is there (scripts/gpu.sh runs this file on a GPU; RecBole 1.2.1 picks
    # cuda whenever it is available, whatever use_gpu says)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = Config("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, enable_amp=True))
    dataset = create_dataset(config)
    model = get_model("NPair")(config, dataset)
    with caplog.at_level(logging.WARNING):
        trainer = OutfitTrainer(config, model)
    assert trainer.amp_dtype is None and not trainer.enable_amp and not trainer.enable_scaler
    assert [r.getMessage() for r in caplog.records if "enable_amp" in r.getMessage()] == [
        "enable_amp: True is ignored on CPU: mixed precision pays on CUDA devices only, so this run trains and "
        "evaluates in float32"]
    result = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, enable_amp=True))
    plain = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir))
    assert result["test_result"] == plain["test_result"]  # ignored: the float32 run, to the digit


@pytest.mark.parametrize("bf16,expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_amp_policy_on_cuda(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a, **k: "a GPU")
    assert amp_dtype({"enable_amp": True}, "cuda:0") == expected
    assert amp_dtype({"enable_amp": False}, "cuda:0") is None


@pytest.mark.slow
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (scripts/gpu.sh runs it)")
def test_amp_run_on_cuda(workspace, run_dir):
    """On CUDA: bfloat16 autocast (float16 + scaler without bf16), a full run works, and AMP scores stay
    close to float32 scores of the same weights."""
    config = Config("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, enable_amp=True, gpu_id="0"))
    dataset = create_dataset(config)
    _, valid, _ = data_preparation(config, dataset)
    torch.manual_seed(0)
    model = get_model("NPair")(config, dataset).to(config["device"])
    trainer = OutfitTrainer(config, model)
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert trainer.amp_dtype == expected and trainer.enable_scaler == (expected == torch.float16)
    model.eval()
    with torch.no_grad():
        plain = torch.cat([model.predict(batch.to(config["device"])) for batch, *_ in valid])
        with torch.autocast("cuda", dtype=expected):
            mixed = torch.cat([model.predict(batch.to(config["device"])) for batch, *_ in valid])
    assert mixed.dtype == torch.float32 and (mixed - plain).abs().max() < 0.05
    result = run_recbole_outfit("NPair", "synthetic630",
                                config_dict=tiny_config(workspace, run_dir, enable_amp=True, gpu_id="0"))
    full = run_recbole_outfit("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, gpu_id="0"))
    # the same run in float32: bfloat16 rounding moves the metrics a little, a broken AMP path (ties, NaN) far
    assert result["test_result"]["user_auc"] == pytest.approx(full["test_result"]["user_auc"], abs=0.03)
