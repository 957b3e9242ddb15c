"""The ``edgeport`` command line: a thin table of commands, each a function over the library."""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import sys
import warnings
from pathlib import Path

from . import __version__
from .apps.android import register as register_android_command
from .bench.commands import register as register_bench_commands
from .errors import EdgeportError
from .explain.commands import register as register_explain_command
from .apps.mediapipe import register as register_mediapipe_command
from .tune import register as register_tune_command
from .mlm.fillmask import register as register_fill_mask_command


def _load(args):
    """The config of ``args`` (``--params`` files before ``-o`` overrides), as the API loads it."""
    from .api import load_pipeline_config

    return load_pipeline_config(args.config, args.override, getattr(args, "params", None) or ())


def cmd_run(args) -> int:
    """``edgeport run``: the Python API's ``plan`` / ``run`` (``edgeport/api.py``) plus printing."""
    from . import api

    common = dict(params=args.params or (), until=args.until, force=args.force)
    if args.dry_run:
        plan = api.plan(args.config, args.override, **common)
        print(f"plan for {plan.run_dir} (dry run, nothing is executed):")
        for step in plan.steps:
            print(f"  {step.stage:<10} {step.action:<14} {step.reason}")
        return 0
    return _run_and_print(lambda: api.run(args.config, args.override, accept_inconclusive=args.accept_inconclusive,
                                          **common))


def _run_and_print(execute) -> int:
    """``execute()`` (an API call returning a ``Run``), then the end-of-run summary; a failed gate prints the
    summary of the finished run before the error is raised to ``main`` (exit 1)."""
    from . import api
    from .pipeline.dist import is_main

    try:
        run = execute()
    except api.GateError as err:
        if is_main() and getattr(err, "run", None) is not None:
            _print_summary(err.run)
        raise
    if is_main():
        _print_summary(run)
    return 0


def cmd_export(args) -> int:
    """``edgeport export``: ``api.export`` (a pipeline run in OUT, no training) plus the summary of ``edgeport run``."""
    from . import api
    from .export_run import CONFIG_FILE

    config = Path(args.out).expanduser().resolve() / CONFIG_FILE
    note = f"config: {config} (the same command, or edgeport run {config}, runs it again)"
    try:
        code = _run_and_print(lambda: api.export(
            args.model, args.out, formats=_names(args.formats), int8=args.int8, data=args.data, texts=args.texts,
            targets=_names(args.targets), max_seq_len=args.max_seq_len, text_column=args.text_column,
            text_pair_column=args.text_pair_column, label_column=args.label_column, eval_split=args.eval_split,
            overrides=args.override, accept_inconclusive=args.accept_inconclusive))
    except api.GateError:  # the run finished: its config is there to read and re-run
        print(note)
        raise
    print(note)
    return code


def _names(text: str | None) -> tuple[str, ...] | None:
    """``--formats tflite,onnx`` -> ("tflite", "onnx"); None when the option was not given."""
    return None if text is None else tuple(t.strip() for t in text.split(",") if t.strip())


def _print_summary(run) -> None:
    print(f"\nrun: {run.run_dir}")
    print(f"  {'stage':<10} {'status':<14} {'time':>8}  key metric")
    for row in run.executed:
        secs = f"{row['seconds']:.1f}s" if row["status"] == "ran" else "-"
        print(f"  {row['stage']:<10} {row['status']:<14} {secs:>8}  {row['metric'] or ''}")
    _print_verdicts(run)
    _print_shipping(run)


