"""The card viewer as a person sees it: served by the proxy, rendered by headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp
from openai import AsyncOpenAI

from proxy.commands.demo import ANSWER, EVIDENCE_TEXTS, QUESTION
from tests.assurance.clinical import DELETE_SCHEMA, headers, tool_call
from tests.assurance.conftest import assured_proxy
from tests.fakes.openai_server import FakeOpenAIServer, JsonReply, chat_completion
from tests.viewer.browser import Element, rendered_dom, screenshot

README_SCREENSHOT = Path(__file__).parents[2] / "docs" / "card-viewer.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _by_id(elements: list[Element], ident: str) -> Element:
    found = [e for e in elements if e.attrs.get("id") == ident]
    assert len(found) == 1, f"expected one element with id {ident!r}, got {len(found)}"
    return found[0]


async def _viewer_page(fake_upstream: FakeOpenAIServer, tmp_path: Path) -> tuple[str, str]:
    """Certify the demo's clinical answer plus two tool calls; GET its page as a browser would."""
    calls = [
        tool_call("call_archive", "/sandbox/notes/old.md"),
        tool_call("call_wipe", "/etc/passwd"),
    ]
    fake_upstream.script(JsonReply(chat_completion(ANSWER, tool_calls=calls)))
    evidence: list[dict[str, Any]] = [
        {"id": key, "text": text, "source": key, "retrieved_at": int(time.time()) - 3600}
        for key, text in EVIDENCE_TEXTS.items()
    ]
    oracles = {"nli": {"kind": "lexical", "aggregation": "per_chunk"}}
    async with assured_proxy(fake_upstream.base_url, tmp_path, oracles=oracles) as proxy:
        async with AsyncOpenAI(base_url=proxy.base_url, api_key="k", max_retries=0) as client:
            completion = await client.chat.completions.create(
                model="gpt-fake",
                messages=[{"role": "user", "content": QUESTION}],
                extra_headers=headers("enforce"),
                extra_body={
                    "assurance": {
                        "evidence": evidence,
                        "actions": {"schemas": [DELETE_SCHEMA], "state": {"counters": {}}},
                    }
                },
            )
        handle = (completion.model_extra or {})["assurance"]["replay_handle"]
        url = f"{proxy.base_url}/assurance/cards/{handle}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"Accept": "text/html,*/*;q=0.8"}) as response,
        ):
            assert response.status == 200
            assert response.content_type == "text/html"
            assert "default-src 'none'" in response.headers["Content-Security-Policy"]
            return await response.text(), handle


async def test_the_rendered_page_shows_verdict_claims_and_blocked_call(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Chromium's DOM holds the verdict, each claim with its status in text, the blocked call."""
    html, handle = await _viewer_page(fake_upstream, tmp_path)
    page = tmp_path / "card.html"
    page.write_text(html, encoding="utf-8")
    dom = rendered_dom(page, tmp_path / "profile")
    assert _by_id(dom, "verdict").text.startswith("residue")
    assert _by_id(dom, "decision").text == "downgrade"
    assert _by_id(dom, "verification").text == "VALID"
    statuses = ["supported", "supported", "contradicted", "supported"]
    for number, status in enumerate(statuses, start=1):
        claim = _by_id(dom, f"claim-{number}")
        assert claim.attrs["data-status"] == status
        assert f"c{number}: {status}" in claim.text  # the status is written, not only coloured
    dropped = _by_id(dom, "claim-3")
    assert any(child.tag == "del" for child in dropped.children)
    assert "dropped: ground:contradicted" in dropped.text
    assert "patient-chart" in _by_id(dom, "claim-2").text
    rows = [e.text for e in dom if e.tag == "tr"]
    blocked = [row for row in rows if "call_wipe" in row]
    assert len(blocked) == 1
    assert "blocked" in blocked[0]
    assert "path_in_sandbox" in blocked[0]
    assert "/etc/passwd" in blocked[0]
    assert any("call_archive" in row and "allowed" in row for row in rows)
    fda = [row for row in rows if row.startswith("fda-label")]
    assert len(fda) == 1
    assert "c3: entail 0.000, contradict 1.000" in fda[0]
    assert "c4: entail 1.000, contradict 0.000" in fda[0]
    assert handle in "".join(e.text for e in dom if e.tag == "code")
    assert not [e for e in dom if e.tag in ("script", "img", "link", "iframe")]


async def test_the_page_renders_readably_on_a_phone_and_a_desktop(
    fake_upstream: FakeOpenAIServer, tmp_path: Path
) -> None:
    """Screenshots at 390 and 1000 px wide are real PNGs; the desktop one is the README's."""
    html, _ = await _viewer_page(fake_upstream, tmp_path)
    page = tmp_path / "card.html"
    page.write_text(html, encoding="utf-8")
    phone, desktop = tmp_path / "phone.png", tmp_path / "desktop.png"
    screenshot(page, tmp_path / "profile", phone, width=390, height=2400)
    screenshot(page, tmp_path / "profile", desktop, width=1000, height=2500)
    for shot, width in ((phone, 390), (desktop, 1000)):
        data = shot.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert int.from_bytes(data[16:20], "big") == width
    if os.environ.get("ASSURANCE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(desktop, README_SCREENSHOT)
        shutil.copyfile(phone, README_SCREENSHOT.with_name("card-viewer-phone.png"))
