"""Shared scenario builders for the certifier tests: the paper's worked examples as JSON bytes."""

from __future__ import annotations

import json
from typing import Any

from certifiers.builders import certify
from certifiers.scenario import decode_scenario
from certifiers.types import Bundle

NOW = 1_714_000_000


def paper_64_scenario(**extra: Any) -> dict[str, Any]:
    """Paper §6.4: five clinical claims; c₂ (index 1) depends on c₄ (index 3)."""
    scenario: dict[str, Any] = {
        "answer": "Patient diagnosis. Recommended drug. Dose frequency. Allergy check. Follow-up.",
        "claims": [
            {"text": "Patient diagnosis.", "weight": "3"},
            {"text": "Recommended drug.", "weight": "2"},
            {"text": "Dose frequency.", "weight": "1"},
            {"text": "Allergy check.", "weight": "1.5"},
            {"text": "Follow-up.", "weight": "0.5"},
        ],
        "evidence": [{"id": "e1", "text": "label", "retrieved_at": NOW - 60}],
        "nli": {
            "aggregation": "per_chunk",
            "entail": [["0.92"], ["0.88"], ["0.81"], ["0.45"], ["0.30"]],
            "contradict": [["0.03"], ["0.04"], ["0.02"], ["0.71"], ["0.20"]],
        },
        "thresholds": {"theta_g": "0.70", "theta_c": "0.50"},
        "claim_dependencies": {"1": [3]},
        "disabled_layers": ["stability"],
        "policy": "clinical",
        "now": NOW,
    }
    scenario.update(extra)
    return scenario


def clean_scenario(**extra: Any) -> dict[str, Any]:
    """Three well-supported claims, no conflicts: certifies cleanly (stability disabled)."""
    scenario: dict[str, Any] = {
        "answer": "Paris is the capital of France. It lies on the Seine. It has 2.1 million people."
        "",
        "claims": [
            {"text": "Paris is the capital of France.", "weight": "1"},
            {"text": "Paris lies on the Seine.", "weight": "1"},
            {"text": "Paris has 2.1 million people.", "weight": "1"},
        ],
        "evidence": [{"id": "e1", "text": "Paris ..."}, {"id": "e2", "text": "Seine ..."}],
        "nli": {
            "entail": [["0.95", "0.10"], ["0.20", "0.90"], ["0.85", "0.05"]],
            "contradict": [["0.01", "0.02"], ["0.01", "0.03"], ["0.02", "0.01"]],
        },
        "disabled_layers": ["stability"],
        "policy": "enterprise_qa",
        "now": NOW,
    }
    scenario.update(extra)
    return scenario


def bundle_of(scenario: dict[str, Any]) -> Bundle:
    """Certify a scenario given as a JSON-like dict."""
    return certify(decode_scenario(json.dumps(scenario).encode()))
