"""The harness's outcomes agree with the verdict of the full `certify()` path the proxy runs."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import msgspec
import pytest

from certifiers.builders.certify import certify
from certifiers.scenario import decode_scenario
from certifiers.verdict import verdict_name
from proxy.evaluation.datasets import load_dataset
from proxy.evaluation.runner import CaseOutputs, run_cases
from proxy.evaluation.scoring import treatment_outcomes
from tests.evaluation.fakes import counting_oracles

FIXTURES = Path(__file__).parent / "fixtures"
VERDICT_OF = {"emit": {"certified", "partial"}, "trim": {"residue"}, "block": {"abstain"}}


def _scenario(outputs: CaseOutputs, theta_e: Fraction) -> bytes:
    """The scenario the proxy would hand the certifiers for this case (policy `creative`)."""
    assert outputs.decomposition is not None
    assert outputs.nli is not None
    return msgspec.json.encode(
        {
            "answer": outputs.case.answer,
            "query": outputs.case.question,
            "claims": [{"text": c.text, "weight": c.weight} for c in outputs.decomposition.claims],
            "evidence": [{"id": f"e{i}", "text": t} for i, t in enumerate(outputs.case.evidence)],
            "nli": {
                "aggregation": outputs.nli.aggregation,
                "entail": outputs.nli.entail,
                "contradict": outputs.nli.contradict,
            },
            "thresholds": {"theta_e": str(theta_e)},
            "policy": "creative",
            "disabled_layers": ["stability"],
        }
    )


@pytest.mark.parametrize("theta_e", [Fraction(1, 2), Fraction(3, 4)])
async def test_outcomes_match_the_certify_verdicts(theta_e: Fraction) -> None:
    """emit ↔ certified/partial, trim ↔ residue, block ↔ abstain on every fixture case."""
    cases = load_dataset("jsonl", path=FIXTURES / "cases.jsonl")
    oracles, _, _ = counting_oracles()
    seen = set()
    for outputs in await run_cases(cases, oracles):
        (outcome,) = treatment_outcomes(outputs, [theta_e])
        bundle = certify(decode_scenario(_scenario(outputs, theta_e)))
        assert verdict_name(bundle.card) in VERDICT_OF[outcome], outputs.case.case_id
        seen.add(outcome)
    assert seen == {"emit", "trim", "block"}
