"""``edgeport predict`` for a question-answering artifact: a question and a context in, the answer span out.

The question and the context are cut into the windows the model was trained and measured on
(``tasks.qa.split_windows`` over ``squad.windows``: question + context, the context split into windows that share
``doc_stride`` tokens, each cut to its real tokens), each window runs alone through the artifact's runner (as
validate and the app run one row at a time: a dynamic INT8 file takes its activation scales from what it is fed),
and the answer is ``squad.best_span`` over all the windows (the n-best starts and ends of each window, start <= end,
both in the context, at most ``max_answer_len`` tokens; ties to the earliest window and span), exactly the
pipeline's measurement (``tasks.qa.answers``) for one question.

The window settings are the artifact's own (``window_settings``): the window length is the artifact's static length
(TFLite's longest signature) or the ``max_seq_len`` it was exported with; the stride is read, in this order, from
``doc_stride`` in artifact.json (a sidecar that records it), the run's recorded config (``manifest.json`` of the run
directory the artifact sits in: ``data.doc_stride``, default a third of ``data.max_seq_len``, as
``config.data.DataConfig.stride`` resolves it), else the config's default rule (a third of the window), and the
answer says which.

Kept apart from ``runtimes/text.py`` (whose ``predict`` refuses this task) so that adding it changes no training or
export stage's code fingerprint; the CLI (``cli.py`` ``_print_answer``) calls ``answer``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..errors import EdgeportError
from .common import artifact_meta, model_file

TASK = "question-answering"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class WindowSettings:
    """How a question + context is cut for this artifact: ``max_len`` tokens per window, ``stride`` context tokens
    shared by two windows; ``source`` says where the stride was read."""

    max_len: int
    stride: int
    source: str


def is_question_answering(meta: dict) -> bool:
    return meta.get("task") == TASK


def window_settings(path: Path, meta: dict | None = None) -> WindowSettings:
    """The artifact's window length and stride (module docstring: sidecar, then the run's config, then the
    default rule)."""
    from .text import artifact_max_len

    meta = artifact_meta(Path(path)) if meta is None else meta
    max_len = artifact_max_len(Path(path))
    if meta.get("doc_stride") is not None:
        return WindowSettings(max_len, int(meta["doc_stride"]), "artifact.json")
    data = _run_data_config(Path(path))
    if data is not None and data.get("task") == TASK and data.get("max_seq_len") == meta.get("max_seq_len"):
        stride = data.get("doc_stride")
        if stride is None:  # config.data.DataConfig.stride: a third of max_seq_len when unset
            return WindowSettings(max_len, int(data["max_seq_len"]) // 3, "the run's config (data.doc_stride unset: "
                                                                          "a third of data.max_seq_len)")
        return WindowSettings(max_len, int(stride), "the run's config (data.doc_stride)")
    return WindowSettings(max_len, max_len // 3, "not recorded: the default, a third of the window")


def _run_data_config(path: Path) -> dict | None:
    """``config.data`` of the run directory holding the artifact (``RUN/<stage>/<artifact>/model``), or None when
    the artifact does not sit in one (or its manifest is unreadable: the default then applies)."""
    manifest = model_file(path).parent.parent.parent / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = (json.loads(manifest.read_text(encoding="utf-8")).get("config") or {}).get("data")
    except (OSError, ValueError, AttributeError):
        return None
    return data if isinstance(data, dict) else None


def answer(path: Path, question: str, context: str, threads: int = 1) -> dict:
    """The best answer span of ``context`` to ``question`` by the artifact at ``path``: ``{"text", "start", "end"
    (characters of the context, text == context[start:end]), "score" (start + end logit), "window" (0-based),
    "windows", "max_len", "stride", "stride_source"}``; ``text`` None (and no span) when no valid span exists."""
    from ..tasks import squad
    from ..tasks.qa import split_windows
    from . import load
    from .text import artifact_tokenizer

    path = Path(path)
    meta = artifact_meta(path)
    if not is_question_answering(meta):
        raise EdgeportError(f"{path}: a {meta.get('task') or 'sequence-classification'} artifact; --question and "
                            f"--context are for a question-answering artifact")
    if not question.strip():
        raise EdgeportError("the question is empty; pass --question 'What ...?'")
    if not context.strip():
        raise EdgeportError("the context is empty; pass the paragraph that holds the answer with --context")
    settings = window_settings(path, meta)
    tokenizer = artifact_tokenizer(path)
    example = squad.Example("question", "", context, question, (), ())
    windows = split_windows(SimpleNamespace(examples=[example]), tokenizer, settings.max_len, settings.stride)
    runner = load(path, threads)
    outputs = [_span_logits(runner, row) for row in windows.rows]
    width = max(len(s) for s, _ in outputs)  # windows differ in length: pad to the longest (never read)
    starts = np.zeros((len(outputs), width), dtype=np.float32)
    ends = np.zeros_like(starts)
    for k, (s, e) in enumerate(outputs):
        starts[k, :len(s)], ends[k, :len(e)] = s, e
    best = squad.best_span(starts, ends, windows.offsets, context)
    found = {"windows": len(outputs), "max_len": settings.max_len, "stride": settings.stride,
             "stride_source": settings.source}
    if best is None:
        return found | {"text": None, "start": None, "end": None, "score": None, "window": None}
    return found | {k: best[k] for k in ("text", "start", "end", "score", "window")}


def _span_logits(runner, row: dict) -> tuple[np.ndarray, np.ndarray]:
    """One window (its real tokens) through the runner alone: its start and end logits, one per token."""
    feed = {k: np.asarray([row[k]], dtype=np.int64) for k in INPUTS if k in row}
    out = runner(feed["input_ids"], feed["attention_mask"], feed.get("token_type_ids"))
    if not isinstance(out, dict) or not {"start_logits", "end_logits"} <= set(out):
        raise EdgeportError(f"{runner.path}: the model does not give start_logits and end_logits (artifact.json "
                            f"'outputs'); re-export the question-answering artifact")
    n = len(row["input_ids"])
    return (np.asarray(out["start_logits"], dtype=np.float32)[0, :n],
            np.asarray(out["end_logits"], dtype=np.float32)[0, :n])
