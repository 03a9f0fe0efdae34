"""OutfitNet (model/outfitnet.py): its scores by hand, its two stages through the pipeline, stage 1 reused."""

import math
import os

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.checkpoint import load_checkpoint
from recbole_outfit.config import Config
from recbole_outfit.model.outfitnet import GarmentBag, pair_relevancy
from recbole_outfit.pipeline.stages import RelevancyStage
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.utils import create_dataset, get_model


def unit(i, d=8):
    return torch.eye(d)[i]


def test_fir_compatibility_is_the_mean_pair_cosine():
    # garments e1, e2, (e1 + e2): pair cosines 0, 1/sqrt 2, 1/sqrt 2 -> mean sqrt(2) / 3 (E3); slot 4 is padding
    x = torch.stack([unit(0), unit(1), 3 * (unit(0) + unit(1)), torch.ones(8)]).unsqueeze(0)
    mask = torch.tensor([[True, True, True, False]])
    assert pair_relevancy(x, mask).item() == pytest.approx(math.sqrt(2) / 3, abs=1e-6)


def test_outfitnet_score_of_a_three_garment_outfit_by_hand(workspace, run_dir):
    config = Config("OutfitNet", "synthetic630", config_dict=tiny_config(workspace, run_dir, embedding_size=8,
                                                                         num_heads=2))
    model = get_model("OutfitNet")(config, create_dataset(config))
    with torch.no_grad():
        model.user_embedding.weight[1] = 2 * unit(0)  # u = 2 e1
        model.query.weight.copy_(torch.eye(8))  # W_q = W_k = I: logits u . h_k / sqrt(8)
        model.key.weight.copy_(torch.eye(8))
    # h = e1, e2, -e1 (cosines to u: 1, 0, -1); slot 4 padding (its junk must not count)
    h = torch.stack([unit(0), unit(1), -unit(0), 5 * unit(0)]).unsqueeze(0)
    bag = GarmentBag()(h, torch.tensor([[True, True, True, False]]))  # [1, 4 * 9]
    a = 2 / math.sqrt(8)  # attention logits a, 0, -a; score = (e^a * 1 + 1 * 0 + e^-a * -1) / (e^a + 1 + e^-a)
    expected = (math.exp(a) - math.exp(-a)) / (math.exp(a) + 1 + math.exp(-a))  # 0.4360
    users = torch.tensor([1])
    assert model.scores(users, bag).item() == pytest.approx(expected, abs=1e-5)
    assert model.scores(users, bag.unsqueeze(1)).item() == pytest.approx(expected, abs=1e-5)  # [B, M, D] form
    assert expected == pytest.approx(0.4360, abs=1e-4)


@pytest.mark.slow
def test_outfitnet_trains_on_its_stage_one_and_reuses_it(workspace, run_dir, caplog, monkeypatch):
    caplog.set_level("INFO")
    config = tiny_config(workspace, run_dir)
    first = run_recbole_outfit("OutfitNet", "synthetic630", config_dict=config)
    assert "Stage relevancy: training OutfitNet's item relevancy stage" in caplog.text
    relevancy = first["config"]["relevancy_checkpoint"]
    assert os.path.isfile(relevancy) and os.path.basename(relevancy).startswith("OutfitNetFIR-")
    assert first["config"]["negative_pool"] == "own" and first["config"]["tau"] == 0.1
    # stage 1 is frozen: the trained OutfitNet holds stage 1's item encoder unchanged
    fir = load_checkpoint(relevancy)["state_dict"]
    net = load_checkpoint(first["checkpoint"])["state_dict"]
    frozen = [k for k in net if k.startswith("relevancy_encoder.")]
    assert frozen and all(torch.equal(net[k], fir["item_encoder." + k[len("relevancy_encoder."):]]) for k in frozen)

    caplog.clear()
    monkeypatch.setattr(RelevancyStage, "_train", lambda *a: pytest.fail("stage 1 retrained instead of reused"))
    second = run_recbole_outfit("OutfitNet", "synthetic630", config_dict=config)
    assert "Stage relevancy: reusing" in caplog.text
    assert second["config"]["relevancy_checkpoint"] == relevancy
