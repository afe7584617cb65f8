"""`assurance demo`: an offline, end-to-end run of the proxy in enforce and shadow modes.

On a fresh machine, with no API key and no network: start a local upstream that REPLAYS A FIXED
clinical answer (`proxy.upstreams.demo`; one of its claims is contradicted by the evidence), start
the proxy in-process on loopback with the embedded NLI cross-encoder (trained by `assurance nli
train`, shipped in the package) and the real all-MiniLM-L6-v2 embedder, both loaded offline, send
a clinical RAG question with evidence through the official `openai` SDK in enforce mode (policy
`clinical`), print the answer, the verdict and the card, fetch the stored bundle and verify it,
write its card viewer page (`--page-out`, printed), then send the same call in shadow mode. The
calls ask for inline citations and print each claim's evidence ids. It says on screen what is
replayed (the upstream's answer) and what is a model, and how to switch to a real provider.
`--short` prints only the summary lines (used by the tests). This module only drives the proxy; it
certifies nothing itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from openai import APIError, AsyncOpenAI

from proxy.assurance.lifecycle import setup_assurance
from proxy.config import Config, config_from_mapping
from proxy.server.app import create_app
from proxy.server.log import configure_logging
from proxy.server.runner import make_runner
from proxy.upstreams.demo import FixedAnswer, serve_fixed_answer

QUESTION = (
    "Is standard-dose apixaban appropriate for my 62-year-old patient with atrial fibrillation"
    " and a creatinine clearance of 22 mL/min?"
)
ANSWER = (
    "Apixaban is a recommended direct oral anticoagulant for patients with atrial fibrillation. "
    "The patient is 62 years old and has atrial fibrillation. "
    "Standard apixaban dosing is approved for a creatinine clearance of 15 mL/min. "
    "Patients with a creatinine clearance below 25 mL/min need a reduced dose or an alternative "
    "anticoagulant."
)
EVIDENCE_TEXTS = {
    "acc-aha-guideline": (
        "For patients with atrial fibrillation, apixaban is a recommended direct oral"
        " anticoagulant."
    ),
    "fda-label": (
        "Standard apixaban dosing requires a creatinine clearance of at least 25 mL/min. Patients"
        " with a creatinine clearance below 25 mL/min need a reduced dose or an alternative"
        " anticoagulant."
    ),
    "patient-chart": (
        "The patient is 62 years old and has atrial fibrillation and a creatinine clearance of"
        " 22 mL/min."
    ),
}
REAL_SETUP = """\
  This demo's upstream REPLAYS A FIXED ANSWER (it is not a model). The NLI judge is a real model:
  the embedded MiniLM-L6 cross-encoder shipped in the package as int8 ONNX (see
  oracles/weights/nli-minilm-l6/MODEL_CARD.md), judging each claim against its top 3 evidence
  chunks; the embedder is all-MiniLM-L6-v2. Both are loaded offline.
  To use a real provider:  assurance serve --upstream-url https://api.openai.com/v1
  To use another NLI, one line in the config:  [oracles.nli] kind = "tei", url = "http://nli:8080"
    (or kind = "llm", upstream = "openai", model = "gpt-4o-mini"; or kind = "cross_encoder",
     model_path = "/models/nli-deberta-v3"; kind = "lexical" is a token-overlap heuristic)"""

Printer = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `assurance demo`."""
    parser.add_argument(
        "--short", action="store_true", help="print only the summary lines (no full card JSON)"
    )
    parser.add_argument(
        "--bundle-out", metavar="FILE", help="also write the enforce call's bundle JSON here"
    )
    parser.add_argument(
        "--page-out",
        metavar="FILE",
        default="assurance-demo-card.html",
        help="where to write the card viewer page of the enforce call (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when both calls were answered with a card."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    configure_logging(level="warning")  # the demo's own lines are the output; no request logs
    return asyncio.run(
        run_demo(
            short=bool(args.short), bundle_out=args.bundle_out, out=print, page_out=args.page_out
        )
    )


def demo_config(upstream_url: str, store_path: str) -> Config:
    """The demo's configuration: fixed-answer upstream, the embedded NLI model, MiniLM embedder."""
    return config_from_mapping(
        {
            "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 1.0},
            "upstreams": [{"name": "demo", "kind": "openai", "base_url": upstream_url}],
            "assurance": {"default_policy": "clinical"},
            "oracles": {
                "decomposer": {"kind": "sentences"},
                "nli": {},  # the default: the embedded cross-encoder, per_chunk with top-3
                "paraphraser": {"kind": "rules"},
                "embedder": {"kind": "sentence_transformers"},
            },
            "store": {"path": store_path},
        }
    )


def evidence(now: int) -> list[dict[str, Any]]:
    """The demo's evidence chunks, retrieved an hour ago."""
    return [
        {"id": chunk_id, "text": text, "source": chunk_id, "retrieved_at": now - 3600}
        for chunk_id, text in EVIDENCE_TEXTS.items()
    ]


async def run_demo(
    *, short: bool, bundle_out: str | None, out: Printer, page_out: str | None = None
) -> int:
    """Start the fixed-answer upstream and the proxy, then make the enforce and shadow calls."""
    with tempfile.TemporaryDirectory(prefix="assurance-demo-") as tmp:
        async with serve_fixed_answer(FixedAnswer(content=ANSWER)) as upstream_url:
            config = demo_config(upstream_url, str(Path(tmp) / "store.sqlite3"))
            out("assurance demo: starting the proxy (loading the NLI and embedding models)...")
            runner = make_runner(
                create_app(config, setup_assurance=setup_assurance), shutdown_grace_s=1.0
            )
            await runner.setup()
            try:
                site = web.TCPSite(runner, "127.0.0.1", 0)
                await site.start()
                root = f"http://127.0.0.1:{runner.addresses[0][1]}"
                out(REAL_SETUP)
                return await _calls(
                    root, short=short, bundle_out=bundle_out, page_out=page_out, out=out
                )
            finally:
                await runner.cleanup()


async def _calls(
    root: str, *, short: bool, bundle_out: str | None, page_out: str | None, out: Printer
) -> int:
    body = {"assurance": {"evidence": evidence(int(time.time())), "citations": "inline"}}
    async with AsyncOpenAI(base_url=f"{root}/v1", api_key="demo-no-key", max_retries=0) as client:
        results = {}
        for mode in ("enforce", "shadow"):
            try:
                completion = await client.chat.completions.create(
                    model="demo-model",
                    messages=[{"role": "user", "content": QUESTION}],
                    extra_headers={"X-Assurance-Mode": mode, "X-Assurance-Policy": "clinical"},
                    extra_body=body,
                )
            except APIError as exc:
                out(f"error: the {mode} call failed: {exc.message}")
                return 1
            assurance = (completion.model_extra or {}).get("assurance")
            if not isinstance(assurance, dict):
                out(f"error: the {mode} answer carries no assurance card")
                return 1
            results[mode] = assurance
            _show(mode, completion.choices[0].message.content or "", assurance, short, out)
    handle = results["enforce"]["replay_handle"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{root}/v1/assurance/cards/{handle}") as stored:
            bundle = await stored.read()
        async with session.post(f"{root}/v1/assurance/verify", data=bundle) as checked:
            verdict = await checked.json()
        page_url = f"{root}/v1/assurance/cards/{handle}"
        async with session.get(page_url, headers={"Accept": "text/html"}) as viewer:
            page = await viewer.read()
    out("")
    out(f"stored bundle {handle}: {len(bundle)} bytes")
    out(f"POST /v1/assurance/verify -> valid={verdict['valid']} errors={verdict['errors']}")
    for note in verdict.get("notes", []):
        out(f"  note: {note}")
    if page_out is not None:
        where = await asyncio.to_thread(_write, Path(page_out), page)
        out(f"card viewer page written to {where} (open it in a browser)")
    if bundle_out is not None:
        await asyncio.to_thread(Path(bundle_out).write_bytes, bundle)
        out(f"bundle written to {bundle_out}; re-check it offline: assurance verify {bundle_out}")
    return 0 if verdict["valid"] else 1


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path.resolve()


def _show(mode: str, content: str, assurance: dict[str, Any], short: bool, out: Printer) -> None:
    card = assurance["card"]
    verdict = card["verdict"]
    out("")
    out(f"=== mode {mode}, policy {assurance['policy']} " + "=" * 40)
    out(f"question: {QUESTION}")
    out(f"upstream answer (fixed replay): {ANSWER}")
    out(f"answer received: {content}")
    out(f"verdict: {verdict['kind']}   policy decision: {assurance['policy_decision']}")
    if assurance["policy_failures"]:
        out(f"policy failures: {', '.join(assurance['policy_failures'])}")
    out(
        "evidence masses (all claims): supported {supported_mass}, contradicted"
        " {contradicted_mass}, contested {contested_mass}, unknown {unknown_mass}".format(**card)
    )
    if card.get("emitted"):
        out("emitted masses: " + ", ".join(f"{k} {v}" for k, v in sorted(card["emitted"].items())))
    for claim in assurance.get("claims", []):
        cited = ", ".join(claim["supporting"]) or "nothing"
        against = f"; contradicted by {', '.join(claim['contradicting'])}" * bool(
            claim["contradicting"]
        )
        shown = "emitted" if claim["emitted"] else "dropped"
        out(f"claim c{claim['index'] + 1} {claim['status']}, {shown}: cites {cited}{against}")
    for dropped in card["dropped_claims"]:
        out(f"dropped: {dropped}")
    out(f"in scope: {card['in_scope']}  ({', '.join(card['scope_predicates_held'])})")
    out(f"unverified layers: {list(card['unverified_layers']) or 'none'}")
    out(
        f"perturbation budget: {card['perturbation_budget']}  variant flips:"
        f" {card['variant_flips']}  semantic agreement: {card['semantic_agreement']}"
    )
    out(f"certificate digest: {assurance['certificate_digest']}")
    out(f"replay handle: {assurance['replay_handle']}")
    if not short:
        out("card:")
        out(json.dumps(card, indent=2, ensure_ascii=False))
