"""QA run: official SQuAD v1.1 EM / F1 of every model and artifact, a peer INT8 teacher, and per-question latency.

    python benchmarks/qa_eval.py runs/qa [--limit N] [--rounds 3] [--latency-questions 300] [--threads 1]
                                 [--warmup 10] [--out benchmarks/results/qa_eval.json]

RUN_DIR is a finished ``edgeport run`` of ``data.task: question-answering`` (its manifest.json). Rows:

* the run's model stages (fp32 torch eager, ``tasks.qa_model.load_qa``): ``teacher``, ``distill`` (the student),
  ``prune`` (the pruned student);
* every artifact its export and quantize stages recorded (TorchScript / ONNX / TFLite / ExecuTorch, fp32 and
  INT8), each run through edgeport's own runner (``edgeport.runtimes.load``: ``{start_logits, end_logits}``);
* ``tflite-int8-one-signature`` (with ``--one-signature``, the default): the model the run's TFLite INT8 artifact was
  made from, converted again by the pipeline's own exporter with one signature at the export length (no length
  buckets: what every TFLite artifact was before buckets) and made INT8 by the same dynamic mode, so the table
  shows what the buckets do to a question's latency and its answers (the issue asked whether they help when the
  length is the window length);
* a peer, made here in a temporary directory: the fp32 teacher exported with ``torch.onnx.export`` (two outputs,
  start_logits / end_logits, dynamic batch and sequence axes; torch's default dynamo exporter, opset 18) and
  quantized by ONNX Runtime's ``quantize_dynamic`` with QInt8 weights (its defaults otherwise: per-tensor, every op
  type it quantizes), the recipe an Optimum / ORT user applies; run through the same ONNX runner. Its fp32 export
  is checked against torch on the latency windows (``peer.fp32_max_abs_diff``).

Accuracy. Each question is read as the pipeline reads it (``tasks.qa.split_windows``: ``squad.windows`` of
question + context at ``data.max_seq_len`` tokens, ``data.doc_stride`` shared, each window cut to its real tokens),
with the model's own tokenizer (a vocabulary-pruned student splits words its own way), and every window runs alone
(batch 1, its true length; a bucketed TFLite model on its smallest bucket holding it, padded positions come back as
-1e4). An artifact reads windows of at most its longest input (validate's length: the export length, or a shorter
static TFLite length). The answer is the best span over the question's windows (``tasks.qa.answers`` ->
``squad.best_span``), scored by the official v1.1 EM and F1 (``squad.squad_scores``, x100) on two splits:

* the dev file (``data.eval_split``): every question, or with ``--limit N`` a sample of N drawn by
  ``edgeport.data.sample_questions`` with ``run.seed`` (the rule of the run's own ``data.eval_limit``: ``--limit``
  equal to it measures exactly the run's evaluation questions);
* the run's selection split (whole held-out training articles), re-derived by ``edgeport.data.load_task`` with the
  run's data section and seed exactly as the pipeline derives it (refused when the data files are not the run's:
  the digest the teacher's fingerprint recorded for them must match).

Per row and split: EM, F1, the F1 drop vs the teacher with a paired bootstrap 95% CI over questions (per-question
F1 resampled, ``stats.mean_drop`` as validate's F1 gates; 2,000 resamples, seed ``run.seed``), the EM drop with Newcombe's paired CI (``stats.paired_drop``), and the share of
questions answered with the same text as the teacher (Wilson 95% CI). Beside them: what the run recorded for the
model (stage metrics; on ``eval_rows`` dev questions, which ``--limit`` = ``data.eval_limit`` reproduces).

Latency: ``--latency-questions`` K dev questions (a seeded sample of the whole dev file), each question's windows
run one after another at batch 1 on ``--threads`` threads as a phone would (tokenisation and span search
excluded: the same for every row), timed per question; ``--rounds`` rounds over all rows (the row order reversed
every other round, ``--warmup`` untimed questions per row and round); p50 / p90 per round, reported as the median of
the rounds and their [min, max], and the speed-up vs the fp32 teacher in torch (per round: same machine state).
Size: the model file (safetensors for torch rows), and parameter counts of torch models. CPU model from
``hostinfo.host_identity``. Writes the JSON at --out and the markdown table beside it (.md), with provenance.

Exit 2 without a traceback when RUN_DIR is not a finished question-answering run (or its data cannot be read).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _provenance import args_dict, provenance, run_config, write_json, write_markdown

MODEL_STAGES = {"teacher": "teacher", "distill": "student", "prune": "pruned student"}  # stage -> role, in order
OUTPUTS = ("start_logits", "end_logits")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PEER = "teacher-ort-int8"
PEER_OPSET = 18


class NotAQaRun(Exception):
    """RUN_DIR cannot be measured: the message says why (exit 2, no traceback)."""


@dataclass
class Model:
    """One row: a model stage, an artifact or the peer, loaded once, with its tokenizer and window length."""

    name: str
    kind: str  # "stage", "artifact" or "peer"
    runner: object  # (input_ids, attention_mask, token_type_ids) -> {start_logits, end_logits}, [1, seq] each
    tokenizer: object
    length: int  # tokens per window
    stride: int  # context tokens two windows share
    facts: dict = field(default_factory=dict)


def torch_runner(model):
    """A torch QA model behind the artifact runners' contract: edgeport's eager adapter (``runtimes.eager.
    EagerRunner``: inference mode, int64 ids, fp32 numpy back), which gives ``{start_logits, end_logits}`` at
    batch 1 as the artifacts' runners do."""
    from edgeport.runtimes.eager import EagerRunner

    return EagerRunner(model)


