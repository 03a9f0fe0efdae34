"""LPAE (model/lpae.py) after its review against LPAE-Net: scoring rules, the anchors' divergence, anchor search."""

import math

import pytest
import torch

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.errors import ConfigError
from recbole_outfit.utils import create_dataset, get_model


def unit(i, d=8):
    return torch.eye(d)[i]


@pytest.fixture
def lpae(workspace, run_dir):
    def build(**overrides):
        settings = {"embedding_size": 8, "num_heads": 2, "lpae_anchors": 2, **overrides}
        config = Config("LPAE", "synthetic630", config_dict=tiny_config(workspace, run_dir, **settings))
        return get_model("LPAE")(config, create_dataset(config))
    return build


def set_anchors(model, user, anchors):
    with torch.no_grad():
        model.user_embedding.weight[user] = torch.stack(anchors).flatten()


def test_score_rules_and_the_anchor_divergence(lpae):
    model = lpae()
    set_anchors(model, 1, [unit(0), unit(1)])
    outfit = ((unit(0) + unit(1)) / math.sqrt(2)).unsqueeze(0)  # cos 0.7071 to each anchor
    users = torch.tensor([1])
    assert model.scores(users, outfit).item() == pytest.approx(1 / math.sqrt(2), abs=1e-6)  # max
    model.score_rule = "sum"
    assert model.scores(users, outfit).item() == pytest.approx(math.sqrt(2), abs=1e-6)  # LPAE-Net's sum
    # tr(G) - log det G: orthonormal anchors 2 - 0; anchors of norm 2: G = 4 I, 8 - 2 log 4
    assert model.anchor_divergence(users).item() == pytest.approx(2.0, abs=1e-5)
    set_anchors(model, 1, [2 * unit(0), 2 * unit(1)])
    assert model.anchor_divergence(users).item() == pytest.approx(8 - 2 * math.log(4), abs=1e-4)
    with pytest.raises(ConfigError, match="lpae_score"):
        lpae(lpae_score="mean")


def test_anchor_search_on_a_toy_case(lpae):
    model = lpae()
    with torch.no_grad():
        model.user_embedding.weight[:] = unit(7).repeat(2)  # every warm anchor e8, far from everything below
    o1 = unit(0) + 0.1 * unit(2)  # nearest anchor: e1
    set_anchors(model, 0, [o1, unit(1)])  # row 0 is RecBole's padding user: never searched
    set_anchors(model, 1, [unit(0), unit(1)])
    set_anchors(model, 2, [unit(2), -unit(0)])
    candidates = torch.stack([unit(0), unit(1), -unit(2), (unit(0) + unit(2)) / math.sqrt(2)])
    # known o1, e3 -> anchors {e1, e3}: candidates' best cosines 1, 0, 0, 0.7071
    two = model.anchor_search_scores(torch.stack([o1, unit(2)]), candidates)
    assert two.tolist() == pytest.approx([1.0, 0.0, 0.0, 1 / math.sqrt(2)], abs=1e-6)
    assert len(model.searched_anchors(torch.stack([o1, unit(2), 2 * unit(2)]))) == 2  # distinct anchors
    # known e3 only -> anchors {e3}: 0, 0, -1, 0.7071
    one = model.anchor_search_scores(unit(2).unsqueeze(0), candidates)
    assert one.tolist() == pytest.approx([0.0, 0.0, -1.0, 1 / math.sqrt(2)], abs=1e-6)
    # LPAE-g keeps its general anchors beside the searched ones: e2 scores 1 through them
    general = lpae(lpae_variant="g", lpae_general_anchors=1)
    with torch.no_grad():
        general.user_embedding.weight[:] = model.user_embedding.weight
        general.general_anchors[:] = unit(1)
    assert general.anchor_search_scores(unit(2).unsqueeze(0), candidates).tolist() == pytest.approx(
        [0.0, 1.0, 0.0, 1 / math.sqrt(2)], abs=1e-6)
