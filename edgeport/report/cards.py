"""Model cards: a ``README.md`` in the Hugging Face convention in every model and artifact directory of a run.

Written by the report stage (it runs last and has every figure): one card per Hugging Face model directory
(``pretrain/``, ``teacher/``, ``distill/``, ``prune/``: the stage directories holding a ``config.json``) and per
artifact directory the export and quantize stages list in the manifest. Each card has YAML front matter
(``library_name``, ``pipeline_tag``, ``language``, ``base_model``, ``datasets``, ``metrics``, ``tags``,
``model-index`` with every metric's dataset split) and says what the model is and where it came from (the stage
chain and its settings), its measured metrics and latencies with their kind (host / device / estimate), how to load
it in its own ecosystem, and its limitations.

The front matter is ``huggingface_hub``'s ``ModelCardData`` with one ``EvalResult`` per metric (the library writes
the ``model-index``, and ``ModelCard.load(path).data.eval_results`` reads it back); the body is edgeport's own
markdown, and ``ModelCard`` joins the two and saves the file.

Every number comes from the ``report`` dict ``build_report`` returns (accuracy, latency, budgets: the same content
as ``report.json``) or from the manifest (the settings each stage ran with); nothing is typed in by hand. The cards
are left out of the stages' output hashes (``pipeline.manifest.DOC_FILES``), so writing them re-runs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .. import precision as precisions
from ..pipeline.manifest import Manifest
from ..precision import Precision
from .render import KIND_NOTE, PARITY_NOTE, arm_section, emulated_section, ship_choices

CARD = "README.md"
DEFAULT_LANGUAGE = "en"  # every shipped config is English (SST-2); a config may say otherwise with data.language
MODEL_STAGES = ("pretrain", "teacher", "distill", "prune")
LIBRARY = {"torchscript": "pytorch", "onnx": "onnx", "tflite": "tflite", "executorch": "executorch"}
RUNTIME = {"torchscript": "torch.jit", "onnx": "onnxruntime", "tflite": "LiteRT / TensorFlow Lite",
           "executorch": "ExecuTorch"}
# builtin:NAME teachers are packaged copies of a hub model: the card names the original as base_model
BUILTIN_BASE_MODELS = {"builtin:minilm-l6": "sentence-transformers/all-MiniLM-L6-v2"}
KIND_ORDER = ("device", "host", "estimate")


def write_docs(run_dir: Path, out: Path, report: dict) -> list[Path]:
    """What the report stage writes besides ``build_report``'s files: every model card (``edgeport report``
    writes none: it never touches the stages' directories)."""
    return write_model_cards(run_dir, report)


def write_model_cards(run_dir: Path, report: dict) -> list[Path]:
    """Write every card of the run; returns the paths written."""
    run_dir = Path(run_dir)
    manifest = Manifest.load(run_dir)
    written = []
    for stage in MODEL_STAGES:
        directory = run_dir / stage
        if (manifest.entry(stage) or {}).get("status") == "done" and (directory / "config.json").is_file():
            model_card(manifest, report, stage).save(directory / CARD)
            written.append(directory / CARD)
    for art in manifest_artifacts(manifest):
        directory = (run_dir / art["path"]).parent
        if directory.is_dir() and directory != run_dir:
            artifact_card(manifest, report, art).save(directory / CARD)
            written.append(directory / CARD)
    return written


def manifest_artifacts(manifest: Manifest) -> list[dict]:
    """The artifacts the export and quantize stages recorded (name, format, precision, path, size)."""
    out = []
    for stage in ("export", "quantize"):
        entry = manifest.entry(stage) or {}
        if entry.get("status") != "done":
            continue
        arts = (entry.get("metrics") or {}).get("artifacts") or []
        if isinstance(arts, dict):
            arts = [{"name": k} | v for k, v in arts.items()]
        out += [dict(a, stage=stage) for a in arts if isinstance(a, dict) and a.get("path")]
    return out


# ------------------------------------------------------------------------------------------ the two kinds of card