def _print_verdicts(run) -> None:
    """Validate's verdict per artifact (PASS / INCONCLUSIVE / FAIL, typed: ``verdict.load_verdicts``) and, for
    each artifact that did not pass, the gates that did not; only when validate is current in this run."""
    from .verdict import load_verdicts

    if not any(r["stage"] == "validate" and r["status"] in ("ran", "skip") for r in run.executed):
        return
    standings = load_verdicts(Path(run.run_dir))
    if not standings:
        return
    validate = run.stages.get("validate")
    rows = ("the unlabelled texts: parity with the fp32 model only, no accuracy"
            if validate is not None and validate.metrics.get("parity_only") else "eval split")
    print(f"\nvalidate verdicts ({rows}; one row per call as each artifact ships; INCONCLUSIVE is not shipped "
          f"without --accept-inconclusive):")
    width = max(map(len, standings))
    for name, standing in standings.items():
        print(f"  {name:<{width}}  {standing.shown}" + (f"  ({standing.problem})" if standing.problem else ""))
        for gate in (standing.verdict.gates if standing.verdict else ()):
            if gate.state.value != "pass":
                print(f"  {'':<{width}}    {gate.state.value.upper()} {gate.name}: {gate.message}")


def _print_shipping(run) -> None:
    """Per target, the artifact to ship (``report.render.SHIP_RULE``) and where the report is; only when the report
    stage is current (ran or up to date) in this run: a report left from an earlier configuration is not read."""
    import json

    from .report.render import SHIP_RULE_SHORT, ship_choices, ship_line

    if not any(r["stage"] == "report" and r["status"] in ("ran", "skip") for r in run.executed):
        return
    out = Path(run.run_dir) / "report"
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    choices = ship_choices(report)
    if choices:
        print(f"\nto ship, per target ({SHIP_RULE_SHORT}):")
        width = max(map(len, choices))
        for target, choice in choices.items():
            shown = ship_line(choice)
            if choice and choice.get("path"):
                shown = shown.replace(choice["path"], str(Path(run.run_dir) / choice["path"]), 1)
            print(f"  {target:<{width}}  {shown}")
    print(f"\nreport: {out / 'report.md'}")
    if (out / "report.html").is_file():
        print(f"        {out / 'report.html'}")


def cmd_status(args) -> int:
    from .pipeline import make_plan, run_dir_for
    from .pipeline.manifest import Manifest
    from .stages import STAGES

    cfg = _load(args)
    manifest = Manifest.load(run_dir_for(cfg))
    plan = make_plan(STAGES, cfg, manifest)
    print(f"run: {run_dir_for(cfg)}")
    for item in plan:
        entry = manifest.entry(item.stage.name) or {}
        state = "up to date" if item.action == "skip" else item.action if item.action != "run" else "needs run"
        metric = entry.get("metrics", {}).get(item.stage.key_metric) if item.stage.key_metric else None
        extra = f" ({item.reason})" if item.action == "run" else ""
        if "last_failure" in entry:  # the earlier result is kept; say that the latest attempt failed
            extra += f"; last attempt failed: {entry['last_failure'].get('error', '?')[:200]}"
        shown = f"  {item.stage.key_metric}={metric}" if metric is not None else ""
        print(f"  {item.stage.name:<10} {entry.get('status', '-'):<12} {state}{extra}{shown}")
    return 0


def cmd_configs(args) -> int:
    from .config import shipped_configs

    for name, path in shipped_configs().items():
        first = path.read_text().splitlines()[0].lstrip("# ").strip() if path.stat().st_size else ""
        print(f"  {name:<12} {first}")
    return 0


def cmd_cp(args) -> int:
    from .config import ConfigError, shipped_configs

    shipped = shipped_configs()
    if args.name not in shipped:
        raise ConfigError([f"no shipped config '{args.name}'; shipped: {', '.join(shipped)}"], source="edgeport cp")
    dest = Path(args.file)
    if dest.is_dir():
        raise EdgeportError(f"{dest} is a directory; give the file to write, e.g. {dest / (args.name + '.yaml')}")
    if dest.exists() and not args.force:
        raise EdgeportError(f"{dest} already exists; choose another name or pass --force to overwrite it")
    try:
        shutil.copyfile(shipped[args.name], dest)
    except OSError as exc:
        raise EdgeportError(f"cannot write {dest} ({exc.strerror}); check that its folder exists and is "
                            f"writable") from None
    print(f"copied {args.name} to {dest}; edit it, then: edgeport run {dest}")
    return 0


