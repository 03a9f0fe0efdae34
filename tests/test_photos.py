"""Photos as garments: a photo of a catalogue garment (its stored pixels written to a file) scores, ranks, composes
and cold-starts as that garment does; photos are preprocessed as the image store, encoded once, and refused
clearly when they are not images."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from recbole_outfit.data.image_store import decode_image
from recbole_outfit.errors import ConfigError
from recbole_outfit.recommend.photos import PhotoError, photo_pixels
from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def photo_of(rec, garment, path):
    """Write a catalogue garment's stored pixels to ``path`` (PNG or lossless) and return the path."""
    Image.fromarray(rec.garment_image(garment)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def outfit(rec):
    user = rec.users()[0]
    return user, rec.outfit(rec.known_outfits(user)[0])["garments"]


def test_a_photo_of_a_catalogue_garment_scores_as_that_garment(rec, outfit, tmp_path):
    user, garments = outfit
    photo = photo_of(rec, garments[0], tmp_path / "top.png")
    expected = rec.score(user, [tuple(garments)])
    as_file = rec.score(user, [(photo, *garments[1:])])
    as_image = rec.score(user, [(Image.open(photo), *garments[1:])])
    as_path_object = rec.score(user, [(tmp_path / "top.png", *garments[1:])])
    every_garment = rec.score(user, [tuple(photo_of(rec, g, tmp_path / f"{i}.png") for i, g in enumerate(garments))])
    for got in (as_file, as_image, as_path_object, every_garment):
        assert abs(float(got[0]) - float(expected[0])) < 1e-6
    # and a different photo does not (the test would pass for any constant otherwise)
    other = rec.garment_tokens[int((rec.garment_category == rec.garment_category[rec.garment_id(garments[0])])
                                   .nonzero()[-1])]
    assert other != garments[0]
    assert abs(float(rec.score(user, [(photo_of(rec, other, tmp_path / "o.png"), *garments[1:])])[0])
               - float(expected[0])) > 1e-6


def test_each_photo_is_encoded_once_per_load_by_its_pixels(rec, outfit, tmp_path, monkeypatch):
    user, garments = outfit
    encoded = []
    original = rec.photos._encode
    monkeypatch.setattr(rec.photos, "_encode", lambda pixels: encoded.append(len(pixels)) or original(pixels))
    png = photo_of(rec, garments[1], tmp_path / "b.png")
    Image.open(png).save(tmp_path / "b.bmp")  # other file, same pixels
    first = rec.score(user, [(garments[0], png, garments[2])])
    again = rec.score(user, [(garments[0], str(tmp_path / "b.bmp"), garments[2])])
    assert first[0] == again[0] and sum(encoded) <= 1
    token = rec.add_photos([png])[0]
    assert token.startswith("photo:") and rec.score(user, [(garments[0], token, garments[2])])[0] == first[0]
    assert np.array_equal(rec.garment_image(token), rec.garment_image(garments[1]))


def test_photos_are_resized_as_the_image_store_resizes(rec, tmp_path):
    size = rec.model.images.image_size
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 255, (3 * size + 1, 2 * size + 3, 3), dtype=np.uint8))
    big.save(tmp_path / "big.jpg", quality=90)
    data = (tmp_path / "big.jpg").read_bytes()
    assert np.array_equal(photo_pixels(str(tmp_path / "big.jpg"), size), decode_image(data, size))
    assert photo_pixels(big, size).shape == (3, size, size)


def test_rank_compose_and_cold_user_take_photos(rec, outfit, tmp_path):
    user, garments = outfit
    photo = photo_of(rec, garments[0], tmp_path / "top.png")
    ranked = rec.rank(user, candidates=[(photo, *garments[1:])], k=1)
    assert ranked[0]["garments"][0].startswith("photo:") and ranked[0]["categories"][0] == "photo"
    category = ranked and rec.outfit(rec.known_outfits(user)[0])["categories"][0]
    by_id = rec.compose(user, k=3, fixed={category: garments[0]})
    by_photo = rec.compose(user, k=3, fixed={category: Image.open(photo)})
    assert [r["garments"][1:] for r in by_photo] == [r["garments"][1:] for r in by_id]
    assert all(r["garments"][0].startswith("photo:") and r["categories"][0] == category for r in by_photo)
    assert np.allclose([r["score"] for r in by_photo], [r["score"] for r in by_id], atol=1e-6)
    liked = rec.known_outfits(user)[:2]
    expected = rec.cold_user(liked, k=5)
    got = rec.cold_user([liked[0], (photo, *garments[1:])] if rec.outfit(liked[0])["garments"] != garments
                        else [(photo, *garments[1:]), liked[1]], k=5)
    assert [r["outfit"] for r in got] == [r["outfit"] for r in expected]
    assert np.allclose([r["score"] for r in got], [r["score"] for r in expected], atol=1e-6)


def test_bad_photos_are_clear_errors(rec, outfit, tmp_path):
    user, garments = outfit
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(PhotoError, match="not a readable image"):
        rec.score(user, [(str(tmp_path / "notes.jpg"), *garments[1:])])
    with pytest.raises(ConfigError, match="unknown garment 'missing.jpg'"):
        rec.score(user, [("missing.jpg", *garments[1:])])
    with pytest.raises(PhotoError, match="pixels, more than"):
        photo_pixels(Image.new("RGB", (200, 200)), 64, max_pixels=100 * 100)
    with pytest.raises(PhotoError, match="uint8"):
        photo_pixels(np.zeros((4, 4), dtype=np.float32), 64)


@pytest.mark.slow
def test_command_line_scores_photos_and_completes_an_outfit_around_one(checkpoint, rec, outfit, tmp_path):
    user, garments = outfit
    photos = [photo_of(rec, g, tmp_path / f"{i}.png") for i, g in enumerate(garments)]
    command = [sys.executable, "-m", "recbole_outfit.recommend", "--checkpoint", checkpoint, "--user", user]
    env = {**os.environ, "PYTHONPATH": REPO}
    done = subprocess.run(command + ["--images", ",".join(photos), "--json", str(tmp_path / "s.json")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    result = json.loads((tmp_path / "s.json").read_text())["results"][0]
    assert abs(result["score"] - float(rec.score(user, [tuple(garments)])[0])) < 1e-6
    category = rec.outfit(rec.known_outfits(user)[0])["categories"][0]
    done = subprocess.run(command + ["--compose", "--k", "2", "--fixed", f"{category}={photos[0]}",
                                     "--json", str(tmp_path / "c.json")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    composed = json.loads((tmp_path / "c.json").read_text())["results"]
    expected = rec.compose(user, k=2, fixed={category: garments[0]})
    assert [r["garments"][1:] for r in composed] == [r["garments"][1:] for r in expected]