# ------------------------------------------------------------------------------------------------ the run


def load_run(run_dir: Path):
    """(manifest stages, resolved PipelineConfig) of a finished question-answering run; NotAQaRun otherwise."""
    import json

    from edgeport.config.loading import config_from_mapping
    from edgeport.errors import ConfigError

    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise NotAQaRun(f"{run_dir}: no such directory; give the directory of a finished `edgeport run` of a "
                        f"question-answering config (e.g. runs/qa)")
    if not path.is_file():
        raise NotAQaRun(f"{run_dir}: no manifest.json; this is not a pipeline run directory (give e.g. runs/qa)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        stages, raw = manifest["stages"], manifest["config"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotAQaRun(f"{path}: unreadable manifest ({type(exc).__name__}: {exc})") from None
    try:
        cfg = config_from_mapping(raw, source=str(path))
    except ConfigError as exc:
        raise NotAQaRun(f"{path}: its recorded config does not load here: {exc}") from None
    if cfg.data.task != "question-answering":
        raise NotAQaRun(f"{run_dir}: data.task is {cfg.data.task}; this benchmark measures question-answering runs "
                        f"(benchmarks/ner_eval.py measures token-classification)")
    wanted = {"teacher": True, "distill": cfg.distill.enabled, "prune": cfg.prune.enabled,
              "export": cfg.export.enabled, "quantize": cfg.quantize.enabled and cfg.export.enabled}
    for stage, enabled in wanted.items():
        status = (stages.get(stage) or {}).get("status")
        if enabled and status != "done":
            raise NotAQaRun(f"{run_dir}: stage {stage} is {status or 'not in the manifest'}, not done; finish the run "
                            f"first (edgeport run CONFIG)")
    for stage in MODEL_STAGES:
        if (stages.get(stage) or {}).get("status") == "done" and not (run_dir / stage / "config.json").is_file():
            raise NotAQaRun(f"{run_dir / stage}: the stage is recorded as done but its model is missing")
    for art in artifacts(stages):
        if not (run_dir / art["path"]).is_file():
            raise NotAQaRun(f"{run_dir / art['path']}: artifact {art['name']} is recorded but its file is missing")
    return stages, cfg


def artifacts(stages: dict) -> list[dict]:
    """Every artifact the export and quantize stages recorded, in that order."""
    return [a for role in ("export", "quantize") if (stages.get(role) or {}).get("status") == "done"
            for a in (stages[role].get("metrics") or {}).get("artifacts", [])]


def load_splits(cfg, stages: dict, limit: int | None, run_dir: Path):
    """(dev questions measured, selection split, the whole dev file): ``edgeport.data.load_task`` on the run's data
    section and seed, as the pipeline calls it, with ``eval_limit`` unset (every dev question), then the dev sample by
    the pipeline's own rule (``data.sample_questions``, run.seed). Refused when the data files are not the ones the
    run read (their digest in the teacher's fingerprint)."""
    from edgeport.data import load_task, sample_questions
    from edgeport.pipeline.fingerprint import DataFiles, part_digest

    spec = cfg.data.spec()
    recorded = (stages["teacher"].get("fingerprint_parts") or {}).get("data")
    if recorded is not None and part_digest(DataFiles(spec)) != recorded:
        raise NotAQaRun(f"{run_dir}: the data files under data.local '{cfg.data.local}' are not the ones this run "
                        f"read (their digest differs from the teacher's fingerprint), so the selection split could "
                        f"not be re-derived as the run derived it; point EDGEPORT_DATA_DIR at the run's data")
    task = load_task(spec.model_copy(update={"eval_limit": None}), seed=cfg.run.seed)
    return sample_questions(task.eval, limit, cfg.run.seed), task.select, task.eval


def window_length(cfg, runner) -> int:
    """Tokens per window of an artifact: validate's length (the export length, where the app cuts), or its longest
    static input (TFLite) / dynamic bound (ExecuTorch) where shorter."""
    from edgeport.stages.validate import validate_length

    bounds = [validate_length(cfg), runner.seq_len, getattr(runner, "max_seq_len", None)]
    return min(b for b in bounds if b)


def stride_for(cfg, length: int) -> int:
    """The run's ``data.doc_stride`` (resolved), or a third of a shorter artifact's window when it leaves no room."""
    stride = cfg.data.stride()
    return stride if length == cfg.data.max_seq_len or stride < length // 2 else length // 3


def models(run_dir: Path, stages: dict, cfg, threads: int, peer_dir: Path) -> list[Model]:
    """The run's model stages (fp32 torch), every artifact, and the peer (built into ``peer_dir``), teacher first."""
    from edgeport import runtimes
    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.stages.validate import regime
    from edgeport.tasks.qa import task_tokenizer
    from edgeport.tasks.qa_model import load_qa

    out = []
    for stage, role in MODEL_STAGES.items():
        if (stages.get(stage) or {}).get("status") != "done":
            continue
        directory, metrics = run_dir / stage, stages[stage].get("metrics") or {}
        model = load_qa(directory)
        out.append(Model(stage, "stage", torch_runner(model), task_tokenizer(directory), cfg.data.max_seq_len,
                         cfg.data.stride(), {
                             "role": role, "format": "torch", "precision": "fp32", "path": stage,
                             "regime": "batch 1, true length", "params": sum(p.numel() for p in model.parameters()),
                             "size_bytes": sum(f.stat().st_size for f in directory.glob("*.safetensors")),
                             "recorded": recorded(metrics)}))
    if not out or out[0].name != "teacher":
        raise NotAQaRun(f"{run_dir}: no finished teacher stage; every row is compared with the teacher")
    for art in artifacts(stages):
        path = run_dir / art["path"]
        runner = runtimes.load(path, threads=threads)
        length = window_length(cfg, runner)
        out.append(Model(art["name"], "artifact", runner, artifact_tokenizer(path), length, stride_for(cfg, length), {
            "role": f"{art['format']} {art['precision']} of {_source(path)}", "format": art["format"],
            "precision": art["precision"], "path": art["path"], "regime": regime(runner), "params": None,
            "size_bytes": path.stat().st_size, "recorded": recorded_artifact(art["name"], stages)}))
    out.append(peer(out[0], cfg, threads, peer_dir))
    return out


def _source(path: Path) -> str:
    from edgeport.runtimes import artifact_meta

    stage = artifact_meta(path).get("source_stage")
    return {"distill": "the student", "prune": "the pruned student", "teacher": "the teacher"}.get(stage, "?")


def recorded(metrics: dict) -> dict:
    """What the stage recorded (fractions; ``eval_rows`` dev questions: the run's data.eval_limit sample)."""
    keys = ("select_squad_em", "select_squad_f1", "select_rows", "eval_squad_em", "eval_squad_f1", "eval_rows")
    return {k: metrics.get(k) for k in keys} | {"source": "manifest stage metrics"}


def recorded_artifact(name: str, stages: dict) -> dict | None:
    """The validate stage's figures for an artifact, where it judged it (None otherwise)."""
    validate = stages.get("validate") or {}
    if validate.get("status") != "done":
        return None
    row = next((a for a in (validate.get("metrics") or {}).get("artifacts", []) if a.get("name") == name), None)
    if row is None:
        return None
    return {"eval_squad_em": row.get("squad_em"), "eval_squad_f1": row.get("squad_f1"),
            "eval_rows": validate["metrics"].get("eval_rows"), "verdict": (row.get("verdict") or {}).get("state"),
            "source": "validate"}


# ------------------------------------------------------------------------------------------------ no buckets

ONE_SIGNATURE = "tflite-int8-one-signature"


def one_signature(run_dir: Path, rows: list[Model], cfg, threads: int, directory: Path) -> Model:
    """The run's TFLite INT8 artifact rebuilt without length buckets: its source stage's model converted by the
    pipeline's TFLite exporter with one signature at the artifact's export length, then the same INT8 mode
    (``quantization`` in its artifact.json) by the same exporter; its directory is a copy of the shipped one (sidecar,
    tokenizer) with that file and ``seq_buckets`` [length]."""
    import json
    import shutil

    from edgeport import runtimes
    from edgeport.exporters import QuantizeRequest, make_sample
    from edgeport.exporters.tflite import TFLiteExporter
    from edgeport.runtimes import artifact_meta
    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.stages.validate import regime
    from edgeport.tasks.qa_model import load_qa

    shipped = next((m for m in rows if m.name == "tflite-int8"), None)
    if shipped is None:
        raise NotAQaRun(f"{run_dir}: no tflite-int8 artifact to rebuild without buckets; pass --no-one-signature")
    path = run_dir / shipped.facts["path"]
    meta = artifact_meta(path)
    model = load_qa(run_dir / meta["source_stage"]).eval()
    length, mode = int(meta.get("export_seq_len") or meta["seq_len"]), meta.get("quantization") or "dynamic"
    print(f"  {ONE_SIGNATURE}: converting {meta['source_stage']} with one signature of {length} tokens, {mode} "
          f"INT8 ...", file=sys.stderr, flush=True)
    exporter = TFLiteExporter()
    sample = make_sample(length, vocab=artifact_tokenizer(path).vocab_size)
    fp32_dir, int8_dir = directory / "fp32", directory / "int8"
    fp32_dir.mkdir(parents=True)
    fp32 = exporter.export(model, sample, fp32_dir, buckets=[length])
    shutil.copytree(path.parent, int8_dir, ignore=shutil.ignore_patterns(path.name))
    int8 = exporter.quantize(QuantizeRequest(model=model, fp32_path=fp32, sample=sample, out_dir=int8_dir,
                                             mode=mode, calibration=[]))
    (int8_dir / "artifact.json").write_text(json.dumps(meta | {"seq_buckets": [length], "seq_len": length}))
    runner = runtimes.load(int8, threads=threads)
    return Model(ONE_SIGNATURE, "variant", runner, shipped.tokenizer, shipped.length, shipped.stride, {
        "role": f"tflite int8 of {_source(path)}, one signature of {length} (no buckets)", "format": "tflite",
        "precision": "int8", "path": None, "regime": regime(runner), "params": None,
        "size_bytes": int8.stat().st_size, "recorded": None})


# ------------------------------------------------------------------------------------------------ the peer


def peer(teacher: Model, cfg, threads: int, directory: Path) -> Model:
    """The fp32 teacher as an Optimum / ORT user ships it: ``torch.onnx.export`` (two outputs, dynamic batch and
    sequence) then ``onnxruntime.quantization.quantize_dynamic`` with QInt8 weights, loaded by edgeport's ONNX
    runner (an artifact.json names its outputs, so the runner returns both)."""
    import contextlib
    import json
    import logging

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgeport import runtimes
    from edgeport.models.arch import inputs_of
    from edgeport.quiet import native_stderr

    names = inputs_of(teacher.runner.model)  # the inputs the architecture takes (BERT: all three)

    class SpanHead(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            feed = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            out = self.model(**{n: feed[n] for n in names})
            return out.start_logits, out.end_logits

    print("  peer: exporting the teacher to ONNX and quantizing it (ORT dynamic INT8) ...", file=sys.stderr,
          flush=True)
    enc = teacher.tokenizer(["Where was it built?"], ["It was built by the river in the spring."],
                            return_tensors="pt", return_token_type_ids=True)
    args = tuple(enc[k] for k in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}  # the outputs follow (dynamo's dynamic_shapes)
    fp32_dir, int8_dir = directory / "fp32", directory / "int8"
    for d in (fp32_dir, int8_dir):
        d.mkdir(parents=True)
    start = time.perf_counter()
    # the exporter's progress lines go to stderr: stdout is the table
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr), native_stderr():
        # dynamo (torch's default exporter): the TorchScript exporter mis-traces transformers 5's attention mask
        # (measured: logits off by 0.16-0.35 at another length); opset 18 as edgeport's own ONNX exporter
        torch.onnx.export(SpanHead(teacher.runner.model).eval(), args, str(fp32_dir / "model.onnx"),
                          input_names=list(names), output_names=list(OUTPUTS), dynamic_shapes=axes,
                          opset_version=PEER_OPSET, dynamo=True, external_data=False, verbose=False)
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": the usual dynamic recipe does not
    quantize_dynamic(str(fp32_dir / "model.onnx"), str(int8_dir / "model.onnx"), weight_type=QuantType.QInt8)
    for d, precision in ((fp32_dir, "fp32"), (int8_dir, "int8")):
        (d / "artifact.json").write_text(json.dumps({
            "format": "onnx", "precision": precision, "model_file": "model.onnx", "task": "question-answering",
            "inputs": list(names), "outputs": list(OUTPUTS)}))
    seconds = round(time.perf_counter() - start, 1)
    runner = runtimes.load(int8_dir, threads=threads)
    length = window_length(cfg, runner)
    return Model(PEER, "peer", runner, teacher.tokenizer, length, stride_for(cfg, length), {
        "role": "peer: fp32 teacher -> torch.onnx.export -> ORT quantize_dynamic (QInt8 weights)",
        "format": "onnx", "precision": "int8", "path": None, "regime": "batch 1, true length", "params": None,
        "size_bytes": (int8_dir / "model.onnx").stat().st_size, "recorded": None,
        "recipe": {"export": f"torch.onnx.export(dynamo=True, opset {PEER_OPSET}, dynamic batch and sequence axes, "
                             f"outputs start_logits/end_logits)",
                   "quantize": "onnxruntime.quantization.quantize_dynamic(weight_type=QInt8), its defaults otherwise "
                               "(per_channel=False, reduce_range=False, every op type it quantizes)",
                   "seconds": seconds, "fp32_path": str(fp32_dir / "model.onnx")}})


def peer_parity(teacher: Model, fp32_path: Path, windows, threads: int) -> float:
    """Largest |fp32 ONNX - torch| over the start and end logits of ``windows`` (the peer's export, checked)."""
    from edgeport import runtimes

    onnx = runtimes.load(fp32_path.parent, threads=threads)
    worst = 0.0
    for row in windows.rows:
        feed = _feed(row)
        a, b = teacher.runner(**feed), onnx(**feed)
        worst = max(worst, *(float(np.abs(a[k] - b[k]).max()) for k in OUTPUTS))
    return worst


# ------------------------------------------------------------------------------------------------ accuracy


class WindowCache:
    """Each split's windows per (tokenizer, length, stride): the teacher's rows share theirs, the pruned student's
    rows theirs (``tasks.qa.split_windows``, computed once)."""

    def __init__(self):
        self._made: dict = {}

    def __call__(self, split, model: Model):
        import hashlib

        vocab = hashlib.sha256(model.tokenizer.backend_tokenizer.to_str().encode()).hexdigest()
        key = (id(split), vocab, model.length, model.stride)
        if key not in self._made:
            from edgeport.tasks.qa import split_windows

            self._made[key] = split_windows(split, model.tokenizer, model.length, model.stride)
        return self._made[key]


def _feed(row: dict) -> dict:
    return {k: np.asarray([row[k]], dtype=np.int64) for k in INPUTS if k in row}


def window_logits(model: Model, windows) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each window's (start, end) logits over its real tokens, one window per call (batch 1, true length)."""
    out = []
    for row in windows.rows:
        n = len(row["input_ids"])
        result = model.runner(**_feed(row))
        out.append((np.asarray(result["start_logits"])[0, :n], np.asarray(result["end_logits"])[0, :n]))
    return out


def per_question(split, answers: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Each question's EM and F1 (0/1 and [0, 1]): the official per-answer functions, max over the gold answers;
    an unanswered question 0 (``squad.squad_scores``' own rule, whose means they are)."""
    from edgeport.tasks import squad

    em, f1 = np.zeros(len(split)), np.zeros(len(split))
    for i, e in enumerate(split.examples):
        if e.id in answers:
            em[i] = max(squad.exact_match(answers[e.id], g) for g in e.answer_texts)
            f1[i] = max(squad.f1(answers[e.id], g) for g in e.answer_texts)
    return em, f1


def measure(model: Model, split, cache: WindowCache) -> dict:
    """The model's answers on ``split`` and the official figures (x100), with the per-question values."""
    from edgeport.tasks import qa, squad

    windows = cache(split, model)
    answers = qa.answers(split, windows, window_logits(model, windows))
    official = squad.squad_scores(split.examples, answers)
    em, f1 = per_question(split, answers)
    if abs(100 * f1.mean() - official["f1"]) > 1e-9 or abs(100 * em.mean() - official["exact_match"]) > 1e-9:
        raise AssertionError(f"{model.name}: per-question figures do not average to squad_scores'")
    return {"answers": answers, "em": em, "f1": f1, "official": official, "windows": len(windows.rows)}


def f1_drop(ref_f1: np.ndarray, f1: np.ndarray, seed: int) -> dict:
    """The F1 drop vs the teacher in points with a paired bootstrap 95% CI over questions and a one-sided paired
    permutation p (``stats.mean_drop``: the test validate's F1 gates use)."""
    from edgeport.stats import mean_drop

    return mean_drop(ref_f1, f1, metric="squad_f1", seed=seed)


def evaluate(rows: list[Model], splits: dict, seed: int) -> list[dict]:
    """Every row's figures on every split, with the drops vs the teacher (rows[0]) and the same-answer share."""
    from edgeport.stats import paired_drop, wilson

    cache = WindowCache()
    out = [{"model": m.name, "kind": m.kind, **m.facts, "splits": {}} for m in rows]
    for name, split in splits.items():
        teacher = None
        for m, row in zip(rows, out):
            start = time.perf_counter()
            got = measure(m, split, cache)
            n = len(split)
            figures = {"questions": n, "windows": got["windows"], "length": m.length, "stride": m.stride,
                       "exact_match": round(got["official"]["exact_match"], 4), "f1": round(got["official"]["f1"], 4),
                       "unanswered": got["official"]["missing"], "seconds": round(time.perf_counter() - start, 2)}
            if teacher is None:
                teacher = got
            else:
                same = sum(got["answers"].get(e.id) == teacher["answers"].get(e.id) for e in split.examples)
                lo, hi = wilson(same, n)
                em_drop = paired_drop(teacher["em"] > 0.5, got["em"] > 0.5)
                figures |= {"f1_drop_vs_teacher": f1_drop(teacher["f1"], got["f1"], seed),
                            "em_drop_vs_teacher": em_drop | {"test": "Newcombe paired CI + exact McNemar"},
                            "same_answer_as_teacher": {"share": round(same / n, 6), "questions": same,
                                                       "ci95": [round(lo, 6), round(hi, 6)]}}
            row["splits"][name] = figures
            print(f"  {m.name} on {name}: EM {figures['exact_match']:.2f} F1 {figures['f1']:.2f} "
                  f"({figures['windows']} windows, {figures['seconds']:.0f} s)", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------ latency


def latency_questions(full, k: int, seed: int):
    """``k`` dev questions drawn with their own seeded generator from the whole dev file, in file order."""
    n = min(k, len(full))
    return full.select(sorted(random.Random(f"latency:{seed}").sample(range(len(full)), n)))


def question_feeds(model: Model, split, cache: WindowCache) -> list[list[dict]]:
    """Per question, its windows' batch-1 feeds (the model's own tokenizer and window length)."""
    windows = cache(split, model)
    out: list[list[dict]] = [[] for _ in range(len(split))]
    for row, q in zip(windows.rows, windows.example_index):
        out[q].append(_feed(row))
    return out


def time_questions(runner, feeds: list[list[dict]], warmup: int) -> np.ndarray:
    """Milliseconds per question: its windows one after another (``timing.timed`` around the whole question)."""
    from edgeport.timing import timed

    def answer(windows):
        for feed in windows:
            runner(**feed)

    for windows in feeds[:max(0, warmup)]:
        answer(windows)
    return np.asarray([timed(answer, {"windows": w})[1] * 1e3 for w in feeds])


def latency(rows: list[Model], split, rounds: int, warmup: int) -> list[dict]:
    """p50 / p90 ms per question for every row, median of ``rounds`` rounds with [min, max], and the speed-up vs
    the teacher in each round."""
    cache = WindowCache()
    feeds = {m.name: question_feeds(m, split, cache) for m in rows}
    runs: dict[str, list] = {m.name: [] for m in rows}
    for r in range(rounds):
        for m in (rows if r % 2 == 0 else rows[::-1]):  # no row always runs first (or last) in a round
            ms = time_questions(m.runner, feeds[m.name], warmup)
            runs[m.name].append(np.percentile(ms, [50, 90]))
            print(f"  latency round {r + 1}/{rounds}: {m.name} p50 {runs[m.name][-1][0]:.3g} ms", file=sys.stderr,
                  flush=True)
    teacher = np.asarray(runs[rows[0].name])[:, 0]
    out = []
    for m in rows:
        p = np.asarray(runs[m.name])
        speedup = teacher / p[:, 0]
        windows = [len(q) for q in feeds[m.name]]
        tokens = [sum(int(f["attention_mask"].sum()) for f in q) for q in feeds[m.name]]
        out.append({"model": m.name, "kind": m.kind, "format": m.facts["format"], "precision": m.facts["precision"],
                    "regime": m.facts["regime"], "questions": len(split), "windows": sum(windows),
                    "windows_per_question": round(float(np.mean(windows)), 3),
                    "tokens_per_question": round(float(np.mean(tokens)), 1), "rounds": rounds,
                    "p50_ms": _median(p[:, 0]), "p50_range_ms": _range(p[:, 0]),
                    "p90_ms": _median(p[:, 1]), "p90_range_ms": _range(p[:, 1]),
                    "speedup_vs_teacher": round(float(np.median(speedup)), 2),
                    "speedup_range": [round(float(speedup.min()), 2), round(float(speedup.max()), 2)]})
    return out


def _median(x: np.ndarray) -> float:
    return round(float(np.median(x)), 4)


def _range(x: np.ndarray) -> list[float]:
    return [round(float(x.min()), 4), round(float(x.max()), 4)]


# ------------------------------------------------------------------------------------------------ output


def markdown(result: dict) -> str:
    rows, q = result["models"], result["questions"]
    dev, sel = result["dev_split"], "selection"
    sample = (f"all {q['dev']} questions" if q["dev"] == q["dev_file"] else
              f"a sample of {q['dev']} of its {q['dev_file']} questions (edgeport.data.sample_questions, seed "
              f"{result['seed']})")
    lines = [f"# Question answering: `{result['run']}` on SQuAD v1.1", "",
             f"Dev: `{dev}`, {sample}. Selection: the run's selection split re-derived with its config and seed "
             f"({q['selection']} questions of held-out training articles). Every window alone (batch 1, "
             f"{result['threads']} thread(s), its true length; a TFLite model on its bucket), "
             f"{result['max_seq_len']}-token windows sharing {result['doc_stride']} tokens; answer = best span over "
             f"the question's windows; official v1.1 EM / F1 x100. Drops vs the fp32 teacher in points: F1 with a "
             f"paired bootstrap 95% CI over questions, EM with Newcombe's paired CI. Same answer: share of questions "
             f"answered with the teacher's text. Recorded: the figures the run's stages recorded (dev: "
             f"{_recorded_sample(result)}).", "",
             "| model | what | run as | params | size MB | dev EM | dev F1 | dev F1 drop [95% CI] | dev EM drop "
             "[95% CI] | same answer as teacher | sel. EM / F1 | sel. F1 drop [95% CI] | recorded dev / sel. F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, s = r["splits"][dev], r["splits"][sel]
        rec = r.get("recorded") or {}
        rec_cell = " / ".join("-" if rec.get(k) is None else f"{rec[k] * 100:.2f}"
                              for k in ("eval_squad_f1", "select_squad_f1"))
        same = d.get("same_answer_as_teacher")
        lines.append(" | ".join([
            f"| {r['model']}", r["role"], r["regime"], "-" if r["params"] is None else f"{r['params'] / 1e6:.2f}M",
            f"{r['size_bytes'] / 1e6:.2f}", f"{d['exact_match']:.2f}", f"{d['f1']:.2f}",
            _drop(d.get("f1_drop_vs_teacher")), _drop(d.get("em_drop_vs_teacher")),
            "-" if same is None else f"{same['share'] * 100:.1f}%",
            f"{s['exact_match']:.2f} / {s['f1']:.2f}", _drop(s.get("f1_drop_vs_teacher")), rec_cell]) + " |")
    lines += ["", *latency_table(result), "", *peer_lines(result),
              "", f"Wall time: {result['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def _recorded_sample(result: dict) -> str:
    n, limit = result["recorded_rows"], result["eval_limit"]
    if limit is None or n is None or n >= result["questions"]["dev_file"]:
        return f"all {n} questions"
    return (f"{n} questions, the run's data.eval_limit sample, which --limit {n} measures here")


def _drop(drop: dict | None) -> str:
    if drop is None:
        return "-"
    lo, hi = drop["ci95_points"]
    return f"{drop['drop_points']:+.2f} [{lo:+.2f}, {hi:+.2f}]"


def latency_table(result: dict) -> list[str]:
    t, host = result["latency"], result["host"]
    lines = [f"Latency per question on {host['cpu_model']} ({host['machine']}, {host['cores']} cores, "
             f"{result['threads']} thread(s) used): {t['questions']} dev questions (seeded sample of the dev file), "
             f"each question's windows one after another at batch 1 (model calls only), {t['rounds']} rounds "
             f"(median [min-max] of the rounds); speed-up vs the fp32 teacher in torch in the same round:", "",
             "| model | run as | windows / question | tokens / question | p50 ms | p90 ms | faster than the teacher |",
             "|---|---|---|---|---|---|---|"]
    for r in t["models"]:
        (a, b), (c, d), (e, g) = r["p50_range_ms"], r["p90_range_ms"], r["speedup_range"]
        lines.append(f"| {r['model']} | {r['regime']} | {r['windows_per_question']:.2f} | "
                     f"{r['tokens_per_question']:.0f} | {r['p50_ms']:.3g} [{a:.3g}-{b:.3g}] | "
                     f"{r['p90_ms']:.3g} [{c:.3g}-{d:.3g}] | {r['speedup_vs_teacher']:.2f}x [{e:.2f}-{g:.2f}] |")
    return lines


def peer_lines(result: dict) -> list[str]:
    p = result["peer"]
    return [f"Peer `{PEER}`: {p['recipe']['export']}; {p['recipe']['quantize']}. Its fp32 export matches the torch "
            f"teacher within {p['fp32_max_abs_diff']:.2g} (largest |logit difference| on the latency windows)."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--limit", type=_positive, default=None,
                        help="a seeded sample of N dev questions (run.seed; default: every question)")
    parser.add_argument("--latency-questions", type=_positive, default=300, help="dev questions timed (seeded)")
    parser.add_argument("--rounds", type=_positive, default=3)
    parser.add_argument("--warmup", type=int, default=10, help="untimed questions per row before each round")
    parser.add_argument("--threads", type=_positive, default=1, help="CPU threads of every runtime (torch included)")
    parser.add_argument("--one-signature", action=argparse.BooleanOptionalAction, default=True,
                        help="add the TFLite INT8 model converted with one signature at the export length (no "
                             "buckets), to measure what the buckets do")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "qa_eval.json")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except NotAQaRun as exc:
        print(f"qa_eval: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # an edgeport error (data, model, artifact) is the user's to fix, not a traceback
        from edgeport.errors import EdgeportError

        if isinstance(exc, EdgeportError):
            print(f"qa_eval: error: {exc}", file=sys.stderr)
            return 2
        raise


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def run(args) -> int:
    start = time.perf_counter()
    stages, cfg = load_run(args.run_dir)  # before torch is imported: a wrong RUN_DIR is answered at once
    import torch

    from edgeport.hostinfo import host_identity

    torch.set_num_threads(args.threads)
    prov = provenance({"args": args_dict(args) | {"out": None}, "config": run_config(args.run_dir)},
                      "the script's arguments and the run's resolved config")
    dev, selection, full = load_splits(cfg, stages, args.limit, args.run_dir)
    timed_split = latency_questions(full, args.latency_questions, cfg.run.seed)
    with tempfile.TemporaryDirectory(prefix="qa_eval_peer_") as tmp:
        rows = models(args.run_dir, stages, cfg, args.threads, Path(tmp))
        if args.one_signature:
            rows.insert(-1, one_signature(args.run_dir, rows, cfg, args.threads, Path(tmp) / "one-signature"))
        parity = peer_parity(rows[0], Path(rows[-1].facts["recipe"]["fp32_path"]),
                             WindowCache()(timed_split, rows[0]), args.threads)
        results = evaluate(rows, {cfg.data.eval_split: dev, "selection": selection}, cfg.run.seed)
        timing = latency(rows, timed_split, args.rounds, args.warmup)
        torch.set_num_threads(args.threads)  # the TorchScript runner sets the process-wide pool
    recipe = {k: v for k, v in rows[-1].facts["recipe"].items() if k != "fp32_path"}
    for r in results:
        if "recipe" in r:
            r["recipe"] = recipe
    result = {"run": str(args.run_dir), "dev_split": cfg.data.eval_split, "seed": cfg.run.seed,
              "max_seq_len": cfg.data.max_seq_len, "doc_stride": cfg.data.stride(), "threads": args.threads,
              "host": host_identity(),
              "questions": {"dev": len(dev), "dev_file": len(full), "selection": len(selection),
                            "dev_sample": None if args.limit is None or args.limit >= len(full) else {
                                "n": len(dev), "rule": "edgeport.data.sample_questions", "seed": cfg.run.seed}},
              "recorded_rows": (stages["teacher"].get("metrics") or {}).get("eval_rows"),
              "eval_limit": cfg.data.eval_limit,
              "models": results,
              "peer": {"model": PEER, "recipe": recipe, "fp32_max_abs_diff": float(f"{parity:.3g}")},
              "latency": {"split": cfg.data.eval_split, "questions": len(timed_split), "rounds": args.rounds,
                          "warmup": args.warmup, "sample": {"rule": "random.Random('latency:<seed>').sample",
                                                            "seed": cfg.run.seed}, "models": timing}}
    result["wall_seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result, prov)
    table = markdown(result)
    write_markdown(args.out.with_suffix(".md"), table, prov)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
