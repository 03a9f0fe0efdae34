"""The non-personalized compatibility baselines (Type-Aware, SCE-Net, Bi-LSTM): hand-computed scores of a toy
outfit, training steps, scores that ignore the user (and, for the pairwise models, the garments' order), and
their cold start (the model's own scores, the same for 1 and 5 known outfits)."""

import math
import re

import pytest
import torch
from recbole.data.interaction import Interaction

from conftest import tiny_config
from recbole_outfit.config import Config
from recbole_outfit.data.dataset import GARMENTS, NEG_GARMENTS
from recbole_outfit.data.sampler import OutfitNegativeSampler
from recbole_outfit.evaluator.cold_start import ColdStartEvaluator, ColdUsers
from recbole_outfit.experiments.compare import compare
from recbole_outfit.model.bilstm import NextGarmentLSTMs, compact
from recbole_outfit.model.compatibility import embedding_norm, garment_triplets, margin_ranking
from recbole_outfit.model.scenet import ConditionSpaces
from recbole_outfit.model.type_aware import TypeSpaces
from recbole_outfit.quick_start import run_recbole_outfit
from recbole_outfit.utils import create_dataset, get_model

MODELS = ("TypeAware", "SCENet", "BiLSTM")

# a 3-garment toy outfit: top, bottom, shoe (categories 0, 1, 2), 2-dim features
TOY = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # [1, 3, 2]
TOY_MASK = torch.ones(1, 3, dtype=torch.bool)
TOY_CATEGORIES = torch.tensor([[0, 1, 2]])


def test_type_aware_score_by_hand():
    spaces = TypeSpaces(2, 3, l2_embed=True)
    # spaces: (0,0)=0, (0,1)=1, (0,2)=2, (1,1)=3, (1,2)=4, (2,2)=5
    spaces.masks.weight.data[1] = torch.tensor([1.0, 1.0])  # top-bottom
    spaces.masks.weight.data[2] = torch.tensor([2.0, 0.5])  # top-shoe
    spaces.masks.weight.data[4] = torch.tensor([1.0, -1.0])  # bottom-shoe: relu -> (1, 0)
    top_bottom = math.sqrt(2)  # (1, 0) vs (0, 1)
    top_shoe = math.hypot(1 - 2 / math.sqrt(4.25), 0.5 / math.sqrt(4.25))  # (1, 0) vs (2, .5) / |(2, .5)|
    bottom_shoe = 1.0  # (0, 0) (a zero projection stays zero) vs (1, 0)
    expected = -(top_bottom + top_shoe + bottom_shoe) / 3
    assert spaces(TOY, TOY_MASK, TOY_CATEGORIES).item() == pytest.approx(expected, abs=1e-6)
    spaces.l2_embed = False  # raw masked features: (1,0)-(0,1), (2,0)-(2,.5), (0,0)-(1,0)
    assert spaces(TOY, TOY_MASK, TOY_CATEGORIES).item() == pytest.approx(-(math.sqrt(2) + 0.5 + 1) / 3, abs=1e-6)


def test_scenet_score_by_hand():
    spaces = ConditionSpaces(2, 2, hidden=1)
    spaces.masks.weight.data = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    first, second = spaces.branch[0], spaces.branch[2]
    first.weight.data = torch.tensor([[1.0, 0.0, 0.0, 0.0]])  # hidden = relu(first component of g_x)
    first.bias.data.zero_()
    second.weight.data = torch.tensor([[1.0], [0.0]])  # logits (hidden, 0): w_0 = sigmoid(hidden)
    second.bias.data.zero_()
    x = torch.tensor([[[3.0, 4.0], [0.0, 1.0], [-1.0, 0.0]]])  # g = (.6, .8), (0, 1), (-1, 0)

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    p = (sigmoid(0.6) + sigmoid(0.0)) / 2  # w_0 of pairs (a, b) and (a, c): mean over both orders
    # h_0, h_1 of a = (1,0), (0,1); of b = (0,0), (0,1); of c = (-1,0), (0,0); e = w_0 h_0 + w_1 h_1
    ab = p  # (p, 1-p) vs (0, 1-p)
    ac = math.hypot(2 * p, 1 - p)  # (p, 1-p) vs (-p, 0)
    bc = math.sqrt(0.5)  # w_0 = 1/2: (0, .5) vs (-.5, 0)
    expected = -(ab + ac + bc) / 3
    assert spaces(x, TOY_MASK).item() == pytest.approx(expected, abs=1e-6)
    assert spaces(x[:, [2, 0, 1]], TOY_MASK).item() == pytest.approx(expected, abs=1e-6)


