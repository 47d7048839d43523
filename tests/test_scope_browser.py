"""The scope picker in a real browser: a question asked only about one document cites only that document.

The index holds the shipped corpus plus a second folder (``tests/scoped_corpus.py``). Unscoped, the
question about OpenAI's COO is answered from another article than the one picked next; with that
one picked beside the question, the answer still comes, and every source card names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, suite_chroma_env
from scoped_corpus import scoped_services
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_ui_browser import REPO, browser, requested_hosts  # noqa: F401  (the browser fixture)

from assistant.services import Services
from assistant.web.app import build_app, launch_options

pytestmark = [pytest.mark.server, pytest.mark.browser, pytest.mark.slow]

QUESTION = "Who is OpenAI's COO?"
PICKED = "001_bfcfb1f07bcdb431.txt"
SCREENSHOT = REPO / "test-output" / "ui-scope.png"  # git-ignored


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    base = tmp_path_factory.mktemp("scope-ui")
    return scoped_services(base, embedding_cache, suite_chroma_env(request, "scope-ui"))


@pytest.fixture(scope="module")
def url(services: Services) -> Iterator[str]:
    app = build_app(services)
    app.launch(**launch_options(services.settings, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url.rstrip("/")  # type: ignore[union-attr]
    finally:
        app.close()


def ask(driver: WebDriver, wait: WebDriverWait, question: str, answers_before: int) -> WebElement:
    """Type ``question``, submit it, and wait for its answer (the ``answers_before + 1``-th)."""
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#question textarea")))
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    footer = "#conversation .msg.bot .answer-foot"
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, footer)) > answers_before)
    return driver.find_elements(By.CSS_SELECTOR, "#conversation .msg.bot .answer-text")[-1]


def cited_documents(driver: WebDriver) -> list[str]:
    """The document id on each source card of the latest answer."""
    metas = driver.find_elements(By.CSS_SELECTOR, "#sources-panel .src-group:not([hidden]) .src-card .src-meta")
    return [meta.text.split(" · ")[0] for meta in metas]


def test_a_scoped_question_in_the_ui_cites_only_the_scope(browser: WebDriver, url: str, tmp_path: Path) -> None:  # noqa: F811
    driver = browser
    wait = WebDriverWait(driver, 180)
    driver.get(url)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status-line"), "documents"))

    answer = ask(driver, wait, QUESTION, 0)
    assert "Lightcap" in answer.text
    unscoped = set(cited_documents(driver))
    assert unscoped and unscoped != {PICKED}, "unscoped, the answer cites other articles too"

    picker = driver.find_element(By.CSS_SELECTOR, "#scope input")
    picker.click()
    # the choices are every folder of the index, then every document
    options = "#scope [role=listbox] [role=option]"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, options))
    labels = [li.get_attribute("aria-label") for li in driver.find_elements(By.CSS_SELECTOR, options)]
    assert {"contracts/**", "contracts/2024/**", "recipes/**", "sky/**", PICKED, "sky/moon.txt"} <= set(labels)
    picker.send_keys(PICKED[:12])  # the menu filters as one types
    option = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f'{options}[aria-label="{PICKED}"]')))
    option.click()
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#scope"), PICKED))
    picker.send_keys(Keys.ESCAPE)  # close the menu
    wait.until(ec.invisibility_of_element_located((By.CSS_SELECTOR, "#scope [role=listbox]")))

    answer = ask(driver, wait, QUESTION, 1)
    assert answer.find_elements(By.CSS_SELECTOR, "a.cite")  # answered (with citations), not refused
    scoped = cited_documents(driver)
    assert scoped and set(scoped) == {PICKED}, scoped

    for target in (tmp_path / "ui-scope.png", SCREENSHOT):
        target.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(target))
    assert "Traceback" not in driver.page_source
    assert requested_hosts(driver) <= {"127.0.0.1", "localhost"}
