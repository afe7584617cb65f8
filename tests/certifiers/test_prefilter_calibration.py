"""The NLI pre-filter and calibration records: certified only when they mean what they say, and
re-derived by the verifier (a re-sealed edit of either is caught)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import msgspec
import pytest

from certifiers.bundle import encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.errors import ScenarioError
from certifiers.types import Bundle
from certifiers.verify import check_bundle
from tests.certifiers.examples import NOW, bundle_of

replace = msgspec.structs.replace
FINGERPRINT = "sha256:" + "ab" * 32


def prefiltered_scenario(**nli_extra: Any) -> dict[str, Any]:
    """Two claims, three chunks, each claim judged against its top 2 chunks by similarity."""
    nli: dict[str, Any] = {
        "aggregation": "per_chunk",
        "entail": [["0.9", "0", "0.2"], ["0.05", "0.8", "0"]],
        "contradict": [["0.05", "0", "0.1"], ["0.01", "0.1", "0"]],
        "prefilter": {
            "k": 2,
            "model": "all-MiniLM-L6-v2@x",
            "similarity": [[900000, 100000, 500000], [200000, 700000, 200000]],
            "judged": [[0, 2], [1, 0]],
        },
    }
    nli.update(nli_extra)
    return {
        "answer": "Paris is the capital of France. Paris lies on the Seine.",
        "claims": [
            {"text": "Paris is the capital of France.", "weight": "1"},
            {"text": "Paris lies on the Seine.", "weight": "1"},
        ],
        "evidence": [
            {"id": "e1", "text": "Paris is France's capital."},
            {"id": "e2", "text": "The Seine flows through Paris."},
            {"id": "e3", "text": "Lyon is a city."},
        ],
        "nli": nli,
        "oracles": {"nli": {"adapter": "cross_encoder", "model": f"m@{FINGERPRINT}"}},
        "disabled_layers": ["stability"],
        "policy": "enterprise_qa",
        "now": NOW,
    }


def calibration(**extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "model_fingerprint": FINGERPRINT,
        "validation_digest": "sha256:" + "cd" * 32,
        "validation_pairs": 1000,
        "expected_calibration_error": "0.043127",
        "bins": 15,
    }
    record.update(extra)
    return record


def _resealed(bundle: Bundle) -> bytes:
    card = replace(bundle.card, certificate_digest=canonical_digest(bundle.certificates))
    return encode_bundle(replace(bundle, card=card))


def _failure_names(data: bytes) -> set[str]:
    result = check_bundle(data)
    assert not result.ok
    return {failure.split(":", 1)[0] for failure in result.failures}


def test_prefiltered_bundle_certifies_declares_the_assumption_and_verifies() -> None:
    bundle = bundle_of(prefiltered_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    assert grounding.support.prefilter is not None
    assert grounding.support.prefilter.judged == ((0, 2), (1, 0))
    assert "EmbeddingPrefilter" in grounding.assumptions
    assert grounding.statuses == ("supported", "supported")
    assert check_bundle(encode_bundle(bundle)).ok


@pytest.mark.parametrize(
    ("nli_extra", "path"),
    [
        # claim 1's top 2 is [1, 0] (0 before 2 on the tie), not [1, 2]
        ({"prefilter_judged": [[0, 2], [1, 2]]}, "$.nli.prefilter.judged[1]"),
        # an unjudged cell (claim 0, chunk 1) with a score
        ({"entail": [["0.9", "0.3", "0.2"], ["0.05", "0.8", "0"]]}, "$.nli.entail[0][1]"),
        ({"aggregation": "concat"}, "$.nli.prefilter"),
        ({"prefilter_k": 3}, "$.nli.prefilter.k"),
    ],
)
def test_a_prefilter_record_that_lies_is_refused(nli_extra: dict[str, Any], path: str) -> None:
    scenario = prefiltered_scenario()
    nli = scenario["nli"]
    if "prefilter_judged" in nli_extra:
        nli["prefilter"]["judged"] = nli_extra.pop("prefilter_judged")
    if "prefilter_k" in nli_extra:
        nli["prefilter"]["k"] = nli_extra.pop("prefilter_k")
    if nli_extra.get("aggregation") == "concat":
        nli.update(entail=[["0.9"], ["0.8"]], contradict=[["0.05"], ["0.1"]])
    nli.update(nli_extra)
    with pytest.raises(ScenarioError) as caught:
        bundle_of(scenario)
    assert caught.value.path == path


def test_verifier_rederives_the_judged_sets() -> None:
    """A re-sealed bundle claiming another judged set (or hiding a score) fails by name."""
    bundle = bundle_of(prefiltered_scenario())
    grounding = bundle.certificates.grounding
    assert grounding is not None
    assert grounding.support.prefilter is not None
    pre = grounding.support.prefilter
    lied = replace(pre, judged=((0, 1), (1, 0)))
    support = replace(grounding.support, prefilter=lied)
    certs = replace(bundle.certificates, grounding=replace(grounding, support=support))
    names = _failure_names(_resealed(replace(bundle, certificates=certs)))
    assert "grounding.support.prefilter.judged[0]" in names
    # dropping the record while keeping its assumption is caught too
    support = replace(grounding.support, prefilter=None)
    certs = replace(bundle.certificates, grounding=replace(grounding, support=support))
    assert "grounding.assumptions" in _failure_names(_resealed(replace(bundle, certificates=certs)))


def test_calibration_record_reaches_the_card_and_is_checked() -> None:
    bundle = bundle_of(prefiltered_scenario(calibration=calibration()))
    grounding = bundle.certificates.grounding
    assert grounding is not None
    assert grounding.calibration is not None
    assert bundle.card.calibration_gap == Fraction(43127, 1000000)
    assert "CalibrationRecord" in grounding.assumptions
    assert check_bundle(encode_bundle(bundle)).ok
    card = replace(bundle.card, calibration_gap=Fraction(1, 1000))
    assert "card.calibration_gap" in _failure_names(encode_bundle(replace(bundle, card=card)))
    other = replace(grounding.calibration, model_fingerprint="sha256:" + "00" * 32)
    certs = replace(bundle.certificates, grounding=replace(grounding, calibration=other))
    names = _failure_names(_resealed(replace(bundle, certificates=certs)))
    assert "grounding.calibration.model_fingerprint" in names


def test_without_a_record_the_gap_stays_unmeasured() -> None:
    assert bundle_of(prefiltered_scenario()).card.calibration_gap is None


@pytest.mark.parametrize(
    ("record", "path"),
    [
        (
            calibration(expected_calibration_error="1.5"),
            "$.nli.calibration.expected_calibration_error",
        ),
        (
            calibration(model_fingerprint="sha256:" + "ee" * 32),
            "$.nli.calibration.model_fingerprint",
        ),
        (calibration(bins=0), "$.nli.calibration"),
    ],
)
def test_a_bad_calibration_record_is_refused(record: dict[str, Any], path: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        bundle_of(prefiltered_scenario(calibration=record))
    assert caught.value.path == path
