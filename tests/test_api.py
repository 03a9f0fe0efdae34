"""The JSON API and uploads of the page (FastAPI's TestClient), the model kept off the event loop (an image answers
while a slow model call runs), the port checked before loading, and the request log."""

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
from PIL import Image

from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("multipart", reason="python-multipart (the serve extra) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from recbole_outfit.serve.app import create_app  # noqa: E402
from recbole_outfit.serve.uploads import UploadLimits  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMITS = UploadLimits(max_bytes=2 * 2**20, max_pixels=500 * 500, max_files=4)


@pytest.fixture(scope="module")
def client(rec):
    with TestClient(create_app(rec, k=4, choices=8, limits=LIMITS)) as c:
        yield c


def png_bytes(array, fmt="PNG"):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def outfit(rec):
    user = rec.users()[0]
    return user, rec.outfit(rec.known_outfits(user)[0])


def test_openapi_schema_lists_every_endpoint(client):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/api/users", "/api/users/{user_id}/ranked", "/api/users/{user_id}/composed",
                                    "/api/users/{user_id}/score", "/api/users/{user_id}/score/upload",
                                    "/api/users/{user_id}/composed/upload", "/api/new", "/api/new/upload"}
    assert "multipart/form-data" in schema["paths"]["/api/users/{user_id}/score/upload"]["post"]["requestBody"][
        "content"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_users_search_and_pages(client, rec):
    body = client.get("/api/users").json()
    assert [u["user"] for u in body["users"]] == rec.users() and body["total"] == len(rec.users())
    assert body["users"][0]["training_outfits"] == len(rec.known_outfits(rec.users()[0]))
    wanted = rec.users()[-1]
    found = client.get("/api/users", params={"q": wanted}).json()
    assert wanted in [u["user"] for u in found["users"]] and all(wanted in u["user"] for u in found["users"])


def test_ranked_composed_and_new_user_are_the_recommenders(client, rec, outfit):
    user, _ = outfit
    ranked = client.get(f"/api/users/{user}/ranked", params={"k": 3}).json()
    assert ranked["outfits"] == rec.rank(user, k=3)
    composed = client.get(f"/api/users/{user}/composed", params={"k": 2}).json()
    expected = rec.compose(user, k=2)
    assert [o["garments"] for o in composed["outfits"]] == [o["garments"] for o in expected]
    assert composed["search"]["method"] == expected[0]["info"]["method"]
    top = expected[0]["garments"][0]
    fixed = client.get(f"/api/users/{user}/composed", params={"k": 2, "fixed": f"{expected[0]['categories'][0]}={top}"})
    assert all(o["garments"][0] == top for o in fixed.json()["outfits"])
    liked = rec.known_outfits(user)[:2]
    new = client.get("/api/new", params={"liked": liked, "k": 3, "strategy": "avg"}).json()
    assert new["outfits"] == rec.cold_user(liked, k=3, strategy="avg")


def test_score_of_given_outfits_in_their_order(client, rec, outfit):
    user, given = outfit
    other = rec.outfit(rec.known_outfits(user)[-1])["garments"]
    body = client.post(f"/api/users/{user}/score", json={"outfits": [other, given["garments"]]}).json()
    scores = rec.score(user, [tuple(other), tuple(given["garments"])])
    assert [o["garments"] for o in body["outfits"]] == [other, given["garments"]]
    assert np.allclose([o["score"] for o in body["outfits"]], scores, atol=1e-6)
    assert body["outfits"][1]["outfit"] == given["outfit"]


def test_an_uploaded_photo_of_a_catalogue_garment_scores_as_that_garment(client, rec, outfit):
    user, given = outfit
    garments = given["garments"]
    photo = png_bytes(rec.garment_image(garments[0]))
    response = client.post(f"/api/users/{user}/score/upload",
                           files=[("photos", ("top.png", photo, "image/png"))],
                           data={"outfits": json.dumps([["upload:0", *garments[1:]]])})
    assert response.status_code == 200, response.text
    got = response.json()["outfits"][0]
    assert abs(got["score"] - float(rec.score(user, [tuple(garments)])[0])) < 1e-6
    assert got["garments"][0].startswith("photo:") and got["garments"][1:] == garments[1:]
    image = client.get(f"/images/{got['garments'][0]}.png")  # the photo is shown as the model saw it
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(image.content)).convert("RGB")),
                          rec.garment_image(garments[0]))
    every = client.post(f"/api/users/{user}/score/upload",
                        files=[("photos", (f"{i}.png", png_bytes(rec.garment_image(g)), "image/png"))
                               for i, g in enumerate(garments)]).json()["outfits"][0]
    assert abs(every["score"] - float(rec.score(user, [tuple(garments)])[0])) < 1e-6
    composed = client.post(f"/api/users/{user}/composed/upload", files=[("photos", ("t.png", photo, "image/png"))],
                           data={"fixed": f"{given['categories'][0]}=upload:0", "k": "2"}).json()["outfits"]
    expected = rec.compose(user, k=2, fixed={given["categories"][0]: garments[0]})
    assert [o["garments"][1:] for o in composed] == [o["garments"][1:] for o in expected]


