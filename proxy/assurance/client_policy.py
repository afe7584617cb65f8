"""Operator-imposed policy for `[[clients]]` (issue 9 §3): the policy lock, override rules and
per-client session namespaces.

`impose_client_policy` runs after the `assurance` field is parsed and before anything is forwarded.
A client with `policy` set is certified under that policy only: another `X-Assurance-Policy` is 403
`policy_not_allowed`, an absent header means the locked policy. `policy_overrides` says what the
request's `assurance.policy` may change: "none" (any field is 403 `policy_override_not_allowed`
naming it), "tighten" (only stricter values; a looser one is 403 naming the field) or "any".
Session ids of authenticated clients are namespaced by client name, so two clients using session
"s1" never share counters. `loosened_fields` is the pure stricter-or-equal comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import msgspec

from certifiers.errors import PolicyError
from certifiers.policy import THRESHOLD_KEYS, apply_overrides
from certifiers.types import Policy
from proxy.assurance.request import AssuranceRequest
from proxy.config import ClientConfig
from proxy.server.errors import PermissionDeniedError

POLICY_HEADER = "X-Assurance-Policy"
# fields where a larger value is stricter / where a smaller value is stricter
_HIGHER_IS_STRICTER = ("min_supported_mass", "min_perturbation_budget", "theta_g", "theta_e")
_LOWER_IS_STRICTER = (
    "max_contradicted_mass",
    "max_contested_mass",
    "max_unverified_gaps",
    "max_calibration_gap",
    "max_age_seconds",
    "theta_c",
    "theta_r",
)
_TRUE_IS_STRICTER = (
    "required_in_scope",
    "require_action_safe",
    "forbidden_must_pass",
    "require_proof_of_sampling",
)


def _value(policy: Policy, name: str) -> Any:
    return getattr(policy.thresholds, name) if name in THRESHOLD_KEYS else getattr(policy, name)


def _looser(name: str, base: Any, new: Any) -> bool:
    if name in _TRUE_IS_STRICTER:
        return bool(base) and not new
    if name in _HIGHER_IS_STRICTER or name in _LOWER_IS_STRICTER:
        if base is None or new is None:  # unset = no constraint: setting one tightens
            return new is None and base is not None
        infinite = Fraction(10) ** 30  # "∞" (max_age_seconds) compares above every limit
        b = infinite if base == "∞" else base
        n = infinite if new == "∞" else new
        return bool(n < b) if name in _HIGHER_IS_STRICTER else bool(n > b)
    if name == "forbidden_patterns":
        return not set(base) <= set(new)
    if name == "unknown_tools":
        return bool(base == "block" and new == "allow")
    if name == "allowed_oracles":
        if new is None:
            return base is not None
        return base is not None and not set(new) <= set(base)
    return bool(base != new)  # name and anything unknown: no change allowed


def loosened_fields(base: Policy, new: Policy) -> list[str]:
    """The policy fields (thresholds named flat) where `new` is less strict than `base`."""
    names = [f for f in Policy.__struct_fields__ if f not in ("thresholds", "name")]
    names += list(THRESHOLD_KEYS)
    return [n for n in names if _looser(n, _value(base, n), _value(new, n))]


def _override_names(overrides: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for key, value in overrides.items():
        if key == "thresholds" and isinstance(value, Mapping):
            names += [f"thresholds.{k}" for k in value]
        else:
            names.append(key)
    return names


def impose_client_policy(
    areq: AssuranceRequest,
    headers: Mapping[str, str],
    *,
    client_name: str | None,
    client: ClientConfig | None,
    policies: Mapping[str, Policy],
) -> AssuranceRequest:
    """`areq` under the client's locks (module docstring); 403 `PermissionDeniedError` if not."""
    session = areq.session
    if client_name is not None and session is not None:
        session = f"{client_name}/{session}"
    if client is None:
        return msgspec.structs.replace(areq, session=session)
    policy = areq.policy
    if client.policy is not None:
        requested = (headers.get(POLICY_HEADER) or "").strip()
        if requested and requested != client.policy:
            raise PermissionDeniedError(
                f"Expected {POLICY_HEADER} to be {client.policy!r} for client {client.name!r},"
                f" got {requested!r}",
                param=POLICY_HEADER,
                code="policy_not_allowed",
            )
        policy = client.policy
    overrides = areq.field.policy or {}
    if overrides and client.overrides == "none":
        field = _override_names(overrides)[0]
        raise PermissionDeniedError(
            f"Expected no policy overrides for client {client.name!r} (policy_overrides ="
            f" 'none'), got one of {field}",
            param=f"assurance.policy.{field}",
            code="policy_override_not_allowed",
        )
    if overrides and client.overrides == "tighten" and policy in policies:
        base = policies[policy]
        try:
            new = apply_overrides(base, overrides)
        except PolicyError:
            new = None  # invalid overrides: the pre-forward check answers 400 naming the field
        loose = loosened_fields(base, new) if new is not None else []
        if loose:
            field = next(
                (n for n in _override_names(overrides) if n.split(".")[-1] == loose[0]), loose[0]
            )
            raise PermissionDeniedError(
                f"Expected assurance.policy to only tighten policy {policy!r} for client"
                f" {client.name!r}, got a looser {loose[0]}",
                param=f"assurance.policy.{field}",
                code="policy_override_not_allowed",
            )
    return msgspec.structs.replace(areq, policy=policy, session=session)
