"""The support matrix: architecture x stage x format x precision, every cell measured by running the tiny pipeline.

    python benchmarks/support_matrix.py [WORKDIR] [--arch roberta ...] [--jobs 2] [--w4]

For each architecture in ``tests/family.py`` (a random tiny model with a tokenizer of its family trained on SST-2
text: WordPiece, byte-level BPE or Unigram) this runs the real CLI four times (five with ``--w4``):

1. ``edgeport run`` on the base model: teacher fine-tuning, distillation into layer [1], head + FFN pruning
   (half of each) with vocabulary pruning, export to TorchScript/ONNX/TFLite/ExecuTorch in fp32, INT8 of each
   (the formats' default modes: INT8 embedding tables for ONNX, TFLite and ExecuTorch), validate;
2. (``--w4``; ``.ci/run`` runs the matrix without it) ``edgeport run --until validate`` on the same run directory with every format that takes it in ``w4`` (4-bit
   weights per block of 32, int8 activations) and ``quantize.embeddings: int4``: the model stages are up to date
   (skipped), export re-runs for those formats, quantize and validate judge the ``<format>-w4`` artifacts;
3. ``edgeport run --until teacher`` on a ready classifier with ``teacher.finetune: never`` (loading);
4. the task axis (``TASK_AXES``), first ``data.task: sentence-embedding`` on 300 STS-B pairs with the same base
   model as teacher (taken as it is), distillation into layer [1], the four formats in fp32 and INT8, validate
   (cosine to the fp32 vector and the Spearman drop vs fp32; the end-to-end gate off: a random teacher has nothing
   to keep), bench and report. Its cells are ``embed: ...``;
5. then ``data.task: token-classification`` (``edgeport run --until validate``) on 200 CoNLL-2003 training
   sentences (60 validation ones) with the same base model as teacher, fine-tuned on the tags for one epoch with
   its family's tokenizer (byte-level BPE with the prefix space the task adds), distillation into layer [1], the
   four formats in fp32 and INT8 (TFLite buckets 16 and 32), validate (word-tag parity and agreement with fp32, the
   entity-F1 drop vs fp32, logit tolerances over every real token; the end-to-end gate off). Its cells are
   ``tok: ...``; bench and report of a token run are tested in tests/test_token_classification.py.
6. then ``data.task: question-answering`` (``edgeport run --until validate``) on the tests' small SQuAD v1.1 files
   (``tests/test_qa_task.squad_dir``: 90 training questions in 12 articles, 27 dev ones) with the same base model
   as teacher, fine-tuned for start and end logits for one epoch on windows of 32 tokens (8 shared: a context spans
   several windows), distillation into layer [1], the four formats with both outputs in fp32 and dynamic INT8
   (TFLite buckets 16 and 32), validate (answer span parity / agreement with fp32, the SQuAD F1 drop vs fp32, logit
   tolerances over every real token of every window; the end-to-end gate off). Its cells are ``qa: ...``; bench
   and report of a QA run are tested in tests/test_qa_validate.py.
   The task axis runs with pruning off (the main run covers it), so it has no prune cell.

A cell is ✓ when its stage finished with no gate failure (an artifact: exported, and validate's verdict on it
is PASS; an INCONCLUSIVE one is not shippable, so it is ✗ too), else ✗ with the reason read from the manifest or the CLI's error. A format the architecture's adapter
declares it cannot take (``Arch.format_limits`` in edgeport/models/arch.py, with the measured reason) is left out
of the run and shown as ✗ with that reason; the run itself refuses it at preflight. Likewise a (format, w4, int4
embeddings) its exporter refuses (``refused`` in edgeport/exporters/, read by ``exporters.base.refusal``: TorchScript
has no 4-bit kernel) is left out of run 2 and shown as ✗ with the exporter's reason. Random tiny models learn nothing, so the
useless-model gate is off; every fidelity gate (agreement, accuracy drop, logit tolerance, builtin ops) is on.
Writes ``benchmarks/results/support_matrix.{json,md}``; exits 1 when any cell is ✗ for a reason the adapters do not
declare (CI runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from conftest import TINY_TRAIN, run_cli, write_config  # noqa: E402  (shared with the tests)
from family import ARCHITECTURES, TOKENIZER_FAMILY, make_tiny  # noqa: E402

from edgeport.exporters import EXPORTERS  # noqa: E402
from edgeport.exporters.base import refusal  # noqa: E402
from edgeport.models.arch import ARCHES  # noqa: E402
from test_embedding import embed_data, stsb_slice  # noqa: E402
from test_qa_task import qa_data, squad_dir  # noqa: E402
from test_token_classification import conll_slice, ner_data  # noqa: E402
from tiny_pipeline import write_data  # noqa: E402
from _provenance import ARGS_ONLY, args_dict, provenance, write_json, write_markdown  # noqa: E402

FORMATS = ("torchscript", "onnx", "tflite", "executorch")
PRECISIONS = ("fp32", "int8")
STAGE_CELLS = ("teacher: fine-tune", "teacher: load classifier", "distill", "prune: heads+FFN", "prune: vocabulary")
ARTIFACT_CELLS = tuple(f"{f}-{p}" for f in FORMATS for p in PRECISIONS)
W4_EMBEDDINGS = "int4"  # run 2: the smallest tables, with the 4-bit Linear layers
W4_CELLS = tuple(f"{f}-w4" for f in FORMATS)
# Random hidden-32 models show almost no 8-bit noise under torch's dynamic INT8 of their Linear layers (the
# yardstick: min cosine 0.99999998, max |Δ| 2e-4 on bert-like tiny models), while the INT8 files also store int8
# embedding tables, whose noise dominates on such a model (measured on distilbert and deberta-v2: min cosine
# 0.99989-0.99999, max |Δ| 0.0021-0.0057, mean |Δ| 0.0004-0.0012): the derived limits would fail sound files. The
# matrix holds them to fixed limits with 3-4x headroom instead; real models keep the derived ones.
TOY_EMBEDDING_LIMITS = {"min_cosine": 0.999,
                        "tolerances": {f"{f}-int8": {"max_abs": 0.02, "mean_abs": 0.005} for f in FORMATS}}
# The same cause on the QA axis: the INT8 span agreement counts a changed answer unless the question's margin is
# within the yardstick's own shift of it, and the yardstick (Linear layers only) barely moves a random model's
# margins while the INT8 files' int8 embedding tables do (measured: roberta onnx-int8 answered 25 of 27 questions
# with fp32's span, 2 changes beyond the yardstick's band). A fixed floor with headroom instead of the budget's 0.99;
# real models keep the derived band (the qa run: tflite-int8 0.9990 on 2,000 questions).
TOY_SPAN_LIMITS = {"int8_min_agreement": 0.85}


@dataclass(frozen=True)
class TaskAxis:
    """One task of the task axis: a run on the base model as teacher, its cells ``<prefix>: teacher``,
    ``<prefix>: distill`` and ``<prefix>: <artifact>``, and its table below the main one."""

    task: str
    prefix: str  # the cells' prefix and the run's name suffix
    data_dir: str  # under the work dir, written once by ``slice`` for every architecture
    slice: object  # out dir -> data dir (a slice of the shared data)
    data: object  # data dir -> the config's data section
    title: str  # the table's heading
    sections: dict = field(default_factory=dict)  # config sections beside data (validate, teacher...)
    until: str | None = None  # the last stage run (None: every stage, bench and report included)

    @property
    def cells(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}: {c}" for c in ("teacher", "distill") + ARTIFACT_CELLS)


TASK_AXES = (
    # The teacher is taken as it ships (fine-tuning on scored pairs is not built); the end-to-end gate off: a
    # random teacher has nothing to keep.
    TaskAxis("sentence-embedding", "embed", "stsb", stsb_slice, lambda d: embed_data(d) | {"label_names": None},
             "Task `sentence-embedding` (STS-B pairs; mean pooling + L2 norm in the graph)",
             {"validate": {"max_drop_vs_teacher": None, **TOY_EMBEDDING_LIMITS}}),
    # 200 CoNLL-2003 training sentences, 60 validation ones: the teacher fine-tuned one epoch (a random model
    # learns next to nothing, so the useful gates are off as everywhere here), the student from layer [1]; every
    # fidelity gate on, the end-to-end one off as for embeddings. Buckets 16 and 32 (max_seq_len 32): two TFLite
    # signatures, as the default run has. A 2,000-token SST-2 tokenizer splits CoNLL's words finely, so long
    # sentences lose their last words to truncation (counted in the stage metrics, predicted O): that path runs too.
    TaskAxis("token-classification", "tok", "conll", lambda out: conll_slice(out, train=200, validation=60),
             lambda d: ner_data(d) | {"label_names": None},
             "Task `token-classification` (CoNLL-2003 sentences; a tag per word read at its first sub-token)",
             {"validate": {"max_drop_vs_teacher": None}, "export": {"seq_buckets": [16, 32]},
              "teacher": {"train": dict(TINY_TRAIN, epochs=1)}, "distill": {"train": dict(TINY_TRAIN, epochs=1)}},
             until="validate"),  # bench and report of a token run: tests/test_token_classification.py's run
    # Windows of 32 tokens sharing 8: most questions are read as several windows, the best span taken over them.
    TaskAxis("question-answering", "qa", "squad", squad_dir, lambda d: qa_data(d, label_names=None),
             "Task `question-answering` (small SQuAD v1.1 files; windows of 32 tokens, 8 shared; start and end logits)",
             {"validate": {"max_drop_vs_teacher": None, **TOY_SPAN_LIMITS}, "export": {"seq_buckets": [16, 32]},
              "teacher": {"train": dict(TINY_TRAIN, epochs=1)}, "distill": {"train": dict(TINY_TRAIN, epochs=1)}},
             until="validate"),  # bench and report of a QA run: tests/test_qa_validate.py's run
)
OUT = REPO / "benchmarks" / "results"
DECLARED = "declared in edgeport/models/arch.py: "
REFUSED = "refused at preflight (edgeport/exporters/): "
DECLARED_PREFIXES = (DECLARED, REFUSED)  # a ✗ with one of these is a documented limit, not a failure


def _first_line(text: str, limit: int = 160) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "no message")[:limit]


def _stage_cell(manifest: dict, stage: str) -> tuple[bool, str]:
    entry = manifest.get("stages", {}).get(stage)
    if not entry:
        return False, f"{stage} did not run"
    failures = (entry.get("metrics") or {}).get("gate_failures") or []
    if entry.get("status") != "done":
        return False, _first_line(entry.get("error") or entry.get("status"))
    if failures:
        return False, _first_line(failures[0])
    return True, ""


def _artifact_cells(manifest: dict, limits: dict[str, str], names=ARTIFACT_CELLS,
                    refused: dict[str, str] | None = None) -> dict[str, tuple[bool, str]]:
    validate = (manifest.get("stages", {}).get("validate") or {}).get("metrics") or {}
    by_name = {a["name"]: a for a in validate.get("artifacts", [])}
    cells = {}
    for name in names:
        art = by_name.get(name)
        fmt = name.split("-")[0]
        if fmt in limits:
            cells[name] = (False, f"{DECLARED}{limits[fmt]}")
        elif fmt in (refused or {}):
            cells[name] = (False, f"{REFUSED}{refused[fmt]}")
        elif art is None:
            stage = "export" if name.endswith("fp32") else "quantize"
            ok, why = _stage_cell(manifest, stage)
            cells[name] = (False, why if not ok else f"{stage} wrote no {name}")
        elif art.get("gate_failures"):
            cells[name] = (False, _first_line(art["gate_failures"][0]))
        elif (art.get("verdict") or {}).get("state", "pass") != "pass":  # inconclusive: not shippable either
            notes = art.get("gate_notes") or [art["verdict"]["state"]]
            cells[name] = (False, _first_line(notes[0]))
        else:
            diff = art.get("max_abs_diff")
            cells[name] = (True, f"max |dlogit| {diff:.1e}" if diff is not None else "")
    return cells


def _models(arch: str, base: Path) -> tuple[Path, Path]:
    """The architecture's random tiny base model and ready classifier, built in this process (``make_tiny`` seeds
    torch's global RNG and trains a tokenizer: one at a time, never in the pool's threads)."""
    work = base / arch
    return make_tiny(arch, work / "model"), make_tiny(arch, work / "classifier", labels=["negative", "positive"])


def _run_arch(arch: str, base: Path, data: Path, models: tuple[Path, Path], w4: bool = False,
              axes=TASK_AXES) -> dict:
    """Every CLI run of one architecture (subprocesses only, so several architectures can run at once)."""
    work = base / arch
    teacher, classifier = models
    limits = dict(ARCHES[arch].format_limits)
    formats = [f for f in FORMATS if f not in limits]
    cfg = _tiny_config(work / "tiny.yaml", arch, work, teacher, data, formats)
    start = time.perf_counter()
    proc = run_cli("run", cfg, timeout=1800)
    seconds = round(time.perf_counter() - start, 1)
    manifest_path = work / "runs" / arch / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    cells = {"teacher: fine-tune": _stage_cell(manifest, "teacher"), "distill": _stage_cell(manifest, "distill")}
    prune_ok, prune_why = _stage_cell(manifest, "prune")
    prune = (manifest.get("stages", {}).get("prune") or {}).get("metrics") or {}
    cells["prune: heads+FFN"] = (prune_ok, prune_why)
    vocab = prune.get("vocab") or {}
    cells["prune: vocabulary"] = ((prune_ok and bool(vocab)),
                                  prune_why or (f"{vocab.get('vocab_before')} -> {vocab.get('vocab_after')} tokens" if vocab
                                                else "no vocabulary metrics recorded"))
    cells |= _artifact_cells(manifest, limits)
    if proc.returncode != 0 and all(ok for ok, _ in cells.values()):
        cells["run"] = (False, f"exit {proc.returncode}: {_first_line(proc.stderr)}")
    w4_seconds = _run_w4(arch, work, teacher, data, limits, cells) if w4 else None
    task_seconds = {f"{axis.prefix}_seconds": _run_task(axis, arch, work, teacher, base / axis.data_dir, limits,
                                                        cells) for axis in axes}

    load_cfg = write_config(work / "load.yaml", classifier, data, work / "runs",
                            run={"name": f"{arch}-load", "runs_dir": str(work / "runs"), "seed": 0},
                            teacher={"model": str(classifier), "finetune": "never"})
    load = run_cli("run", load_cfg, "--until", "teacher", timeout=600)
    load_manifest = work / "runs" / f"{arch}-load" / "manifest.json"
    lm = json.loads(load_manifest.read_text()) if load_manifest.is_file() else {}
    ok, why = _stage_cell(lm, "teacher")
    cells["teacher: load classifier"] = (ok and load.returncode == 0,
                                         why or ("" if load.returncode == 0 else _first_line(load.stderr)))
    return {"arch": arch, "tokenizer": TOKENIZER_FAMILY[arch], "seconds": seconds, "w4_seconds": w4_seconds,
            **task_seconds, "exit_code": proc.returncode,
            "cells": {k: {"ok": ok, "note": note} for k, (ok, note) in cells.items()}}


def _tiny_config(path: Path, arch: str, work: Path, teacher: Path, data: Path, formats: list[str], **extra) -> Path:
    """Run 1's config (run 2 changes only export.formats and quantize, so the model stages stay up to date)."""
    return write_config(path, teacher, data, work / "runs",
                        run={"name": arch, "runs_dir": str(work / "runs"), "seed": 0},
                        export={"formats": formats},
                        prune={"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                               "vocab_max_drop": None,
                               "train": dict(TINY_TRAIN, epochs=1), "latency_seconds": 0},
                        bench={"min_seconds": 0.2, "workload_rows": 64}, **extra)