def test_bilstm_score_by_hand():
    lstms = NextGarmentLSTMs(2, dropout=0.0, cosine=False, tau=1.0).eval()
    for lstm, g_bias in ((lstms.forward_lstm, 1.0), (lstms.backward_lstm, -1.0)):
        for name, value in lstm.named_parameters():
            value.data.zero_()
        lstm.bias_ih_l0.data[4:6] = g_bias  # gates i, f, g, o: i = f = o = 1/2, g = tanh(+-1 + x_0 - x_1 / 2)
        lstm.weight_ih_l0.data[4:6] = torch.tensor([1.0, -0.5])  # the inputs matter, in their order
    lstms.forward_out.weight.data = torch.eye(2)
    lstms.forward_out.bias.data.zero_()
    lstms.backward_out.weight.data = torch.diag(torch.tensor([1.0, 2.0]))
    lstms.backward_out.bias.data.zero_()
    candidates = torch.cat([TOY[0], torch.tensor([[-1.0, 0.5]])])  # top, bottom, shoe and one more

    def hidden(g_bias, inputs):  # h_t = tanh(c_t) / 2, c_t = c_(t-1) / 2 + tanh(g_bias + x_0 - x_1 / 2) / 2
        c, h = 0.0, []
        for x0, x1 in inputs:
            c = c / 2 + math.tanh(g_bias + x0 - x1 / 2) / 2
            h.append(math.tanh(c) / 2)
        return h

    def cross_entropy(logits, target):
        return math.log(sum(math.exp(v) for v in logits)) - logits[target]

    # forward reads top, bottom: prediction (h, h) -> dot products h * (1, 1, 2, -.5); targets bottom, then shoe
    forward = [cross_entropy([v * s for s in (1, 1, 2, -0.5)], t)
               for v, t in zip(hidden(1.0, [(1, 0), (0, 1)]), (1, 2))]
    # backward reads shoe, bottom: prediction (h, 2h) -> h * (1, 2, 3, 0); targets bottom, then top
    backward = [cross_entropy([v * s for s in (1, 2, 3, 0)], t)
                for v, t in zip(hidden(-1.0, [(1, 1), (0, 1)]), (1, 0))]
    expected = -(sum(forward) / 2 + sum(backward) / 2)
    score = lstms.outfit_scores(TOY, torch.tensor([[0, 1, 2]]), torch.tensor([3]), candidates)
    assert score.item() == pytest.approx(expected, abs=1e-5)


def test_margin_ranking_and_embedding_norm_by_hand():
    close, far = torch.tensor([0.1, 0.5]), torch.tensor([0.5, 0.2])
    # max(0, d_close - d_far + margin): 0 for the satisfied triplet, 0.5 - 0.2 + 0.3 for the violated one
    assert margin_ranking(close, far, 0.3).item() == pytest.approx(0.6 / 2)
    assert margin_ranking(close[:0], far[:0], 0.3).item() == 0.0
    a, b, c = torch.tensor([[3.0, 4.0]]).repeat(4, 1), torch.zeros(4, 2), torch.ones(4, 2)
    # ||E||_F / sqrt(N) of each role (5, 0, sqrt(2)), mean over the three roles
    assert embedding_norm(a, b, c).item() == pytest.approx((5 + 0 + math.sqrt(2)) / 3)


