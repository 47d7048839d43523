"""Kept conversations in a real browser: a conversation survives a restart of `assistant ui`.

The UI runs as the real command in its own process (twice, over the same data directory); headless
Chromium asks, the process is stopped and started again, and the conversation is reopened from the
list with its answer and sources; then it is renamed and deleted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import free_port
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from test_ui_browser import REPO, browser, requested_hosts  # noqa: F401  (the browser fixture)
from test_viewer_browser import opened_viewer
from typer.testing import CliRunner

from assistant.cli.app import app
from assistant.conversations.store import ConversationStore

pytestmark = [pytest.mark.server, pytest.mark.browser]

QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"
CITED = "000_9054f5f7106c5075.txt"
SCREENSHOT = REPO / "test-output" / "conversations.png"  # git-ignored


@contextmanager
def assistant_ui(port: int) -> Iterator[str]:
    """``assistant ui`` in its own process on ``port`` (the test's environment); stopped after."""
    command = [sys.executable, "-m", "assistant", "ui", "--port", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as server:
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, f"assistant ui exited: {server.stderr.read() if server.stderr else ''}"
                assert time.monotonic() < deadline, "assistant ui did not start within 120 s"
                time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def listed(driver: WebDriver) -> list[str]:
    """The labels of the conversation list (one placeholder label while the list is being re-rendered)."""
    try:
        return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#conversation-list label")]
    except StaleElementReferenceException:
        return ["(re-rendering)"]


def test_a_conversation_survives_a_restart_of_the_ui(
    browser: WebDriver,  # noqa: F811  (the fixture imported above)
    corpus: Path,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "embedded")
    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    driver, wait = browser, WebDriverWait(browser, 180)

    with assistant_ui(free_port()) as url:
        driver.get(url)
        box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#question textarea")))
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status-line"), "documents"))
        box.send_keys(QUESTION)
        box.send_keys(Keys.ENTER)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#conversation .msg.bot .answer-foot")))
        assert "Lightcap" in driver.find_element(By.CSS_SELECTOR, "#conversation .answer-text").text
        wait.until(lambda d: any(QUESTION in label for label in listed(d)))
        assert "1 question" in listed(driver)[0]
        export = driver.find_element(By.CSS_SELECTOR, "#export-conversation-json")
        wait.until(lambda _: export.is_enabled())

    kept = ConversationStore(clean_env).list()
    assert [c.title for c in kept] == [QUESTION] and kept[0].turns == 1, "saved in the data directory"

    with assistant_ui(free_port()) as url:
        driver.get(url)
        wait.until(lambda d: any(QUESTION in label for label in listed(d)))
        assert "Lightcap" not in driver.find_element(By.CSS_SELECTOR, "#conversation").text, "a fresh page"
        driver.find_element(By.CSS_SELECTOR, "#conversation-list label").click()
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#conversation .answer-text"), "Lightcap"))
        answer = driver.find_element(By.CSS_SELECTOR, "#conversation .msg.bot .answer-text")
        assert driver.find_element(By.CSS_SELECTOR, "#conversation .msg.user").text.strip().startswith("Chi ha")
        marker = answer.find_element(By.CSS_SELECTOR, "a.cite")
        assert marker.text == "[1]"
        card = driver.find_element(By.CSS_SELECTOR, "#sources-panel #src-0-1")
        assert CITED in card.get_attribute("textContent")  # type: ignore[operator]
        assert "Lightcap" in card.find_element(By.CSS_SELECTOR, "mark").get_attribute("textContent")  # type: ignore[operator]
        wait.until(lambda _: driver.find_element(By.CSS_SELECTOR, "#export-answer-md").is_enabled())
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))

        # the evidence viewer opens on the reopened answer's quote
        driver.find_element(By.CSS_SELECTOR, "#conversation .msg.bot .answer-text a.cite").click()
        viewer = opened_viewer(driver)
        assert CITED in viewer.find_element(By.CSS_SELECTOR, ".ev-where").text
        assert "Lightcap" in viewer.find_element(By.CSS_SELECTOR, ".ev-text mark.ev-quote").text
        assert viewer.find_element(By.CSS_SELECTOR, ".ev-status").get_attribute("data-status") == "unchanged"
        viewer.find_element(By.CSS_SELECTOR, ".ev-close").click()
        wait.until(lambda _: not viewer.is_displayed())

        title = driver.find_element(By.CSS_SELECTOR, "#conversation-title textarea, #conversation-title input")
        title.clear()
        title.send_keys("Sora, lanciato presto")
        driver.find_element(By.CSS_SELECTOR, "#rename-conversation").click()
        wait.until(lambda d: any(label.startswith("Sora, lanciato presto") for label in listed(d)))
        assert ConversationStore(clean_env).list()[0].title == "Sora, lanciato presto"

        driver.find_element(By.CSS_SELECTOR, "#delete-conversation").click()
        wait.until(lambda d: listed(d) == [])
        assert "Lightcap" not in driver.find_element(By.CSS_SELECTOR, "#conversation").text
        assert ConversationStore(clean_env).list() == []
        assert "Traceback" not in driver.page_source
        assert requested_hosts(driver) <= {"127.0.0.1", "localhost"}


def test_with_a_login_the_conversations_are_the_users_own(
    browser: WebDriver,  # noqa: F811  (the fixture imported above)
    corpus: Path,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "embedded")
    assert CliRunner().invoke(app, ["ingest", str(corpus), "--quiet"]).exit_code == 0
    store = ConversationStore(clean_env)
    theirs = store.create(title="kept on this machine, without a login")  # user "local"
    monkeypatch.setenv("ASSISTANT_UI__USERNAME", "alice")
    monkeypatch.setenv("ASSISTANT_UI__PASSWORD", "wonderland-42")
    driver, wait = browser, WebDriverWait(browser, 180)

    with assistant_ui(free_port()) as url:
        driver.get(url)
        user = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "input[type=text], input:not([type])")))
        user.send_keys("alice")
        password = driver.find_element(By.CSS_SELECTOR, "input[type=password]")
        password.send_keys("wonderland-42")
        password.send_keys(Keys.ENTER)
        box = wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#question textarea")))
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#status-line"), "documents"))
        assert listed(driver) == [], "the conversations kept without a login are not alice's"
        box.send_keys(QUESTION)
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: any(QUESTION in label for label in listed(d)))
        assert not any("without a login" in label for label in listed(driver))

    assert [c.title for c in store.list("alice")] == [QUESTION]
    assert [c.id for c in store.list()] == [theirs.id], "the local list is unchanged"