def _run_w4(arch: str, work: Path, teacher: Path, data: Path, limits: dict[str, str], cells: dict) -> float:
    """Run 2 (w4 + int4 embeddings) on run 1's directory, after run 1's cells were read; adds the w4 cells."""
    refused = {f: why for f in FORMATS if f not in limits and (why := refusal(EXPORTERS[f], "w4", W4_EMBEDDINGS))}
    formats = [f for f in FORMATS if f not in limits and f not in refused]
    cfg = _tiny_config(work / "w4.yaml", arch, work, teacher, data, formats,
                       quantize={**{f: "w4" for f in formats}, "embeddings": W4_EMBEDDINGS})
    start = time.perf_counter()
    proc = run_cli("run", cfg, "--until", "validate", timeout=1800)
    seconds = round(time.perf_counter() - start, 1)
    manifest_path = work / "runs" / arch / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    w4 = _artifact_cells(manifest, limits, W4_CELLS, refused)
    if proc.returncode != 0 and all(ok for ok, _ in w4.values()):
        w4["run (w4)"] = (False, f"exit {proc.returncode}: {_first_line(proc.stderr)}")
    cells |= w4
    return seconds


def _run_task(axis: TaskAxis, arch: str, work: Path, teacher: Path, data: Path, limits: dict[str, str],
              cells: dict) -> float:
    """A task-axis run on the same base model; adds the ``<axis.prefix>: ...`` cells, returns its seconds."""
    formats = [f for f in FORMATS if f not in limits]
    name = f"{arch}-{axis.prefix}"
    sections = {k: dict(v) for k, v in axis.sections.items()}
    sections["export"] = sections.get("export", {}) | {"formats": formats}
    cfg = write_config(work / f"{axis.prefix}.yaml", teacher, data, work / "runs",
                       run={"name": name, "runs_dir": str(work / "runs"), "seed": 0},
                       data=axis.data(data), prune={"enabled": False},
                       bench={"min_seconds": 0.2, "workload_rows": 64}, **sections)
    start = time.perf_counter()
    proc = run_cli("run", cfg, *(("--until", axis.until) if axis.until else ()), timeout=1800)
    seconds = round(time.perf_counter() - start, 1)
    manifest_path = work / "runs" / name / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    got = {f"{axis.prefix}: teacher": _stage_cell(manifest, "teacher"),
           f"{axis.prefix}: distill": _stage_cell(manifest, "distill")}
    got |= {f"{axis.prefix}: {k}": v for k, v in _artifact_cells(manifest, limits).items()}
    # the CLI's error when no cell holds it: a failure after the stages, or a refusal before any (preflight)
    if proc.returncode != 0 and (all(ok for ok, _ in got.values()) or not manifest.get("stages")):
        got[f"run ({axis.prefix})"] = (False, f"exit {proc.returncode}: {_first_line(proc.stderr)}")
    cells |= got
    return seconds