def model_card(manifest: Manifest, report: dict, stage: str) -> ModelCard:
    cfg = _config(manifest)
    row = next((m for m in report.get("models") or [] if m["stage"] == stage), {})
    name = f"{report['run']}/{stage}"
    data = _card_data(manifest, name, "transformers", ["edgeport", stage, "bert"]
                      + (["knowledge-distillation"] if stage in ("distill", "prune") else [])
                      + (["pruned"] if stage == "prune" else []), _model_metrics(report, row))
    max_len = (cfg.get("data") or {}).get("max_seq_len")
    parts = [f"# {name}: {_what(stage)}\n", _generated(report),
             "## Where it came from\n", _chain(manifest, report, _chain_to(manifest, stage)),
             "## Metrics\n", _model_metrics_md(report, row),
             "## Latency\n", "No latency is measured for the torch model itself; the exported artifacts built from "
             "it are timed per target (see their cards and `report/report.md`).\n",
             "## How to load it (transformers)\n", _snippet_transformers(_task(manifest).name, max_len),
             _pruned_note(manifest, stage),
             "## Limitations\n", _limitations(manifest, report, max_len=max_len, static=False)]
    return _card(data, parts)


def artifact_card(manifest: Manifest, report: dict, art: dict) -> ModelCard:
    fmt, precision, name = art.get("format"), art.get("precision"), art["name"]
    row = next((a for a in report.get("artifacts") or [] if a["name"] == name), {})
    meta = _artifact_json(manifest.run_dir / art["path"])
    source = meta.get("source_stage") or ((manifest.entry("export") or {}).get("metrics") or {}).get("source_stage")
    task = _task(manifest)
    tags = list(dict.fromkeys(["edgeport", fmt or "artifact", precision or "fp32", task.hub_task[0],
                               *_precision(precision).tags]))
    data = _card_data(manifest, f"{report['run']}/{name}", LIBRARY.get(fmt, fmt or "other"), tags,
                      _artifact_metrics(report, row))
    chain = _chain_to(manifest, source) + ["export"] + (["quantize"] if art.get("stage") == "quantize" else [])
    parts = [f"# {report['run']}/{name}: {RUNTIME.get(fmt, fmt)} {precision} {task.noun}\n",
             _generated(report), f"File: `{Path(art['path']).name}` ({_mb(row.get('size_bytes') or art.get('size_bytes'))} "
             f"MB), tokenizer beside it (`tokenizer.json`), metadata in `artifact.json`.\n",
             "## Where it came from\n", _chain(manifest, report, chain, art=art, meta=meta),
             "## Metrics\n", _artifact_metrics_md(report, row),
             "## Latency per target\n", _latency_md(report, name), _device_kernels_md(report, name),
             f"## How to load it ({RUNTIME.get(fmt, fmt)})\n",
             _artifact_snippet(fmt, art, meta, Path(str(report.get("run_dir") or manifest.run_dir)), task.name),
             "## Limitations\n", _limitations(manifest, report, row=row, meta=meta, static=bool(meta.get("seq_len")))]
    return _card(data, parts)


def _device_kernels_md(report: dict, name: str) -> str:
    """This file on the device profiles' own aarch64 kernels, under emulation: validate's ARM parity runs and the
    bench's instruction counts; nothing when neither ran on it."""
    parts = [arm_section(report, name), emulated_section(report, name)]
    if not any(parts):
        return ""
    # each section opens with "## ": one level down, under this card's heading
    return "## On the device's CPU (emulated)\n\n" + "\n".join("#" + p for p in parts if p) + "\n"


# ------------------------------------------------------------------------------------------ front matter


def _task(manifest: Manifest):
    """The run's task entry (``data.task`` as recorded; runs before the registry are classifiers)."""
    from ..tasks import TASKS

    return TASKS[(_config(manifest).get("data") or {}).get("task") or "sequence-classification"]


def _card(data: ModelCardData, parts: list[str]) -> ModelCard:
    """The card: ``data`` as the YAML front matter, then the body's non-empty parts."""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(p for p in parts if p))


def _card_data(manifest: Manifest, name: str, library: str, tags: list[str], metrics: list[dict]) -> ModelCardData:
    """The front matter: one ``EvalResult`` per metric, on the dataset split it was measured on."""
    cfg = _config(manifest)
    data = cfg.get("data") or {}
    hub, config = data.get("hub_id"), data.get("hub_config")
    dataset = f"{hub}/{config}" if hub and config else hub or Path(str(data.get("local") or data.get("texts")
                                                                       or "local data")).name
    # nothing measured accuracy on unlabelled texts (parity only): no default metric claims it
    measured = sorted({m["type"] for m in metrics}) or (None if data.get("texts") else ["accuracy"])
    task_type, task_name = _task(manifest).hub_task
    results = [EvalResult(task_type=task_type, task_name=task_name,
                          dataset_type=hub or "local", dataset_name=dataset, dataset_config=config,
                          dataset_split=m["split"], metric_type=m["type"], metric_value=m["value"],
                          metric_name=m["name"]) for m in metrics]
    return ModelCardData(library_name=library, pipeline_tag=task_type,
                         language=[data.get("language") or DEFAULT_LANGUAGE], tags=tags, base_model=_base_model(cfg),
                         datasets=[hub] if hub else None, metrics=measured,
                         model_name=name, eval_results=results or None)  # None: no model-index without a metric


