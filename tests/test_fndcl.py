"""FND-CL: losses (Eq. 13-18), augmentations, the neighbour table, the frozen teacher, the staged pipeline."""

import os

import pytest
import torch

from conftest import private_dataset, tiny_config
from recbole_outfit.errors import ConfigError
from recbole_outfit.model.augment import OutfitAugmenter
from recbole_outfit.model.autoencoder import neighbour_table
from recbole_outfit.model.loss import fnd_loss, npair_loss, nt_xent
from recbole_outfit.quick_start import run_recbole_outfit


def test_fnd_equals_npair_when_every_d_is_one():
    pos, neg = torch.randn(8), torch.randn(8, 5)
    assert torch.allclose(fnd_loss(pos, neg, torch.ones(8, 5), 0.1), npair_loss(pos, neg, 0.1))
    mask = torch.rand(8, 5) > 0.3
    assert torch.allclose(fnd_loss(pos, neg, torch.ones(8, 5), 0.1, mask), npair_loss(pos, neg, 0.1, mask))


def test_fnd_gradient_has_the_sign_of_d():
    torch.manual_seed(0)
    pos = torch.rand(6) * 2 - 1
    neg = (torch.rand(6, 7) * 2 - 1).requires_grad_(True)
    d = torch.randn(6, 7)
    fnd_loss(pos, neg, d, 0.1).backward()
    assert torch.equal(torch.sign(neg.grad), torch.sign(d))  # Eq. 16: d < 0 pulls the negative closer
    # and Eq. 15-16 exactly: dl/dr_k = d_k / tau * p(r_k), averaged over the batch
    logits = torch.cat([pos[:, None], d * neg.detach()], 1) / 0.1
    p = torch.softmax(logits, 1)[:, 1:]
    assert torch.allclose(neg.grad, d / 0.1 * p / 6, atol=1e-6)


def test_nt_xent_against_direct_computation():
    torch.manual_seed(0)
    z1, z2 = torch.randn(4, 6), torch.randn(4, 6)
    tau = 0.5
    views = [None] * 8  # views 2n-1, 2n of outfit n, 1-based as in Eq. 18
    for n in range(4):
        views[2 * n], views[2 * n + 1] = z1[n], z2[n]
    s = lambda a, b: torch.nn.functional.cosine_similarity(views[a], views[b], dim=0)
    def l(n, m):
        denominator = sum(torch.exp(s(n, t) / tau) for t in range(8) if t != n)
        return -torch.log(torch.exp(s(n, m) / tau) / denominator)
    expected = sum(l(2 * n, 2 * n + 1) + l(2 * n + 1, 2 * n) for n in range(4)) / 8
    assert torch.allclose(nt_xent(z1, z2, tau), expected, atol=1e-5)