def test_bilstm_sequence_skips_padding_slots():
    garments = torch.tensor([[5, 0, 7, 9], [4, 6, 8, 0]])
    x = garments.float().unsqueeze(-1).expand(-1, -1, 3)
    ids, features, lengths = compact(garments, x)
    assert ids.tolist() == [[5, 7, 9, 0], [4, 6, 8, 0]] and lengths.tolist() == [3, 3]
    assert features[0, :, 0].tolist() == [5.0, 7.0, 9.0, 0.0]


def test_garment_triplets_take_the_far_garment_of_the_close_ones_category():
    positives = torch.tensor([[11, 12, 13, 0]])  # top, bottom, shoe, no second top
    categories = torch.tensor([[0, 1, 2, -1]])
    negatives = torch.tensor([[[21, 22, 23, 0]]])
    neg_categories = torch.tensor([[[0, 1, 0, -1]]])  # slot 2 holds a top: no far garment for a close shoe
    b, k, i, j = garment_triplets(positives, categories, negatives, neg_categories)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (1, 0), (2, 0), (2, 1)]
    assert set(b.tolist()) == {0} and set(k.tolist()) == {0}


def _model(name, workspace, run_dir, **overrides):
    config = Config(name, "synthetic630", config_dict=tiny_config(workspace, run_dir, **overrides))
    dataset = create_dataset(config)
    return get_model(name)(config, dataset), dataset


def _rows(model, dataset, users, outfits):
    return Interaction({model.USER_ID: users, GARMENTS: dataset.outfit_garments[outfits]})


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_a_training_step_moves_the_model(name, workspace, run_dir):
    torch.manual_seed(0)
    model, dataset = _model(name, workspace, run_dir)
    train = dataset.build()[0]
    sampler = OutfitNegativeSampler(train, num=2)
    positives = train.inter_feat[train.iid_field][:16]
    users = train.inter_feat[train.uid_field][:16]
    garments = dataset.outfit_garments[positives]
    batch = Interaction({model.USER_ID: users, GARMENTS: garments, NEG_GARMENTS: sampler.sample(users, garments)})
    head = {"TypeAware": "type_spaces.masks.weight", "SCENet": "condition_spaces.branch.0.weight",
            "BiLSTM": "lstms.forward_lstm.weight_hh_l0"}[name]
    before = dict(model.named_parameters())[head].detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    losses = model.calculate_loss(batch)
    loss = sum(losses)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert model.user_embedding.weight.grad is None  # no score reads the user
    optimizer.step()
    assert not torch.equal(dict(model.named_parameters())[head], before)
    assert model.item_encoder.parameters().__next__().grad is not None


@pytest.mark.parametrize("name", ["TypeAware", "SCENet"])
def test_a_batch_without_triplets_has_a_finite_loss(name, workspace, run_dir):
    """One-garment positives have no garment pair: no triplet, and every term of the loss is 0, not NaN."""
    model, dataset = _model(name, workspace, run_dir)
    garments = dataset.outfit_garments[1:3].clone()  # [2, L]
    garments[:, 1:] = 0
    batch = Interaction({model.USER_ID: torch.tensor([1, 2]), GARMENTS: garments,
                         NEG_GARMENTS: dataset.outfit_garments[3:5].clone().unsqueeze(1)})
    triplet, embedding, mask = model.calculate_loss(batch)
    assert triplet.item() == 0.0 and embedding.item() == 0.0 and torch.isfinite(mask)


@pytest.mark.parametrize("name", MODELS)
def test_scores_ignore_the_user(name, workspace, run_dir):
    torch.manual_seed(0)
    model, dataset = _model(name, workspace, run_dir)
    model.eval()
    outfits = torch.arange(1, 21)
    with torch.no_grad():
        first = model.predict(_rows(model, dataset, torch.ones(20, dtype=torch.long), outfits))
        other = model.predict(_rows(model, dataset, torch.randint(1, model.n_users, (20,)), outfits))
    assert torch.equal(first, other)
    assert first.std() > 0  # outfits do differ
    scores = model.scores(torch.tensor([1, 2, 3]), model.encode_outfits(dataset.outfit_garments[outfits]))
    assert scores.shape == (3, 20) and torch.equal(scores[0], scores[2])


