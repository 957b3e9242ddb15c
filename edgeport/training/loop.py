"""The shared training loop, on Hugging Face Accelerate.

Accelerate makes the same code run on one CPU, one GPU, or several processes under ``accelerate launch``.
Batches are split across processes (``split_batches``), so the global batch - and so the optimisation - is the
same whatever the process count.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.utils.data import DataLoader

from ..config import TrainConfig
from ..errors import ConfigError

LossFn = Callable[[torch.nn.Module, dict], torch.Tensor]


@dataclass
class FitResult:
    best_accuracy: float
    best_step: int
    steps: int
    seconds: float
    stopped_early: bool
    history: list[dict] = field(default_factory=list)


def make_collate(pad_id: int):
    """Dynamic padding: each batch is padded to its own longest row."""

    def collate(rows: list[dict]) -> dict:
        width = max(len(r["input_ids"]) for r in rows)
        batch = {}
        for key in ("input_ids", "token_type_ids", "attention_mask"):
            if key in rows[0]:
                fill = pad_id if key == "input_ids" else 0
                batch[key] = torch.tensor([r[key] + [fill] * (width - len(r[key])) for r in rows], dtype=torch.long)
        batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.long)
        if "teacher_logits" in rows[0]:
            batch["teacher_logits"] = torch.tensor([r["teacher_logits"] for r in rows], dtype=torch.float32)
        return batch

    return collate


def model_inputs(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "token_type_ids", "attention_mask") if k in batch}


def _accelerator():
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    return Accelerator(dataloader_config=DataLoaderConfiguration(split_batches=True))


def _train_loader(rows, tcfg: TrainConfig, collate, seed: int, world: int) -> DataLoader:
    from transformers.trainer_pt_utils import LengthGroupedSampler

    if tcfg.batch_size % world:
        raise ConfigError([f"train.batch_size {tcfg.batch_size} must be divisible by the {world} processes"])
    # Length-grouped batches cut padding: SST-2 rows average 13 tokens, so this is a 2-3x speed-up on CPU.
    gen = torch.Generator().manual_seed(seed)
    sampler = LengthGroupedSampler(tcfg.batch_size, lengths=[len(r["input_ids"]) for r in rows], generator=gen)
    return DataLoader(rows, batch_size=tcfg.batch_size, sampler=sampler, collate_fn=collate)


def fit(model, train_rows: list[dict], eval_rows: list[dict], tcfg: TrainConfig, loss_fn: LossFn,
        collate, seed: int, desc: str) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of its best evaluation."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    set_seed(seed)
    acc = _accelerator()
    loader = _train_loader(train_rows, tcfg, collate, seed, acc.num_processes)
    eval_loader = DataLoader(eval_rows, batch_size=tcfg.eval_batch_size, collate_fn=collate)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # biases and LayerNorm: no weight decay
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr)
    total = max(1, math.ceil(tcfg.epochs * len(loader)))
    sched = get_linear_schedule_with_warmup(opt, int(tcfg.warmup_ratio * total), total)
    model, opt, loader, eval_loader, sched = acc.prepare(model, opt, loader, eval_loader, sched)
    eval_every = tcfg.eval_every or len(loader)

    best, best_step, stale, history, step = -1.0, 0, 0, [], 0
    best_state = None
    start = time.perf_counter()
    bar = tqdm(total=total, desc=desc, unit="step", disable=not acc.is_main_process, dynamic_ncols=True)
    model.train()
    while step < total:
        for batch in loader:
            loss = loss_fn(model, batch)
            acc.backward(loss)
            if tcfg.max_grad_norm:
                acc.clip_grad_norm_(model.parameters(), tcfg.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", best_acc=f"{max(best, 0):.4f}")
            if step % eval_every == 0 or step == total:
                accuracy = evaluate(model, eval_loader, acc)
                history.append({"step": step, "loss": round(loss.item(), 5), "eval_accuracy": accuracy})
                bar.write(f"{desc}: step {step}/{total} eval accuracy {accuracy:.4f}")
                if accuracy > best:
                    best, best_step, stale = accuracy, step, 0
                    best_state = copy.deepcopy(acc.unwrap_model(model).state_dict())
                else:
                    stale += 1
                model.train()
                if tcfg.patience and stale >= tcfg.patience:
                    break
            if step >= total:
                break
        if tcfg.patience and stale >= tcfg.patience:
            break
    bar.close()
    unwrapped = acc.unwrap_model(model)
    unwrapped.load_state_dict(best_state)
    acc.wait_for_everyone()
    return FitResult(best, best_step, step, round(time.perf_counter() - start, 2),
                     stopped_early=step < total, history=history)


@torch.no_grad()
def evaluate(model, eval_loader, acc=None) -> float:
    from tqdm.auto import tqdm

    model.eval()
    correct = seen = 0
    main = acc is None or acc.is_main_process
    for batch in tqdm(eval_loader, desc="eval", leave=False, disable=not main, dynamic_ncols=True):
        preds = model(**model_inputs(batch)).logits.argmax(-1)
        labels = batch["labels"]
        if acc is not None:
            preds, labels = acc.gather_for_metrics((preds, labels))
        correct += (preds == labels).sum().item()
        seen += labels.numel()
    return round(correct / max(seen, 1), 6)


@torch.no_grad()
def predict_logits(model, rows: list[dict], collate, batch_size: int = 128, desc: str = "predict") -> torch.Tensor:
    """Logits for every row, in input order (single process; used to cache teacher logits).

    Rows are run shortest-first so each batch carries little padding, then put back in order.
    """
    from tqdm.auto import tqdm

    model.eval()
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    chunks = []
    for i in tqdm(range(0, len(order), batch_size), desc=desc, leave=False, dynamic_ncols=True):
        batch = collate([rows[j] for j in order[i:i + batch_size]])
        chunks.append(model(**model_inputs(batch)).logits.float())
    logits = torch.cat(chunks)
    out = torch.empty_like(logits)
    out[torch.tensor(order)] = logits
    return out
