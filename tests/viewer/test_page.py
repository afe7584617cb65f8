"""The viewer page's content and safety: hostile bundle text is escaped, nothing is loaded."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from certifiers.bundle import encode_bundle
from proxy.assurance.routes import wants_html
from proxy.cli import main
from proxy.viewer.page import card_page
from tests.certifiers.examples import bundle_of, clean_scenario, paper_64_scenario
from tests.certifiers.test_joint import joint_scenario

HOSTILE = '<script>alert("x")</script><img src=http://evil.example/p.png onerror=alert(1)>'


def _hostile_bundle() -> bytes:
    """A valid bundle whose answer, claim texts, evidence id and source are markup."""
    scenario = clean_scenario(
        answer=f"{HOSTILE} Paris is the capital of France.",
        claims=[
            {"text": f"{HOSTILE} Paris is the capital of France.", "weight": "1"},
            {"text": "Paris lies on the Seine.", "weight": "1"},
            {"text": "Paris has 2.1 million people.", "weight": "1"},
        ],
        evidence=[
            {"id": HOSTILE, "text": "x", "source": f"{HOSTILE}<style>*{{display:none}}</style>"},
            {"id": "e2", "text": "y"},
        ],
    )
    return encode_bundle(bundle_of(scenario))


def test_hostile_bundle_text_is_escaped_and_nothing_can_load() -> None:
    """Markup in any bundle string appears as text; the page has no script, link or remote URL."""
    page = card_page(_hostile_bundle())
    assert "<script" not in page
    assert "<img" not in page
    assert page.count("<style>") == 1
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [tag for tag in tags if re.search(r"\s(src|href|on\w+)\s*=", tag)]
    assert "default-src &#x27;none&#x27;" in page  # the CSP meta tag, escaped as an attribute


def test_a_tampered_bundle_is_shown_as_invalid_with_its_failures() -> None:
    """The page re-verifies now: an edited mass makes it say INVALID and name the obligation."""
    bundle = bundle_of(paper_64_scenario())
    card = msgspec.structs.replace(bundle.card, supported_mass=Fraction(1, 7))
    page = card_page(encode_bundle(msgspec.structs.replace(bundle, card=card)))
    assert ">INVALID<" in page
    assert "card.supported_mass" in page


def test_garbage_gets_a_page_saying_it_cannot_be_read() -> None:
    """Bytes that are not a bundle still give a page, never a traceback."""
    page = card_page(b"{not json")
    assert "INVALID" in page
    assert "cannot be read" in page


def test_dropped_claims_name_their_reason_and_the_residue_is_marked() -> None:
    """Paper §6.4: c₂ (requires c₄) and c₄ (contradicted) are struck through with reasons."""
    page = card_page(encode_bundle(bundle_of(paper_64_scenario())))
    assert 'id="claim-2" data-status="supported" data-emitted="false"><del>' in page
    assert "dropped: requires:3" in page
    assert "dropped: ground:contradicted" in page
    assert 'id="claim-1" data-status="supported" data-emitted="true">' in page


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("text/html", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("application/json, text/html", False),
        ("text/html;q=0.5, application/json", False),
        ("text/html;q=bogus", False),
    ],
)
def test_json_stays_the_default_unless_html_is_preferred(accept: str, html: bool) -> None:
    """Only an `Accept` that ranks text/html above application/json gets the page."""
    assert wants_html(accept) is html


def test_view_command_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`assurance view BUNDLE -o card.html` writes the page and prints its path; bad input: 2."""
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(encode_bundle(bundle_of(paper_64_scenario())))
    out = tmp_path / "card.html"
    assert main(["view", str(bundle), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert 'id="verdict"' in out.read_text(encoding="utf-8")
    assert main(["view", str(tmp_path / "missing.json"), "-o", str(out)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_joint_column_is_named_and_its_citation_rule_explained() -> None:
    page = card_page(encode_bundle(bundle_of(joint_scenario())))
    assert "<code>its chunks together (joint)</code>: entail 0.900" in page
    assert "NLI aggregation joint" in page
    assert "only that judgment supports cites them all" in page
