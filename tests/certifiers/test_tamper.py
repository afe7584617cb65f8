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
from tests.certifiers.test_verify_scenarios import (
    bundle_of,
    embedding_block,
    full_scenario,
    signed,
    signing_public_key,
)

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


def _subtrees(node: Any, path: Path = ()) -> Iterator[Path]:
    """The path of every non-null dict or list value below the root (candidates for null)."""
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in children:
        if isinstance(value, dict | list):
            yield (*path, key)
            yield from _subtrees(value, (*path, key))


def _mutations(tree: Any) -> Iterator[tuple[str, Any]]:
    """(description, mutated tree) for every leaf change, every list/dict element drop (each dict
    key deleted) and every subtree replaced with null (`signature: null` included)."""
    for path, value in _leaves(tree):
        yield f"set {path} {value!r}", _set(tree, path, _mutated_scalar(value))
    for path, node in _containers(tree):
        keys = list(node) if isinstance(node, dict) else sorted({0, len(node) - 1})
        for key in keys:
            yield f"drop {(*path, key)}", _dropped(tree, path, key)
    for path in _subtrees(tree):
        yield f"null {path}", _set(tree, path, None)


def _shapes() -> dict[str, Any]:
    """Scenario shapes: all layers (small, vectors inlined), a non-inlined embedding (d = 384),
    an abstain card (failed NLI oracle) and declared stability layers."""
    big = full_scenario(embedding=embedding_block(dim=384, n_inv=10, n_sig=3, n_evidence=3))
    abstain = full_scenario(oracle_failures=[{"oracle": "nli", "reason": "timeout"}])
    layers = [
        {"name": "retrieval", "gain": "1/2", "margin": "1/10", "error": "1/100"},
        {"name": "generation", "gain": "2", "amplification": "1/2"},
    ]
    declared = full_scenario(layers=layers, epsilon0="1/50")
    return {"full": full_scenario(), "non_inlined": big, "abstain": abstain, "layers": declared}


SHAPES = _shapes()


def _valid_trees() -> dict[str, Any]:
    trees: dict[str, Any] = {}
    for shape, scenario in SHAPES.items():
        bundle = bundle_of(scenario)
        trees[f"{shape}-unsigned"] = msgspec.json.decode(encode_bundle(bundle))
        # a signing proxy records its key as `signer` (digest-covered) before signing
        issued = bundle_of(scenario, signer=signing_public_key().hex())
        trees[f"{shape}-signed"] = msgspec.json.decode(encode_bundle(signed(issued)))
    return trees


TREES = _valid_trees()


def test_shapes_are_what_they_claim() -> None:
    """The shapes really differ: vectors left out, an abstain verdict, declared layers."""
    certs = {shape: TREES[f"{shape}-unsigned"]["certificates"] for shape in SHAPES}
    assert certs["full"]["embedding"]["measurements"] == "derived"
    assert certs["non_inlined"]["embedding"]["measurements"] == "recorded"
    assert certs["non_inlined"]["embedding"]["vectors"] is None
    assert TREES["abstain-unsigned"]["card"]["verdict"]["kind"] == "abstain"
    assert certs["layers"]["stability"]["source"] == "declared"
    assert certs["layers"]["stability"]["layers"][1]["margin"] is None


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
    assert count > 300
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


#: fields that are recorded data, not derived, in a given shape
_DATA_IN_SHAPE: dict[str, dict[str, tuple[str, ...]]] = {
    # vectors not inlined: the measurements are the embedder's recorded output (a verify note)
    "non_inlined": {"embedding": ("invariant", "significant", "evidence", "query_norm_sq")},
    # declared layers are data (derived ones are recomputed from the other certificates)
    "layers": {"stability": ("layers", "epsilon0")},
}


