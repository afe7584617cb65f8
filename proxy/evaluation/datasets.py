"""Dataset adapters for `assurance eval grounding`: files -> `EvalCase` rows with a known label.

Two adapters:

- `halueval-qa` — HaluEval QA (MIT; github.com/RUCAIBox/HaluEval), file `qa_one-turn_data.jsonl`,
  one object per line with `knowledge`, `question`, `right_answer`, `hallucinated_answer`. Each row
  yields two cases sharing the evidence: (`right_answer`, label `grounded`, should be emitted) and
  (`hallucinated_answer`, label `unsupported`, should be blocked). `knowledge` is two or three
  Wikipedia paragraphs glued without a space ("…century.First for Women…"); they are split back
  into evidence chunks where a sentence end is directly followed by a capital letter.
- `jsonl` — the generic format, one case per line (documented in `JSONL_FORMAT`).

Both support `limit` rows chosen by a seeded, deterministic sample (kept in file order). This
module reads and validates files only; it runs no oracle.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Literal

import msgspec

Label = Literal["grounded", "unsupported"]

HALUEVAL_FILE = "qa_one-turn_data.jsonl"
DATASET_NAMES = ("halueval-qa", "jsonl")

JSONL_FORMAT = """\
One JSON object per line (blank lines are skipped):
  {"id": "q17-a",                       optional string; default "line-<n>"
   "question": "Who founded X?",        string (may be empty)
   "evidence": ["chunk 1", "chunk 2"],  non-empty list of strings, or one string (= one chunk)
   "answer": "X was founded by Y.",     string
   "label": "grounded"}                 "grounded" (should be emitted) |
                                        "unsupported" (should be blocked)
"""


class DatasetError(Exception):
    """A dataset is missing or malformed; the message names the file, line and field."""


class EvalCase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One labelled (question, evidence, answer) case."""

    case_id: str
    question: str
    evidence: tuple[str, ...]
    answer: str
    label: Label

    def __post_init__(self) -> None:
        if not self.evidence:
            raise DatasetError(
                f"Expected at least one evidence chunk, got none - at case {self.case_id}"
            )


_PARAGRAPH_JOIN = re.compile(r"(?<=[a-z0-9)\]\"'\u201d][.!?])(?=[A-Z])")


def split_knowledge(knowledge: str) -> tuple[str, ...]:
    """Split HaluEval's glued paragraphs ("…century.First…") into evidence chunks."""
    chunks = tuple(part.strip() for part in _PARAGRAPH_JOIN.split(knowledge))
    return tuple(chunk for chunk in chunks if chunk) or (knowledge,)


def default_data_dir(dataset: str) -> Path:
    """Where a named dataset lives by default: `<repository>/../shared/data/<dataset>`."""
    repository = Path(__file__).resolve().parents[2]
    return repository.parent / "shared" / "data" / dataset


def _read_objects(path: Path) -> list[tuple[int, dict[str, object]]]:
    """The JSON objects of a JSON Lines file with their 1-based line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"Expected a JSON Lines file, got no such file - at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Expected a readable UTF-8 file, got {exc} - at {path}") from None
    rows: list[tuple[int, dict[str, object]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f"Expected a JSON object, got invalid JSON ({exc.msg}) - at {path}:{number}"
            ) from None
        if not isinstance(value, dict):
            raise DatasetError(
                f"Expected a JSON object, got {type(value).__name__} - at {path}:{number}"
            )
        rows.append((number, value))
    return rows


def _string(row: dict[str, object], field: str, where: str) -> str:
    value = row.get(field)
    if not isinstance(value, str):
        got = "a missing field" if field not in row else type(value).__name__
        raise DatasetError(
            f"Expected field {field!r} to be a string, got {got} - at {where}, field {field!r}"
        )
    return value


def _sample(count: int, limit: int | None, seed: int) -> list[int]:
    """Indices of `limit` rows sampled with `seed`, in file order (all rows without a limit)."""
    if limit is None or limit >= count:
        return list(range(count))
    if limit < 0:
        raise DatasetError(f"Expected limit >= 0, got {limit} - at --limit")
    return sorted(random.Random(seed).sample(range(count), limit))


def load_halueval_qa(data_dir: Path, *, limit: int | None = None, seed: int = 0) -> list[EvalCase]:
    """Two cases (grounded, unsupported) per sampled HaluEval-QA row."""
    if not data_dir.is_dir():
        raise DatasetError(
            f"Expected the HaluEval-QA directory holding {HALUEVAL_FILE}, got no such "
            f"directory - at {data_dir} (default: the repository's sibling "
            "../shared/data/halueval-qa; pass --data-dir DIR)"
        )
    path = data_dir / HALUEVAL_FILE
    rows = _read_objects(path)
    cases: list[EvalCase] = []
    for index in _sample(len(rows), limit, seed):
        number, row = rows[index]
        where = f"{path}:{number}"
        evidence = split_knowledge(_string(row, "knowledge", where))
        question = _string(row, "question", where)
        for suffix, field, label in (
            ("right", "right_answer", "grounded"),
            ("hallucinated", "hallucinated_answer", "unsupported"),
        ):
            cases.append(
                EvalCase(
                    case_id=f"halueval-qa:{number}:{suffix}",
                    question=question,
                    evidence=evidence,
                    answer=_string(row, field, where),
                    label="grounded" if label == "grounded" else "unsupported",
                )
            )
    return cases


def _evidence(row: dict[str, object], where: str) -> tuple[str, ...]:
    value = row.get("evidence")
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(chunk, str) for chunk in value):
        return tuple(str(chunk) for chunk in value)
    got = "a missing field" if "evidence" not in row else json.dumps(value)[:80]
    raise DatasetError(
        "Expected field 'evidence' to be a non-empty string or a non-empty list of strings, "
        f"got {got} - at {where}, field 'evidence'"
    )


def load_jsonl(path: Path, *, limit: int | None = None, seed: int = 0) -> list[EvalCase]:
    """One case per sampled line of a file in the generic format (`JSONL_FORMAT`)."""
    rows = _read_objects(path)
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for index in _sample(len(rows), limit, seed):
        number, row = rows[index]
        where = f"{path}:{number}"
        label = _string(row, "label", where)
        if label not in ("grounded", "unsupported"):
            raise DatasetError(
                "Expected field 'label' to be 'grounded' or 'unsupported', "
                f"got {label!r} - at {where}, field 'label'"
            )
        case_id = _string(row, "id", where) if "id" in row else f"line-{number}"
        if case_id in seen:
            raise DatasetError(
                f"Expected unique ids, got {case_id!r} twice - at {where}, field 'id'"
            )
        seen.add(case_id)
        cases.append(
            EvalCase(
                case_id=case_id,
                question=_string(row, "question", where),
                evidence=_evidence(row, where),
                answer=_string(row, "answer", where),
                label="grounded" if label == "grounded" else "unsupported",
            )
        )
    return cases


def load_dataset(
    name: str,
    *,
    data_dir: Path | None = None,
    path: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> list[EvalCase]:
    """Load a named dataset (`path` is required for `jsonl`; `data_dir` overrides the default)."""
    if name == "halueval-qa":
        return load_halueval_qa(data_dir or default_data_dir(name), limit=limit, seed=seed)
    if name == "jsonl":
        if path is None:
            raise DatasetError("Expected --path FILE for --dataset jsonl, got none - at --path")
        return load_jsonl(path, limit=limit, seed=seed)
    raise DatasetError(f"Expected a dataset in {DATASET_NAMES}, got {name!r} - at --dataset")
