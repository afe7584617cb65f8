"""Expected calibration error, by hand; the validation pairs in the proxy's shapes."""

from __future__ import annotations

import pytest

from proxy.nli.data import Pair
from proxy.nli.evaluate import expected_calibration_error, shaped_pairs


def _pair(label: int) -> Pair:
    return Pair("p", "h", label, "s")


def test_perfectly_calibrated_bins_have_zero_error() -> None:
    rows = [[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]  # confidence 0.5, one right and one wrong
    assert expected_calibration_error(rows, [_pair(0), _pair(1)]) == pytest.approx(0.0)


def test_overconfident_predictions_have_their_gap() -> None:
    rows = [[0.9, 0.05, 0.05]] * 4  # confidence 0.9, accuracy 0.5
    pairs = [_pair(0), _pair(0), _pair(1), _pair(2)]
    assert expected_calibration_error(rows, pairs) == pytest.approx(0.4)


def test_bins_are_weighted_by_size() -> None:
    rows = [[1.0, 0.0, 0.0], [0.4, 0.3, 0.3], [0.4, 0.3, 0.3]]
    pairs = [_pair(0), _pair(1), _pair(1)]  # bin 1.0: acc 1 (gap 0); bin 0.4: acc 0 (gap 0.4)
    assert expected_calibration_error(rows, pairs) == pytest.approx(2 / 3 * 0.4)


def test_shaped_pairs_hold_only_rewritten_pairs_with_their_labels_kept_or_swapped() -> None:
    pairs = [
        Pair("Mary lives in Paris.", "Mary lives in Paris.", 0, "s"),
        Pair("Tom was born in 1950.", "Tom was born in 1960.", 2, "s"),
        Pair("A cat sleeps.", "Dogs bark.", 1, "s"),
    ]
    shaped = shaped_pairs(pairs, seed=1)
    assert shaped == shaped_pairs(pairs, seed=1)
    distracted = {pair.hypothesis: pair for pair in shaped["distractor"]}
    assert distracted  # a draw of the pair itself is skipped
    for before in pairs:
        after = distracted.get(before.hypothesis)
        if after is not None:
            assert after.label == before.label
            assert before.premise in after.premise.split("\n\n")
    assert shaped["qa_form"]  # "Tom was born in what? 1960"-like rewrites apply
    assert all("?" in pair.hypothesis for pair in shaped["qa_form"])
