"""The page in a real headless browser (Debian's chromium and chromium-driver through selenium), as a person
uses it: open a user, see the recommended outfits' images load, upload photos of an outfit and see its score,
search the new-user picker, click outfits in it and see recommendations appear.

Chromium is required: ``.ci/run`` installs it with apt-get when missing. Without it this test fails with a
message saying so, unless ``RECBOLE_OUTFIT_SKIP_BROWSER=1`` asks to skip it.
"""

import os
import shutil
import socket
import threading
import time

import pytest

from trained_fixture import checkpoint, rec  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a real browser, over a model trained for the test

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SKIP = os.environ.get("RECBOLE_OUTFIT_SKIP_BROWSER") == "1"
WAIT = 120  # seconds: composing outfits on a loaded 2-core machine takes a while


def require_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return
    message = (f"the browser test needs {', '.join(missing)}: apt-get install -y chromium chromium-driver, "
               f"pip install -e '.[test]' (.ci/run does both); RECBOLE_OUTFIT_SKIP_BROWSER=1 skips this test")
    if SKIP:
        pytest.skip(message)
    pytest.fail(message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(rec):
    """The app served by uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    require_browser()
    import uvicorn

    from recbole_outfit.serve.app import create_app

    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(rec, k=3, choices=6), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not uv.started:
        assert thread.is_alive() and time.time() < deadline, "the server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,1400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def loaded_images(driver, selector):
    """(count, broken) of the images matching ``selector`` once each finished loading."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = f"return Array.from(document.querySelectorAll({selector!r}))"
    WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(script + ".every(i => i.complete)"))
    images = driver.execute_script(script + ".map(i => [i.src, i.naturalWidth])")
    return len(images), [src for src, width in images if not width]


def test_a_person_opens_a_user_and_then_tries_the_new_user_view(server, browser, rec, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    links = browser.find_elements(By.CSS_SELECTOR, "a.user-link")
    assert [a.text for a in links] == rec.users()
    links[0].click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "composed")))
    assert browser.current_url == f"{server}/users/{rec.users()[0]}"
    for section in ("recommended", "composed", "training"):
        count, broken = loaded_images(browser, f"#{section} img")
        assert count > 0 and not broken, (section, broken)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#recommended .outfit")) == 3
    browser.save_screenshot(str(tmp_path / "user.png"))

    # upload photos of one of the user's outfits (the stored pixels as PNG files): its score appears
    from PIL import Image

    given = rec.outfit(rec.known_outfits(rec.users()[0])[0])
    files = []
    for i, garment in enumerate(given["garments"]):
        Image.fromarray(rec.garment_image(garment)).save(tmp_path / f"photo{i}.png")
        files.append(str(tmp_path / f"photo{i}.png"))
    browser.find_element(By.ID, "photos").send_keys("\n".join(files))
    browser.find_element(By.ID, "score").click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "scored")))
    count, broken = loaded_images(browser, "#scored img")
    assert count == len(files) and not broken
    score = browser.find_element(By.CSS_SELECTOR, "#scored .score").text
    assert score == f"{float(rec.score(rec.users()[0], [tuple(given['garments'])])[0]):.3f}"

    # the picker: search the catalogue for one outfit by id
    browser.find_element(By.LINK_TEXT, "New user").click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "choices")))
    wanted = rec.outfit_tokens[-1]
    browser.find_element(By.ID, "picker-q").send_keys(wanted)
    browser.find_element(By.ID, "search").click()
    WebDriverWait(browser, WAIT).until(lambda d: "match" in d.find_element(By.ID, "found").text)
    assert [c.get_attribute("data-outfit") for c in browser.find_elements(By.CSS_SELECTOR, "label.choice")] == [wanted]

    browser.find_element(By.LINK_TEXT, "New user").click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "choices")))
    assert not browser.find_elements(By.ID, "results")
    cards = browser.find_elements(By.CSS_SELECTOR, "label.choice")
    assert len(cards) == 6
    clicked = [cards[0].get_attribute("data-outfit"), cards[2].get_attribute("data-outfit")]
    cards[0].click()
    cards[2].click()
    boxes = browser.find_elements(By.CSS_SELECTOR, "label.choice input")
    assert [b.is_selected() for b in boxes] == [True, False, True, False, False, False]
    browser.find_element(By.ID, "recommend").click()
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "results")))
    shown = browser.find_elements(By.CSS_SELECTOR, "#results .outfit")
    assert len(shown) == 3
    count, broken = loaded_images(browser, "#results img")
    assert count >= 3 and not broken
    expected = [r["outfit"] for r in rec.cold_user(clicked, k=3)]
    labels = [s.find_element(By.CSS_SELECTOR, ".meta span").text for s in shown]  # "#1 o123"
    assert [label.split()[-1] for label in labels] == expected
    browser.save_screenshot(str(tmp_path / "new.png"))
    if os.environ.get("RECBOLE_OUTFIT_SCREENSHOTS"):  # keep the screenshots (a folder to copy them to)
        for name in ("user.png", "new.png"):
            shutil.copy(tmp_path / name, os.path.join(os.environ["RECBOLE_OUTFIT_SCREENSHOTS"], name))