def cmd_predict(args) -> int:
    from .runtimes.text import answer_kind, answerable, artifact_meta

    if args.threads < 1:
        raise EdgeportError("--threads must be at least 1")
    meta = artifact_meta(Path(args.artifact))
    kind = answer_kind(meta)
    if kind not in _PREDICT_PRINTERS:
        answerable(meta)  # its refusal names the task and what the runner gives instead
    if kind not in _QUESTION_KINDS:
        if args.question is not None or args.context is not None:
            raise EdgeportError(f"--question and --context are for a question-answering artifact; this is a "
                                f"{meta.get('task') or 'sequence-classification'} artifact: edgeport predict "
                                f"ARTIFACT TEXT")
        if args.text is None:
            raise EdgeportError("no text given: edgeport predict ARTIFACT TEXT")
    return _PREDICT_PRINTERS[kind](args)


def _print_classes(args) -> int:
    from .runtimes.text import predict

    result = predict(Path(args.artifact), [args.text], [args.text_pair] if args.text_pair else None, args.threads)[0]
    probs = ", ".join(f"{name}={p:.4f}" for name, p in result["probs"].items())
    print(f"{result['label']}\t{probs}")
    return 0


def _print_similarity(args) -> int:
    """An embedding model: two sentences in, the cosine of their vectors out."""
    from .runtimes.text import predict
    from .tasks.vectors import cosine

    if not args.text_pair:
        raise EdgeportError("an embedding model compares two sentences: edgeport predict ARTIFACT TEXT1 TEXT2")
    a, b = predict(Path(args.artifact), [args.text, args.text_pair], None, args.threads)
    print(f"cosine similarity\t{cosine(a['embedding'], b['embedding']):.4f}")
    return 0


def _print_entities(args) -> int:
    """A token classifier: one line per entity: type, [start, end) in characters of the text, its text."""
    from .runtimes.text import predict

    if args.text_pair:
        raise EdgeportError("a token classifier tags one text: edgeport predict ARTIFACT TEXT")
    result = predict(Path(args.artifact), [args.text], None, args.threads)[0]
    for e in result["entities"]:
        print(f"{e['type']}\t{e['start']}-{e['end']}\t{e['text']}")
    if not result["entities"]:
        print("no entities")
    if result["dropped_words"]:
        print(f"({result['dropped_words']} words past the artifact's length were not tagged)")
    return 0


def _print_answer(args) -> int:
    """A question-answering model: the best span of the context over its windows: its character span in the context
    and its text, then its score (start + end logit) and the windows it was read from."""
    from .runtimes.qa_text import answer

    if args.text is not None or args.text_pair is not None:
        raise EdgeportError("a question-answering model takes --question and --context, not a text: edgeport "
                            "predict ARTIFACT --question 'Who ...?' --context 'the paragraph'")
    missing = [flag for flag, value in (("--question", args.question), ("--context", args.context)) if value is None]
    if missing:
        raise EdgeportError(f"a question-answering model answers a question from a context; missing "
                            f"{' and '.join(missing)}: edgeport predict ARTIFACT --question 'Who ...?' --context "
                            f"'the paragraph'")
    found = answer(Path(args.artifact), args.question, args.context, args.threads)
    windows = f"({found['max_len']} tokens at most, stride {found['stride']}: {found['stride_source']})"
    if found["text"] is None:
        print(f"no answer: no valid span in the context's {found['windows']} window(s) {windows}")
        return 0
    print(f"{found['start']}-{found['end']}\t{found['text']}")
    print(f"score {found['score']:.4f} (start + end logit); window {found['window'] + 1} of {found['windows']} "
          f"{windows}")
    return 0


# what ``edgeport predict`` prints per answer kind (``runtimes.text.answer_kind``)
_PREDICT_PRINTERS = {"logits": _print_classes, "embedding": _print_similarity, "tags": _print_entities,
                     "span_logits": _print_answer}
