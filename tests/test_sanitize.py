"""Model output made safe to show: no links of any kind, bare domains included, ordinary text untouched."""

from __future__ import annotations

import pytest

from assistant.text.sanitize import sanitize_model_text


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("See canary-7f3a.example/collect?q=secret now.", "See canary-7f3a[.]example now."),
        ("Details: evil.example/?c=Brad%20Lightcap", "Details: evil[.]example"),
        ("Open docs.evil.example:8443/x then.", "Open docs[.]evil[.]example then."),
        ("Write to leak@exfil.com today.", "Write to leak@exfil[.]com today."),
        ("Visit OPENAI.COM for more.", "Visit OPENAI[.]COM for more."),
        ("Visit evil.example.", "Visit evil[.]example."),
    ],
)
def test_bare_domains_lose_their_path_and_cannot_be_auto_linked(written: str, shown: str) -> None:
    assert sanitize_model_text(written) == shown


@pytest.mark.parametrize(
    "text",
    [
        "Sora fu presentato, e.g. a Hollywood, i.e. a Los Angeles.",
        "Claude 3.5 Sonnet e qwen2.5:3b superano GPT-4 del 12.5%.",
        "Lo disse Sora. Poi arrivò Runway ML.",
        "Node.js, llama.cpp, config.toml e 000_9054f5f7106c5075.txt non sono link.",
        "Il modello è pronto (vedi sez. 2.1) [1].",
    ],
)
def test_ordinary_dotted_text_is_untouched(text: str) -> None:
    assert sanitize_model_text(text) == text


def test_urls_links_and_images_still_go_and_markers_stay() -> None:
    text = "Vedi [il report](https://x.example/a) [1](http://y) [Passage 2](#p) ![x](http://img) www.evil.example/z"
    assert sanitize_model_text(text) == "Vedi il report [1] [Passage 2]"
