"""Validate stage: every exported/quantized artifact on the full evaluation split, in the regime that ships.

The reference for every artifact, fp32 and INT8, is the fp32 torch model of the model stage (the student). Every
artifact and the reference run one row per call at the length the runtime computes (``validation``: the same
``bench.workload.run_rows`` the bench stage times), rows truncated at the export length as the app truncates them.
Each artifact gets a typed verdict (``verdict.ArtifactVerdict``: one ``Gate`` per check, pass / inconclusive /
fail, tied to the sha256 of the judged file), decided by ``validation_gates``. Results go to
``validate/results.json`` and ``results.md`` and into the stage metrics (each row's ``verdict``); the failed gates'
messages are listed under ``gate_failures`` (derived from the verdicts) and fail the run after everything is
written (the runner collects them). Inconclusive gates do not fail the run; they are listed under ``gate_notes``
and shown as INCONCLUSIVE wherever a verdict is shown.

Question answering reads a question as windows of question + context and answers with the best span over them:
its rows, references and gates are ``validation_qa``'s (``_questions``), judged by the same ``validation_gates``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp
from ..pipeline.stage import model_stage

if TYPE_CHECKING:
    from ..config import DataSpec, ValidateConfig
    from ..validation_arm import ArmPlan


@dataclass(frozen=True)
class ValidateSettings:
    validate: ValidateConfig
    data: DataSpec
    max_len: int  # validate_length: rows are truncated where the app truncates them
    seed: int  # the selection split's carving, and the randomisation tests of the non-accuracy metrics
    threads: int | None  # run.threads: the runtimes and the torch reference compute with it
    source_stage: str  # the fp32 torch model every artifact is compared with (prune, distill or teacher)
    task: str  # data.task: the model loaded (tasks.models), the rows it reads (data.model_inputs) and its gates
    libs: fp.Libraries
    arm: ArmPlan  # ARM parity: the profiles' CPU models, the emulator and guest versions (validation_arm.plan)


def validate_length(cfg) -> int:
    """Tokens a row may have: the app truncates at the export length (the bench workload does the same)."""
    return min(cfg.data.max_seq_len, cfg.export_seq_len())


class ValidateStage:
    name = "validate"
    uses_data = True
    distributed = False
    key_metric = "gates"

    def enabled(self, cfg) -> bool:
        return cfg.validate.enabled and cfg.export.enabled

    def inputs(self, cfg) -> dict[str, str]:
        inputs = {"model": model_stage(cfg), "export": "export"}
        if cfg.quantize.enabled:
            inputs["quantize"] = "quantize"
        if cfg.validate.max_drop_vs_teacher is not None:
            inputs["teacher"] = "teacher"  # the end-to-end gate: every artifact against the teacher
        return inputs

    def configure(self, cfg) -> ValidateSettings:
        from ..targets import get_target
        from ..validation_arm import plan

        # the runtimes of the exported formats judge here; latency is the bench stage's
        arm = plan(cfg.validate.arm_parity, [get_target(t) for t in cfg.bench.targets], cfg.validate.arm_rows)
        from ..tasks import TASKS

        if "validate.arm_parity" in TASKS[cfg.data.task].unsupported:  # ARM parity samples rows of one output each
            from ..validation_arm import ArmPlan                          # (the config refuses arm_parity: on)

            arm = ArmPlan(False, notes=(f"ARM parity not checked: not built for {cfg.data.task}",))
        return ValidateSettings(validate=cfg.validate, data=cfg.data.spec(), max_len=validate_length(cfg),
                                seed=cfg.run.seed, threads=cfg.run.threads, source_stage=model_stage(cfg),
                                task=cfg.data.task,
                                libs=fp.libraries("model", *(f"runtime.{f}" for f in cfg.export.formats)), arm=arm)

    def run(self, ctx) -> dict:
        import torch

        from ..data import model_inputs
        from ..models import load_tokenizer
        from ..tasks.models import load
        from ..validation import References, compare

        cfg = ctx.cfg
        if cfg.task == "question-answering":  # a question is read as windows, its answer the best span over them
            return self._questions(ctx)
        split = model_inputs(ctx.task().eval, cfg.task)  # the rows as the model reads them, one per call
        threads = torch.get_num_threads()
        model_dir = ctx.inputs["model"]
        # per truncation length: an artifact whose longest TFLite bucket is shorter is compared with the reference there
        ref = References(load(cfg.task, model_dir), load_tokenizer(model_dir), split, cfg.max_len)
        teacher = self._teacher_logits(ctx, ref)
        # token-classification: where each word's tag is read, per truncation length; the teacher's words are read
        # from its own tokens (a vocabulary-pruned student splits words into other tokens)
        tokens = (TokenRows(ref.tokenizer, split, ctx.task().label_names, cfg.max_len, teacher,
                            load_tokenizer(ctx.inputs.get("teacher", model_dir))) if split.words else None)
        ref_acc = compare(ref(), ref(), None if tokens else split.labels)["accuracy"]  # tags: no row accuracy
        artifacts = [a for role in ("export", "quantize") if role in ctx.inputs
                     for a in ctx.input_metrics(role).get("artifacts", [])]
        arm, arm_notes = arm_check(cfg.arm, len(split), cfg.seed, {a["format"] for a in artifacts})
        try:
            rows = [self._one(ctx, a, ref, threads, teacher=teacher, arm=arm, tokens=tokens) for a in artifacts]
        finally:
            torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
        arm_results = arm.results() if arm else {"enabled": False, "notes": list(arm_notes)}
        return self._finish(ctx, rows, ref_acc, len(split), teacher, ref(), arm_results, tokens)

    @staticmethod
    def _teacher_logits(ctx, refs):
        """The teacher's fp32 torch logits on the eval split (its own tokenizer, one row per call, truncated where
        the artifacts are): what the end-to-end gate compares every artifact with, row by row. None when off."""
        if "teacher" not in ctx.inputs or ctx.cfg.validate.max_drop_vs_teacher is None:
            return None
        if ctx.inputs["teacher"] == ctx.inputs["model"]:
            return refs()  # no distill/prune: the reference is the teacher
        from ..models import load_tokenizer
        from ..tasks.models import load
        from ..validation import reference_logits

        tdir = ctx.inputs["teacher"]
        print("  teacher on the eval split (end-to-end gate) ...", flush=True)
        return reference_logits(load(ctx.cfg.task, tdir), load_tokenizer(tdir), refs.split, refs.max_len)

    @staticmethod
    def _one(ctx, art: dict, refs, eval_threads: int, teacher=None, arm=None, tokens=None) -> dict:
        """One artifact: its logits at batch 1, the comparison with the reference, its gates and verdict."""
        from .. import runtimes
        from ..exporters import non_builtin_ops, tflite_ops
        from ..validation import artifact_length, artifact_logits, compare, judge_artifact, yardstick_key

        from ..tasks import TASKS

        path, task, metric = ctx.run_dir / art["path"], ctx.task(), ctx.cfg.data.metric
        output, split = TASKS[ctx.cfg.task].output, refs.split  # split: the rows the model reads
        print(f"  validating {art['name']} ...", flush=True)
        runner = runtimes.load(path, threads=eval_threads)
        logits = artifact_logits(runner, path, split, refs.max_len)
        length = artifact_length(runner, refs.max_len)  # rows truncated as this artifact's longest input
        ref, meta = refs(length), runtimes.artifact_meta(path)  # meta: INT8 mode and QAT (the noise budget's key)
        ops = non_builtin_ops(path) if art["format"] == "tflite" else None
        from ..exporters.base import quantized

        int8 = quantized(art["precision"])  # int8/w4: its tolerance scales with this model's own quantisation noise
        key = yardstick_key(art["precision"], meta)  # which: 8-bit for INT8, 4-bit (its blocks, its tables) for w4
        vectors = output == "embedding"
        words = tokens.evidence(length) if tokens else None  # token-classification: where each word's tag is read
        measured, gates = judge_artifact(
            art["name"], art["format"], art["precision"], logits, ref, None if tokens else split.labels,
            ctx.cfg.validate,
            noise=refs.noise(length, key) if int8 else None,
            noise_rows=refs.noise_rows(length, key) if int8 else None,
            mode=meta.get("quantization"), qat=bool(meta.get("qat")),
            teacher=None if tokens else teacher, non_builtin_ops=ops, metric=metric, label_names=task.label_names,
            seed=ctx.cfg.seed, output=output, scores=task.eval.labels if vectors else None,
            yardstick_cosine=refs.yardstick_cosine(length, key) if vectors and int8 else None, words=words)
        if arm is not None:  # the same rows on the device profiles' aarch64 kernels, against x86 and fp32
            from ..bench.workload import encode_split

            feeds = encode_split(path, split.texts, split.pairs, length)
            gates += arm.judge(art, path, feeds, logits, ref, split.labels, measured["tolerance"],
                               refs.noise_rows(length, key) if int8 else None, ctx.cfg.validate)
        row = dict(art) | measured | {"reference_seq_len": length, "regime": regime(runner)}
        if length != refs.max_len and split.labels is not None and not tokens:
            row["reference_accuracy"] = compare(ref, ref, split.labels)["accuracy"]
        if ops is not None:
            row["ops"], row["non_builtin_ops"] = tflite_ops(path), ops
        if metric != "accuracy":
            row[metric] = row[f"eval_{metric}"] = task_metric(output, metric, task, words)(logits)
        if vectors:
            row |= cosine_figures(logits, ref)
        if words:
            row |= word_figures(words.rows, logits, ref)
        return row | verdict_fields(ctx.run_dir, row, gates)

    def _finish(self, ctx, rows: list[dict], ref_acc: float, n: int, teacher=None, ref=None, arm=None,
                tokens=None) -> dict:
        from ..validation import compare, markdown_table
        from ..verdict import State, worst

        failures = [f for r in rows for f in r["gate_failures"]]
        notes = [f for r in rows for f in r["gate_notes"]]
        from ..data import model_inputs

        vcfg, task, metric = ctx.cfg.validate, ctx.task(), ctx.cfg.data.metric
        # None for an embedding model's sentences and for tags (judged per word and entity, not per row)
        labels = None if tokens else model_inputs(task.eval, ctx.cfg.task).labels
        teacher_acc = None if teacher is None else compare(teacher, teacher, labels)["accuracy"]
        reference = {"stage": ctx.cfg.source_stage, "format": "torch", "precision": "fp32",
                     "accuracy": ref_acc, "eval_accuracy": ref_acc}
        teacher_row = None if teacher is None else {"stage": "teacher", "format": "torch", "precision": "fp32",
                                                    "eval_accuracy": teacher_acc}
        metric_txt = ""
        if metric != "accuracy":
            from ..stats import metric_title
            from ..tasks import TASKS

            value = task_metric(TASKS[ctx.cfg.task].output, metric, task,
                                tokens.evidence(ctx.cfg.max_len) if tokens else None)
            reference[f"eval_{metric}"] = value(ref)
            if teacher_row is not None:  # a token classifier's teacher: its words read through its own tokens
                teacher_row[f"eval_{metric}"] = tokens.teacher_f1() if tokens else value(teacher)
            title = metric_title(metric, task.label_names)
            metric_txt = (f" Task metric (data.metric): {title}: reference {reference[f'eval_{metric}'] * 100:.2f}"
                          + ("" if teacher_row is None else f", teacher {teacher_row[f'eval_{metric}'] * 100:.2f}")
                          + (f"; the drop columns are in points of {title} (paired bootstrap 95% CI over sentences, "
                             f"one-sided paired permutation p)." if tokens else
                             f"; the drop columns are in points of {title} (paired bootstrap 95% CI, one-sided "
                             f"approximate randomisation p), accuracy is shown beside it."))
        states = [State(r["verdict"]["state"]) for r in rows]
        overall = worst(states)
        counted = {s.value: states.count(s) for s in State}
        result = {"metric": metric if task.labelled else None, "reference": reference, "teacher": teacher_row,
                  "parity_only": not task.labelled,
                  "eval_split": getattr(task.eval, "name", "eval"), "eval_rows": n,
                  "gates": overall.value if overall is State.PASS else f"{overall.value} ({counted[overall.value]})",
                  "verdicts": counted, "gate_limits": gate_limits(vcfg, metric), "artifacts": rows,
                  "gate_failures": failures, "gate_notes": notes, "host_cpus": os.cpu_count(), "arm_parity": arm}
        from ..validation_arm import markdown as arm_markdown

        if metric == "spearman":  # sentence embeddings: no accuracy table, the cosine and Spearman one
            table = embedding_table(rows)
        elif tokens:  # tags: entity F1 and word agreement, no row accuracy
            dropped = result["eval_dropped_words"] = tokens.rows(ctx.cfg.max_len).dropped_words
            table = token_table(rows) + (f"\n{dropped} words of the eval sentences lie past {ctx.cfg.max_len} tokens: "
                                         f"every model tags them O (their entities count as missed)\n"
                                         if dropped else "")
        else:
            table = markdown_table(rows) + (metric_table(rows, metric, task.label_names) if metric != "accuracy"
                                            else "")
        table += arm_markdown(arm) if arm else ""
        header = results_header(ctx, task, n, ref_acc, teacher_acc, metric_txt)
        (ctx.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        (ctx.out / "results.md").write_text("# Validation\n\n" + header + table
                                            + "".join(f"\n- FAIL: {f}" for f in failures)
                                            + "".join(f"\n- {f}" for f in notes) + "\n")
        print("\n" + header + table + "".join(f"\n- {f}" for f in notes), flush=True)
        return result

    def _questions(self, ctx) -> dict:
        """question-answering (``validation_qa``): every artifact's answers to the eval questions against the fp32
        torch model's and the teacher's, each window one call at the artifact's length."""
        import torch

        from ..models import load_tokenizer
        from ..tasks.models import load
        from ..validation_qa import Models

        cfg = ctx.cfg
        model_dir, teacher_dir = ctx.inputs["model"], None
        if "teacher" in ctx.inputs and cfg.validate.max_drop_vs_teacher is not None:
            teacher_dir = ctx.inputs["teacher"]
        model = load(cfg.task, model_dir)
        teacher = None if teacher_dir is None else model if teacher_dir == model_dir else load(cfg.task, teacher_dir)
        models = Models(model, load_tokenizer(model_dir), ctx.task().eval, cfg.max_len, cfg.data.stride(),
                        teacher=teacher, teacher_tokenizer=None if teacher_dir is None else load_tokenizer(teacher_dir))
        artifacts = [a for role in ("export", "quantize") if role in ctx.inputs
                     for a in ctx.input_metrics(role).get("artifacts", [])]
        threads = torch.get_num_threads()
        try:
            rows = [self._question_row(ctx, a, models, threads) for a in artifacts]
        finally:
            torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
        return self._finish_questions(ctx, rows, models)

    @staticmethod
    def _question_row(ctx, art: dict, models, eval_threads: int) -> dict:
        from .. import runtimes
        from ..errors import ModelError
        from ..exporters import non_builtin_ops, tflite_ops
        from ..exporters.base import quantized
        from ..validation import artifact_length, noise_of, resolved_tolerance, yardstick_key
        from ..validation_gates import Evidence, judge
        from ..validation_qa import SpanEvidence, artifact_answers, figures, question_noise

        cfg, path = ctx.cfg, ctx.run_dir / art["path"]
        print(f"  validating {art['name']} ...", flush=True)
        runner = runtimes.load(path, threads=eval_threads)
        length = artifact_length(runner, cfg.max_len)  # windows cut at this artifact's longest input
        mine, ref = artifact_answers(path, runner, models, length), models.reference_answers(length)
        if mine.window_sizes != ref.window_sizes:
            raise ModelError(f"{art['name']}: its tokenizer cuts the eval questions into other windows than the "
                             f"fp32 model's ({len(mine.window_sizes)} vs {len(ref.window_sizes)}); re-export it")
        int8, meta = quantized(art["precision"]), runtimes.artifact_meta(path)
        noise = noise_q = None
        if int8:  # the model's own quantisation noise on these windows scales the tolerances and tie band
            yard = models.yardstick_answers(length, yardstick_key(art["precision"], meta))
            noise, noise_q = noise_of(yard.logits, ref.logits), question_noise(ref, yard)
        ops = non_builtin_ops(path) if art["format"] == "tflite" else None
        tolerance = resolved_tolerance(art["format"], art["precision"], cfg.validate, noise=noise,
                                       mode=meta.get("quantization"), qat=bool(meta.get("qat")))
        spans = SpanEvidence(mine, ref, models.teacher_answers(length), noise_q)
        gates = judge(Evidence(art["name"], art["format"], art["precision"], mine.logits, ref.logits, None, tolerance,
                               non_builtin_ops=None if ops is None else tuple(ops), metric=cfg.data.metric,
                               seed=cfg.seed, output="span_logits", spans=spans), cfg.validate)
        diff = noise_of(mine.logits, ref.logits)
        row = dict(art) | figures(mine, ref) | {
            "max_abs_diff": diff["max_abs"], "mean_abs_diff": diff["mean_abs"], "tolerance": tolerance,
            "reference_seq_len": length, "regime": regime(runner), "windows": len(mine.window_sizes)}
        if ops is not None:
            row["ops"], row["non_builtin_ops"] = tflite_ops(path), ops
        return row | verdict_fields(ctx.run_dir, row, gates)

    def _finish_questions(self, ctx, rows: list[dict], models) -> dict:
        from ..verdict import State, worst

        cfg, task = ctx.cfg, ctx.task()
        ref = models.reference_answers(cfg.max_len)
        teacher = models.teacher_answers(cfg.max_len)
        score = lambda a, stage: {"stage": stage, "format": "torch", "precision": "fp32",  # noqa: E731
                                  "eval_squad_f1": round(float(a.f1.mean()), 6),
                                  "eval_squad_em": round(float(a.em.mean()), 6)}
        reference = score(ref, cfg.source_stage)
        teacher_row = None if teacher is None else score(teacher, "teacher")
        states = [State(r["verdict"]["state"]) for r in rows]
        overall = worst(states)
        counted = {s.value: states.count(s) for s in State}
        n, windows = len(ref.spans), len(ref.window_sizes)
        result = {"metric": cfg.data.metric, "reference": reference, "teacher": teacher_row, "parity_only": False,
                  "eval_split": task.eval.name, "eval_rows": n, "eval_windows": windows,
                  "gates": overall.value if overall is State.PASS else f"{overall.value} ({counted[overall.value]})",
                  "verdicts": counted, "gate_limits": gate_limits(cfg.validate, cfg.data.metric), "artifacts": rows,
                  "gate_failures": [f for r in rows for f in r["gate_failures"]],
                  "gate_notes": [f for r in rows for f in r["gate_notes"]], "host_cpus": os.cpu_count(),
                  "arm_parity": {"enabled": False, "notes": list(cfg.arm.notes)}}
        header = (f"Reference: fp32 torch `{cfg.source_stage}` model, EM {reference['eval_squad_em'] * 100:.2f} / F1 "
                  f"{reference['eval_squad_f1'] * 100:.2f} on {n} questions of {task.eval.name} ({windows} windows "
                  f"of at most {cfg.max_len} tokens, {cfg.data.stride()} shared)"
                  + ("" if teacher_row is None else f"; teacher EM {teacher_row['eval_squad_em'] * 100:.2f} / F1 "
                                                    f"{teacher_row['eval_squad_f1'] * 100:.2f}")
                  + ". Every window runs alone (batch 1) at its real length or TFLite bucket; a question's answer is "
                    "the best span over its windows. Official SQuAD v1.1 EM / F1 x100; drops in F1 points (paired "
                    "bootstrap 95% CI over questions, one-sided paired permutation p); span agreement: the share of "
                    "questions answered with the fp32 model's span.\n")
        table = question_table(rows)
        (ctx.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        (ctx.out / "results.md").write_text("# Validation\n\n" + header + table
                                            + "".join(f"\n- FAIL: {f}" for f in result["gate_failures"])
                                            + "".join(f"\n- {f}" for f in result["gate_notes"]) + "\n")
        print("\n" + header + table + "".join(f"\n- {f}" for f in result["gate_notes"]), flush=True)
        return result


def arm_check(arm, n_rows: int, seed: int, formats: set[str]):
    """(the ARM parity runner for this validate run or None, the notes on what it does not check)."""
    if not arm.enabled:
        return None, arm.notes
    from ..errors import EdgeportError
    from ..validation_arm import ArmCheck

    try:
        return ArmCheck(arm, n_rows, seed, formats), arm.notes
    except EdgeportError as exc:  # the guest could not be prepared (no registry reachable, no mmdebstrap)
        if arm.required:
            raise
        return None, arm.notes + (f"ARM parity not checked (validate.arm_parity: auto): {exc}",)


def results_header(ctx, task, n: int, ref_acc: float | None, teacher_acc: float | None, metric_txt: str) -> str:
    """What results.md and the console say above the table: the reference and the decision rules. Unlabelled texts
    (``data.texts``): parity only, no accuracy and no drop gate."""
    vcfg, metric, source = ctx.cfg.validate, ctx.cfg.data.metric, ctx.cfg.source_stage
    if metric == "spearman":  # sentence embeddings: the rows are the pairs' sentences
        reference = (f"Reference: fp32 torch `{source}` model's unit vectors of the {n} sentences of {n // 2} eval "
                     f"pairs; a pair is scored by its cosine, a model by the Spearman correlation of those with the "
                     f"gold scores.{metric_txt}")
        sampled = "Spearman drops (paired bootstrap CI, permutation test) fail when the limit is missed"
    elif metric == "entity_f1":  # token classification: a tag per word, read at its first sub-token
        reference = (f"Reference: fp32 torch `{source}` model's tags of the words of {n} eval sentences (each read "
                     f"at its first sub-token; entities decoded as strict IOB2).{metric_txt}")
        sampled = ("entity-F1 drops (paired bootstrap over sentences, permutation test) and INT8 word-label "
                   "agreement fail when the limit is missed")
    elif task.labelled:
        teacher_txt = "" if teacher_acc is None else f"; teacher (fp32 torch) {teacher_acc * 100:.2f}%"
        test = "Newcombe 95% CI, McNemar" if metric == "accuracy" else "bootstrap 95% CI, randomisation"
        reference = (f"Reference: fp32 torch `{source}` model, accuracy {ref_acc * 100:.2f}% on {n} eval rows (one "
                     f"row = {100 / n if n else 0.0:.2f} points){teacher_txt}.{metric_txt}")
        sampled = f"drops ({test}) and INT8 agreement fail when the limit is missed"
    else:
        reference = (f"Parity only: {n} unlabelled texts (`{task.eval.source}`), so no accuracy is measured anywhere; "
                     f"every artifact is compared with the fp32 torch `{source}` model it was made from (label "
                     f"agreement, logit differences).")
        sampled = "INT8 agreement fails when the limit is missed"
    return (f"{reference} Every artifact and the reference run one row per call (batch 1) at the length the runtime "
            f"computes, as the app and the bench workload run them. fp32 parity and logit tolerances are "
            f"deterministic (any miss fails); {sampled} and the one-sided test gives p < {vcfg.significance:g}, "
            f"else INCONCLUSIVE (not shipped without --accept-inconclusive). Latency: the bench stage.\n\n")


def regime(runner) -> str:
    """How the artifact was run, for the table: batch 1 at the true length, or at the smallest TFLite bucket."""
    buckets = getattr(runner, "seq_buckets", None)
    if buckets:
        return f"batch 1, bucket of {'/'.join(map(str, buckets))}"
    return "batch 1, true length"


def verdict_fields(run_dir, row: dict, gates) -> dict:
    """The row's typed verdict (its gates, on the judged file's sha256) and the messages derived from it."""
    from ..pipeline.manifest import sha256_file
    from ..validation_gates import lines
    from ..verdict import ArtifactVerdict, State

    verdict = ArtifactVerdict(row["name"], row["path"], sha256_file(run_dir / row["path"]), tuple(gates))
    return {"verdict": verdict.to_dict(), "gate_failures": lines(row["name"], gates, State.FAIL),
            "gate_notes": lines(row["name"], gates, State.INCONCLUSIVE)}


def gate_limits(vcfg, metric: str) -> dict:
    """The limits and the decision rule, as results.json records them."""
    return {"int8_max_accuracy_drop": vcfg.int8_max_accuracy_drop, "int8_min_agreement": vcfg.int8_min_agreement,
            "max_drop_vs_teacher": vcfg.max_drop_vs_teacher, "significance": vcfg.significance,
            "check_tolerances": vcfg.check_tolerances,
            "decision": "fp32 parity: any flipped label fails, except rows whose reference logits are tied within 2x "
                        "the format's fp32 tolerance; logit tolerances (fp32: the format's; INT8: the (format, mode) "
                        "noise budget) and builtin ops: pass or fail; drops (data.metric "
                        f"{metric}) and INT8 agreement: pass when the point estimate meets the limit, fail when it "
                        "misses and the one-sided test gives p < significance, else inconclusive"}


def task_metric(output: str, metric: str, task, words=None):
    """``logits -> data.metric on the eval split``: a classifier's from its labels, an embedding model's from
    the cosines of its pairs' vectors (rows [0, n) and [n, 2n): ``data.sides``), a token classifier's strict
    entity F1 from each word's first sub-token (``words``: ``tasks.tokens.TokenEvidence`` at the outputs' length)."""
    if metric == "entity_f1":
        return words.rows.f1
    if output == "embedding":
        from ..tasks.embedding import pair_cosines, spearman

        return lambda vecs: spearman(pair_cosines(vecs), task.eval.labels)
    from ..stats import metric_value

    return lambda logits: metric_value(metric, task.eval.labels, logits.argmax(-1), task.num_labels)


def cosine_figures(vecs, ref) -> dict:
    """Each sentence's cosine with the fp32 torch vector: min and mean (what the cosine gate reads)."""
    from ..tasks.vectors import cosine

    cos = cosine(vecs, ref)
    return {"cosine_min": round(float(cos.min()), 6), "cosine_mean": round(float(cos.mean()), 6)}


class TokenRows:
    """token-classification: the eval sentences' ``tasks.tokens.WordRows`` per truncation length (each computed
    once: the reference and the artifacts of one length share it) and the teacher's tags (at validate's length,
    read through the teacher's own tokenizer's word rows)."""

    def __init__(self, tokenizer, split, tag_names: list[str], max_len: int, teacher=None, teacher_tokenizer=None):
        self.tokenizer, self.split, self.tag_names, self.max_len = tokenizer, split, tag_names, max_len
        self._rows: dict = {}
        self._teacher, self._teacher_tokenizer, self._teacher_tags = teacher, teacher_tokenizer, None

    def rows(self, length: int):
        from ..tasks.tokens import word_rows

        if length not in self._rows:
            self._rows[length] = word_rows(self.tokenizer, self.split, length, self.tag_names)
        return self._rows[length]

    def evidence(self, length: int):
        from ..tasks.tokens import TokenEvidence

        if self._teacher is not None and self._teacher_tags is None:
            from ..tasks.tokens import word_rows

            rows = word_rows(self._teacher_tokenizer, self.split, self.max_len, self.tag_names)
            self._teacher_tags = rows.tags(self._teacher)
        return TokenEvidence(self.rows(length), self._teacher_tags)

    def teacher_f1(self) -> float:
        from ..tasks import ner

        return round(ner.entity_scores(self.rows(self.max_len).gold, self.evidence(self.max_len).teacher_tags)["f1"], 6)


def word_figures(rows, logits, ref) -> dict:
    """A token classifier's comparison with the fp32 reference on the words: label agreement at their first
    sub-tokens, and the words truncation dropped at this artifact's length."""
    import numpy as np

    a, b = np.asarray(logits)[rows.first].argmax(-1), np.asarray(ref)[rows.first].argmax(-1)
    return {"word_agreement": round(float((a == b).mean()), 6), "words": int(len(rows.first)),
            "dropped_words": rows.dropped_words}


def token_table(rows: list[dict]) -> str:
    """Validate's table for token classification: entity F1, word-label agreement with fp32, the entity-F1 drops."""
    return task_table(rows, [("entity F1 x100", lambda r: f"{r['entity_f1'] * 100:.2f}"),
                             ("word agreement vs fp32", lambda r: f"{r['word_agreement']:.4f}")])


def question_table(rows: list[dict]) -> str:
    """question-answering: EM / F1, span agreement and the F1 drops beside the verdict."""
    def drop(r, name):
        g = next((g for g in r["verdict"]["gates"] if g["name"] == name), None)
        if g is None:
            return "-"
        lo, hi = g["evidence"]["ci95_points"]
        return f"{g['value']:.2f} [{lo:.2f}, {hi:.2f}]"

    lines = ["", "| artifact | EM | F1 | span agreement | F1 drop vs fp32 | F1 drop vs teacher | max abs diff | size MB "
                 "| verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['squad_em'] * 100:.2f} | {r['squad_f1'] * 100:.2f} | "
                     f"{r['span_agreement']:.4f} | {drop(r, 'drop_vs_fp32')} | {drop(r, 'drop_vs_teacher')} | "
                     f"{r['max_abs_diff']:.3g} | {r.get('size_bytes', 0) / 1e6:.2f} | "
                     f"{r['verdict']['state'].upper()} |")
    return "\n".join(lines) + "\n"


def embedding_table(rows: list[dict]) -> str:
    """Validate's table for sentence embeddings: Spearman on the eval pairs, cosine to the fp32 vector, drops."""
    return task_table(rows, [("Spearman x100", lambda r: f"{r['spearman'] * 100:.2f}"),
                             ("cosine vs fp32 min / mean", lambda r: f"{r['cosine_min']:.6f} / {r['cosine_mean']:.6f}")])


def task_table(rows: list[dict], measures: list[tuple]) -> str:
    """One row per artifact: how it ran, the task's ``measures`` ((header, row -> cell)), the two drop gates, the
    largest element-wise difference with its tolerance, the size and the verdict."""
    from ..validation import gate_cell

    head = ["artifact", "run as", *(h for h, _ in measures), "drop vs fp32, pts [95% CI]",
            "drop vs teacher, pts [95% CI]", "max abs Δ (tol)", "size MB", "gates"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        tol, verdict = r.get("tolerance") or {}, r["verdict"]
        tol_max = f" ({tol['max_abs']:.3g})" if tol.get("max_abs") is not None else ""
        cells = [r["name"], r.get("regime", "-"), *(cell(r) for _, cell in measures),
                 gate_cell(verdict, "drop_vs_fp32"), gate_cell(verdict, "drop_vs_teacher"),
                 f"{r['max_abs_diff']:.3g}{tol_max}", f"{r['size_bytes'] / 1e6:.2f}", verdict["state"].upper()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def metric_table(rows: list[dict], metric: str, label_names: list[str]) -> str:
    """The task metric per artifact, beside validation's accuracy table."""
    from ..stats import metric_title
    from ..validation import gate_cell

    title = metric_title(metric, label_names)
    lines = ["", f"| artifact | {title} | drop vs fp32, pts [95% CI] | drop vs teacher, pts [95% CI] |",
             "|---|---|---|---|"]
    for r in rows:
        cells = [gate_cell(r["verdict"], name) for name in ("drop_vs_fp32", "drop_vs_teacher")]
        lines.append(f"| {r['name']} | {r.get(metric, float('nan')) * 100:.2f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"