_QUESTION_KINDS = {"span_logits"}  # the kinds that read --question and --context instead of TEXT [PAIR]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgeport", description=(
        "From a BERT-like teacher to a small, fast, validated text classifier: teacher -> distill -> prune -> "
        "export -> quantize -> validate -> report, run make-style. Exit codes: 0 ok, 1 a gate failed, 2 bad input."))
    p.add_argument("--version", action="version", version=f"edgeport {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp):
        sp.add_argument("config", help="a pipeline YAML file or the name of a shipped config")
        sp.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override, e.g. -o distill.temperature=3 (repeatable)")
        return sp

    r = with_config(sub.add_parser("run", help="run the pipeline make-style"))
    r.add_argument("--until", metavar="STAGE", help="stop after this stage")
    r.add_argument("--force", action="append", default=[], metavar="STAGE",
                   help="re-run this stage even if up to date (later stages re-run when its outputs change)")
    r.add_argument("--dry-run", action="store_true", help="print the plan and why each stage runs or is skipped")
    r.add_argument("--params", metavar="FILE", action="append", help="a YAML mapping of config keys (dotted or "
                   "nested) merged into the config before -o, e.g. the best_params.yaml `edgeport tune` writes "
                   "(repeatable, later files win)")
    r.add_argument("--accept-inconclusive", action="store_true",
                   help="\"what to ship\" may pick an artifact whose validate verdict is INCONCLUSIVE (a limit missed "
                        "on too little evidence to fail; the run still exits 0 on it); by default only PASS ships")
    r.set_defaults(fn=cmd_run)
    with_config(sub.add_parser("status", help="what is done and what would re-run")).set_defaults(fn=cmd_status)
    sub.add_parser("configs", help="list the shipped configs").set_defaults(fn=cmd_configs)
    c = sub.add_parser("cp", help="copy a shipped config for editing")
    c.add_argument("name")
    c.add_argument("file")
    c.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    c.set_defaults(fn=cmd_cp)
    _add_export_parser(sub)
    pr = sub.add_parser("predict", help="classify a text (or, with an embedding model, compare two; with a token "
                                        "classifier, list its entities; with a question-answering model, answer "
                                        "--question from --context) with any exported artifact (.pt, .onnx, "
                                        ".tflite, .pte)")
    pr.add_argument("artifact", help="an artifact's model file or its directory (e.g. runs/NAME/quantize/tflite-int8)")
    pr.add_argument("text", nargs="?", help="the text (every task but question answering)")
    pr.add_argument("text_pair", nargs="?", help="second sentence: of a pair classifier's input, or the sentence an "
                                                 "embedding model compares the first with (cosine similarity)")
    pr.add_argument("--question", help="question-answering: the question")
    pr.add_argument("--context", help="question-answering: the paragraph the answer is a span of (a long one is read "
                                      "in the artifact's windows of question + context)")
    pr.add_argument("--threads", type=int, default=1)
    pr.set_defaults(fn=cmd_predict)
    # commands that live with their feature
    for register in (register_bench_commands, register_android_command, register_explain_command,
                     register_mediapipe_command, register_fill_mask_command, register_tune_command):
        register(sub)
    return p


def _add_export_parser(sub) -> None:
    from .export_run import DEFAULT_FORMATS

    e = sub.add_parser("export", help="an already fine-tuned classifier -> validated (INT8) artifacts, no training "
                                      "(a pipeline run: export, quantize, validate, bench, report)")
    e.add_argument("model", help="a Hugging Face sequence-classification model directory (config.json, "
                                 "*.safetensors, tokenizer) or a hub id")
    e.add_argument("out", help="the run directory: artifacts, report/report.md and the config it ran "
                               "(new, empty, or an earlier edgeport export run)")
    e.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                   help=f"comma-separated: torchscript, onnx, tflite, executorch (default {','.join(DEFAULT_FORMATS)})")
    e.add_argument("--int8", action="store_true", help="also an INT8 artifact per format, judged against its fp32 "
                                                       "model")
    e.add_argument("--data", metavar="DATASET", help="a labelled dataset: a directory of train/validation files or "
                   "a folder name under $EDGEPORT_DATA_DIR (label names from the model's config.json id2label); "
                   "accuracy gates on its eval split")
    e.add_argument("--texts", metavar="FILE", help="unlabelled inputs, one per line: parity with the fp32 model "
                   "only (label agreement, logit differences), no accuracy")
    e.add_argument("--targets", metavar="NAMES", help="comma-separated device profiles (edgeport targets); default: "
                   "all shipped ones")
    e.add_argument("--max-seq-len", type=int, metavar="N", help="tokens per input (default 128)")
    e.add_argument("--text-column", help="--data: the text column (default sentence)")
    e.add_argument("--text-pair-column", help="--data: the second text of a pair task")
    e.add_argument("--label-column", help="--data: the label column (default label)")
    e.add_argument("--eval-split", help="--data: the split validate judges (default validation)")
    e.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override of the generated config, e.g. -o quantize.tflite=full_integer (repeatable)")
    e.add_argument("--accept-inconclusive", action="store_true",
                   help="\"what to ship\" may pick an artifact whose validate verdict is INCONCLUSIVE")
    e.set_defaults(fn=cmd_export)


