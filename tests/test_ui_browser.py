"""The web UI in a real browser: headless Chromium (Debian's) driven by Selenium through chromedriver."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_ui import QUESTION, ui_services, ui_url  # noqa: F401  (module-scoped fixtures)

pytestmark = [pytest.mark.server, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "test-output" / "ui.png"  # git-ignored
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """A fresh headless Chromium with its own profile; network requests are logged."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("headless Chromium is not installed: apt-get install -y chromium chromium-driver")

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requested_hosts(driver: WebDriver) -> set[str]:
    """Hosts of every request the page made (from Chromium's performance log)."""
    import json

    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http:", "https:", "ws:", "wss:")):
                hosts.add(urlsplit(url).hostname or "")
    return hosts


def test_question_answer_citation_and_highlighted_quote(
    browser: WebDriver,
    ui_url: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    driver = browser
    wait = WebDriverWait(driver, 180)
    driver.get(ui_url)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#question textarea")))
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status-line"), "documents"))
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#conversation .msg.bot .answer-foot")))
    answer = driver.find_element(By.CSS_SELECTOR, "#conversation .msg.bot .answer-text")
    assert "Lightcap" in answer.text
    marker = answer.find_element(By.CSS_SELECTOR, "a.cite")
    assert marker.text == "[1]"

    marker.click()
    card = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#sources-panel #src-0-1")))
    quote = card.find_element(By.CSS_SELECTOR, "mark")
    assert quote.is_displayed() and len(quote.text) > 20
    assert quote.text.split()[0] in answer.text or "Lightcap" in card.text
    assert "000_9054f5f7106c5075.txt" in card.text
    viewer = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#evidence-viewer .ev-backdrop")))
    assert "000_9054f5f7106c5075.txt" in viewer.text  # the marker opened the evidence viewer too (closed here)
    viewer.find_element(By.CSS_SELECTOR, ".ev-close").click()
    wait.until(ec.invisibility_of_element(viewer))

    copy = driver.find_element(By.CSS_SELECTOR, "#conversation button.copy")
    copy.click()
    wait.until(lambda _: copy.text == "Copied")

    for target in (tmp_path / "ui.png", SCREENSHOT):
        target.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(target))

    page = driver.page_source
    assert "Traceback" not in page
    assert requested_hosts(driver) <= {"127.0.0.1", "localhost"}, "the page fetched something from elsewhere"
