"""Artifact validation: every artifact against the fp32 torch model on the task's evaluation split, in the regime
that ships.

Every artifact is run the way the Android app and the bench stage's workload run it: one row per call (batch 1),
tokenised by the artifact's own tokenizer with truncation at the export length, unpadded; the runtime computes at
the row's true length (ONNX, TorchScript, ExecuTorch) or at the smallest TFLite bucket holding it
(``bench.workload.run_rows``, the one function both call). Batching would change what is judged: dynamic INT8
(TorchScript, ONNX) takes its activation scales per tensor over the whole batch, padding included (measured on the
default run: onnx-int8 87.61% in padded batches of 64 vs 87.27% at batch 1). The fp32 torch reference is computed
the same way, at batch 1 and true length (``reference_logits``): no batched path is used for it either.

Per artifact: accuracy, label agreement and max/mean |Δlogit| against the reference, a digest of the predicted
labels (the bench workload records the same digest), file size, the TFLite op list. The gates are
``validation_gates``; the tolerances are resolved here (``resolved_tolerance``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .bench.workload import batch1_feeds, encode_split, outcome, run_rows


def reference_logits(model, tokenizer, split, max_len: int) -> np.ndarray:
    """Logits of the fp32 torch model (eager): one row per call at its true length, like every artifact."""
    from .runtimes.eager import EagerRunner

    return run_rows(EagerRunner(model), batch1_feeds(tokenizer, split.texts, split.pairs, max_len))


def artifact_length(runner, max_len: int) -> int:
    """Tokens a row may have for this artifact: ``max_len``, or its longest static length (TFLite) if shorter."""
    return min(max_len, runner.seq_len or max_len)


def int8_yardstick(model):
    """A copy of ``model`` with every ``nn.Linear`` dynamically quantized to INT8 by torch (per-tensor weights,
    activations quantized per tensor at run time): what TorchScript INT8 computes, and the yardstick of the 8-bit
    noise this model shows (``References.noise``).

    Eager attention, as every exporter traces (``exporters.base.logits_only``): SDPA and eager agree to ~1e-6 in
    fp32, but each Linear's input is quantized per tensor at run time, so that difference moves roundings, and it
    compounds. Measured on MiniLM-L6 with a span head, one 90-token window: SDPA-INT8 and eager-INT8 start logits
    differed by up to 0.073, against 0.17 between either and fp32; with eager attention this copy and the TorchScript
    INT8 file give identical logits."""
    import copy
    import warnings

    import torch

    model = copy.deepcopy(model).eval()
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    with warnings.catch_warnings():  # torch.ao's deprecation notices: still the working CPU INT8 path in torch 2.x
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def w4_yardstick(model, block_size: int = 32, embeddings: str | None = None, embedding_block_size: int = 32,
                 fmt: str | None = None):
    """What a ``w4`` artifact computes, in torch: every ``nn.Linear`` weight rounded to 4 bits per block of
    ``block_size`` inputs (a layer the block does not divide: the largest listed block that does, else left for
    the INT8 step, as the exporters do: ``exporters.base.w4_block``), the looked-up embedding tables stored as the
    artifact's are (``embeddings``: int4 per block of ``embedding_block_size`` where a block divides the table's
    width, else int8, as the exporters store them; int8; fp32), then ``int8_yardstick`` (int8 activations per
    call). Rounded by the artifact's own converter's rule (``fmt``'s ``exporters.base.Rounding``: scale max|w| / 7
    for ai-edge-quantizer, / 7.5 for torchao, the block's extreme / -8 for ONNX Runtime; None: TFLite's): on a tiny
    model the noise of one rounding is not the noise of another (the support matrix's pruned hidden-32 XLM-R: mean
    |Δlogit| 0.00087 rounded by max|w| / 7, 0.0021 by torchao's max|w| / 7.5, whose executorch-w4 file shows
    0.0020), so a yardstick rounding otherwise judges its own luck, not the runtime.

    The yardstick of the 4-bit noise this model shows, which scales every w4 tolerance as INT8's noise scales
    INT8's: a small model's 4-bit noise is many times its 8-bit noise (a hidden-32 BERT's block of 32 is its whole
    row), a wide one's a fraction of it, so one multiple of the 8-bit noise cannot hold for both. Weights on the
    4-bit grid are re-rounded to torch's per-tensor INT8 grid by the last step; that adds ~8-bit noise, small
    against the 4-bit step, to a yardstick (not to an artifact)."""
    import copy

    import torch

    from .exporters.base import round_table_int8, round_to_grid, w4_block
    from .models.arch import lookup_tables

    rounding = _rounding(fmt)
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                block = w4_block(m.in_features, block_size)
                if block:
                    m.weight.copy_(round_to_grid(m.weight, 4, block, rounding))
        for table in lookup_tables(model) if embeddings in ("int4", "int8") else []:
            block = w4_block(table.weight.shape[1], embedding_block_size) if embeddings == "int4" else None
            table.weight.copy_(round_to_grid(table.weight, 4, block, rounding) if block
                               else round_table_int8(table.weight, rounding))
    return int8_yardstick(model)


def _rounding(fmt: str | None):
    """The converter's rounding rule (``exporters.base.Rounding``) of ``fmt``; TFLite's when none is named."""
    from .exporters import EXPORTERS

    return getattr(EXPORTERS.get(fmt or "tflite"), "rounding", None) or EXPORTERS["tflite"].rounding


@dataclass(frozen=True)
class Yardstick:
    """A precision's yardstick: the sidecar keys that shape it, how to make its torch copy, and what its noise is
    called in the gate messages."""
    fields: tuple[str, ...]
    make: Callable
    what: str


# what an artifact's sidecar says it computes -> the torch copy whose noise scales its tolerance
YARDSTICKS = {
    "int8": Yardstick((), lambda model, meta: int8_yardstick(model),
                      "8-bit noise (torch dynamic INT8 of the reference)"),
    "w4": Yardstick(("format", "block_size", "embeddings", "embedding_block_size"),
                    lambda model, meta: w4_yardstick(model, int(meta["block_size"] or 32), meta["embeddings"],
                                                     int(meta["embedding_block_size"] or 32), meta["format"]),
                    "4-bit noise (the reference's 4-bit copy in the artifact's blocks, by its converter's rounding)"),
}


def yardstick_key(precision: str | None, meta: dict | None = None) -> tuple:
    """The yardstick an artifact is judged against: its precision and the sidecar values that shape it (w4: the
    format, whose converter's rounding it copies, the block sizes and the table bits). A quantized precision
    without a row of its own is judged as INT8."""
    name = precision if precision in YARDSTICKS else "int8"
    return (name, *((meta or {}).get(k) for k in YARDSTICKS[name].fields))


def make_yardstick(model, key: tuple):
    """The torch copy of ``model`` that ``key`` (``yardstick_key``) names."""
    stick = YARDSTICKS[key[0]]
    return stick.make(model, dict(zip(stick.fields, key[1:])))


def noise_of(logits: np.ndarray, reference: np.ndarray) -> dict:
    """max and mean |Δlogit| of ``logits`` against the reference."""
    diff = np.abs(logits.astype(np.float64) - reference.astype(np.float64))
    return {"max_abs": float(diff.max()), "mean_abs": float(diff.mean())}


class References:
    """The fp32 torch model's logits on a split, per truncation length, each computed once; and the quantisation
    noise of the model on those rows (``noise``), which scales every quantized artifact's tolerance: its 8-bit
    noise for INT8, its 4-bit noise for w4 (``key``: ``yardstick_key``; default INT8).

    An artifact is compared with the reference *at its own length*: a TFLite model whose longest bucket is 64
    tokens sees rows truncated to 64, so its reference is the torch model on the same truncated rows, not on rows
    of ``max_len`` (that would charge the truncation to the converter)."""

    def __init__(self, model, tokenizer, split, max_len: int):
        self.model, self.tokenizer, self.split, self.max_len = model, tokenizer, split, max_len
        self._by_length: dict[int, np.ndarray] = {}
        self._yardstick: dict[tuple, np.ndarray] = {}
        self._models: dict[tuple, object] = {}

    def __call__(self, length: int | None = None) -> np.ndarray:
        length = min(self.max_len, length or self.max_len)
        if length not in self._by_length:
            self._by_length[length] = reference_logits(self.model, self.tokenizer, self.split, length)
        return self._by_length[length]

    def for_runner(self, runner) -> np.ndarray:
        return self(artifact_length(runner, self.max_len))

    def yardstick_model(self, key: tuple = ("int8",)):
        if key not in self._models:
            self._models[key] = make_yardstick(self.model, key)
        return self._models[key]

    def yardstick(self, length: int | None = None, key: tuple = ("int8",)) -> np.ndarray:
        """The logits of the yardstick ``key`` names (``yardstick_key``) on the same rows, in the same regime."""
        length = min(self.max_len, length or self.max_len)
        if (length, key) not in self._yardstick:
            self._yardstick[length, key] = reference_logits(self.yardstick_model(key), self.tokenizer, self.split,
                                                            length)
        return self._yardstick[length, key]

    def noise(self, length: int | None = None, key: tuple = ("int8",)) -> dict:
        """The model's own quantisation noise: max/mean |Δlogit| of the yardstick against the reference. A
        quantized artifact's tolerance is a measured multiple of it (``resolved_tolerance``)."""
        return noise_of(self.yardstick(length, key), self(length))

    def yardstick_cosine(self, length: int | None = None, key: tuple = ("int8",)) -> float:
        """Sentence embeddings: the smallest cosine between the yardstick's vector and the reference's, over the
        rows: the quantized cosine limit scales with it (``validation_gates.min_cosine_limit``)."""
        from .tasks.vectors import cosine

        return float(cosine(self.yardstick(length, key), self(length)).min())

    def noise_rows(self, length: int | None = None, key: tuple = ("int8",)) -> np.ndarray:
        """Per row, the yardstick's largest |Δlogit|: how far quantisation noise moves that row's logits (the tie
        band of ``validation_gates.int8_agreement``)."""
        diff = np.abs(self.yardstick(length, key).astype(np.float64) - self(length).astype(np.float64))
        return diff.max(axis=-1)


def artifact_logits(runner, path: Path, split, max_len: int) -> np.ndarray:
    """The artifact's logits on the split, one row per call (``run_rows``), tokenised by its own tokenizer with
    truncation at ``artifact_length``; compare them with ``References.for_runner(runner)``."""
    return run_rows(runner, encode_split(path, split.texts, split.pairs, artifact_length(runner, max_len)))


def compare(logits: np.ndarray, reference: np.ndarray, labels) -> dict:
    """Accuracy (with the digest of the predicted labels), label agreement and |Δlogit| against the reference."""
    diff = noise_of(logits, reference)
    return outcome(logits, labels) | {
        "agreement": round(float((logits.argmax(-1) == reference.argmax(-1)).mean()), 6),
        "max_abs_diff": diff["max_abs"], "mean_abs_diff": diff["mean_abs"]}


def noise_name(precision: str) -> str:
    """What a quantized precision's tolerance is counted in, for the gate messages (``YARDSTICKS``)."""
    return YARDSTICKS[yardstick_key(precision)[0]].what


def resolved_tolerance(fmt: str, precision: str, vcfg, *, noise: dict | None = None, mode: str | None = None,
                       qat: bool = False) -> dict:
    """The artifact's logit tolerance, with any ``validate.tolerances.<format>-<precision>`` override.

    fp32: the exporter's absolute tolerance (float noise). INT8: the format's fp32 base + the (format, mode) noise
    budget's factors times this model's own 8-bit noise on the same rows (``noise``: ``References.noise``, the
    max/mean |Δlogit| of torch's dynamic INT8 of the reference model), and the budget's label-agreement floor; w4
    the same with its own 4-bit noise (``References.noise`` under ``yardstick_key("w4", ...)``);
    ``qat`` artifacts use the format's ``qat`` budget. An override sets the absolute limit and wins.
    """
    from .exporters import noise_budget, tolerance
    from .exporters.base import quantized

    base = tolerance(fmt, precision)
    out: dict = {"max_abs": base.max_abs, "mean_abs": base.mean_abs}
    if quantized(precision):  # int8 and w4: budgets in units of the model's own 8- / 4-bit noise
        if noise is None:
            raise ValueError("quantized tolerances scale with the model's own quantisation noise: pass noise "
                             "(References.noise)")
        budget = noise_budget(fmt, mode, qat)
        out = {"max_abs": round(base.max_abs + budget.max_factor * noise["max_abs"], 6),
               "mean_abs": round(base.mean_abs + budget.mean_factor * noise["mean_abs"], 6),
               "min_agreement": budget.min_agreement,
               "budget": {"max_factor": budget.max_factor, "mean_factor": budget.mean_factor,
                          "tie_factor": budget.tie_factor, "min_agreement": budget.min_agreement},
               "yardstick": {k: round(v, 6) for k, v in noise.items()}, "noise_of": noise_name(precision),
               "format": fmt, "mode": "qat" if qat else mode or "dynamic"}
    override = vcfg.tolerances.get(f"{fmt}-{precision}")
    for key in ("max_abs", "mean_abs"):
        if override is not None and getattr(override, key) is not None:
            out[key] = getattr(override, key)
            out.setdefault("overridden", []).append(key)
    return out


def gate_cell(verdict: dict, name: str) -> str:
    """A drop gate's cell: the drop in points with its 95% CI and the gate's state when not pass."""
    g = next((g for g in verdict.get("gates", []) if g["name"] == name), None)
    if g is None:
        return "-"
    lo, hi = g["evidence"]["ci95_points"]
    mark = {"fail": " **FAIL**", "inconclusive": " (INCONCLUSIVE)"}.get(g["state"], "")
    return f"{g['value']:+.2f} [{lo:+.2f}, {hi:+.2f}]{mark}"


def markdown_table(rows: list[dict]) -> str:
    """Validate's table: one row per artifact, with its verdict's state (PASS, INCONCLUSIVE, FAIL)."""
    lines = [("| artifact | run as | accuracy % | agreement % | drop vs fp32, pts [95% CI] | drop vs teacher, pts [95% CI] | "
              "max abs Δlogit (tol) | mean abs Δlogit (tol) | size MB | gates |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tol, verdict = r.get("tolerance") or {}, r["verdict"]
        tol_max = f" ({tol['max_abs']:.3g})" if tol.get("max_abs") is not None else ""
        tol_mean = f" ({tol['mean_abs']:.3g})" if tol.get("mean_abs") is not None else ""
        accuracy = "-" if r.get("accuracy") is None else f"{r['accuracy'] * 100:.2f}"  # unlabelled texts: none
        lines.append(f"| {r['name']} | {r.get('regime', '-')} | {accuracy} | {r['agreement'] * 100:.2f} | "
                     f"{gate_cell(verdict, 'drop_vs_fp32')} | {gate_cell(verdict, 'drop_vs_teacher')} | "
                     f"{r['max_abs_diff']:.3g}{tol_max} | {r['mean_abs_diff']:.3g}{tol_mean} | "
                     f"{r['size_bytes'] / 1e6:.2f} | {verdict['state'].upper()} |")
    return "\n".join(lines) + "\n"


def judge_artifact(name: str, fmt: str, precision: str, logits: np.ndarray, reference: np.ndarray, labels, vcfg, *,
                   noise: dict | None = None, noise_rows: np.ndarray | None = None, mode: str | None = None,
                   qat: bool = False, teacher: np.ndarray | None = None, non_builtin_ops: list[str] | None = None,
                   metric: str = "accuracy", label_names=(), seed: int = 0, output: str = "logits",
                   scores=None, yardstick_cosine: float | None = None, words=None) -> tuple[dict, tuple]:
    """What validate decides for one artifact's logits (batch 1, the runtime's regime) against the reference on the
    same rows: (its row: comparison figures and resolved tolerance, its typed gates). For INT8, ``noise`` and
    ``noise_rows``: the model's own 8-bit noise on these rows (``References.noise`` / ``noise_rows``). Sentence
    embeddings (``output="embedding"``): the rows are the pairs' sentences (``data.sides``), ``scores`` the pairs'
    gold scores and ``yardstick_cosine`` the model's own INT8 cosine (``References.yardstick_cosine``). Token
    classifiers: ``logits``/``reference`` hold one row per eval token (``bench.workload.run_rows``), ``labels`` is
    None and ``words`` (``tasks.tokens.TokenEvidence``) says where each word's tag is read."""
    from .validation_gates import Evidence, judge

    row = {"name": name, "format": fmt, "precision": precision} | compare(logits, reference, labels)
    from .exporters.base import quantized

    row["tolerance"] = resolved_tolerance(fmt, precision, vcfg, noise=noise if quantized(precision) else None,
                                          mode=mode, qat=qat)
    labels = None if labels is None else np.asarray(labels)  # None: unlabelled texts, parity gates only
    ev = Evidence(name, fmt, precision, logits, reference, labels, row["tolerance"], teacher,
                  None if non_builtin_ops is None else tuple(non_builtin_ops), metric, tuple(label_names), seed,
                  noise_rows, output, None if scores is None else np.asarray(scores, dtype=np.float64),
                  yardstick_cosine, words)
    return row, judge(ev, vcfg)
