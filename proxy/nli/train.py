"""Fine-tune a 3-label NLI cross-encoder from packaged encoder weights (`proxy.nli.bases`).

A plain PyTorch loop over a `transformers` sequence-classification head on the base encoder; the
saved directory is what `sentence_transformers.CrossEncoder` loads. Pairs are bucketed by token
length (sorted inside seeded mega-batches, batches shuffled), so padding stays small on CPU. Every
`eval_every` steps the model is scored on a fixed stratified validation subset; the best one is kept
in `OUT/best`, and `OUT/last` holds everything needed to resume (weights, optimizer, schedule, RNG,
step). A run is a pure function of its settings and seed: the batch order is derived from the seed,
resuming skips the batches already taken and restores the RNG state. `torch` and `transformers`
come with the `local` extra and are imported only here.
"""

from __future__ import annotations

import importlib
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from oracles.models import fingerprint
from proxy.nli.data import LABELS, Pair, pairs_digest

CHECKPOINT_STATE = "trainer_state.pt"


class TrainSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting a run depends on (recorded next to the checkpoints and in the model card)."""

    base_model: str
    seed: int = 13
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 4e-5
    # the pooler and the new classifier start far from useful (the base model was trained with
    # mean pooling, so its [CLS] pooler outputs are tiny): they learn at their own, higher rate
    head_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_length: int = 128
    bucket_batches: int = 50
    eval_every: int = 250
    threads: int = 2
    # the word embeddings and the lowest `frozen_layers` encoder layers are not trained
    frozen_layers: int = 0
    # continue from a saved classifier (a previous run's best) instead of a fresh head
    init_from: str | None = None
    # soft labels from a teacher model (`proxy.nli.distill`): their share of the loss, and its path
    distill_weight: float = 0.0
    teacher: str | None = None


class EvalResult(msgspec.Struct, frozen=True):
    """Accuracy on a validation set at one step."""

    step: int
    accuracy: float
    pairs: int


def _torch() -> Any:
    return importlib.import_module("torch")  # optional dependency (extra `local`)


def batch_schedule(lengths: Sequence[int], settings: TrainSettings, epoch: int) -> list[list[int]]:
    """Index batches for one epoch: seeded shuffle, sort by length inside mega-batches, shuffle."""
    rng = random.Random(f"{settings.seed}:epoch:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = settings.batch_size * settings.bucket_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda index: (lengths[index], index))
        batches.extend(
            chunk[offset : offset + settings.batch_size]
            for offset in range(0, len(chunk), settings.batch_size)
        )
    rng.shuffle(batches)
    return batches


class Encoded(msgspec.Struct, frozen=True):
    """Token ids of the pairs, in pair order."""

    input_ids: list[list[int]]
    # None for encoders without segment ids (MPNet)
    token_type_ids: list[list[int]] | None
    labels: list[int]


def encode_pairs(tokenizer: Any, pairs: Sequence[Pair], max_length: int) -> Encoded:
    """Tokenize (premise, hypothesis) with the premise truncated first."""
    out = tokenizer(
        [pair.premise for pair in pairs],
        [pair.hypothesis for pair in pairs],
        truncation="longest_first",
        max_length=max_length,
    )
    types = out.get("token_type_ids")
    return Encoded(
        input_ids=[list(row) for row in out["input_ids"]],
        token_type_ids=None if types is None else [list(row) for row in types],
        labels=[pair.label for pair in pairs],
    )


def collate(encoded: Encoded, indices: Sequence[int], pad_id: int) -> dict[str, Any]:
    """Pad one batch to its longest member; tensors for the model."""
    torch = _torch()
    width = max(len(encoded.input_ids[index]) for index in indices)
    ids = [encoded.input_ids[i] + [pad_id] * (width - len(encoded.input_ids[i])) for i in indices]
    mask = [
        [1] * len(encoded.input_ids[i]) + [0] * (width - len(encoded.input_ids[i])) for i in indices
    ]
    batch = {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "attention_mask": torch.tensor(mask, dtype=torch.long),
        "labels": torch.tensor([encoded.labels[i] for i in indices], dtype=torch.long),
    }
    if encoded.token_type_ids is not None:
        rows = [encoded.token_type_ids[i] for i in indices]
        types = [row + [0] * (width - len(row)) for row in rows]
        batch["token_type_ids"] = torch.tensor(types, dtype=torch.long)
    return batch


def predict_probabilities(
    model: Any, tokenizer: Any, pairs: Sequence[Pair], *, max_length: int, batch_size: int = 64
) -> list[list[float]]:
    """Softmax probabilities per pair (columns in `LABELS` order), length-sorted batches."""
    torch = _torch()
    encoded = encode_pairs(tokenizer, pairs, max_length)
    order = sorted(range(len(pairs)), key=lambda index: len(encoded.input_ids[index]))
    rows: list[list[float]] = [[] for _ in pairs]
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = collate(encoded, indices, tokenizer.pad_token_id)
            batch.pop("labels")
            probs = torch.softmax(model(**batch).logits.float(), dim=-1).tolist()
            for index, row in zip(indices, probs, strict=True):
                rows[index] = [float(value) for value in row]
    return rows


def accuracy(rows: Sequence[Sequence[float]], pairs: Sequence[Pair]) -> float:
    """Share of pairs whose arg-max column is the gold label."""
    hits = sum(
        max(range(len(row)), key=row.__getitem__) == pair.label
        for row, pair in zip(rows, pairs, strict=True)
    )
    return hits / len(pairs) if pairs else 0.0


def load_base(settings: TrainSettings) -> tuple[Any, Any]:
    """Tokenizer and a fresh 3-label classification head on the base encoder (offline)."""
    transformers: Any = importlib.import_module("transformers")
    _torch().manual_seed(settings.seed)
    # a saved model carries its own tokenizer (the base it was trained from may be another)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        settings.init_from or settings.base_model, local_files_only=True
    )
    if settings.init_from is not None:
        # a saved model may be fp16 on disk; train in fp32 (transformers 5 keeps the stored dtype)
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            settings.init_from, local_files_only=True, dtype=_torch().float32
        )
        return tokenizer, model
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        settings.base_model,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={name: index for index, name in enumerate(LABELS)},
        local_files_only=True,
    )
    return tokenizer, model


def distillation_loss(logits: Any, labels: Any, soft: Any, weight: float) -> Any:
    """(1 - weight) x cross-entropy with `labels` + weight x cross-entropy with the `soft` rows."""
    torch = _torch()
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    hard = torch.nn.functional.nll_loss(log_probs, labels)
    return (1.0 - weight) * hard + weight * -(soft * log_probs).sum(dim=-1).mean()


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _save_model(model: Any, tokenizer: Any, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))


def train(
    train_pairs: Sequence[Pair],
    validation: Sequence[Pair],
    settings: TrainSettings,
    out_dir: Path,
    *,
    max_steps: int | None = None,
    time_limit_s: float | None = None,
    teacher_rows: Sequence[Sequence[float]] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train (resuming from `out_dir/last` when present); returns the best checkpoint's path.

    With `teacher_rows` (one probability row per training pair), the loss mixes in the teacher's
    soft labels at `settings.distill_weight`.
    """
    if (teacher_rows is None) != (settings.teacher is None):
        raise ValueError("Expected teacher rows exactly when settings name a teacher")
    if teacher_rows is not None and len(teacher_rows) != len(train_pairs):
        raise ValueError(f"Expected {len(train_pairs)} teacher rows, got {len(teacher_rows)}")
    torch = _torch()
    torch.set_num_threads(settings.threads)
    torch.use_deterministic_algorithms(True)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings_path = out_dir / "settings.json"
    recorded_settings = msgspec.to_builtins(settings)
    if settings.teacher is None:  # runs without a teacher keep the record they always had
        del recorded_settings["distill_weight"], recorded_settings["teacher"]
    run_record = {
        "settings": recorded_settings,
        "train_pairs": len(train_pairs),
        "train_digest": pairs_digest(list(train_pairs)),
        "validation_subset_pairs": len(validation),
        "validation_subset_digest": pairs_digest(list(validation)),
    }
    if settings.teacher is not None:
        run_record["teacher_fingerprint"] = fingerprint(Path(settings.teacher))
    if settings_path.exists():
        recorded = json.loads(settings_path.read_text())
        if recorded != run_record:
            raise ValueError(
                f"{out_dir} holds a run with other settings or data; use a new --out or delete it"
            )
    else:
        settings_path.write_text(json.dumps(run_record, indent=2, sort_keys=True))

    tokenizer, model = load_base(settings)
    encoded = encode_pairs(tokenizer, train_pairs, settings.max_length)
    lengths = [len(ids) for ids in encoded.input_ids]
    schedule = [
        batch
        for epoch in range(settings.epochs)
        for batch in batch_schedule(lengths, settings, epoch)
    ]
    total = len(schedule) if max_steps is None else min(max_steps, len(schedule))
    # the word-embedding table (half the weights) stays frozen: faster steps, less overfitting
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    for layer in model.base_model.encoder.layer[: settings.frozen_layers]:
        layer.requires_grad_(False)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    # the new head: the classifier, and the [CLS] pooler where the encoder has one (BERT, not MPNet)
    head_prefixes = ("classifier.", f"{model.base_model_prefix}.pooler.")
    head = [p for n, p in trainable if n.startswith(head_prefixes)]
    body = [(n, p) for n, p in trainable if not n.startswith(head_prefixes)]
    decay = [p for n, p in body if not n.endswith(("bias", "LayerNorm.weight"))]
    rest = [p for n, p in body if n.endswith(("bias", "LayerNorm.weight"))]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": settings.weight_decay},
            {"params": rest, "weight_decay": 0.0},
            {"params": head, "weight_decay": 0.0, "lr": settings.head_learning_rate},
        ],
        lr=settings.learning_rate,
    )
    warmup = max(1, int(total * settings.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, total, warmup)
    )
    step, best, running = 0, -1.0, 0.0
    history: list[dict[str, Any]] = []
    last = out_dir / "last"
    if (last / CHECKPOINT_STATE).exists():
        state = torch.load(last / CHECKPOINT_STATE, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, best, history = state["step"], state["best"], state["history"]
        running = state["running"]
        log(f"resumed at step {step}/{total} (best validation accuracy {best:.4f})")

    def checkpoint() -> None:
        last.mkdir(parents=True, exist_ok=True)
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "best": best,
            "history": history,
            "running": running,
        }
        torch.save(state, last / (CHECKPOINT_STATE + ".tmp"))
        (last / (CHECKPOINT_STATE + ".tmp")).replace(last / CHECKPOINT_STATE)
        (out_dir / "history.json").write_text(json.dumps(history, indent=2))

    def evaluate() -> float:
        rows = predict_probabilities(model, tokenizer, validation, max_length=settings.max_length)
        model.train()
        return accuracy(rows, validation)

    started = time.monotonic()
    model.train()
    progress = tqdm(total=total, initial=step, desc="nli train", unit="step", mininterval=5.0)
    while step < total:
        batch = collate(encoded, schedule[step], tokenizer.pad_token_id)
        if teacher_rows is None:
            loss = model(**batch).loss
        else:
            labels = batch.pop("labels")
            rows = [list(teacher_rows[i]) for i in schedule[step]]
            soft = torch.tensor(rows, dtype=torch.float32)
            loss = distillation_loss(model(**batch).logits, labels, soft, settings.distill_weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        running = 0.98 * running + 0.02 * float(loss.item()) if step > 1 else float(loss.item())
        progress.update(1)
        progress.set_postfix(loss=f"{running:.3f}", best=f"{best:.3f}")
        if step % settings.eval_every == 0 or step == total:
            score = evaluate()
            history.append({"step": step, "accuracy": score, "loss": running})
            if score > best:
                best = score
                _save_model(model, tokenizer, out_dir / "best")
            log(f"step {step}/{total}: validation accuracy {score:.4f} (best {best:.4f})")
            checkpoint()
        if time_limit_s is not None and time.monotonic() - started > time_limit_s:
            checkpoint()
            log(f"time limit reached at step {step}/{total}; resume with the same command")
            break
    progress.close()
    if best < 0:
        _save_model(model, tokenizer, out_dir / "best")
    return out_dir / "best"