def test_a_new_user_who_likes_a_photographed_outfit(client, rec, outfit):
    user, given = outfit
    other = rec.known_outfits(user)[1]
    files = [("photos", (f"{i}.png", png_bytes(rec.garment_image(g)), "image/png"))
             for i, g in enumerate(given["garments"])]
    expected = rec.cold_user([other, given["outfit"]], k=3)
    body = client.post("/api/new/upload", files=files, data={"liked": [other], "k": "3"})
    assert body.status_code == 200, body.text
    assert [o["outfit"] for o in body.json()["outfits"]] == [o["outfit"] for o in expected]
    got = client.post("/api/new/upload", files=files,
                      data={"liked": [other, json.dumps([f"upload:{i}" for i in range(len(files))])], "k": "3"}).json()
    assert [o["outfit"] for o in got["outfits"]] == [o["outfit"] for o in expected]
    assert np.allclose([o["score"] for o in got["outfits"]], [o["score"] for o in expected], atol=1e-6)
    page = client.post("/new", files=files, data={"liked": [other], "k": "3"})
    assert page.status_code == 200 and 'id="photo-outfit"' in page.text and 'id="results"' in page.text
    assert f'<span class="score">{expected[0]["score"]:.3f}</span>' in page.text
    assert 'id="new-upload-form"' in client.get("/new").text


