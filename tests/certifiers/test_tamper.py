"""Single-field tampering of a valid bundle is always caught (SPEC 6), leaf by leaf."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from certifiers.bundle import decode_bundle, encode_bundle
from certifiers.canonical import canonical_digest
from certifiers.errors import BundleFormatError
from certifiers.verify import check_bundle
from tests.certifiers.test_verify_scenarios import bundle_of, full_scenario, signed

Path = tuple[str | int, ...]
_RATIONAL = re.compile(r"-?[0-9]+(?:/[0-9]+)?")
_HEX = re.compile(r"(?:sha256:)?[0-9a-f]{16,}")


def _leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every scalar leaf of a JSON tree with its path (None counts as a leaf)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _containers(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every non-empty list and dict of a JSON tree with its path."""
    if isinstance(node, dict):
        children: list[tuple[str | int, Any]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return
    if children:
        yield path, node
    for key, value in children:
        yield from _containers(value, (*path, key))


def _mutated_scalar(value: Any) -> Any:
    """A small change of a scalar: numbers and rationals nudged, booleans flipped, text altered."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return 0
    assert isinstance(value, str)
    if _RATIONAL.fullmatch(value):
        numerator, _, denominator = value.partition("/")
        return f"{int(numerator) + 1}/{denominator}" if denominator else str(int(numerator) + 1)
    if _HEX.fullmatch(value):
        last = value[-1]
        return value[:-1] + ("0" if last != "0" else "1")
    return value + "x" if value else "x"


def _set(tree: Any, path: Path, value: Any) -> Any:
    copy = msgspec.json.decode(msgspec.json.encode(tree))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def _dropped(tree: Any, path: Path, key: str | int) -> Any:
    copy = msgspec.json.decode(msgspec.json.encode(tree))
    node = copy
    for step in path:
        node = node[step]
    del node[key]
    return copy


def _encode(tree: Any) -> bytes:
    return msgspec.json.encode(tree, order="sorted")


def _mutations(tree: Any) -> Iterator[tuple[str, Any]]:
    """(description, mutated tree) for every leaf change and every list/dict element drop."""
    for path, value in _leaves(tree):
        yield f"set {path} {value!r}", _set(tree, path, _mutated_scalar(value))
    for path, node in _containers(tree):
        keys = list(node) if isinstance(node, dict) else sorted({0, len(node) - 1})
        for key in keys:
            yield f"drop {(*path, key)}", _dropped(tree, path, key)


def _valid_trees() -> dict[str, Any]:
    bundle = bundle_of(full_scenario())
    return {
        "unsigned": msgspec.json.decode(encode_bundle(bundle)),
        "signed": msgspec.json.decode(encode_bundle(signed(bundle))),
    }


TREES = _valid_trees()


@pytest.mark.parametrize("variant", sorted(TREES))
def test_untouched_bundle_verifies(variant: str) -> None:
    """The untouched valid bundle, re-encoded canonically, verifies."""
    result = check_bundle(_encode(TREES[variant]))
    assert result.failures == ()
    assert result.ok


@pytest.mark.parametrize("variant", sorted(TREES))
def test_every_single_field_change_is_caught(variant: str) -> None:
    """Changing any one leaf or dropping any one list/dict element makes verification fail."""
    tree = TREES[variant]
    uncaught = []
    count = 0
    for description, mutated in _mutations(tree):
        if mutated == tree:
            continue
        count += 1
        if check_bundle(_encode(mutated)).ok:
            uncaught.append(description)
    assert count > 500
    assert uncaught == []


# Derived fields of each certificate (TYPES-READY): changing one and re-sealing the digest, as an
# attacker without the signing key would, must still be caught by recomputation, not by the digest.
_DERIVED: dict[str, tuple[str, ...]] = {
    "grounding": ("beta_plus", "beta_minus", "statuses", "masses", "emitted", "reconstruction"),
    "residue": (
        "admission",
        "exclusions",
        "kept",
        "dropped",
        "kept_weight",
        "total_weight",
        "coverage",
    ),
    "embedding": (
        "r2_inv",
        "r2_sig",
        "delta_sq",
        "selective",
        "sqrt_dim_upper",
        "max_dist_upper",
        "eps_eta",
        "drift_bound",
        "norms_bounded",
        "ranking",
        "rank_margin",
        "rank_margin_sq",
        "variant_flips",
        "semantic_agreement",
        "invariant",
        "significant",
        "evidence",
        "query_norm_sq",
    ),
    "actions": ("decisions", "post_counters"),
    "stability": (
        "layers",
        "epsilon0",
        "kappa",
        "budget",
        "epsilon_chain",
        "chain_within_margins",
        "error_envelope",
    ),
}


def _resealed(tree: Any) -> bytes:
    """Canonicalize and recompute the certificate digest (what an attacker can always do)."""
    bundle = decode_bundle(_encode(tree))
    card = msgspec.structs.replace(
        bundle.card, certificate_digest=canonical_digest(bundle.certificates)
    )
    return encode_bundle(msgspec.structs.replace(bundle, card=card))


def _derived_mutations(tree: Any) -> Iterator[tuple[str, Any]]:
    certs = tree["certificates"]
    for kind, fields in _DERIVED.items():
        for field in fields:
            sub = certs[kind][field]
            for path, value in _leaves(sub, ("certificates", kind, field)):
                yield f"set {path} {value!r}", _set(tree, path, _mutated_scalar(value))


def test_derived_field_changes_are_caught_after_resealing_the_digest() -> None:
    """Derived values changed with a recomputed digest are still rejected by recomputation."""
    tree = TREES["unsigned"]
    uncaught = []
    count = 0
    for description, mutated in _derived_mutations(tree):
        count += 1
        try:
            data = _resealed(mutated)
        except BundleFormatError:
            continue  # the change does not even decode: caught by the schema
        result = check_bundle(data)
        if result.ok or all(f.startswith("card.") for f in result.failures):
            uncaught.append(description)
    assert count > 100
    assert uncaught == []