def markdown(rows: list[dict]) -> str:
    cols = [c for c in STAGE_CELLS + ARTIFACT_CELLS
            + (W4_CELLS if any(r.get("w4_seconds") is not None for r in rows) else ())]
    head = "| architecture | tokenizer | " + " | ".join(cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    notes = []
    for row in rows:
        cells = []
        for col in cols:
            cell = row["cells"].get(col, {"ok": False, "note": "not measured"})
            cells.append("✓" if cell["ok"] else f"✗ [{len(notes) + 1}]")
            if not cell["ok"]:
                notes.append(f"[{len(notes) + 1}] {row['arch']} {col}: {cell['note']}")
        lines.append(f"| {row['arch']} | {row['tokenizer']} | " + " | ".join(cells) + " |")
    for axis in TASK_AXES:
        lines += _task_table(axis, rows, notes)
    if notes:
        lines += ["", *notes]
    lines += ["", f"`<format>-w4`: `quantize.<format>: w4` (4-bit weights per block of 32, int8 activations) with "
                  f"`quantize.embeddings: {W4_EMBEDDINGS}` (a Linear or table no block divides stays at int8: the "
                  f"pruned 16-input layers, ELECTRA's 16-wide tables), judged by validate like every artifact.",
              "", "| architecture | vocabulary (tiny tokenizer, pruned on the 400 training rows) | pipeline run s | "
                  "w4 run s (export, quantize, validate) | "
                  + " | ".join(f"{axis.prefix} run s" for axis in TASK_AXES) + " |",
              "|" + "---|" * (4 + len(TASK_AXES))]
    for row in rows:
        lines.append(f"| {row['arch']} | {row['cells']['prune: vocabulary']['note']} | {row['seconds']} | "
                     f"{row.get('w4_seconds') or '-'} | "
                     + " | ".join(str(row.get(f"{axis.prefix}_seconds", "-")) for axis in TASK_AXES) + " |")
    return "\n".join(lines) + "\n"


def _task_table(axis: TaskAxis, rows: list[dict], notes: list[str]) -> list[str]:
    """One task of the task axis: its cells per architecture (their ✗ notes join ``notes``)."""
    cols = axis.cells
    lines = ["", f"{axis.title}:", "",
             "| architecture | " + " | ".join(c.removeprefix(f"{axis.prefix}: ") for c in cols) + " |",
             "|" + "---|" * (len(cols) + 1)]
    for row in rows:
        marks = []
        for col in cols:
            cell = row["cells"].get(col, {"ok": False, "note": "not measured"})
            marks.append("✓" if cell["ok"] else f"✗ [{len(notes) + 1}]")
            if not cell["ok"]:
                notes.append(f"[{len(notes) + 1}] {row['arch']} {col}: {cell['note']}")
        lines.append(f"| {row['arch']} | " + " | ".join(marks) + " |")
    return lines


def _print_row(row: dict) -> None:
    bad = [k for k, c in row["cells"].items() if not c["ok"] and not c["note"].startswith(DECLARED_PREFIXES)]
    declared = [k for k, c in row["cells"].items() if not c["ok"] and k not in bad]
    print(f"{row['arch']:12s} {row['seconds']:7.1f} s + w4 {row['w4_seconds'] or 0:6.1f} s"
          + "".join(f" + {a.prefix} {row[f'{a.prefix}_seconds']:6.1f} s" for a in TASK_AXES) + "  "
          + ("all cells ✓" if not bad else f"✗ {', '.join(bad)}")
          + (f" (declared ✗: {', '.join(declared)})" if declared else ""), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", nargs="?", default="support-matrix-work")
    parser.add_argument("--arch", action="append", choices=ARCHITECTURES, help="only these (repeatable)")
    parser.add_argument("--out", default=str(OUT), help="where support_matrix.{json,md} go")
    # Off by default (``.ci/run`` runs without it). Run 1's pruned tiny models (2 heads of 16, half pruned) have
    # 16-input Linear layers and ELECTRA 16-wide tables, which no w4 block (32, 64, 128) divides: every format keeps
    # them at int8 (``exporters.base.w4_block``), as it keeps an int4 table no block divides.
    parser.add_argument("--w4", action="store_true", help="also run 2: <format>-w4 with int4 embeddings")
    parser.add_argument("--jobs", type=int, default=1, help="architectures run at once, each CLI call with one "
                        "torch thread (CI: 2, one per core; the cells judge fidelity, not latency)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    prov = provenance({"args": args_dict(args) | {"workdir": None, "out": None}}, ARGS_ONLY)
    base = Path(args.workdir).resolve()
    data = write_data(base / "data")
    for axis in TASK_AXES:
        axis.slice(base / axis.data_dir)
    if args.jobs > 1:  # the CLI subprocesses inherit it: one torch thread each, so the jobs do not fight for cores
        os.environ["OMP_NUM_THREADS"] = "1"
    archs = args.arch or ARCHITECTURES
    models = {arch: _models(arch, base) for arch in archs}
    # Each architecture's runs are subprocesses in a directory of their own: threads only wait on them.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(_run_arch, arch, base, data, models[arch], w4=args.w4): arch for arch in archs}
        try:
            for done in as_completed(futures):
                _print_row(done.result())
        except BaseException:  # say it now and cancel what has not started (the running ones finish their call)
            traceback.print_exc()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        rows = [f.result() for f in futures]  # in the order asked for, whatever order they finished in
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows)
    write_json(out / "support_matrix.json", rows, prov)
    write_markdown(out / "support_matrix.md", "# Support matrix (measured by benchmarks/support_matrix.py)\n\n" + table,
                   prov)
    print(table)
    undeclared = [c for r in rows for c in r["cells"].values()
                  if not c["ok"] and not c["note"].startswith(DECLARED_PREFIXES)]
    return 1 if undeclared else 0


if __name__ == "__main__":
    sys.exit(main())
