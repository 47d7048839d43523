"""The evidence viewer in real headless Chromium: ask, click a marker, see the quote highlighted at its page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port, suite_chroma_env
from locator_files import build_located_services
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_ui_browser import browser, requested_hosts  # noqa: F401  (the fixture)

from assistant.services import Services
from assistant.web.app import build_app, launch_options

pytestmark = [pytest.mark.server, pytest.mark.browser]

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "test-output"  # git-ignored
FEE_QUESTION = "How much is the yearly membership fee of the Lumen cooperative?"
COST_QUESTION = "Combien coûte le prêt de vélo par mois ?"


@pytest.fixture(scope="module")
def viewer_app(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Services]]:
    """The UI served on a free loopback port over an index of a multi-page PDF, a Markdown guide and more."""
    services, _ = build_located_services(tmp_path_factory.mktemp("viewer"), suite_chroma_env(request, "viewer"))
    app = build_app(services)
    app.launch(**launch_options(services.settings, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url.rstrip("/"), services  # type: ignore[union-attr]
    finally:
        app.close()


def ask(driver: WebDriver, url: str, question: str) -> WebElement:
    """Open the page, ask ``question`` and wait for the finished answer."""
    wait = WebDriverWait(driver, 180)
    driver.get(url)
    box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#question textarea")))
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status-line"), "documents"))
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#conversation .msg.bot .answer-foot")))
    return driver.find_element(By.CSS_SELECTOR, "#conversation .msg.bot .answer-text")


def card_number(driver: WebDriver, word: str) -> str:
    """The number of the source card whose quote holds ``word``."""
    cards = driver.find_elements(By.CSS_SELECTOR, "#sources-panel .src-card")
    card = next(c for c in cards if word in c.find_element(By.CSS_SELECTOR, "mark").text)
    return card.find_element(By.CSS_SELECTOR, ".num").text


def opened_viewer(driver: WebDriver, previous: str | None = None) -> WebElement:
    """The viewer's dialog once it shows (a new opening when ``previous``, the last one's stamp, is given)."""

    def shown(_: WebDriver) -> WebElement | bool:
        for root in driver.find_elements(By.CSS_SELECTOR, "#evidence-viewer .ev-backdrop"):
            if root.is_displayed() and root.get_attribute("data-opened") != previous:
                return root
        return False

    return WebDriverWait(driver, 60).until(shown)  # type: ignore[return-value]


def in_view(driver: WebDriver, element: WebElement, scroller_css: str) -> bool:
    """Whether ``element`` is inside the visible part of its scrolling container."""
    return bool(
        driver.execute_script(
            "const e = arguments[0], box = e.closest(arguments[1]).getBoundingClientRect(),"
            " r = e.getBoundingClientRect(); return r.top >= box.top - 1 && r.bottom <= box.bottom + 1"
            " && r.height > 0;",
            element,
            scroller_css,
        )
    )


def save(driver: WebDriver, name: str, tmp_path: Path) -> None:
    for target in (tmp_path / name, OUTPUT / name):
        target.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(target))


def test_marker_opens_the_pdf_at_its_page_with_the_quote_boxed(
    browser: WebDriver,  # noqa: F811  (the fixture imported above)
    viewer_app: tuple[str, Services],
    tmp_path: Path,
) -> None:
    driver = browser
    url, _ = viewer_app
    answer = ask(driver, url, FEE_QUESTION)
    number = card_number(driver, "forty-two")
    marker = next(m for m in answer.find_elements(By.CSS_SELECTOR, "a.cite") if m.text == f"[{number}]")
    marker.click()

    viewer = opened_viewer(driver)
    assert "lumen-report.pdf" in viewer.find_element(By.CSS_SELECTOR, ".ev-where").text
    assert "p. 2" in viewer.find_element(By.CSS_SELECTOR, ".ev-where").text
    status = viewer.find_element(By.CSS_SELECTOR, ".ev-status")
    assert status.get_attribute("data-status") == "unchanged"
    quote = viewer.find_element(By.CSS_SELECTOR, ".ev-text mark.ev-quote")
    assert quote.text == "The yearly membership fee is forty-two euros."
    assert in_view(driver, quote, ".ev-text")
    page = viewer.find_element(By.CSS_SELECTOR, "figure.ev-page")
    assert page.get_attribute("data-page") == "2" and "Page 2 of 3" in page.text
    image = page.find_element(By.CSS_SELECTOR, "img")
    WebDriverWait(driver, 20).until(lambda _: driver.execute_script("return arguments[0].naturalWidth", image) > 0)
    assert str(image.get_attribute("src")).startswith("data:image/png;base64,")  # drawn here, fetched from nowhere
    box = page.find_element(By.CSS_SELECTOR, ".ev-box")
    assert box.is_displayed() and box.size["width"] > 50 and box.size["height"] > 5
    sheet = page.find_element(By.CSS_SELECTOR, ".ev-sheet").rect
    assert sheet["y"] + 0.05 * sheet["height"] < box.rect["y"] < sheet["y"] + 0.2 * sheet["height"]  # 2nd line
    save(driver, "viewer-pdf.png", tmp_path)

    viewer.find_element(By.CSS_SELECTOR, ".ev-close").click()
    WebDriverWait(driver, 10).until(lambda _: not viewer.is_displayed())
    assert "Traceback" not in driver.page_source
    assert requested_hosts(driver) <= {"127.0.0.1", "localhost"}, "the page fetched something from elsewhere"


def test_source_card_opens_the_markdown_at_its_heading_and_sees_a_change(
    browser: WebDriver,  # noqa: F811
    viewer_app: tuple[str, Services],
    tmp_path: Path,
) -> None:
    driver = browser
    url, services = viewer_app
    ask(driver, url, COST_QUESTION)
    number = card_number(driver, "douze")
    card = driver.find_element(By.CSS_SELECTOR, f"#sources-panel #src-0-{number}")
    assert "§ Guide du vélo › Procédure › Coût · line 11" in card.text  # the locator on the card
    card.find_element(By.CSS_SELECTOR, "a.num.cite").click()

    viewer = opened_viewer(driver)
    where = viewer.find_element(By.CSS_SELECTOR, ".ev-where").text
    assert "guide.md" in where and "§ Guide du vélo › Procédure › Coût · line 11" in where
    quote = viewer.find_element(By.CSS_SELECTOR, ".ev-text mark.ev-quote")
    assert quote.text == "Le prêt coûte douze euros par mois." and in_view(driver, quote, ".ev-text")
    assert "### Coût" in viewer.find_element(By.CSS_SELECTOR, ".ev-text").text  # its section around it
    assert not viewer.find_elements(By.CSS_SELECTOR, "figure.ev-page")
    save(driver, "viewer-md.png", tmp_path)
    stamp = viewer.get_attribute("data-opened")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)  # the close button has the focus
    WebDriverWait(driver, 10).until(lambda _: not viewer.is_displayed())

    info = services.document("guide.md")
    assert info is not None
    original = Path(info.path).read_text(encoding="utf-8")
    backup = tmp_path / "guide.md"
    shutil.copy(info.path, backup)
    try:
        Path(info.path).write_text("Mise à jour : une ligne ajoutée.\n\n" + original, encoding="utf-8")
        card = driver.find_element(By.CSS_SELECTOR, f"#sources-panel #src-0-{number}")
        card.find_element(By.CSS_SELECTOR, "a.num.cite").click()
        again = opened_viewer(driver, stamp)
        status = again.find_element(By.CSS_SELECTOR, ".ev-status")
        assert status.get_attribute("data-status") == "moved" and "now at characters" in status.text
        assert "line 13" in again.find_element(By.CSS_SELECTOR, ".ev-where").text
        assert again.find_element(By.CSS_SELECTOR, "mark.ev-quote").text == "Le prêt coûte douze euros par mois."
        save(driver, "viewer-md-moved.png", tmp_path)
    finally:
        shutil.copy(backup, info.path)
    assert requested_hosts(driver) <= {"127.0.0.1", "localhost"}