# The classification head edgeport adds to a checkpoint without one (the teacher's first load): transformers
# reports its weights as MISSING, which is the expected state, not a problem. Any other MISSING, UNEXPECTED or
# MISMATCHED key still shows.
_NEW_HEAD_KEY = re.compile(r"^(classifier|pre_classifier|score)\.[\w.]+$")
_POOLER_KEY = re.compile(r"^(\w+\.)?pooler\.[\w.]+$")


def _fresh_head_only(msg: str) -> bool:
    if "LOAD REPORT" not in msg:
        return False
    keys = [(cells[0], cells[1]) for cells in ([c.strip() for c in line.split("|")] for line in msg.splitlines()
                                               if "|" in line) if len(cells) >= 2 and cells[0] and cells[0] != "Key"]
    # a fresh classification head (MISSING), or the pooler a sentence-embedding model leaves out (mean pooling
    # never reads it: tasks/embedding_model.py)
    return bool(keys) and all(("MISSING" in status and _NEW_HEAD_KEY.match(k))
                              or ("UNEXPECTED" in status and _POOLER_KEY.match(k))
                              for k, status in keys)


class _DropMessages(logging.Filter):
    """Drops the records of one logger that ``drop(message)`` says are noise; everything else passes."""

    def __init__(self, drop):
        super().__init__()
        self.drop = drop

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.drop(record.getMessage())


# logger -> which of its messages mislead or say nothing in an edgeport run
_NOISE = {
    # "`loss_type=None` ... Using the default loss: `ForCausalLMLoss`": export code touching model.loss_function; a
    # sequence classifier never computes that loss here. The LOAD REPORT of the fresh classification head.
    "transformers.modeling_utils": lambda m: "Using the default loss: `ForCausalLMLoss`" in m or _fresh_head_only(m),
    # torch.onnx registers torchvision's detection ops when it can; a text model needs none of them
    "torch.onnx._internal.exporter._registration": lambda m: m.startswith("torchvision is not installed"),
}
# (message regex, category): deprecations inside torch/transformers that edgeport triggers only through them
_NOISY_WARNINGS = [
    (r"torch\.ao\.quantization is deprecated", DeprecationWarning),  # quantize_dynamic: the working CPU INT8 path
    (r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor creation functions",
     UserWarning),  # the same path's own deprecation notice, raised inside torch.ao.nn.quantized
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning),  # tracing reads every model attribute
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),  # torch.export's own pytree use
    (r"# The axis name: \w+ will not be used, since it shares the same shape constraints", UserWarning),  # onnx
]


def _quiet_third_party_logs() -> None:
    """Third-party messages that say nothing about an edgeport run, each silenced at its source, by its logger and
    message or by warning text and category (never edgeport's own warnings, never a whole library):
    * transformers imports torchao when it is installed (litert-torch brings it); torchao and torch then log
      warnings about CUDA kernels and torch.compile internals (loggers torchao, torch.utils._pytree);
    * ``_NOISE``: per logger, the messages dropped; ``_NOISY_WARNINGS``: the Python warnings ignored.
    """
    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for name, drop in _NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(drop))
    for message, category in _NOISY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_third_party_logs()
    try:
        return args.fn(args)
    except EdgeportError as exc:
        print(f"edgeport: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("edgeport: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
