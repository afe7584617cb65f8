"""A small kustomize-style resolver for the manifests in `deploy/kubernetes` (no kustomize binary
is packaged for Debian or PyPI here).

`build(directory)` reads `kustomization.yaml`: `resources` (files, or directories holding their
own kustomization) are loaded in order, then each `patches[].path` is applied as a strategic
merge patch to the one object with the same kind and name: mappings merge key by key, lists of
mappings with a `name` merge item by item (kubernetes' merge key for containers, volumes, ports,
env), other lists and scalars are replaced. Any other kustomization key is refused, so a manifest
never relies on a feature this resolver would silently ignore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SUPPORTED = frozenset({"apiVersion", "kind", "resources", "patches"})


class KustomizeError(Exception):
    """The kustomization cannot be resolved (unknown key, missing file, unmatched patch)."""


def build(directory: Path) -> list[dict[str, Any]]:
    """Every object the kustomization in `directory` produces, patches applied."""
    kustomization = _load_one(directory / "kustomization.yaml")
    unknown = set(kustomization) - SUPPORTED
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            objects.extend(build(path))
        elif path.is_file():
            objects.extend(load_all(path))
        else:
            raise KustomizeError(f"{directory}: resource {resource!r} does not exist")
    for patch in kustomization.get("patches", []):
        patch_doc = _load_one(directory / patch["path"])
        key = (patch_doc["kind"], patch_doc["metadata"]["name"])
        targets = [o for o in objects if (o["kind"], o["metadata"]["name"]) == key]
        if len(targets) != 1:
            raise KustomizeError(f"{directory}: patch {patch['path']} matches {len(targets)}")
        index = objects.index(targets[0])
        objects[index] = merge(targets[0], patch_doc)
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    if len(keys) != len(set(keys)):
        raise KustomizeError(f"{directory}: duplicate objects {keys}")
    return objects


def merge(base: Any, patch: Any) -> Any:
    """Strategic-merge `patch` into `base` (see the module docstring)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        result = list(base)
        for item in patch:
            names = [existing["name"] for existing in result]
            if item["name"] in names:
                position = names.index(item["name"])
                result[position] = merge(result[position], item)
            else:
                result.append(item)
        return result
    return patch


def _named(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "name" in item for item in items)


def load_all(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of `path` (empty documents skipped)."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _load_one(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise KustomizeError(f"{path} does not exist")
    docs = load_all(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise KustomizeError(f"{path}: expected one mapping document")
    return docs[0]
