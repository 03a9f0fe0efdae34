"""The page over a trained model, through HTTP (FastAPI's TestClient): every route, its validation, its 404s."""

import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

pytest.importorskip("fastapi", reason="the serve extra is not installed")  # .ci/run installs it (the test extra)
from fastapi.testclient import TestClient  # noqa: E402

from recbole_outfit.serve.__main__ import build_parser  # noqa: E402
from recbole_outfit.serve.app import create_app  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def client(rec):
    return TestClient(create_app(rec, k=4, choices=8))


def image_urls(html, section):
    """The image URLs inside ``<div ... id="section">`` (up to the next section heading)."""
    part = html.split(f'id="{section}"', 1)[1].split("<h2>", 1)[0]
    return re.findall(r'<img src="([^"]+)"', part)


@pytest.mark.slow
def test_index_lists_every_user(client, rec):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    links = re.findall(r'href="/users/([^"]+)"', page.text)
    assert links == rec.users()


@pytest.mark.slow
def test_user_page_shows_training_recommended_and_composed_outfits(client, rec):
    user = rec.users()[0]
    page = client.get(f"/users/{user}")
    assert page.status_code == 200
    ranked, composed = rec.rank(user, k=4), rec.compose(user, k=4)
    for section, rows in (("recommended", ranked), ("composed", composed)):
        urls = image_urls(page.text, section)
        assert urls == [f"/images/{g}.png" for row in rows for g in row["garments"]]
    for row in ranked:
        assert f"{row['score']:.3f}" in page.text and row["outfit"] in page.text
    assert len(image_urls(page.text, "training")) == sum(len(rec.outfit(o)["garments"])
                                                          for o in rec.known_outfits(user))
    assert client.get(f"/users/{user}?k=2").text.count('<div class="outfit">') == 2 + 2 + len(rec.known_outfits(user))


@pytest.mark.slow
def test_images_are_the_stored_garment_images(client, rec):
    garment = rec.garment_tokens[1]
    response = client.get(f"/images/{garment}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    picture = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    assert np.array_equal(picture, rec.garment_image(garment))
    assert client.post(f"/images/{garment}.png").status_code == 405  # read-only
    assert client.delete(f"/images/{garment}.png").status_code == 405


@pytest.mark.slow
def test_new_user_view_offers_outfits_and_recommends_for_the_clicked_ones(client, rec):
    page = client.get("/new")
    assert page.status_code == 200
    offered = re.findall(r'name="liked" value="([^"]+)"', page.text)
    assert len(offered) == 8 and 'id="results"' not in page.text
    liked = offered[:2]
    page = client.get("/new", params={"liked": liked, "k": 3})
    assert page.status_code == 200
    expected = rec.cold_user(liked, k=3)
    assert image_urls(page.text, "results") == [f"/images/{g}.png" for r in expected for g in r["garments"]]
    assert len(re.findall(r'value="[^"]+" checked', page.text)) == 2
    page = client.get("/new", params={"liked": liked, "k": 3, "strategy": "avg"})
    assert image_urls(page.text, "results") == [f"/images/{g}.png" for r in rec.cold_user(liked, k=3, strategy="avg")
                                                for g in r["garments"]]


@pytest.mark.slow
@pytest.mark.parametrize("url, status, phrase", [
    ("/users/no-such-user", 404, "Unknown user"),
    ("/images/no-such-garment.png", 404, "Unknown garment"),
    ("/images/..%2F..%2Fetc%2Fpasswd.png", 404, "404"),
    ("/new?liked=no-such-outfit", 404, "Unknown outfit"),
    ("/no/such/page", 404, "No such page"),
    ("/?page=999", 404, "No such page"),
    ("/?page=0", 400, "Malformed request"),
    ("/users/USER?k=0", 400, "k must be between 1 and 50"),
    ("/users/USER?k=many", 400, "Malformed request"),
    ("/new?strategy=best", 400, "unknown strategy"),
])
def test_bad_requests_are_pages_not_tracebacks(client, rec, url, status, phrase):
    response = client.get(url.replace("USER", rec.users()[0]))
    assert response.status_code == status
    assert "text/html" in response.headers["content-type"]
    assert phrase in response.text and "Traceback" not in response.text


def test_binds_to_this_machine_by_default():
    args = build_parser().parse_args(["--checkpoint", "x.pth"])
    assert args.host == "127.0.0.1" and args.port == 8000


@pytest.mark.slow
def test_command_line_refuses_a_bad_checkpoint(tmp_path):
    (tmp_path / "x.pth").write_text("hello")
    done = subprocess.run([sys.executable, "-m", "recbole_outfit.serve", "--checkpoint", str(tmp_path / "x.pth")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 2 and "x.pth" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
