"""The shared training loop, on Hugging Face Accelerate.

Accelerate makes the same code run on one CPU, one GPU, or several processes under ``accelerate launch``.
Batches are split across processes (``split_batches``), so the global batch - and so the optimisation - is the
same whatever the process count. The model is evaluated on the *selection* split (held out from train): the
checkpoint kept and the early stop are chosen there, never on the evaluation split that the results report.
Whatever device Accelerate trained on, ``fit`` hands the model back on the CPU with plain fp32 ``forward``
(no autocast wrapper), ready for saving, export and measurement.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch.utils.data import DataLoader

from ..config.train import TrainConfig
from ..errors import ConfigError
from ..timing import Stopwatch

LossFn = Callable[[torch.nn.Module, dict], torch.Tensor]

# Called after every selection evaluation of ``fit`` as hook(desc=, step=, total=, metric=, value=, best=) (value:
# this evaluation's ``metric``; best: the highest so far). It may raise to stop training: the exception leaves
# ``fit`` and the stage, and the runner records the stage as failed. Set by a caller around a pipeline run
# (``edgeport tune`` reports to its pruner through it), so no stage has to pass it along.
EVAL_HOOK: ContextVar[Callable[..., None] | None] = ContextVar("edgeport_eval_hook", default=None)


@dataclass
class FitResult:
    best_accuracy: float  # on the selection split, of the checkpoint kept
    best_step: int
    steps: int
    seconds: float
    stopped_early: bool
    epochs: float = 0.0
    precision: str = "fp32"
    eval_seconds: float = 0.0  # of ``seconds``, spent evaluating on the selection split
    history: list[dict] = field(default_factory=list)
    metric: str = "accuracy"  # what the checkpoint and the early stop were chosen on (``data.metric``)
    best_score: float | None = None  # that metric on the selection split, of the checkpoint kept
    select_predictions: list[int] = field(default_factory=list)  # the kept checkpoint's, in selection-row order
    num_processes: int = 1  # Accelerate's process count (each takes batch_size / num_processes rows of a batch)

    @property
    def seconds_per_step(self) -> float:
        """Optimizer-step time alone (selection evaluations excluded)."""
        return round((self.seconds - self.eval_seconds) / max(self.steps, 1), 4)

    def metrics(self) -> dict:
        """The stage-metric view; every figure names its split. ``select_metric`` names what was chosen on;
        ``select_<metric>`` is its value beside ``select_accuracy`` (both of the checkpoint kept)."""
        score = self.best_accuracy if self.best_score is None else self.best_score
        return {"select_accuracy": self.best_accuracy, "select_metric": self.metric,
                **({} if self.metric == "accuracy" else {f"select_{self.metric}": score}),
                "steps": self.steps, "best_step": self.best_step,
                "epochs": round(self.epochs, 3), "precision": self.precision, "train_seconds": self.seconds,
                "seconds_per_step": self.seconds_per_step, "eval_seconds": self.eval_seconds,
                "stopped_early": self.stopped_early, "num_processes": self.num_processes, "history": self.history}


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


def model_inputs(batch: dict, device=None) -> dict:
    """The model's inputs from a batch, moved to ``device`` (the model's) when given: tensors follow the model."""
    keys = ("input_ids", "token_type_ids", "attention_mask")
    return {k: batch[k] if device is None else batch[k].to(device) for k in keys if k in batch}


def model_device(model) -> torch.device:
    return next(model.parameters()).device


def training_device() -> torch.device:
    """Where Accelerate puts work in this process (CPU, CUDA or MPS)."""
    from ..pipeline import dist

    return dist.state().device


def resolve_precision(precision: str, device: torch.device | None = None) -> str:
    """``auto`` -> bf16 where it is native and faster, else fp32. CUDA: bf16 where the GPU supports it. CPU: bf16
    only where the host's probe (``cpu_bf16.py``) measured bf16 autocast clearly faster than fp32; the CPU flags
    alone gave opposite answers on two hosts (``benchmarks/precision.py``: 1.4x faster, 1.6x slower)."""
    if precision != "auto":
        return precision
    device = device or training_device()
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if _cpu_bf16_is_faster() else "fp32"
    return "fp32"  # MPS: bf16 autocast support varies by macOS release


@dataclass(frozen=True)
class TrainEnv:
    """Where and how a training stage will run, resolved before it runs: part of its settings, so its fingerprint
    covers each (a GPU, bf16 instead of fp32, another process count or thread setting gives other weights)."""

    device: str  # cpu | cuda | mps: where Accelerate puts the work
    precision: str  # fp32 | bf16 | fp16, ``auto`` resolved for that device
    processes: int  # processes of the launch (global batches are split across them)
    threads: int | None  # run.threads as configured (None: torch's default, all cores)


def train_env(tcfg: TrainConfig, threads: int | None) -> TrainEnv:
    from ..pipeline import dist

    device = training_device()
    return TrainEnv(device.type, resolve_precision(tcfg.precision, device), dist.num_processes(), threads)


def _cpu_bf16_is_faster() -> bool:
    from .cpu_bf16 import bf16_is_faster

    return bf16_is_faster()


def _accelerator(precision: str):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import DataLoaderConfiguration

    from ..pipeline import dist

    dist.state()  # the process group first: under torchrun on a CPU-only machine, Accelerator() alone forms none
    mixed = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[precision]
    shared = AcceleratorState._shared_state  # read without constructing: AcceleratorState() would initialise it
    if shared and shared.get("_mixed_precision", mixed) != mixed:
        # One process may train stages at different precisions (a bf16 teacher, an fp32 QAT); Accelerate keeps
        # the first choice in a singleton, so forget it (the process group, PartialState, stays as it is).
        AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(dataloader_config=DataLoaderConfiguration(split_batches=True), mixed_precision=mixed)


def planned_epochs(tcfg: TrainConfig, steps_per_epoch: int) -> float:
    """The user's epochs, or enough for ``min_steps`` optimizer steps, at least ``min_epochs`` and at most
    ``max_epochs``: one epoch of a 3.7k-row task is ~115 steps, too few to fine-tune a BERT, while one epoch of
    SST-2 is 2,000. Every training stage (teacher, distill, prune recovery, QAT, pretrain) plans its length here,
    each with its own defaults (``config.py``: ``RecoveryTrainConfig``, ``QatTrainConfig``)."""
    if tcfg.epochs is not None:
        return tcfg.epochs
    return min(tcfg.max_epochs, max(tcfg.min_epochs, tcfg.min_steps / max(steps_per_epoch, 1)))


def _train_loader(rows, tcfg: TrainConfig, collate, seed: int, world: int) -> DataLoader:
    from transformers.trainer_pt_utils import LengthGroupedSampler

    if tcfg.batch_size % world:
        raise ConfigError([f"train.batch_size {tcfg.batch_size} must be divisible by the {world} processes"])
    # Length-grouped batches cut padding: SST-2 rows average 13 tokens, so this is a 2-3x speed-up on CPU.
    gen = torch.Generator().manual_seed(seed)
    sampler = LengthGroupedSampler(tcfg.batch_size, lengths=[len(r["input_ids"]) for r in rows], generator=gen)
    return DataLoader(rows, batch_size=tcfg.batch_size, sampler=sampler, collate_fn=collate)


def fit(model, train_rows: list[dict], select_rows: list[dict], tcfg: TrainConfig, loss_fn: LossFn,
        collate, seed: int, desc: str, *, metric: str = "accuracy",
        evaluate_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of its best selection-split evaluation, on the CPU.

    "Best" is the highest ``metric`` (``data.metric``: accuracy, f1, macro_f1 or mcc, ``edgeport.stats``) on the
    selection rows; the first evaluation reaching it is kept, and ``tcfg.patience`` counts evaluations without a
    higher value. ``loss_fn(model, batch)``: the batch is already on the model's device.

    ``evaluate_fn(model) -> scores`` replaces the classification evaluation for models that are not classifiers
    (MLM pre-training scores held-out text): it gets the model as it trains (on its device, maybe wrapped), must
    give every process the same scores, and ``scores[metric]`` is maximised; ``select_rows`` is then unused
    (pass []), and the result's ``best_accuracy`` is ``scores["accuracy"]`` when present, else ``scores[metric]``."""
    from ..stats import check_metric
    from accelerate.utils import set_seed
    from ..progress import terminal_progress
    from transformers import get_linear_schedule_with_warmup

    if evaluate_fn is None:
        num_labels = _num_labels(model, select_rows)
        check_metric(metric, num_labels)
    set_seed(seed)
    precision = resolve_precision(tcfg.precision)
    acc = _accelerator(precision)
    loader = _train_loader(train_rows, tcfg, collate, seed, acc.num_processes)
    eval_loader = DataLoader(select_rows, batch_size=tcfg.eval_batch_size, collate_fn=collate)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # biases and LayerNorm: no weight decay
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tcfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tcfg.lr)
    epochs = planned_epochs(tcfg, len(loader))
    total = max(1, math.ceil(epochs * len(loader)))
    sched = get_linear_schedule_with_warmup(opt, int(tcfg.warmup_ratio * total), total)
    if evaluate_fn is None:
        model, opt, loader, eval_loader, sched = acc.prepare(model, opt, loader, eval_loader, sched)
    else:
        model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    eval_every = tcfg.eval_every or len(loader)

    best, best_step, stale, history, step, evaluation = -math.inf, 0, 0, [], 0, Stopwatch()
    best_state, best_accuracy, best_preds = None, 0.0, []
    clock = Stopwatch().start()
    bar = terminal_progress(total=total, desc=desc, unit="step", show=acc.is_main_process)
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
            # no "best" before the first selection evaluation: there is nothing to show yet
            bar.set_postfix(loss=f"{loss.item():.4f}",
                            **({f"best_{metric}": f"{best:.4f}"} if history else {}))
            if step % eval_every == 0 or step == total:
                with evaluation:
                    if evaluate_fn is None:
                        preds, labels = selection_predictions(model, eval_loader, acc)
                        scores = _scores(preds, labels, metric, num_labels)
                    else:
                        preds, scores = [], dict(evaluate_fn(model))
                history.append({"step": step, "loss": round(loss.item(), 5)}
                               | {f"select_{k}": v for k, v in scores.items()})
                shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
                where = "selection split" if evaluate_fn is None else "held-out evaluation"
                if acc.is_main_process:  # the log's line per evaluation (the bar is drawn on terminals only)
                    bar.write(f"{desc}: step {step}/{total} {where}: {shown}")
                if scores[metric] > best:
                    best, best_step, stale = scores[metric], step, 0
                    best_accuracy, best_preds = scores.get("accuracy", scores[metric]), preds
                    best_state = {k: v.detach().to("cpu", copy=True)
                                  for k, v in acc.unwrap_model(model).state_dict().items()}
                else:
                    stale += 1
                if (hook := EVAL_HOOK.get()) is not None:
                    try:
                        hook(desc=desc, step=step, total=total, metric=metric, value=scores[metric], best=best)
                    except BaseException:
                        bar.close()
                        acc.free_memory()
                        raise
                model.train()
                if tcfg.patience and stale >= tcfg.patience:
                    break
            if step >= total:
                break
        if tcfg.patience and stale >= tcfg.patience:
            break
    bar.close()
    # keep_fp32_wrapper=False takes the autocast wrapper off forward: the model leaves in plain fp32.
    unwrapped = acc.unwrap_model(model, keep_fp32_wrapper=False).to("cpu")
    unwrapped.load_state_dict(best_state)
    acc.wait_for_everyone()
    acc.free_memory()
    return FitResult(best_accuracy, best_step, step, round(clock.seconds, 2),
                     stopped_early=step < total, epochs=epochs, precision=precision,
                     eval_seconds=round(evaluation.seconds, 2), history=history, metric=metric, best_score=best,
                     select_predictions=[int(p) for p in best_preds], num_processes=acc.num_processes)


