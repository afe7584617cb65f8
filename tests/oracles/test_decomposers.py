"""Decomposer adapters: deterministic splitter and the LLM decomposer's strict parsing."""

from __future__ import annotations

import json

import pytest

from oracles.decomposers import LLMDecomposer, SentenceDecomposer
from oracles.errors import OracleOutputError, OracleTimeoutError, OracleUnavailableError
from oracles.text import content_tokens
from tests.oracles.fake_chat import FakeChat, data_sections

ANSWER = "Aspirin was first made in 1897. The usual dose is 22.5 mg; take it with food."


def _llm(
    script: str, *, delay_s: float = 0.0, timeout_s: float = 5.0
) -> tuple[LLMDecomposer, FakeChat]:
    chat = FakeChat(script, delay_s=delay_s)
    return LLMDecomposer(chat, model="gpt-x", upstream="main", timeout_s=timeout_s), chat


async def test_sentence_decomposer_returns_spans_weights_and_coverage() -> None:
    """Claims are answer slices with weight 1 whose content tokens cover the answer's."""
    result = await SentenceDecomposer().decompose(ANSWER, query=None)
    assert [c.text for c in result.claims] == [
        "Aspirin was first made in 1897.",
        "The usual dose is 22.5 mg;",
        "take it with food.",
    ]
    assert all(c.weight == 1.0 and c.span is not None for c in result.claims)
    assert all(ANSWER[c.span[0] : c.span[1]] == c.text for c in result.claims if c.span)
    covered = set().union(*(content_tokens(c.text) for c in result.claims))
    assert content_tokens(ANSWER) <= covered
    assert result.adapter == "sentences"


async def test_sentence_decomposer_is_deterministic() -> None:
    """Two runs give the same claims and digest; the query does not matter."""
    first = await SentenceDecomposer().decompose(ANSWER, query="a")
    second = await SentenceDecomposer().decompose(ANSWER, query="b")
    assert first == second


async def test_llm_decomposer_parses_claims() -> None:
    """A schema-conforming reply becomes claim records with weights and spans."""
    reply = json.dumps(
        {
            "claims": [
                {"text": "Aspirin was first made in 1897.", "weight": 2, "span": [0, 31]},
                {"text": "The usual dose is 22.5 mg."},
            ]
        }
    )
    decomposer, chat = _llm(reply)
    result = await decomposer.decompose(ANSWER, query="When?")
    assert [(c.text, c.weight, c.span) for c in result.claims] == [
        ("Aspirin was first made in 1897.", 2.0, (0, 31)),
        ("The usual dose is 22.5 mg.", 1.0, None),
    ]
    assert result.model == "gpt-x"
    assert chat.calls[0][0] == "gpt-x"
    assert data_sections(chat.calls[0][1]) == {"question": "When?", "answer": ANSWER}


async def test_llm_decomposer_accepts_a_fenced_json_reply() -> None:
    """A single ```json fence around the object is tolerated."""
    decomposer, _ = _llm('```json\n{"claims": [{"text": "Aspirin exists."}]}\n```')
    result = await decomposer.decompose(ANSWER, query=None)
    assert [c.text for c in result.claims] == ["Aspirin exists."]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("Here are the claims: Aspirin exists.", "expected a single JSON object"),
        ('{"claims": [{"text": "x", "confidence": 1}]}', "schema"),
        ('{"claims": [{"text": "x", "weight": -1}]}', "weight > 0"),
        ('{"claims": [{"text": "x", "span": [5, 900]}]}', "span"),
        ('{"claims": [{"text": "   "}]}', "non-empty text"),
        ('{"claims": []}', "at least one claim"),
        ('{"claims": "Aspirin exists"}', "schema"),
    ],
)
async def test_llm_decomposer_rejects_malformed_output(reply: str, message: str) -> None:
    """Unparseable or schema-violating replies raise OracleOutputError, never a coerced result."""
    decomposer, _ = _llm(reply)
    with pytest.raises(OracleOutputError, match=message) as caught:
        await decomposer.decompose(ANSWER, query=None)
    assert caught.value.oracle == "decomposer:llm"


async def test_llm_decomposer_times_out_with_the_oracle_name() -> None:
    """A reply slower than timeout_s raises OracleTimeoutError naming the decomposer."""
    decomposer, _ = _llm('{"claims": []}', delay_s=0.5, timeout_s=0.05)
    with pytest.raises(OracleTimeoutError, match="decomposer:llm"):
        await decomposer.decompose(ANSWER, query=None)


async def test_llm_decomposer_maps_client_errors_to_unavailable() -> None:
    """An exception from the chat client becomes OracleUnavailableError."""
    chat = FakeChat("", error=ConnectionError("refused"))
    decomposer = LLMDecomposer(chat, model="m", upstream="main", timeout_s=1.0)
    with pytest.raises(OracleUnavailableError, match=r"upstream call failed: ConnectionError$"):
        await decomposer.decompose(ANSWER, query=None)