def _derived_mutations(tree: Any, shape: str) -> Iterator[tuple[str, Any]]:
    certs = tree["certificates"]
    data = _DATA_IN_SHAPE.get(shape, {})
    for kind, fields in _DERIVED.items():
        if certs[kind] is None:
            continue
        for field in fields:
            if field in data.get(kind, ()):
                continue
            sub = certs[kind][field]
            for path, value in _leaves(sub, ("certificates", kind, field)):
                yield f"set {path} {value!r}", _set(tree, path, _mutated_scalar(value))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_derived_field_changes_are_caught_after_resealing_the_digest(shape: str) -> None:
    """Derived values changed with a recomputed digest are still rejected by recomputation."""
    tree = TREES[f"{shape}-unsigned"]
    uncaught = []
    count = 0
    for description, mutated in _derived_mutations(tree, shape):
        count += 1
        try:
            data = _resealed(mutated)
        except BundleFormatError:
            continue  # the change does not even decode: caught by the schema
        result = check_bundle(data)
        if result.ok or all(f.startswith("card.") for f in result.failures):
            uncaught.append(description)
    assert count > 40
    assert uncaught == []


def test_non_inlined_measurements_are_surfaced_as_a_note() -> None:
    """The recorded-measurement limit of the non-inlined shape is named in the check's notes."""
    result = check_bundle(_encode(TREES["non_inlined-unsigned"]))
    assert result.ok
    count = (1 + 10 + 3 + 3) * 384
    assert (
        f"embedding.measurements: recorded (vectors not inlined; {count} coordinates) — bound by "
        "vectors_digest, not re-derived"
    ) in result.notes


def _derived_paths(tree: Any) -> set[Path]:
    certs = tree["certificates"]
    return {
        ("certificates", kind, field)
        for kind, fields in _DERIVED.items()
        if certs[kind] is not None
        for field in fields
    }


def _candidates(value: Any) -> list[Any]:
    """Several edits of one leaf, small and extreme (a small nudge may cross no threshold)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1, 0, 1, 10**6, -(10**6), value * 1000 + 7]
    if value is None:
        return [0, "x"]
    assert isinstance(value, str)
    edits = [_mutated_scalar(value), "", "x", "The moon is made of cheese and 42."]
    if _RATIONAL.fullmatch(value):
        edits += ["0", "1", "1/2", "1000000", "-1", "1/1000000"]
    return edits


def _data_leaf_survivors(shape: str) -> list[str]:
    """Data leaves (not derived fields) that no edit, re-sealed, makes the verifier reject."""
    tree = TREES[f"{shape}-unsigned"]
    derived = _derived_paths(tree)
    survivors = []
    for path, value in _leaves(tree["certificates"], ("certificates",)):
        if any(path[: len(prefix)] == prefix for prefix in derived):
            continue
        caught = False
        for edit in _candidates(value):
            try:
                data = _resealed(_set(tree, path, edit))
            except BundleFormatError:
                caught = True
                break
            if not check_bundle(data).ok:
                caught = True
                break
        if not caught:
            survivors.append("/".join(str(step) for step in path))
    return survivors


#: data leaves that are inputs only: no derived value depends on them, so a re-sealed edit yields a
#: different valid bundle (only a signature binds them; SOUNDNESS.md "without a signature")
_INPUT_ONLY = re.compile(
    r"certificates/context/("
    r"oracles/\w+/model"  # which model answered (provenance; digests are checked per certificate)
    r"|evidence/\d+/(id|source)"  # evidence labels; the texts are bound by evidence_digest
    r")"
    r"|certificates/embedding/text"  # the embedded text; the vectors are the data
)
#: data leaves that affect a derived value only under other policies or data than these shapes
#: have: an oracle's adapter (only with `allowed_oracles`), and policy criteria that pass either
#: way here (each is exercised in tests/certifiers/test_policy.py)
_NOT_EXERCISED_HERE = re.compile(
    r"certificates/context/oracles/\w+/adapter"
    r"|certificates/policy/(forbidden_must_pass|require_action_safe|required_in_scope)"
)


@pytest.mark.parametrize("shape", ["full", "layers"])
def test_every_data_leaf_affects_a_derived_value_or_is_declared_input_only(shape: str) -> None:
    """Changing any data leaf (re-sealed) is caught by some re-derivation, unless declared input."""
    survivors = _data_leaf_survivors(shape)
    undeclared = [
        leaf
        for leaf in survivors
        if not _INPUT_ONLY.fullmatch(leaf) and not _NOT_EXERCISED_HERE.fullmatch(leaf)
    ]
    assert undeclared == []
