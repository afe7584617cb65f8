"""Tests of the dataset adapters: HaluEval-QA pairs, the generic JSONL format, sampling, errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from proxy.evaluation.datasets import (
    DatasetError,
    default_data_dir,
    load_dataset,
    split_knowledge,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_halueval_row_yields_a_grounded_and_an_unsupported_case() -> None:
    """Each HaluEval row gives (right_answer, grounded) and (hallucinated_answer, unsupported)."""
    cases = load_dataset("halueval-qa", data_dir=FIXTURES / "halueval-qa")
    assert Counter(case.label for case in cases) == {"grounded": 3, "unsupported": 3}
    first, second = cases[0], cases[1]
    assert (first.answer, first.label) == ("Arthur's Magazine", "grounded")
    assert (second.answer, second.label) == ("First for Women was started first.", "unsupported")
    assert first.evidence == second.evidence
    assert first.case_id == "halueval-qa:1:right"


def test_glued_knowledge_paragraphs_become_separate_chunks() -> None:
    """HaluEval's "century.First" paragraph joins are split into evidence chunks."""
    assert split_knowledge("It is 330 metres tall.It was completed in 1889.") == (
        "It is 330 metres tall.",
        "It was completed in 1889.",
    )
    assert split_knowledge("Born in the U.S.A. in 1950.") == ("Born in the U.S.A. in 1950.",)


def test_limit_and_seed_give_a_deterministic_sample_in_file_order() -> None:
    """The same seed picks the same rows; a different seed may differ; order follows the file."""
    first = load_dataset("jsonl", path=FIXTURES / "cases.jsonl", limit=4, seed=7)
    again = load_dataset("jsonl", path=FIXTURES / "cases.jsonl", limit=4, seed=7)
    everything = [c.case_id for c in load_dataset("jsonl", path=FIXTURES / "cases.jsonl")]
    ids = [c.case_id for c in first]
    assert ids == [c.case_id for c in again]
    assert len(ids) == 4
    assert ids == sorted(ids, key=everything.index)
    seeds = {
        tuple(
            c.case_id for c in load_dataset("jsonl", path=FIXTURES / "cases.jsonl", limit=4, seed=s)
        )
        for s in range(10)
    }
    assert len(seeds) > 1


def test_jsonl_accepts_a_single_string_as_one_evidence_chunk() -> None:
    """`evidence` given as one string becomes a one-chunk tuple; blank lines are skipped."""
    cases = {c.case_id: c for c in load_dataset("jsonl", path=FIXTURES / "cases.jsonl")}
    assert len(cases) == 8
    assert cases["g-half"].evidence == ("The tower was completed in 1889 in Paris.",)


def test_missing_data_directory_names_the_path_and_the_override() -> None:
    """A missing HaluEval directory raises an error naming the path and --data-dir."""
    with pytest.raises(DatasetError, match=r"no such directory - at .*nowhere.*--data-dir"):
        load_dataset("halueval-qa", data_dir=FIXTURES / "nowhere")


def test_default_data_dir_is_the_repository_sibling_shared_folder() -> None:
    """The default HaluEval location is <repository>/../shared/data/halueval-qa."""
    repository = Path(__file__).resolve().parents[2]
    assert default_data_dir("halueval-qa") == repository.parent / "shared/data/halueval-qa"


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("missing_answer.jsonl", r"missing_answer\.jsonl:2, field 'answer'"),
        ("bad_label.jsonl", r"got 'maybe' - at .*bad_label\.jsonl:2, field 'label'"),
        ("bad_json.jsonl", r"invalid JSON .* - at .*bad_json\.jsonl:3"),
    ],
)
def test_malformed_rows_name_the_line_and_field(name: str, pattern: str) -> None:
    """A malformed JSONL row raises an error naming the file, line number and field."""
    with pytest.raises(DatasetError, match=pattern):
        load_dataset("jsonl", path=FIXTURES / name)


def test_jsonl_without_path_is_rejected() -> None:
    """The generic adapter needs --path."""
    with pytest.raises(DatasetError, match="--path"):
        load_dataset("jsonl")
