"""Application acceptance policies (SPEC 5.7, paper §10.4 / Table 4) and `policy_accepts`.

Five named policies, overrides of them, and new named policies (from config's `[policies.NAME]` raw
mappings). `policy_accepts(card, policy)` reads the card's `emitted` masses and returns accept /
downgrade / reject with every failed criterion named. Pure; it never looks at certificates.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import msgspec

from certifiers.errors import PolicyError
from certifiers.rational import dec_hook
from certifiers.types import Abstain, Card, Certified, Partial, Policy, PolicyDecision, Residue

DAY = 86_400


def _policy(name: str, row: tuple[str, str, str, bool, int, bool, int | None, bool]) -> Policy:
    smin, cmax, xmax, scope, gaps, action, age, forbidden = row
    return Policy(
        name=name,
        min_supported_mass=Fraction(smin),
        max_contradicted_mass=Fraction(cmax),
        max_contested_mass=Fraction(xmax),
        required_in_scope=scope,
        max_unverified_gaps=gaps,
        require_action_safe=action,
        max_age_seconds="∞" if age is None else age,
        forbidden_must_pass=forbidden,
    )


#: paper Table 4 as fixed by SPEC 5.7
POLICIES: Mapping[str, Policy] = {
    "creative": _policy("creative", ("0", "1", "1", False, 5, False, None, False)),
    "enterprise_qa": _policy(
        "enterprise_qa", ("7/10", "1/10", "1/5", True, 2, False, 30 * DAY, True)
    ),
    "legal": _policy("legal", ("9/10", "1/50", "2/25", True, 0, False, 7 * DAY, True)),
    "clinical": _policy("clinical", ("19/20", "1/100", "1/25", True, 0, True, DAY, True)),
    "agentic": _policy("agentic", ("19/20", "0", "1/50", True, 0, True, 3600, True)),
}
DEFAULT_BASE = "enterprise_qa"
#: grounding thresholds may be overridden flat (`theta_g = "7/10"`) as well as under `thresholds`
THRESHOLD_KEYS = ("theta_g", "theta_c", "theta_e", "theta_r")


def _exact(value: Any, where: str) -> Any:
    """Recursively turn config values into JSON-like data, refusing floats (no float ever)."""
    if isinstance(value, float):
        raise PolicyError(
            f"Expected an exact rational ('p/q' or an integer), got float {value!r} - at {where}"
        )
    if isinstance(value, Mapping):
        return {str(k): _exact(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def apply_overrides(
    base: Policy, overrides: Mapping[str, Any], *, name: str | None = None
) -> Policy:
    """Return `base` with the given fields replaced (validated; unknown fields rejected)."""
    merged = msgspec.to_builtins(base, enc_hook=str)
    try:
        given = _exact(dict(overrides), "$")
    except RecursionError as exc:
        raise PolicyError("Expected policy overrides of bounded depth, got deeper") from exc
    nested = given.get("thresholds", {})
    if not isinstance(nested, dict):
        raise PolicyError(
            f"Expected `thresholds` to be an object, got {type(nested).__name__}"
            " - at `$.thresholds`"
        )
    thresholds = {k: given.pop(k) for k in THRESHOLD_KEYS if k in given}
    merged.update(given)
    merged["thresholds"] = {**merged["thresholds"], **thresholds}
    if name is not None:
        merged["name"] = name
    try:
        policy = msgspec.convert(merged, Policy, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        raise PolicyError(f"Invalid policy {merged.get('name')!r}: {exc}") from exc
    validate_policy(policy)
    return policy


def validate_policy(policy: Policy) -> None:
    """Ranges a verifier checks (SPEC 5.7): masses and thresholds in range, limits >= 0."""
    unit = (Fraction(0), Fraction(1))
    checks: list[tuple[str, Fraction | int | str | None, str, bool]] = []
    for name in ("min_supported_mass", "max_contradicted_mass", "max_contested_mass"):
        value = getattr(policy, name)
        checks.append((name, value, "a rational in [0, 1]", unit[0] <= value <= unit[1]))
    gap = policy.max_calibration_gap
    checks.append(("max_calibration_gap", gap, "a rational >= 0", gap is None or gap >= 0))
    budget = policy.min_perturbation_budget
    checks.append(
        ("min_perturbation_budget", budget, "a rational >= 0", budget is None or budget >= 0)
    )
    gaps = policy.max_unverified_gaps
    checks.append(("max_unverified_gaps", gaps, "an integer >= 0", gaps >= 0))
    for name in THRESHOLD_KEYS:  # named flat, as they may be overridden (`theta_g = ...`)
        value = getattr(policy.thresholds, name)
        if name in ("theta_g", "theta_c"):
            checks.append((name, value, "a rational in (0, 1]", 0 < value <= 1))
        else:
            checks.append((name, value, "a rational in [0, 1]", 0 <= value <= 1))
    age = policy.max_age_seconds
    checks.append(("max_age_seconds", age, "an integer >= 0 or '∞'", age == "∞" or age >= 0))
    empty = "" in policy.forbidden_patterns
    checks.append(("forbidden_patterns", "''", "non-empty patterns", not empty))
    for field, value, expected, holds in checks:
        if not holds:
            raise PolicyError(
                f"Expected {expected}, got {value} (policy {policy.name!r}) - at `$.{field}`"
            )


def resolve_policies(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Policy]:
    """Built-ins plus config: a built-in name overrides it; a new name extends `extends` (default
    enterprise_qa)."""
    policies = dict(POLICIES)
    for name, given in raw.items():
        fields = dict(given)
        base_name = str(fields.pop("extends", name if name in POLICIES else DEFAULT_BASE))
        base = policies.get(base_name)
        if base is None:
            raise PolicyError(f"Expected `extends` to name a known policy, got {base_name!r}")
        policies[name] = apply_overrides(base, fields, name=name)
    return policies


def get_policy(name: str, extra: Mapping[str, Policy] | None = None) -> Policy:
    """Look a policy up by name among `extra` then the built-ins; PolicyError if unknown."""
    if extra is not None and name in extra:
        return extra[name]
    if name in POLICIES:
        return POLICIES[name]
    known = sorted({*POLICIES, *(extra or {})})
    raise PolicyError(f"Expected a policy name in {known}, got {name!r}")


def _mass_failures(card: Card, policy: Policy) -> list[str]:
    emitted = card.emitted
    if emitted is None:
        grounding_gap = any(gap.startswith("grounding:") for gap in card.unverified_layers)
        needs = policy.min_supported_mass > 0 or policy.max_contradicted_mass < 1
        needs = needs or policy.max_contested_mass < 1
        return ["emitted masses unmeasured"] if grounding_gap and needs else []
    failures = []
    if emitted.supported < policy.min_supported_mass:
        failures.append("supported_mass below min_supported_mass")
    if emitted.contradicted > policy.max_contradicted_mass:
        failures.append("contradicted_mass above max_contradicted_mass")
    if emitted.contested > policy.max_contested_mass:
        failures.append("contested_mass above max_contested_mass")
    return failures


def policy_failures(card: Card, policy: Policy) -> list[str]:
    """Every criterion of `policy` the card fails, in a fixed order."""
    failures = []
    if isinstance(card.verdict, Abstain):
        failures.append("verdict is abstain")
    failures += _mass_failures(card, policy)
    if policy.required_in_scope and not card.in_scope:
        failures.append("not in scope")
    if len(card.unverified_layers) > policy.max_unverified_gaps:
        failures.append("too many unverified layers")
    if policy.require_action_safe and (
        card.action_precondition is not True
        or any(gap.startswith("actions:") for gap in card.unverified_layers)
    ):
        failures.append("actions not certified safe")
    oldest = card.evidence_oldest_at
    age_limit = policy.max_age_seconds
    if age_limit != "∞" and oldest is not None and card.issue_time - oldest > age_limit:
        failures.append("evidence older than max_age_seconds")
    if policy.forbidden_must_pass and card.forbidden_check_pass is not True:
        failures.append("forbidden check did not pass")
    if policy.max_calibration_gap is not None and (
        card.calibration_gap is None or card.calibration_gap > policy.max_calibration_gap
    ):
        failures.append("calibration_gap unmeasured or above max_calibration_gap")
    if policy.min_perturbation_budget is not None and (
        card.perturbation_budget is None
        or card.perturbation_budget < policy.min_perturbation_budget
    ):
        failures.append("perturbation_budget unmeasured or below min_perturbation_budget")
    if policy.require_proof_of_sampling and card.proof_of_sampling is None:
        failures.append("no proof of sampling")
    return failures


def policy_accepts(card: Card, policy: Policy) -> PolicyDecision:
    """SPEC 5.7: accept (certified/partial, all pass), downgrade (residue, all pass), or reject."""
    failures = tuple(policy_failures(card, policy))
    if failures:
        return PolicyDecision(decision="reject", failures=failures)
    match card.verdict:
        case Certified() | Partial():
            return PolicyDecision(decision="accept", failures=())
        case Residue():
            return PolicyDecision(decision="downgrade", failures=())
        case Abstain():
            return PolicyDecision(decision="reject", failures=("verdict is abstain",))
