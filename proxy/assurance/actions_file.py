"""`[assurance] actions_file`: the operator's default tool schemas, read once at start-up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import Config, ConfigError


@dataclass(frozen=True, slots=True)
class DefaultActions:
    """`[assurance] actions_file`: tool schemas applied when a request brings none."""

    schemas: tuple[dict[str, Any], ...] = ()
    unknown_tools: str | None = None


def load_default_actions(config: Config) -> DefaultActions:
    """The schemas and `unknown_tools` of `actions_file`, or none; ConfigError naming the file."""
    path = config.assurance.actions_file
    if path is None:
        return DefaultActions()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        schemas = raw.get("schemas", [])
        unknown = raw.get("unknown_tools")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"Expected [assurance] actions_file to be a readable JSON object"
            f' {{"schemas": [...], "unknown_tools": ...}}, got {exc} - at {path!r}'
        ) from exc
    if not isinstance(schemas, list) or not all(isinstance(s, dict) for s in schemas):
        raise ConfigError(f"Expected `schemas` to be a list of objects - at {path!r}")
    if unknown not in (None, "allow", "block"):
        raise ConfigError(f"Expected `unknown_tools` allow or block, got {unknown!r} - at {path!r}")
    return DefaultActions(schemas=tuple(schemas), unknown_tools=unknown)
