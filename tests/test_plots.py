"""Pictures: the drawing functions on plain data, the training history a run keeps, and the command line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

pytest.importorskip("matplotlib", reason="the plot extra is not installed")  # .ci/run installs it (the test extra)

from recbole_outfit.errors import ConfigError, DataFormatError  # noqa: E402
from recbole_outfit.plots import draw  # noqa: E402
from recbole_outfit.plots.__main__ import history_from_log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_model_comparison_has_a_panel_per_measure(tmp_path):
    one = draw.model_comparison([("AUC", {"NPair": (84.8, 0.8), "FND": (84.5, 1.3), "FNDCL": (85.2, 0.7)})],
                                tmp_path / "one.png")
    two = draw.model_comparison([("AUC", {"NPair": (84.8, 0.8), "FND": (84.5, 1.3)}), ("NDCG", {"NPair": (72.0, 0.9)}),
                                 ("empty", {})], tmp_path / "two.png", title="toy")
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert w2 > 1.6 * w1 and abs(h1 - h2) < 0.2 * h1  # two panels side by side; the empty one left out
    with pytest.raises(ConfigError, match="no results"):
        draw.model_comparison([("AUC", {})], tmp_path / "none.png")
    assert not os.path.exists(tmp_path / "none.png")


def test_outfit_grid_has_a_row_per_outfit(tmp_path):
    colours = {"a": 0, "b": 120, "c": 250}
    outfits = [{"garments": ["a", "b", "c"], "categories": ["top", "bottom", "shoe"], "score": 0.5, "outfit": "o1"},
               {"garments": ["c", "a"], "categories": ["top", "shoe"], "score": 0.25}]
    one = draw.outfit_grid(outfits[:1], lambda g: np.full((16, 16, 3), colours[g], np.uint8), tmp_path / "one.png")
    two = draw.outfit_grid(outfits, lambda g: np.full((16, 16, 3), colours[g], np.uint8), tmp_path / "two.png")
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert abs(w1 - w2) < 0.15 * w1 and h2 > 1.6 * h1  # a second row, the same columns
    with pytest.raises(ConfigError, match="no outfits"):
        draw.outfit_grid([], lambda g: None, tmp_path / "none.png")
    assert not os.path.exists(tmp_path / "none.png")


def test_training_curve_and_tsne_map_write_pngs(tmp_path):
    history = {"epochs": [0, 1, 2], "loss": {"loss part 1": [3.0, 2.0, 1.5], "loss part 2": [1.0, 0.8, 0.7]},
               "valid": {"user_auc": [0.6, 0.7, 0.65]}, "best_epoch": 1}
    png_size(draw.training_curve(history, tmp_path / "curve.png", title="t"))
    with pytest.raises(ConfigError, match="no epoch"):
        draw.training_curve({"epochs": [], "loss": {}}, tmp_path / "empty.png")
    rng = np.random.default_rng(0)
    kinds = ["user", "positive", "positive", "held_out", "user", "positive", "other", "other"]
    owners = [0, 0, 0, 0, 1, 1, -1, -1]
    png_size(draw.tsne_map(rng.normal(size=(8, 2)), kinds, owners, tmp_path / "map.png", user_names=["u1", "u2"]))



def test_drawing_leaves_the_backend_and_pyplot_alone(tmp_path):
    """A notebook's inline backend (or a GUI's) stays as it was: figures are drawn without pyplot."""
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a user's own backend
    try:
        png_size(draw.model_comparison([("AUC", {"NPair": (84.8, 0.8), "FND": (84.5, 1.3)})], tmp_path / "c.png"))
        png_size(draw.training_curve({"epochs": [0], "loss": {"loss": [1.0]}}, tmp_path / "curve.png"))
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == []  # nothing left open in pyplot's registry
    finally:
        matplotlib.use(before)


LOG = """\
Fri 27 Nov 2026 08:37:12 INFO  NPair(
27 Nov 08:40    INFO  epoch 0 training [time: 182.50s, train loss: 195.2856]
27 Nov 08:40    INFO  epoch 0 evaluating [time: 2.97s, valid_score: 0.632200]
27 Nov 08:40    INFO  valid result: 
user_auc : 0.6322    user_ndcg : 0.3778
27 Nov 08:44    INFO  epoch 1 training [time: 233.53s, train_loss1: 184.0608, train_loss2: 3.5000]
27 Nov 08:44    INFO  epoch 1 evaluating [time: 7.82s, valid_score: 0.696600]
27 Nov 08:44    INFO  valid result: 
user_auc : 0.6966    user_ndcg : 0.4283
"""


def test_history_from_a_recbole_log(tmp_path):
    path = tmp_path / "FNDCL-synthetic630-Nov-27-2026_08-36-28-5b3527.log"
    path.write_text("\x1b[1;36m" + LOG)
    history = history_from_log(str(path))
    assert history["model"] == "FNDCL" and history["dataset"] == "synthetic630" and history["epochs"] == [0, 1]
    assert history["loss"] == {"loss part 1": [195.2856, 184.0608], "loss part 2": [None, 3.5]}
    assert history["valid"] == {"user_auc": [0.6322, 0.6966], "user_ndcg": [0.3778, 0.4283]}
    empty = tmp_path / "empty.log"
    empty.write_text("nothing here\n")
    with pytest.raises(DataFormatError, match="no 'epoch N training"):
        history_from_log(str(empty))


@pytest.mark.slow
def test_a_plot_run_writes_its_history_and_curve(checkpoint):
    """The tiny model was trained with plot=True: its history and curve lie beside the checkpoint."""
    stem = os.path.splitext(checkpoint)[0]
    history = json.load(open(stem + "-history.json"))
    assert history["epochs"] == [0] and history["model"] == "NPair" and history["valid_metric"] == "user_auc"
    assert list(history["loss"]) == ["loss"] and history["loss"]["loss"][0] > 0
    assert 0 <= history["valid"]["user_auc"][0] <= 1 and history["best_epoch"] == 0
    png_size(stem + "-curve.png")


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "recbole_outfit.plots", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": REPO})


@pytest.mark.slow
def test_cli_draws_a_grid_a_tsne_and_a_curve(checkpoint, rec, tmp_path):
    user = rec.users()[0]
    done = run_cli("grid", "--checkpoint", checkpoint, "--user", user, "--k", "3", "--out", str(tmp_path / "g.png"),
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    png_size(tmp_path / "g.png")
    done = run_cli("tsne", "--checkpoint", checkpoint, "--users", ",".join(rec.users()[:2]), "--others", "40",
                   "--out", str(tmp_path / "t.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    png_size(tmp_path / "t.png")
    done = run_cli("curve", "--history", os.path.splitext(checkpoint)[0] + "-history.json", "--out",
                   str(tmp_path / "c.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    png_size(tmp_path / "c.png")


@pytest.mark.slow
def test_cli_errors_are_one_paragraph(checkpoint, tmp_path):
    for args, phrase in ((["curve", "--history", str(tmp_path / "none.json"), "--out", "x.png"], "does not exist"),
                         (["tsne", "--checkpoint", checkpoint, "--users", "nobody", "--out", "x.png"],
                          "unknown user 'nobody'")):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2 and phrase in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