def _base_model(cfg: dict) -> str | None:
    spec = str((cfg.get("teacher") or {}).get("model") or "")
    if spec in BUILTIN_BASE_MODELS:
        return BUILTIN_BASE_MODELS[spec]
    if spec and not spec.startswith(("builtin:", "/", ".", "~")) and spec.count("/") == 1 and not Path(spec).exists():
        return spec  # a hub id
    return None


def _metric(report: dict) -> dict:
    return report.get("metric") or {"name": "accuracy", "title": "accuracy"}


def _model_metrics(report: dict, row: dict) -> list[dict]:
    """model-index entries for a torch model: the eval split, then the selection split it was chosen on."""
    split = row.get("eval_split") or (report.get("eval_split") or {}).get("name") or "eval"
    rows, metric = row.get("eval_rows"), _metric(report)
    out = []
    if row.get("eval_accuracy") is not None:
        out.append({"type": "accuracy", "value": row["eval_accuracy"], "split": split,
                    "name": f"Accuracy ({split}, the eval split, {rows} rows)"})
    if metric["name"] != "accuracy" and row.get("eval_value") is not None:
        out.append({"type": metric["name"], "value": row["eval_value"], "split": split,
                    "name": f"{metric['title']} ({split}, the eval split)"})
    if row.get("select_accuracy") is not None:
        out.append({"type": "accuracy", "value": row["select_accuracy"], "split": "selection",
                    "name": f"Accuracy (selection split: {row.get('select_rows')} rows held out from train; "
                            f"chose the checkpoint)"})
    return out


def _artifact_metrics(report: dict, row: dict) -> list[dict]:
    split = (report.get("eval_split") or {}).get("name") or "eval"
    rows, metric = (report.get("eval_split") or {}).get("rows"), _metric(report)
    out = []
    if row.get("accuracy") is not None:
        out.append({"type": "accuracy", "value": row["accuracy"], "split": split,
                    "name": f"Accuracy ({split}, the eval split, {rows} rows, run in {row.get('format')})"})
    if metric["name"] != "accuracy" and row.get("metric_value") is not None:
        out.append({"type": metric["name"], "value": row["metric_value"], "split": split,
                    "name": f"{metric['title']} ({split}, the eval split)"})
    if row.get("agreement") is not None:
        out.append({"type": "agreement", "value": row["agreement"], "split": split,
                    "name": "Label agreement with the torch model it was exported from"})
    return out


# ------------------------------------------------------------------------------------------ body sections


def _what(stage: str) -> str:
    return {"pretrain": "the pre-trained encoder (masked-language-model pre-training)",
            "teacher": "the fine-tuned teacher (fp32 torch)",
            "distill": "the distilled student (fp32 torch)",
            "prune": "the pruned student (fp32 torch), the model every artifact is exported from"}.get(stage, stage)


def _generated(report: dict) -> str:
    return (f"*Generated by edgeport {report.get('edgeport_version')} from `{report.get('run_dir')}/manifest.json` "
            f"({report.get('generated_at')}); rewritten by every report, so edit the pipeline, not this file.*\n")


def _chain_to(manifest: Manifest, stage: str | None) -> list[str]:
    """The model stages that ran, in order, up to and including ``stage``."""
    done = [s for s in MODEL_STAGES if (manifest.entry(s) or {}).get("status") == "done"]
    return done[: done.index(stage) + 1] if stage in done else done


