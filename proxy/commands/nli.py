"""`assurance nli train|evaluate|export`: the embedded NLI model's training, measurement, packaging.

Never on the request path. `train` fine-tunes a 3-label cross-encoder from the packaged MiniLM
weights (`proxy.nli.train`) on the training mix of `shared/data/nli-train/` (`proxy.nli.data`), with
checkpoints and resumption under `--out`. `export` writes a checkpoint as the shipped int8 ONNX
model (`oracles/weights/nli-minilm-l6/model`, `proxy.nli.export`), measures it on onnxruntime on the
validation split (`proxy.nli.evaluate`) and writes `evaluation.json` and the `calibration.json`
record beside it. Exit status: 0 done (or paused at `--time-limit-min`); 2 bad input (missing data,
malformed row, an `--out` holding a different run, no model at the checkpoint path).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import msgspec

from oracles.embedded import EMBEDDED_NLI_DIR
from proxy.nli.bases import BASES, MPNET_INSTALL, BaseModelError, base_model_path
from proxy.nli.card import render_card
from proxy.nli.data import (
    DEFAULT_TRAIN_CAPS,
    DataError,
    Pair,
    default_data_dir,
    pairs_digest,
    stratified_subset,
    training_mix,
    validation_pairs,
)
from proxy.nli.distill import teacher_probabilities
from proxy.nli.distractor import with_distractors
from proxy.nli.evaluate import calibration_record, evaluate_model
from proxy.nli.export import export_model
from proxy.nli.partial import with_partial_pairs
from proxy.nli.qa_form import with_qa_forms
from proxy.nli.train import TrainSettings, train

EXIT_BAD_INPUT = 2
#: row `source` values that differ from their file's stem
_STEM_OF_SOURCE = {
    "vitaminc_real": "vitaminc",
    "vitaminc_synthetic": "vitaminc",
    "mnli_matched": "mnli",
    "mnli_mismatched": "mnli",
    "factcheck_gpt_stance": "factcheck_gpt",
    "ambient_disambiguation": "ambient",
}
DEFAULT_OUT = Path(".assurance/nli-train")
DEFAULT_BASE_CACHE = Path(".assurance/bases")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `nli`'s nested subcommands."""
    nested = parser.add_subparsers(dest="nli_command", required=True)
    train = nested.add_parser("train", help="fine-tune the NLI cross-encoder (resumable)")
    train.add_argument(
        "--data-dir", type=Path, help="default: <repository>/../shared/data/nli-train"
    )
    train.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=1e-4)
    train.add_argument("--head-learning-rate", type=float, default=2e-3)
    train.add_argument("--max-length", type=int, default=96)
    train.add_argument(
        "--frozen-layers", type=int, default=2, help="lowest encoder layers left untrained"
    )
    train.add_argument("--eval-every", type=int, default=400, help="steps between validations")
    train.add_argument(
        "--eval-pairs", type=int, default=1000, help="stratified validation subset size"
    )
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every per-source cap of the default mix (e.g. 0.01 for a smoke run)",
    )
    train.add_argument(
        "--qa-form",
        type=_fraction,
        default=0.0,
        help="share of pairs whose hypothesis is rewritten as question + short answer (0-1)",
    )
    train.add_argument(
        "--partial",
        type=_fraction,
        default=0.0,
        help="share of pairs whose hypothesis is joined with an unrelated one by 'and' (0-1)",
    )
    train.add_argument(
        "--distractor",
        type=_fraction,
        default=0.0,
        help="share of pairs whose premise is joined with an unrelated passage (0-1)",
    )
    train.add_argument("--max-steps", type=int, help="stop after N steps (default: the mix)")
    train.add_argument(
        "--init-from", type=Path, help="continue from a saved model (e.g. a previous run's best)"
    )
    train.add_argument("--time-limit-min", type=float, help="checkpoint and stop after M minutes")
    train.add_argument(
        "--base",
        choices=BASES,
        default="minilm",
        help="encoder to start from: minilm (all-MiniLM-L6-v2) or mpnet (all-mpnet-base-v2, "
        f"installed with: {MPNET_INSTALL}); unpacked under --base-cache",
    )
    train.add_argument(
        "--teacher",
        type=Path,
        help="a stronger NLI model whose probabilities become soft labels (cached in --out)",
    )
    train.add_argument(
        "--distill-weight",
        type=_fraction,
        help="share of the loss on the teacher's probabilities (0-1; default 0.5 with --teacher)",
    )
    train.add_argument(
        "--base-cache",
        type=Path,
        default=DEFAULT_BASE_CACHE,
        help=f"where split base weights are unpacked (default {DEFAULT_BASE_CACHE})",
    )
    train.set_defaults(_nli=_run_train)
    export = nested.add_parser(
        "export",
        help="write a checkpoint as the shipped int8 ONNX model, measure it, write its calibration "
        "record and evaluation",
    )
    export.add_argument("checkpoint", type=Path, help="e.g. .assurance/nli-train/best")
    export.add_argument("--out", type=Path, default=EMBEDDED_NLI_DIR, help="default: the package")
    export.add_argument(
        "--data-dir", type=Path, help="default: <repository>/../shared/data/nli-train"
    )
    export.add_argument("--limit", type=int, help="evaluate on a stratified subset of N pairs")
    export.add_argument("--threads", type=int, default=2, help="CPU threads while measuring")
    export.add_argument("--seed", type=int, default=13)
    export.add_argument(
        "--run-dir", type=Path, default=DEFAULT_OUT, help="the training run (its settings.json)"
    )
    export.add_argument(
        "--scale", type=float, default=1.0, help="the --scale the run was trained with"
    )
    export.add_argument(
        "--qa-form", type=_fraction, default=0.0, help="the --qa-form the run was trained with"
    )
    export.add_argument(
        "--partial", type=_fraction, default=0.0, help="the --partial the run was trained with"
    )
    export.add_argument(
        "--distractor",
        type=_fraction,
        default=0.0,
        help="the --distractor the run was trained with",
    )
    export.add_argument(
        "--train-command", default="assurance nli train", help="recorded in the model card"
    )
    export.set_defaults(_nli=_run_export)