def _scores(preds: list[int], labels: list[int], metric: str, num_labels: int) -> dict[str, float]:
    """Accuracy, and the selection metric when it is another one (both recorded; the metric decides)."""
    from ..stats import metric_value

    scores = {"accuracy": metric_value("accuracy", labels, preds, num_labels)}
    if metric != "accuracy":
        scores[metric] = metric_value(metric, labels, preds, num_labels)
    return scores


@torch.no_grad()
def selection_predictions(model, eval_loader, acc=None) -> tuple[list[int], list[int]]:
    """(predicted labels, true labels) for every row of ``eval_loader``, in order (gathered across processes;
    ``gather_for_metrics`` drops the padding rows an uneven last batch gets)."""
    from ..progress import terminal_progress

    model.eval()
    main = acc is None or acc.is_main_process
    device = model_device(model)
    all_preds, all_labels = [], []
    for batch in terminal_progress(eval_loader, desc="eval", show=main):
        preds = model(**model_inputs(batch, device)).logits.argmax(-1)
        labels = batch["labels"].to(device)
        if acc is not None:
            preds, labels = acc.gather_for_metrics((preds, labels))
        all_preds += preds.tolist()
        all_labels += labels.tolist()
    return all_preds, all_labels


def evaluate(model, eval_loader, acc=None, metric: str = "accuracy") -> float:
    """``metric`` of the model on ``eval_loader``'s rows (accuracy by default)."""
    preds, labels = selection_predictions(model, eval_loader, acc)
    return _scores(preds, labels, metric, _num_labels(model, []))[metric]


def _num_labels(model, rows: list[dict]) -> int:
    """The classifier's output count (its config), else one more than the largest label seen."""
    n = getattr(getattr(model, "config", None), "num_labels", None)
    return int(n) if n else max([int(r["labels"]) for r in rows] + [1]) + 1


@torch.no_grad()
def predict_logits(model, rows: list[dict], collate, batch_size: int = 128, desc: str = "predict",
                   precision: str = "fp32") -> torch.Tensor:
    """fp32 logits (on the CPU) for every row, in input order, computed on the model's device (single process;
    used to cache teacher logits and to measure). Rows run shortest-first so each batch carries little padding.
    ``precision`` bf16/fp16 runs the forward under autocast (teacher logits for a bf16 distillation); measurements
    keep the fp32 default."""
    from ..progress import terminal_progress

    model.eval()
    device = model_device(model)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    chunks = []
    for i in terminal_progress(range(0, len(order), batch_size), desc=desc):
        batch = collate([rows[j] for j in order[i:i + batch_size]])
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            chunks.append(model(**model_inputs(batch, device)).logits.float().cpu())
    logits = torch.cat(chunks)
    out = torch.empty_like(logits)
    out[torch.tensor(order)] = logits
    return out