@pytest.mark.parametrize("name", ["TypeAware", "SCENet"])
def test_pairwise_scores_ignore_the_garments_order(name, workspace, run_dir):
    torch.manual_seed(0)
    model, dataset = _model(name, workspace, run_dir)
    model.eval()
    outfits = torch.arange(1, 21)
    garments = dataset.outfit_garments[outfits]
    with torch.no_grad():
        straight = model.encode_outfits(garments)
        shuffled = model.encode_outfits(garments[:, torch.randperm(garments.shape[1])])
        reversed_ = model.encode_outfits(garments.flip(1))
    assert torch.allclose(straight, shuffled, atol=1e-5) and torch.allclose(straight, reversed_, atol=1e-5)


def test_cold_start_uses_the_model_as_it_is(workspace, run_dir):
    torch.manual_seed(0)
    model, _ = _model("TypeAware", workspace, run_dir)
    cold_config = Config("TypeAware", "synthetic53", config_dict=tiny_config(workspace, run_dir))
    cold = ColdUsers(create_dataset(cold_config))
    result = ColdStartEvaluator(shots=(1, 5), repeats=3).evaluate(model, cold)
    assert set(result) == {"own"}
    assert result["own"][1] == result["own"][5] and result["own"][1]["std"] == 0.0


@pytest.mark.slow
def test_comparison_of_the_three_with_cold_start(workspace, run_dir):
    config = tiny_config(workspace, run_dir, cold_dataset="synthetic53", cold_repeats=2)
    summary = compare(list(MODELS), "synthetic630", config_dict=config, out_dir=str(run_dir / "results"))
    markdown = open(run_dir / "results" / "synthetic630.md").read()
    for name in MODELS:
        assert summary[name]["runs"] == 1 and set(summary[name]["cold"]) == {"own"}
        one, five = (cell for _, cell in sorted(summary[name]["cold"]["own"].items(), key=lambda kv: int(kv[0])))
        assert one == five
        row = rf"\| {name} \(non-personalized model, own scores\) *\| +{one[0]:.2f} \| +{five[0]:.2f} \|"
        assert re.search(row, markdown), markdown


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["TypeAware", "SCENet", "BiLSTM"])
def test_a_catalogue_of_five_categories_trains_a_step(model_name, tmp_path):
    """The imported format's own categories (five here, outfits of 2 to 5 garments) size the models' tables:
    TypeAware's masks per pair of the dataset's categories, not Polyvore-U's three."""
    from outfit_csv_fixture import FIVE, write_catalogue
    from recbole_outfit.config import Config
    from recbole_outfit.data.import_outfits import main as import_outfits
    from recbole_outfit.utils import create_dataset, data_preparation, get_model

    write_catalogue(tmp_path / "src", users=4, per_user=12, per_category=12)
    assert import_outfits(["--src", str(tmp_path / "src"), "--dataset", "mine", "--out", str(tmp_path / "data"),
                           "--image_size", "64"]) == 0  # AlexNet-small's smallest input
    config = Config(model_name, "mine", config_dict={"data_path": str(tmp_path / "data"), "state": "WARNING",
                                                     "checkpoint_dir": str(tmp_path / "saved"), "show_progress": False},
                    command_line=False)
    dataset = create_dataset(config)
    assert dataset.categories == FIVE
    train, _, _ = data_preparation(config, dataset)
    model = get_model(model_name)(config, train._dataset)
    loss = model.calculate_loss(next(iter(train)))
    loss = sum(loss) if isinstance(loss, tuple) else loss
    loss.backward()
    assert torch.isfinite(loss)