def _fraction(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _mix(args: argparse.Namespace, data_dir: Path, seed: int) -> list[Pair]:
    """The training mix at `args.scale`: `args.partial` of it joined with unrelated statements
    (`proxy.nli.partial`), then `args.qa_form` of the other pairs in QA form
    (`proxy.nli.qa_form`), then `args.distractor` of all with an unrelated passage beside the
    premise (`proxy.nli.distractor`)."""
    base = training_mix(data_dir, _caps(args.scale), seed=seed)
    pairs = with_partial_pairs(base, args.partial, seed=seed) if args.partial else base
    if args.qa_form:
        joined = [a != b for a, b in zip(base, pairs, strict=True)] if args.partial else None
        pairs = with_qa_forms(pairs, args.qa_form, seed=seed, keep=joined)
    return with_distractors(pairs, args.distractor, seed=seed) if args.distractor else pairs


def _caps(scale: float) -> dict[str, int | None]:
    if scale == 1.0:
        return dict(DEFAULT_TRAIN_CAPS)
    return {
        stem: max(1, round((cap if cap is not None else 4000) * scale))
        for stem, cap in DEFAULT_TRAIN_CAPS.items()
    }


def _distill_weight(args: argparse.Namespace) -> float:
    if args.teacher is None:
        return 0.0
    return 0.5 if args.distill_weight is None else float(args.distill_weight)


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def _run_train(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    if args.distill_weight is not None and args.teacher is None:
        print("assurance nli train: --distill-weight needs --teacher", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.teacher is not None and not (args.teacher / "config.json").is_file():
        print(f"assurance nli train: --teacher: no model at {args.teacher}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        base_model = base_model_path(args.base, args.base_cache)
        pairs = _mix(args, data_dir, args.seed)
        validation = stratified_subset(validation_pairs(data_dir), args.eval_pairs, seed=args.seed)
    except (BaseModelError, DataError, OSError) as exc:
        print(f"assurance nli train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = TrainSettings(
        base_model=str(base_model),
        seed=args.seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        head_learning_rate=args.head_learning_rate,
        max_length=args.max_length,
        eval_every=args.eval_every,
        threads=args.threads,
        frozen_layers=args.frozen_layers,
        init_from=None if args.init_from is None else str(args.init_from),
        teacher=None if args.teacher is None else str(args.teacher),
        distill_weight=_distill_weight(args),
    )
    print(f"training on {len(pairs)} pairs, validating on {len(validation)}", file=sys.stderr)
    try:
        teacher_rows = (
            None
            if args.teacher is None
            else teacher_probabilities(
                args.teacher,
                pairs,
                args.out,
                threads=args.threads,
                max_length=args.max_length,
                log=_log,
            )
        )
        best = train(
            pairs,
            validation,
            settings,
            args.out,
            max_steps=args.max_steps,
            time_limit_s=None if args.time_limit_min is None else args.time_limit_min * 60,
            teacher_rows=teacher_rows,
            log=_log,
        )
    except ValueError as exc:
        print(f"assurance nli train: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(best)
    return 0


def _without_train_command(argv: list[str]) -> list[str]:
    """`argv` minus `--train-command X` (the card prints that text on its own)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--train-command":
            skip = True
        elif not arg.startswith("--train-command="):
            out.append(arg)
    return out


def _run_export(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    try:
        pairs = validation_pairs(data_dir)
    except (DataError, OSError) as exc:
        print(f"assurance nli export: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.limit is not None:
        pairs = stratified_subset(pairs, args.limit, seed=args.seed)
    if not (args.checkpoint / "config.json").is_file():
        print(f"assurance nli export: no model at {args.checkpoint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    run_path = args.run_dir / "settings.json"
    try:
        run_record = json.loads(run_path.read_text())
        mix = _mix(args, data_dir, run_record["settings"]["seed"])
    except (OSError, ValueError, KeyError, DataError) as exc:
        print(f"assurance nli export: cannot read the run at {run_path}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if pairs_digest(mix) != run_record["train_digest"]:
        print(
            f"assurance nli export: --scale {args.scale} --qa-form {args.qa_form} --partial"
            f" {args.partial} --distractor {args.distractor} does not reproduce the run's training"
            " data (digest differs)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    model_dir = export_model(args.checkpoint, args.out)
    print(f"measuring {model_dir} on {len(pairs)} validation pairs", file=sys.stderr)
    evaluation = evaluate_model(
        model_dir, pairs, threads=args.threads, reference=args.checkpoint, shape_seed=args.seed
    )
    (args.out / "evaluation.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(evaluation), indent=2) + b"\n"
    )
    record = calibration_record(evaluation)
    (args.out / "calibration.json").write_bytes(
        msgspec.json.format(msgspec.json.encode(record), indent=2) + b"\n"
    )
    counts: dict[str, int] = {}
    for pair in mix:
        stem = _STEM_OF_SOURCE.get(pair.source, pair.source)
        counts[stem] = counts.get(stem, 0) + 1
    export_command = shlex.join(
        ["assurance", "nli", "export", *_without_train_command(sys.argv[3:])]
    )
    card = render_card(
        run=run_record,
        train_counts=counts,
        evaluation=evaluation,
        command=args.train_command,
        export_command=export_command,
        qa_form=args.qa_form,
        partial=args.partial,
        distractor=args.distractor,
    )
    (args.out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    print(
        f"accuracy {evaluation.accuracy:.4f}, ECE {evaluation.expected_calibration_error:.4f}, "
        f"{evaluation.batch32_pairs_per_s:.1f} pairs/s"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen `nli` subcommand."""
    code: int = args._nli(args)
    return code
