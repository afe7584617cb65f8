"""`assurance eval ...`: evaluation harnesses; `eval grounding` measures catch and false block.

Parses flags, loads the dataset and the `[oracles.*]` and `[[upstreams]]` tables of `--config`,
opens the upstream clients inside the event loop exactly as the proxy does
(`proxy.upstreams.registry`) so LLM-backed oracles (`kind = "llm"`) reach them through
`proxy.assurance.chat_clients`'s clients,
builds the oracles once (`oracles.factory.build_oracles`), runs `proxy.evaluation.harness.evaluate`
on that
loop, closes oracles and upstreams, and writes the report (Markdown or JSON on stdout, JSON to
`--out`, Markdown to `--markdown`, a PNG to `--plot`). Exit status: 0 done; 2 bad input (missing
dataset, malformed row, bad config, an output path that cannot be written, checked before the run);
3 when more than `--max-failure-rate` (default 0.5) of the cases failed an oracle: the report is
still written, but its rates measure mostly the fail-closed fallback, not the oracles. Any oracle
failure is also warned about on stderr. It is not part of the proxy's request path and starts no
server.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

import msgspec
import structlog.testing

from oracles.config import EmbedderConfig, OraclesConfig
from oracles.errors import OracleConfigError
from oracles.factory import OracleSet, build_oracles
from proxy.assurance.chat_clients import chat_clients, embeddings_clients
from proxy.config import Config, UpstreamConfig, read_toml
from proxy.evaluation.datasets import (
    DATASET_NAMES,
    JSONL_FORMAT,
    DatasetError,
    EvalCase,
    default_data_dir,
    load_dataset,
)
from proxy.evaluation.harness import HarnessSettings, evaluate
from proxy.evaluation.refusals import is_refusal
from proxy.evaluation.report import DatasetInfo, EvalReport, encode_json, render_markdown
from proxy.evaluation.runner import EvalOracles
from proxy.upstreams.base import Upstream
from proxy.upstreams.registry import close_upstreams, open_upstreams

EXIT_BAD_INPUT = 2
EXIT_ORACLE_FAILURES = 3
DEFAULT_MAX_FAILURE_RATE = 0.5
DEFAULT_CACHE_DIR = Path(".assurance/cache")


class EvalConfigError(Exception):
    """The `--config` file is unreadable or its `[oracles.*]` / `[[upstreams]]` are invalid."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `eval`'s nested subcommands (currently `grounding`)."""
    nested = parser.add_subparsers(dest="eval_command", required=True)
    grounding = nested.add_parser(
        "grounding",
        help="catch / false-block rates of the grounding gate on a labelled dataset",
        description=__doc__,
        epilog="Generic --dataset jsonl format:\n" + JSONL_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grounding.add_argument("--dataset", choices=DATASET_NAMES, required=True)
    grounding.add_argument("--path", type=Path, help="the JSONL file for --dataset jsonl")
    grounding.add_argument(
        "--data-dir",
        type=Path,
        help="directory of a named dataset (default: <repository>/../shared/data/<dataset>)",
    )
    grounding.add_argument("--limit", type=int, help="evaluate N dataset rows (seeded sample)")
    grounding.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    grounding.add_argument(
        "--config",
        type=Path,
        help="TOML file; only its [oracles.*] and [[upstreams]] (for llm oracles) are read",
    )
    grounding.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    grounding.add_argument(
        "--no-cache", action="store_true", help="neither read nor write the cache"
    )
    grounding.add_argument("--concurrency", type=int, default=8, help="cases in flight (default 8)")
    grounding.add_argument("--no-b1", action="store_true", help="skip the cosine baseline B1")
    grounding.add_argument("--format", choices=("markdown", "json"), default="markdown")
    grounding.add_argument("--out", type=Path, help="write the JSON report here")
    grounding.add_argument("--markdown", type=Path, help="write the Markdown report here")
    grounding.add_argument("--plot", type=Path, help="write the frontier PNG here")
    grounding.add_argument("--quiet", action="store_true", help="no progress bar")
    grounding.add_argument(
        "--max-failure-rate",
        type=float,
        default=DEFAULT_MAX_FAILURE_RATE,
        help="exit 3 when more than this fraction of cases failed an oracle (default 0.5)",
    )


def load_eval_config(path: Path | None) -> tuple[OraclesConfig, tuple[UpstreamConfig, ...]]:
    """The `[oracles.*]` tables and `[[upstreams]]` entries of a TOML file; others are ignored."""
    if path is None:
        return OraclesConfig(), ()
    try:
        raw = read_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EvalConfigError(f"Expected a readable TOML file, got {exc} - at {path}") from None
    try:
        oracles = msgspec.convert(raw.get("oracles", {}), OraclesConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise EvalConfigError(
            f"Expected valid [oracles.*] tables, got: {exc} - at {path}"
        ) from None
    try:
        # Config's own checks (unique names) apply; the proxy reads the same tables the same way
        config = msgspec.convert({"upstreams": raw.get("upstreams", [])}, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise EvalConfigError(f"Expected valid [[upstreams]], got: {exc} - at {path}") from None
    return oracles, config.upstreams


async def _open_upstreams(upstreams: tuple[UpstreamConfig, ...]) -> list[Upstream]:
    """The proxy's upstream clients for `upstreams` (inside the running loop); no client auth.

    Start-up warnings (an unset `api_key_env`) go to stderr, not into a report on stdout.
    """
    with structlog.testing.capture_logs() as logs:
        opened = await open_upstreams(Config(upstreams=upstreams), forward_client_auth=False)
    for entry in logs:
        fields = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("event", "log_level"))
        print(
            f"{entry.get('log_level', 'warning')}: {entry.get('event')} {fields}", file=sys.stderr
        )
    return opened


def _build(config: OraclesConfig, upstreams: Sequence[Upstream]) -> OracleSet:
    """The oracles, with chat / embeddings clients over `upstreams` as the proxy builds them."""
    return build_oracles(
        config, chat_clients(upstreams), embeddings_clients=embeddings_clients(upstreams)
    )


def _b1_config(config: OraclesConfig, want_b1: bool) -> tuple[OraclesConfig, str]:
    """The config to build from: B1 needs an embedder; `none` is replaced by MiniLM for B1 only."""
    if not want_b1:
        return msgspec.structs.replace(config, embedder=EmbedderConfig(kind="none")), ""
    if config.embedder.kind != "none":
        return config, ""
    replaced = msgspec.structs.replace(
        config, embedder=EmbedderConfig(kind="sentence_transformers")
    )
    return replaced, "configured embedder is none: default sentence_transformers used for B1"


def _oracle_settings(config: OraclesConfig) -> dict[str, dict[str, object]]:
    """Per-role settings that change outputs (cache identity); timeouts and sizes are left out."""
    ignored = {"timeout_s", "batch_size", "max_concurrency", "device"}

    def keep(section: msgspec.Struct) -> dict[str, object]:
        values: dict[str, object] = msgspec.to_builtins(section)
        return {key: value for key, value in values.items() if key not in ignored}

    return {
        "decomposer": keep(config.decomposer),
        "nli": keep(config.nli),
        "embedder": keep(config.embedder),
    }


def _dataset_info(args: argparse.Namespace, cases: list[EvalCase]) -> DatasetInfo:
    source = (
        str(args.path)
        if args.dataset == "jsonl"
        else str(args.data_dir or default_data_dir(args.dataset))
    )
    refusal_counts = {"grounded": 0, "unsupported": 0}
    for case in cases:
        refusal_counts[case.label] += is_refusal(case.answer)
    return DatasetInfo(
        name=args.dataset,
        source=source,
        limit=args.limit,
        seed=args.seed,
        cases=len(cases),
        grounded=sum(1 for case in cases if case.label == "grounded"),
        unsupported=sum(1 for case in cases if case.label == "unsupported"),
        refusals_grounded=refusal_counts["grounded"],
        refusals_unsupported=refusal_counts["unsupported"],
    )


async def _evaluate(args: argparse.Namespace, cases: list[EvalCase]) -> EvalReport:
    oracles_config, upstream_configs = load_eval_config(args.config)
    config, b1_note = _b1_config(oracles_config, not args.no_b1)
    upstreams = await _open_upstreams(upstream_configs)
    try:
        oracle_set = _build(config, upstreams)
    except BaseException:
        await close_upstreams(upstreams)
        raise
    try:
        settings = HarnessSettings(
            concurrency=args.concurrency,
            progress=not args.quiet and sys.stderr.isatty(),
            b1_note=b1_note,
            oracle_settings=_oracle_settings(config),
        )
        oracles = EvalOracles(
            decomposer=oracle_set.decomposer, nli=oracle_set.nli, embedder=oracle_set.embedder
        )
        return await evaluate(
            cases,
            oracles,
            dataset=_dataset_info(args, cases),
            settings=settings,
            cache_dir=None if args.no_cache else args.cache_dir,
        )
    finally:
        await oracle_set.aclose()
        await close_upstreams(upstreams)


def _output_paths(args: argparse.Namespace) -> list[tuple[str, Path]]:
    flags = (("--out", args.out), ("--markdown", args.markdown), ("--plot", args.plot))
    return [(flag, path) for flag, path in flags if path is not None]


def _check_output_paths(args: argparse.Namespace) -> None:
    """Fail before the run when an output file cannot be created (no traceback, exit 2)."""
    for flag, path in _output_paths(args):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(
                f"Expected a writable output path, got {exc.strerror or exc} - at {flag} {path}"
            ) from None
        if path.is_dir() or not os.access(path.parent, os.W_OK):
            what = "a directory" if path.is_dir() else "a read-only directory"
            raise DatasetError(f"Expected a writable output file, got {what} - at {flag} {path}")


def _warn_failures(args: argparse.Namespace, report: EvalReport) -> int:
    """Warn on stderr about oracle failures; the exit status they call for (0 or 3)."""
    failed, cases = report.oracle_failures, report.dataset.cases
    if failed == 0:
        return 0
    print(
        f"warning: {failed} of {cases} cases failed an oracle and were counted as block "
        f"(fail closed); first: {report.failures[0] if report.failures else '-'}",
        file=sys.stderr,
    )
    if failed > args.max_failure_rate * cases:
        print(
            f"error: expected at most {args.max_failure_rate:.0%} of cases to fail an oracle, got "
            f"{failed}/{cases}; the rates measure the fail-closed fallback, not the oracles - "
            "at --max-failure-rate",
            file=sys.stderr,
        )
        return EXIT_ORACLE_FAILURES
    return 0


def _write_outputs(args: argparse.Namespace, report: EvalReport) -> None:
    markdown = render_markdown(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(encode_json(report))
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    if args.plot is not None:
        plot = importlib.import_module("proxy.evaluation.plot")
        plot.write_frontier_png(report, args.plot)
    if args.format == "json":
        sys.stdout.write(encode_json(report).decode("utf-8"))
    else:
        sys.stdout.write(markdown)


def run(args: argparse.Namespace) -> int:
    """Run `assurance eval <command>`; returns the exit status."""
    if args.eval_command != "grounding":
        print(
            f"error: expected an eval command in ('grounding',), got {args.eval_command!r}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        if args.limit is not None and args.limit < 1:
            raise DatasetError(f"Expected --limit >= 1, got {args.limit} - at --limit")
        if args.concurrency < 1:
            raise DatasetError(
                f"Expected --concurrency >= 1, got {args.concurrency} - at --concurrency"
            )
        cases = load_dataset(
            args.dataset, data_dir=args.data_dir, path=args.path, limit=args.limit, seed=args.seed
        )
        if not cases:
            raise DatasetError(
                f"Expected at least one case, got an empty dataset - at {args.dataset}"
            )
        if not 0.0 <= args.max_failure_rate <= 1.0:
            raise DatasetError(
                f"Expected --max-failure-rate in [0, 1], got {args.max_failure_rate} "
                "- at --max-failure-rate"
            )
        _check_output_paths(args)
        report = asyncio.run(_evaluate(args, cases))
    except (DatasetError, EvalConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OracleConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        _write_outputs(args, report)
    except OSError as exc:
        print(f"error: expected writable output paths, got {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _warn_failures(args, report)