def test_the_page_scores_an_uploaded_outfit(client, rec, outfit):
    user, given = outfit
    files = [("photos", (f"{i}.png", png_bytes(rec.garment_image(g)), "image/png"))
             for i, g in enumerate(given["garments"])]
    page = client.post(f"/users/{user}/score", files=files)
    assert page.status_code == 200 and 'id="scored"' in page.text
    assert f"{float(rec.score(user, [tuple(given['garments'])])[0]):.3f}" in page.text
    assert 'id="upload-form"' in client.get(f"/users/{user}").text


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """Starlette spools large uploads to tempfile's folder: point it at an empty folder to watch."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def bad_uploads(rec):
    size = rec.model.images.image_size
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (1100, 1100, 3), dtype=np.uint8)  # > 1 MiB as PNG: spooled to disk
    return [
        ("text file", [("photos", ("a.png", b"hello, not an image", "image/png"))], "not a readable image"),
        ("type", [("photos", ("a.gif", png_bytes(np.zeros((8, 8, 3), np.uint8), "GIF"), "image/gif"))], "has type"),
        ("real type", [("photos", ("a.png", png_bytes(np.zeros((8, 8, 3), np.uint8), "BMP"), "image/png"))],
         "is a BMP image"),
        ("pixels", [("photos", ("a.png", png_bytes(np.zeros((600, 600, 3), np.uint8)), "image/png"))],
         "more than 250,000"),
        ("bytes", [("photos", ("a.png", png_bytes(noise), "image/png"))], "larger than 2 MiB"),
        ("count", [("photos", (f"{i}.png", png_bytes(np.zeros((size, size, 3), np.uint8)), "image/png"))
                   for i in range(5)], "at most 4"),
        ("empty", [("photos", ("a.png", b"", "image/png"))], "empty"),
    ]


def test_bad_uploads_are_400_with_what_was_wrong_and_nothing_stays_on_disk(client, rec, outfit, temp_dir):
    user, _ = outfit
    for name, files, phrase in bad_uploads(rec):
        response = client.post(f"/api/users/{user}/score/upload", files=files)
        assert response.status_code == 400, (name, response.text)
        error = response.json()["error"]
        assert phrase in error["what"] and error["where"].startswith("photos") and error["fix"], (name, error)
        page = client.post(f"/users/{user}/score", files=files)
        assert page.status_code == 400 and phrase in page.text and "text/html" in page.headers["content-type"], name
    good = png_bytes(np.random.default_rng(1).integers(0, 255, (480, 480, 3), dtype=np.uint8))
    assert len(good) > 2**19
    assert client.post(f"/api/users/{user}/score/upload", files=[("photos", ("g.png", good, "image/png"))]
                       ).status_code == 200
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("method, url, body, status, phrase", [
    ("get", "/api/users/no-such-user/ranked", None, 404, "Unknown user"),
    ("get", "/api/users/USER/ranked?k=0", None, 400, "malformed request"),
    ("get", "/api/users/USER/composed?fixed=top", None, 400, "is not CATEGORY=GARMENT"),
    ("get", "/api/new?liked=no-such-outfit", None, 404, "Unknown outfit"),
    ("get", "/api/new?liked=OUTFIT&strategy=best", None, 400, "unknown strategy"),
    ("post", "/api/users/USER/score", {"outfits": [["no-such-garment"]]}, 404, "Unknown garment"),
    ("post", "/api/users/USER/score", {"outfits": "x"}, 400, "malformed request"),
    ("get", "/api/no/such/route", None, 404, "No such page"),
])
def test_api_errors_are_json_with_what_where_fix(client, rec, method, url, body, status, phrase):
    user = rec.users()[0]
    url = url.replace("USER", user).replace("OUTFIT", rec.known_outfits(user)[0])
    response = getattr(client, method)(url, **({"json": body} if body is not None else {}))
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert phrase.lower() in error["what"].lower() and error["status"] == status and "where" in error and "fix" in error


def test_home_page_thumbnails_search_and_new_user_picker(client, rec):
    home = client.get("/").text
    top = rec.rank(rec.users()[0], k=1)[0]
    assert all(f"/images/{g}.png" in home for g in top["garments"])
    wanted = rec.users()[-1]
    found = client.get("/", params={"q": wanted}).text
    assert f'href="/users/{wanted}"' in found
    outfit = rec.outfit_tokens[-1]
    picked = client.get("/new", params={"q": outfit}).text
    assert f'name="liked" value="{outfit}"' in picked and "page 1 of 1" in picked
    garment = rec.outfit(outfit)["garments"][0]
    shown = re.findall(r'name="liked" value="([^"]+)"', client.get("/new", params={"q": garment}).text)
    assert shown and all(garment in rec.outfit(o)["garments"] for o in shown)
    later = client.get("/new", params={"page": 2, "liked": [rec.outfit_tokens[1]]}).text
    assert f'value="{rec.outfit_tokens[9]}"' in later  # 8 per page in this client: the 9th outfit on page 2
    assert f'<input type="hidden" value="{rec.outfit_tokens[1]}" name="liked">' in later  # kept while paging


def test_each_request_is_logged(client, rec, caplog):
    with caplog.at_level(logging.INFO, logger="recbole_outfit.serve"):
        client.get(f"/images/{rec.garment_tokens[1]}.png")
        client.get("/api/users/no-such-user/ranked")
    lines = [r.getMessage() for r in caplog.records if r.name == "recbole_outfit.serve"]
    assert any(line.startswith(f"GET /images/{rec.garment_tokens[1]}.png 200 ") and line.endswith(" ms")
               for line in lines)
    assert any(line.startswith("GET /api/users/no-such-user/ranked 404 ") for line in lines)


def test_images_do_not_wait_behind_a_slow_model_call(rec, monkeypatch):
    """A user page whose model call takes 3 s; an image asked for meanwhile answers at once (the page used to hold
    one lock for both)."""
    started = threading.Event()
    original = rec.rank

    def slow_rank(*args, **kwargs):
        started.set()
        time.sleep(3)
        return original(*args, **kwargs)

    app = create_app(rec, k=2, choices=4)
    monkeypatch.setattr(rec, "rank", slow_rank)
    user, garment = rec.users()[0], rec.garment_tokens[2]
    with TestClient(app) as client:
        slow = threading.Thread(target=client.get, args=(f"/users/{user}",))  # the page; the API waits alike
        slow.start()
        assert started.wait(30)
        before = time.monotonic()
        response = client.get(f"/images/{garment}.png")
        waited = time.monotonic() - before
        assert slow.is_alive()  # the model call was still running
        slow.join()
    assert response.status_code == 200 and waited < 1.5, waited


def test_a_taken_port_is_refused_before_loading(checkpoint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "recbole_outfit.serve", "--checkpoint", checkpoint,
                               "--port", str(port)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": REPO})
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr and "Traceback" not in done.stderr
    assert "loading" not in done.stdout and "serving" not in done.stdout
    assert time.monotonic() - started < 60
