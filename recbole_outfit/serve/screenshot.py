"""A screenshot of a page of the running app, taken by headless Chromium (how ``results/page.png`` was made).

    python -m recbole_outfit.serve --checkpoint PATH &      # the page, on 127.0.0.1:8000
    python -m recbole_outfit.serve.screenshot --url http://127.0.0.1:8000/users/3 --out results/page.png

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (the ``test`` extra). It waits
until every image of the page has loaded. A missing browser or an unreachable page is one paragraph, exit 2.
"""

import argparse
import os
import sys
import tempfile

from recbole_outfit.errors import ConfigError, exits_2_on_user_error

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage")


def screenshot(url, out, width=1200, height=1600, wait=180):
    """Load ``url`` in headless Chromium, wait for its images, save a PNG of ``width`` x ``height`` to ``out``."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError as error:
        raise ConfigError("screenshots need selenium", where="screenshot", fix="pip install selenium") from error
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        raise ConfigError(f"{', '.join(missing)} missing", where="screenshot",
                          fix="apt-get install -y chromium chromium-driver")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + (f"--window-size={width},{height}", f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_page_load_timeout(wait)
            driver.get(url)
            WebDriverWait(driver, wait).until(lambda d: d.execute_script(
                "return Array.from(document.images).every(i => i.complete)"))
            folder = os.path.dirname(os.path.abspath(out))
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{os.path.basename(out)}.tmp-{os.getpid()}.png")
            driver.save_screenshot(tmp)
            os.replace(tmp, out)  # published whole (the driver writes the file itself)
        except WebDriverException as error:
            raise ConfigError(f"could not load {url} ({error.msg or type(error).__name__})", where="--url",
                              fix="start the page first (python -m recbole_outfit.serve --checkpoint PATH)") from error
        finally:
            driver.quit()
    return out


@exits_2_on_user_error
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m recbole_outfit.serve.screenshot", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1600)
    args = parser.parse_args(argv)
    print(f"written {screenshot(args.url, args.out, args.width, args.height)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