def outfits_and_categories():
    # garments 1-4 tops, 5-7 bottoms, 8-10 shoes; a 3-garment and a 4-garment outfit
    categories = torch.tensor([-1, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    outfits = torch.tensor([[1, 5, 8, 0], [2, 3, 6, 9]])
    return outfits, categories


def test_augmentations_keep_categories_and_sizes():
    torch.manual_seed(0)
    outfits, categories = outfits_and_categories()
    neighbours = torch.tensor([[-1, -1], [2, 3], [1, 4], [4, 1], [3, 2], [6, 7], [5, 7], [6, 5], [9, 10], [8, 10], [9, 8]])
    for pair in (["erase", "replace"], ["erase", "erase"], ["replace", "replace"], ["identity", "erase"]):
        augment = OutfitAugmenter(pair, neighbours)
        for _ in range(50):
            first, second = augment(outfits)
            for view, name in ((first, pair[0]), (second, pair[1])):
                sizes = (view > 0).sum(1)
                if name == "erase":
                    assert torch.equal(sizes, (outfits > 0).sum(1) - 1)
                else:
                    assert torch.equal(sizes, (outfits > 0).sum(1))
                for row, original in zip(view, outfits):
                    assert sorted(categories[row[row > 0]].tolist()) == sorted(categories[original[original > 0]].tolist()) \
                        or name == "erase"
                    assert set(categories[row[row > 0]].tolist()) <= set(categories[original[original > 0]].tolist())
                if name == "replace":
                    changed = (view != outfits).sum(1)
                    assert torch.equal(changed, torch.ones(2, dtype=torch.long))
            if pair[0] == pair[1]:  # the same augmentation alters different garments
                assert not torch.equal(first, second)
                assert ((first != outfits) & (second != outfits)).sum() == 0


def test_erase_never_removes_the_last_garment():
    augment = OutfitAugmenter(["erase", "erase"])
    single = torch.tensor([[7, 0, 0]])
    first, second = augment(single)
    assert torch.equal(first, single) and torch.equal(second, single)
    with pytest.raises(ConfigError):
        OutfitAugmenter(["identity", "identity"])
    with pytest.raises(ConfigError):
        OutfitAugmenter(["erase", "replace"])  # replace needs a table


def test_neighbour_table_returns_same_category_nearest():
    _, categories = outfits_and_categories()
    garments = torch.arange(1, 11)
    codes = torch.randn(10, 4)
    codes[1] = codes[0] * 2  # garment 2 points where garment 1 does
    table = neighbour_table(codes, garments, categories, 11, k=2)
    assert table.shape == (11, 2) and (table[0] == -1).all()
    for g in range(1, 11):
        row = table[g][table[g] > 0]
        assert (categories[row] == categories[g]).all() and g not in row.tolist()
    assert table[1, 0] == 2 and table[2, 0] == 1
    assert (table[8:, 1] > 0).all() and table[5].tolist() != [-1, -1]


def student_config(workspace, run_dir, **overrides):
    return tiny_config(workspace, run_dir, teacher_config={"epochs": 1}, autoencoder_config={"epochs": 1}, **overrides)


@pytest.mark.slow
def test_staged_pipeline_trains_then_reuses_every_stage(workspace, run_dir, caplog):
    caplog.set_level("INFO")
    # a private copy of the data: the neighbour table is kept beside the dataset, where another test may have built it
    data = private_dataset(workspace, run_dir, run_dir / "atomic", "synthetic630")
    config = student_config(workspace, run_dir, data_path=str(data))
    first = run_recbole_outfit("FNDCL", "synthetic630", config_dict=config)
    assert "Stage teacher: training a Teacher (large)" in caplog.text
    assert "Stage neighbours: training the garment autoencoder" in caplog.text
    teacher = first["config"]["teacher_checkpoint"]
    assert os.path.isfile(teacher) and os.path.isfile(first["config"]["neighbour_table"])
    assert first["config"]["benchmark_filename"][1] == "valid_student"
    caplog.clear()
    second = run_recbole_outfit("FNDCL", "synthetic630", config_dict=config)
    assert "Stage teacher: reusing" in caplog.text and "Stage neighbours: reusing" in caplog.text
    assert second["config"]["teacher_checkpoint"] == teacher
    assert second["config"]["neighbour_table"] == first["config"]["neighbour_table"]
    # reused stages give the same student, up to float noise of CPU kernels in another process state: on this
    # tiny test set one near-tie flipped by that noise moves NDCG by ~2e-3 (seen on a loaded machine)
    assert second["test_result"] == pytest.approx(first["test_result"], abs=1e-2)

    # the student checkpoint holds no teacher weights
    from recbole_outfit.checkpoint import load_checkpoint

    state = load_checkpoint(second["checkpoint"])["state_dict"]
    assert not any(k.startswith("teacher") for k in state)
    assert any(k.startswith("projection") for k in state)

    # FND (lambda = 0) and the N-pair student need no neighbour table; the N-pair student no teacher
    caplog.clear()
    fnd = run_recbole_outfit("FND", "synthetic630", config_dict=config)
    assert "Stage neighbours" not in caplog.text and fnd["config"]["cl_weight"] == 0
    caplog.clear()
    run_recbole_outfit("FNDCL", "synthetic630", config_dict={**config, "distill": False, "cl_weight": 0.0})
    assert "Stage teacher" not in caplog.text


@pytest.mark.slow
def test_variable_length_dataset_with_erase_pair(workspace, run_dir):
    result = run_recbole_outfit("FNDCL", "synthetic519", config_dict=student_config(workspace, run_dir))
    assert result["config"]["cl_augmentations"] == ["erase", "erase"] and result["config"]["fnd_alpha"] == 3.75
    assert result["config"]["neighbour_table"] is None


@pytest.mark.slow
def test_wrong_or_missing_teacher_checkpoint(workspace, run_dir):
    config = student_config(workspace, run_dir, cl_weight=0.0)
    with pytest.raises(ConfigError, match="does not exist"):
        run_recbole_outfit("FNDCL", "synthetic630", config_dict={**config, "teacher_checkpoint": "nope.pth"})
    other = run_recbole_outfit("Teacher", "synthetic53", config_dict=tiny_config(workspace, run_dir, backbone="XS"))
    with pytest.raises(ConfigError, match="trained on 'synthetic53', not 'synthetic630'"):
        run_recbole_outfit("FNDCL", "synthetic630", config_dict={**config, "teacher_checkpoint": other["checkpoint"]})
    garbage = run_dir / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable checkpoint"):
        run_recbole_outfit("FNDCL", "synthetic630", config_dict={**config, "teacher_checkpoint": str(garbage)})


def test_constant_garments_change_gradients_not_values(workspace, run_dir):
    from recbole_outfit.config import Config
    from recbole_outfit.utils import create_dataset, get_model

    config = Config("NPair", "synthetic630", config_dict=tiny_config(workspace, run_dir, image_flip=False))
    model = get_model("NPair")(config, create_dataset(config)).train()
    outfits = model.garment_image_row.new_tensor([[1, 2, 3], [4, 5, 6]])
    plain = model.encode_outfits(outfits)
    frozen = model.encode_outfits(outfits, constant_garments=outfits.new_tensor([4, 5, 6]))
    assert torch.allclose(plain, frozen, atol=1e-5)
    frozen[1].sum().backward()  # the second outfit's garments are all constant: only T gets gradient
    assert all(p.grad is None or not p.grad.any() for p in model.item_encoder.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.outfit_encoder.parameters())
