"""The `assurance` body field and X-Assurance-* headers are validated; errors name the field."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from proxy.assurance.request import parse_assurance_request
from proxy.config import AssuranceConfig
from proxy.server.chat_request import parse_chat_request
from proxy.server.errors import InvalidRequestError

POLICIES = frozenset({"clinical", "enterprise_qa"})


def _parse(
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    config: AssuranceConfig | None = None,
) -> Any:
    chat = parse_chat_request(msgspec.json.encode(body))
    return parse_assurance_request(
        chat,
        headers or {},
        mode="enforce",
        known_policies=POLICIES,
        config=config or AssuranceConfig(),
    )


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "q?"}], **extra}


def test_evidence_and_tool_messages_become_evidence_chunks() -> None:
    """Chunks of `assurance.evidence` come first, then each tool message as a tool_output chunk."""
    body = _body(assurance={"evidence": [{"id": "a", "text": "A.", "retrieved_at": 5}]})
    body["messages"] = [
        {"role": "user", "content": "q?"},
        {"role": "tool", "tool_call_id": "call_9", "content": "tool said so"},
    ]
    request = _parse(body)
    assert [(c.id, c.text, c.source) for c in request.evidence] == [
        ("a", "A.", None),
        ("tool:call_9", "tool said so", "tool_output"),
    ]
    assert request.evidence[0].retrieved_at == 5
    assert request.query == "q?"


def test_wrong_type_names_the_nested_field() -> None:
    """A non-string evidence text is a 400 whose param is `assurance.evidence[0].text`."""
    with pytest.raises(InvalidRequestError) as caught:
        _parse(_body(assurance={"evidence": [{"id": "a", "text": 3}]}))
    assert caught.value.param == "assurance.evidence[0].text"
    assert caught.value.status == 400


def test_unknown_and_missing_fields_are_named() -> None:
    """An unknown key and a missing required key are both named with their full path."""
    with pytest.raises(InvalidRequestError) as unknown:
        _parse(_body(assurance={"evidence": [], "evidnce": []}))
    assert unknown.value.param == "assurance.evidnce"
    with pytest.raises(InvalidRequestError) as missing:
        _parse(_body(assurance={"evidence": [{"id": "a"}]}))
    assert missing.value.param == "assurance.evidence[0].text"


def test_unknown_policy_header_is_rejected() -> None:
    """An X-Assurance-Policy naming no known policy is a 400 naming the header."""
    with pytest.raises(InvalidRequestError) as caught:
        _parse(_body(), {"X-Assurance-Policy": "no-such-policy"})
    assert caught.value.param == "X-Assurance-Policy"


def test_n_other_than_one_is_rejected() -> None:
    """`n = 2` is a clear 400 in assurance modes."""
    with pytest.raises(InvalidRequestError) as caught:
        _parse(_body(n=2))
    assert caught.value.param == "n"


def test_evidence_limits_are_named_errors() -> None:
    """Too many chunks and too many bytes each give their own error code."""
    chunks = [{"id": str(i), "text": "x" * 10} for i in range(3)]
    with pytest.raises(InvalidRequestError) as many:
        _parse(_body(assurance={"evidence": chunks}), config=AssuranceConfig(max_evidence_chunks=2))
    assert many.value.code == "too_many_evidence_chunks"
    with pytest.raises(InvalidRequestError) as large:
        _parse(_body(assurance={"evidence": chunks}), config=AssuranceConfig(max_evidence_bytes=25))
    assert large.value.code == "evidence_too_large"


def test_duplicate_evidence_ids_are_rejected() -> None:
    """Two chunks with one id cannot be told apart in a card, so the request is refused."""
    chunks = [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]
    with pytest.raises(InvalidRequestError) as caught:
        _parse(_body(assurance={"evidence": chunks}))
    assert caught.value.param == "assurance.evidence[1].id"


def test_default_policy_applies_without_header() -> None:
    """Without X-Assurance-Policy the configured default policy is used."""
    request = _parse(_body(), config=AssuranceConfig(default_policy="clinical"))
    assert request.policy == "clinical"
    assert request.session is None