def _chain(manifest: Manifest, report: dict, chain: list[str], art: dict | None = None, meta: dict | None = None) -> str:
    cfg = _config(manifest)
    lines = []
    for stage in chain:
        m = (manifest.entry(stage) or {}).get("metrics") or {}
        c = cfg.get(stage) or {}
        if stage == "pretrain":
            lines.append("- **pretrain**: " + _kv(m, ("steps", "train_rows", "mlm_accuracy", "seconds")))
        elif stage == "teacher":
            spec = c.get("model")
            base = _base_model(cfg)
            lines.append(f"- **teacher**: `{spec}`" + (f" (= `{base}`)" if base and base != spec else "")
                         + f", fine-tuned: {m.get('finetuned', '-')}; " + _kv(m, ("params", "layers", "hidden_size",
                                                                                   "train_rows", "steps", "precision")))
        elif stage == "distill":
            student = c.get("student") or {}
            lines.append(f"- **distill**: student keeps teacher layers {student.get('layers')}; alpha "
                         f"{c.get('alpha')}, temperature {c.get('temperature')}, hidden-state loss weight "
                         f"{c.get('hidden_loss_weight')}; " + _kv(m, ("params", "layers", "train_rows",
                                                                       "augmented_rows", "steps", "precision")))
        elif stage == "prune":
            lines.append(f"- **prune**: heads fraction {c.get('heads_fraction')}, FFN fraction {c.get('ffn_fraction')}, "
                         f"vocabulary pruning {c.get('vocab')}"
                         + (f" (the cut was judged on the selection split: {m['vocab']['kept']} vocabulary kept)"
                            if (m.get("vocab") or {}).get("kept") else "")
                         + f", recovery training {c.get('recover')}; heads per layer "
                         f"{m.get('heads_per_layer_before')} -> {m.get('heads_per_layer')}, FFN width "
                         f"{m.get('ffn_width_before')} -> {m.get('ffn_width')}, vocabulary {m.get('vocab_size')}, "
                         f"params {m.get('params')}")
        elif stage == "export":
            meta = meta or {}
            lines.append(f"- **export**: {art.get('format')} from `{meta.get('source_stage') or '-'}/`, "
                         f"sequence length {meta.get('export_seq_len') or meta.get('seq_len') or '-'} "
                         f"({'static' if meta.get('seq_len') else 'dynamic'} shape), inputs "
                         f"{', '.join(meta.get('inputs') or []) or '-'}")
        elif stage == "quantize":
            meta = meta or {}
            mode = meta.get("quantization") or (cfg.get("quantize") or {}).get(art.get("format"))
            extra = [f"calibration rows {meta['calibration_rows']}" if meta.get("calibration_rows") else None,
                     "quantization-aware training" if meta.get("qat") else None,
                     f"layers kept in float: {meta['layers_fp']}" if meta.get("layers_fp") else None,
                     "int4 embedding tables kept at int8 (no int4 block divides their width): "
                     + ", ".join(f"`{t}`" for t in meta["tables_int8"]) if meta.get("tables_int8") else None]
            what = "4-bit weights (w4)" if meta.get("precision") == "w4" else "INT8"
            lines.append(f"- **quantize**: {what}, mode `{mode}`" + "".join(f"; {e}" for e in extra if e))
    lines.append(_data_line(cfg.get("data") or {}, report))
    return "\n".join(lines) + "\n"


def _data_line(data: dict, report: dict) -> str:
    """Where the rows came from and what was done on them: trained on (only when a model was trained here),
    evaluated on, or unlabelled texts judged by parity only."""
    labels = f"labels {data.get('label_names') or '-'}"
    if report.get("parity_only"):
        return (f"- **data**: `{data.get('texts')}`, unlabelled texts (parity only: no accuracy measured); classes "
                f"{data.get('label_names') or '-'}")
    src = (f"`{data['hub_id']}`" + (f" (`{data['hub_config']}`)" if data.get("hub_config") else "")
           if data.get("hub_id") else f"`{data.get('local')}`")
    if not any(m.get("trained_here", True) for m in report.get("models") or []):
        return (f"- **data**: {src}, not trained on here (the model was taken as it is), evaluated once on "
                f"`{data.get('eval_split', 'validation')}`; {labels}")
    return (f"- **data**: {src}, trained on split `{data.get('train_split', 'train')}` (the selection split, held "
            f"out from it, chose the checkpoints), evaluated once on `{data.get('eval_split', 'validation')}`; {labels}")


def _kv(m: dict, keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {m[k]}" for k in keys if m.get(k) is not None) or "-"


def _model_metrics_md(report: dict, row: dict) -> str:
    if report.get("parity_only"):
        return _split_note(report)  # nothing measures the torch model without labels
    if not row:
        return "No metrics recorded for this model.\n"
    lines = ["| metric | split | rows | value |", "|---|---|---|---|"]
    for m in _model_metrics(report, row):
        rows = row.get("eval_rows") if m["split"] != "selection" else row.get("select_rows")
        lines.append(f"| {m['type']} | {m['split']} | {rows if rows is not None else '-'} | {_pct(m['value'])} % |")
    teacher = next((t for t in report.get("models") or [] if t["stage"] == "teacher"), None)
    if teacher and row.get("stage") != "teacher" and teacher.get("eval_accuracy") is not None \
            and row.get("eval_accuracy") is not None:
        lines.append(f"\nThe fp32 teacher scores {_pct(teacher['eval_accuracy'])} % on the same split: "
                     f"{_points(row['eval_accuracy'] - teacher['eval_accuracy'])} points.")
    return "\n".join(lines) + "\n" + _split_note(report)


def _artifact_metrics_md(report: dict, row: dict) -> str:
    if row and report.get("parity_only") and row.get("agreement") is not None:
        return _parity_md(report, row)
    if not row or (row.get("accuracy") is None and row.get("metric_value") is None):
        return "Not validated in this run (the validate stage did not run or did not cover this artifact).\n"
    split = report.get("eval_split") or {}
    lines = ["| metric | split | rows | value |", "|---|---|---|---|"]
    for m in _artifact_metrics(report, row):
        lines.append(f"| {m['type']} | {m['split']} | {split.get('rows', '-')} | {_pct(m['value'])} % |")
    if row.get("max_abs_diff") is not None:
        lines.append(f"| max abs logit difference vs torch | {split.get('name', '-')} | {split.get('rows', '-')} | "
                     f"{row['max_abs_diff']:.4g} |")
    teacher = next((t for t in report.get("models") or [] if t["stage"] == "teacher"), None)
    if teacher and teacher.get("eval_accuracy") is not None:
        lines.append(f"\nThe fp32 teacher (torch) scores {_pct(teacher['eval_accuracy'])} % on the same split: "
                     f"{_points(row['accuracy'] - teacher['eval_accuracy'])} points.")
    lines.append(_verdict_md(report, row["name"]))
    return "\n".join(lines) + "\n" + _split_note(report)


def _parity_md(report: dict, row: dict) -> str:
    """Unlabelled texts: what validate measured, parity with the fp32 torch model, and its verdict; no accuracy."""
    texts = Path(str(report["parity_only"]["texts"])).name
    rows = report["parity_only"].get("rows") or "-"
    lines = ["| metric | inputs | rows | value |", "|---|---|---|---|",
             f"| label agreement with the fp32 torch model | {texts} | {rows} | {_pct(row['agreement'])} % |"]
    if row.get("max_abs_diff") is not None:
        lines.append(f"| max abs logit difference vs torch | {texts} | {rows} | {row['max_abs_diff']:.4g} |")
    lines.append(_verdict_md(report, row["name"]))
    return "\n".join(lines) + "\n" + _split_note(report)


def _verdict_md(report: dict, name: str) -> str:
    """Validate's typed verdict on this artifact's bytes: its state and every gate, as decided (``verdict``)."""
    from ..verdict import Standing

    d = (report.get("verdicts") or {}).get(name)
    if not d:
        return "\n**Validate gates: NONE** (validate did not judge this artifact)."
    standing = Standing.from_dict(d)
    head = f"\n**Validate gates: {standing.shown}**"
    if standing.problem:
        head += f" ({standing.problem})"
    elif standing.shown == "INCONCLUSIVE":
        head += (" (a limit missed on too little evidence to fail; not shipped without `--accept-inconclusive`)")
    gates = standing.verdict.gates if standing.verdict else ()
    return head + "\n\n" + "\n".join(f"- {g.state.value.upper()} {g.name}: {g.message}" for g in gates)


def _split_note(report: dict) -> str:
    if report.get("parity_only"):
        return "\n" + PARITY_NOTE.format(**report["parity_only"])
    split = report.get("eval_split") or {}
    if not split.get("rows"):
        return ""
    return (f"\nOne row of `{split['name']}` is {100 / split['rows']:.2f} points; nothing was chosen on this split "
            f"(checkpoints were chosen on the selection split).\n")


def _latency_md(report: dict, name: str) -> str:
    rows = [r for r in report.get("latency") or [] if r.get("artifact") == name]
    if not rows:
        return "No latency recorded for this artifact (the bench/validate stage did not time it).\n"
    budgets: dict[str, list[dict]] = {}
    for c in report.get("budget_checks") or []:
        if c.get("artifact") == name:
            budgets.setdefault(c["target"], []).append(c)
    ship = ship_choices(report)
    lines = ["| target | kind | input | p50 ms | p90 ms | threads | seq len | budgets | shipped for this target |",
             "|---|---|---|---|---|---|---|---|---|"]
    order = {k: i for i, k in enumerate(KIND_ORDER)}
    for r in sorted(rows, key=lambda r: (r.get("target") or "", order.get(r["kind"], 9), r.get("input") or "")):
        checks = budgets.get(r.get("target")) or []
        bad = [c["metric"] for c in checks if not c["ok"]]
        verdict = "-" if not checks else "all met" if not bad else "over: " + ", ".join(bad)
        chosen = (ship.get(r.get("target")) or {}).get("artifact") == name
        pm = (f" ± {r['error_pct']:g}% (calibrated)" if r.get("model") == "calibrated"
              else " (roofline, fallback)" if r.get("model") else "")
        lines.append(f"| {r.get('target')} | {r['kind']} | {r.get('input') or 'fixed'} | {_ms(r.get('p50_ms'))}{pm} | "
                     f"{_ms(r.get('p90_ms'))} | {r.get('threads', '-')} | {r.get('seq_len', '-')} | {verdict} | {'yes' if chosen else '-'} |")
    kinds = sorted({r["kind"] for r in rows}, key=lambda k: order.get(k, 9))
    lines.append("\nBatch 1. Input `fixed`: one full-length row per call (the worst case); `workload`: the eval "
                 "split's own rows at their true length, the figure budgets judge where it exists. "
                 + " ".join(f"**{k}**: {KIND_NOTE[k]}." for k in kinds if k in KIND_NOTE))
    return "\n".join(lines) + "\n"


def _limitations(manifest: Manifest, report: dict, *, row: dict | None = None, meta: dict | None = None,
                 max_len: int | None = None, static: bool = False) -> str:
    cfg = _config(manifest)
    data = cfg.get("data") or {}
    meta = meta or {}
    language = data.get("language") or DEFAULT_LANGUAGE
    length = meta.get("max_seq_len") or max_len or data.get("max_seq_len")
    trained = any(m.get("trained_here", True) for m in report.get("models") or [])
    seen = ("judged on unlabelled texts only (parity with the fp32 model; its accuracy was never measured here)"
            if report.get("parity_only") else f"{'trained and evaluated' if trained else 'evaluated'} on "
            f"{data.get('hub_id') or data.get('local') or 'the configured data'}"
            f"{'/' + data['hub_config'] if data.get('hub_config') else ''}")
    items = [f"Language: `{language}` only; {seen}, labels {data.get('label_names') or '-'}. Other domains and "
             f"label sets need re-training.",
             f"At most {length} tokens per input: longer texts are truncated." if length else None]
    if static:
        buckets = [b for b in meta.get("seq_buckets") or [] if b != meta.get("seq_len")]
        items.append(f"Static input shape [1, {meta.get('seq_len')}]: one row per call, every row padded to "
                     f"{meta.get('seq_len')} tokens (padding is masked out)"
                     + (f"; shorter rows can use the signatures for {buckets} tokens (`get_signature_list()`)."
                        if buckets else "."))
    elif meta.get("inputs"):
        items.append("Dynamic batch and length up to the limit above; batch 1 is what the latencies measure.")
    if row and _precision(row.get("precision")).quantized:
        fp32 = next((a for a in report.get("artifacts") or []
                     if a.get("format") == row.get("format") and a.get("precision") == "fp32"), None)
        if fp32 and fp32.get("accuracy") is not None and row.get("accuracy") is not None:
            items.append(f"{_precision(row.get('precision')).label}: {_points(row['accuracy'] - fp32['accuracy'])} accuracy points vs the fp32 "
                         f"{row.get('format')} artifact, {_pct(row.get('agreement'))} % label agreement with the "
                         f"torch model; logits differ by up to {row.get('max_abs_diff', 0):.3g}, so do not threshold "
                         f"raw scores tuned on the fp32 model.")
    split = report.get("eval_split") or {}
    if split.get("rows") and not report.get("parity_only"):
        items.append(f"Accuracy is measured on {split['rows']} rows: differences under about "
                     f"{2 * 100 / split['rows']:.1f} points (two rows) are within noise.")
    if any(r.get("artifact") == (row or {}).get("name") and r["kind"] == "estimate" for r in report.get("latency") or []):
        items.append("Latency rows of kind `estimate` are computed from counted work and published hardware "
                     "figures, not measured on the device.")
    return "\n".join(f"- {i}" for i in items if i) + "\n"


# ------------------------------------------------------------------------------------------ load snippets


@dataclass(frozen=True)
class CardExample:
    """How a card's snippets feed and read a model of one task (one entry per task, like ``tasks.TASKS``)."""

    auto_class: str  # the transformers class that loads the model stage's directory
    text: str  # the tokenizer's positional arguments: one example input
    read_torch: str  # lines that turn the transformers output ``out`` into the answer
    read_outputs: str  # lines that turn an artifact's outputs (``outputs``: a list, artifact.json order) into it
    cli: str  # ``edgeport predict DIR <cli>``


EXAMPLES: dict[str, CardExample] = {
    "sequence-classification": CardExample(
        "AutoModelForSequenceClassification", '["a gripping, funny film"]',
        "probs = out.logits.softmax(-1)[0]\nprint(model.config.id2label[int(probs.argmax())], probs.tolist())",
        "labels = {labels!r}\nprint(labels[int(outputs[0][0].argmax())])", '"a gripping, funny film"'),
    "token-classification": CardExample(
        "AutoModelForTokenClassification", '["Peter Blackburn visited Brussels ."]',
        "tags = [model.config.id2label[int(i)] for i in out.logits[0].argmax(-1)]\n"
        "print(tags)  # one per sub-token: a word's tag is its first sub-token's (IOB2)",
        "labels = {labels!r}\nprint([labels[int(i)] for i in outputs[0][0].argmax(-1)])  # per sub-token",
        '"Peter Blackburn visited Brussels ."'),
    "sentence-embedding": CardExample(
        "AutoModel", '["A man is playing a guitar."]',
        "mask = enc[\"attention_mask\"].unsqueeze(-1)  # mean pooling and L2 norm: what the exported graph adds\n"
        "vector = torch.nn.functional.normalize((out.last_hidden_state * mask).sum(1) / mask.sum(1), dim=-1)\n"
        "print(vector.shape)",
        "vector = outputs[0][0]  # unit length: mean pooling and L2 norm are inside the graph\nprint(vector.shape)",
        '"A man is playing a guitar."'),
    "question-answering": CardExample(
        "AutoModelForQuestionAnswering", '["Where is the tower?"], ["The tower stands in Paris."]',
        "start, end = int(out.start_logits[0].argmax()), int(out.end_logits[0].argmax())\n"
        "print(tokenizer.decode(enc[\"input_ids\"][0][start:end + 1]))  # edgeport predict takes the best valid span "
        "over every window",
        "start_logits, end_logits = outputs[0][0], outputs[1][0]  # one score per token; the answer is the best span "
        "of the context\n# with start <= end over every window of a long context: edgeport predict does that",
        '--question "Where is the tower?" --context "The tower stands in Paris."'),
}


def _snippet_transformers(task: str, max_len: int | None) -> str:
    ex = EXAMPLES[task]
    return f'''```python
import torch
from transformers import {ex.auto_class}, AutoTokenizer

path = "."  # this directory
tokenizer = AutoTokenizer.from_pretrained(path)
model = {ex.auto_class}.from_pretrained(path).eval()
enc = tokenizer({ex.text}, truncation=True, max_length={max_len or 128}, return_tensors="pt")
with torch.no_grad():
    out = model(**enc)
{ex.read_torch}
```
'''


def _pruned_note(manifest: Manifest, stage: str) -> str:
    if stage != "prune" or not ((manifest.entry("prune") or {}).get("metrics") or {}).get("heads_per_layer"):
        return ""
    return ("The pruned heads are stored as zero rows (no transformers config can express fewer heads of the same "
            "width), so plain transformers computes the pruned model's exact function at the original attention "
            "size; `edgeport.models.loading.load_classifier` slices them out for the physically smaller model.\n")


def _artifact_snippet(fmt: str | None, art: dict, meta: dict, run_dir: Path, task: str) -> str:
    ex = EXAMPLES[task]
    model_file = Path(art["path"]).name
    inputs = meta.get("inputs") or ["input_ids", "attention_mask", "token_type_ids"]
    length = meta.get("seq_len") or meta.get("max_seq_len") or 128
    tok = ("from transformers import AutoTokenizer\n\n"
           'tokenizer = AutoTokenizer.from_pretrained(".")  # tokenizer.json beside the model\n')
    args = ", ".join(f'enc["{n}"]' for n in inputs)
    where = run_dir / Path(art["path"]).parent
    cli = f"\nOr with edgeport: `edgeport predict {where} {ex.cli}`.\n"
    if fmt == "onnx":
        code = f'''import numpy as np
import onnxruntime as ort
{tok}session = ort.InferenceSession("{model_file}", providers=["CPUExecutionProvider"])
enc = tokenizer({ex.text}, truncation=True, max_length={length}, return_tensors="np")
feed = {{i.name: enc[i.name].astype(np.int32 if i.type == "tensor(int32)" else np.int64)
        for i in session.get_inputs()}}
outputs = session.run(None, feed)  # in artifact.json's "outputs" order'''
    elif fmt == "tflite":
        code = f'''import numpy as np
from ai_edge_litert.interpreter import Interpreter
{tok}runner = Interpreter(model_path="{model_file}").get_signature_runner("serving_default")
enc = tokenizer({ex.text}, padding="max_length", truncation=True, max_length={length},
                return_tensors="np")  # static shape: exactly one row of {length} tokens per call
inputs = runner.get_input_details()
result = runner(**{{k: enc[k].astype(d["dtype"]) for k, d in inputs.items()}})
outputs = [result[k] for k in sorted(result)]  # output_0, output_1...: artifact.json's "outputs" order'''
        if task == "sequence-classification":  # MediaPipe's TextClassifier; it has no task for the others
            cli += ("\nOn Android, LiteRT's `Interpreter` takes the same file. For MediaPipe's `TextClassifier` "
                    f"(tokenizer and labels inside the file), run `edgeport mediapipe {run_dir}` and load "
                    f"`{run_dir}/mediapipe/{art['name']}/model.tflite`:\n\n```python\n"
                    "from mediapipe.tasks.python import BaseOptions, text\n\n"
                    "classifier = text.TextClassifier.create_from_options(text.TextClassifierOptions(\n"
                    "    base_options=BaseOptions(model_asset_path=\"model.tflite\")))\n"
                    "print(classifier.classify(\"a gripping, funny film\").classifications[0].categories)\n```\n")
    elif fmt == "torchscript":
        code = f'''import torch
{tok}model = torch.jit.load("{model_file}").eval()
enc = tokenizer({ex.text}, truncation=True, max_length={length}, return_tensors="pt")
with torch.inference_mode():
    out = model({args})  # positional, in artifact.json's "inputs" order
outputs = list(out) if isinstance(out, tuple) else [out]'''
        if _precision(art.get("precision")).quantized:  # w4 is refused for TorchScript: only INT8 gets here
            cli += "\nThe INT8 model uses torch's quantized CPU kernels (fbgemm on x86, qnnpack on Arm).\n"
    elif fmt == "executorch":
        code = f'''import torch
from executorch.runtime import Runtime
{tok}program = Runtime.get().load_program("{model_file}")
method = program.load_method("forward")
enc = tokenizer({ex.text}, padding="max_length", truncation=True, max_length={length},
                return_tensors="pt")
outputs = method.execute([{args}])  # positional, in artifact.json's "inputs" order'''
    else:
        return f"`edgeport predict {where} {ex.cli}` runs it.\n"
    code += "\n" + ex.read_outputs.format(labels=meta.get("label_names") or [])
    return f"```python\n{code}\n```\n{cli}"


# ------------------------------------------------------------------------------------------ small helpers


def _precision(name: str | None) -> Precision:
    """The precision's row; a name the table does not know (a hand-edited manifest) reads as unquantized."""
    try:
        return precisions.get(name)
    except ValueError:
        return precisions.PRECISIONS["fp32"]


def _config(manifest: Manifest) -> dict:
    return manifest.data.get("config") or {}


def _artifact_json(model_path: Path) -> dict:
    try:
        meta = json.loads((model_path.parent / "artifact.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    meta.pop("model_shapes", None)
    return meta if isinstance(meta, dict) else {}


def _pct(value) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.2f}" if abs(value) <= 1 else f"{value:.2f}"


def _points(delta: float) -> str:
    return f"{delta * 100:+.2f}"


def _ms(value) -> str:
    return "-" if value is None else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _mb(size) -> str:
    return "-" if not size else f"{size / 1e6:.2f}"
