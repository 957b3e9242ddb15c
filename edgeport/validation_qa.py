"""Validate for extractive question answering: every artifact's answers to the eval questions, in the regime that
ships, judged against the fp32 torch model's and the teacher's.

A question is read as windows of question + context (``tasks.squad.windows``: ``data.max_seq_len`` tokens, long
contexts split with ``data.doc_stride`` tokens shared), tokenised by the artifact's own tokenizer at the artifact's
length (a TFLite file's longest bucket, when shorter). Each window runs alone, batch 1, at its real length (TFLite:
the smallest bucket holding it), as the app runs it; the question's answer is the best span over its windows
(``squad.best_span``: the n-best, maximum-length and tie rules the app's ``Spans.kt`` shares). The fp32 torch model
(the reference), its torch dynamic INT8 copy (the yardstick of this model's own 8-bit noise) and the teacher run the
same windows the same way.

What is judged (``validation_gates``, the ``spans`` rules): the official v1.1 F1 per question (its drop against the
reference for INT8 artifacts, against the teacher for all: paired bootstrap CI and permutation test over questions,
three-state), the answer span's agreement with the reference's (fp32: any change fails, except questions whose best
two spans' scores are tied within float noise; INT8: a floor, counting only changes outside 8-bit noise) and the
start/end logits' element-wise tolerances over every real token of every window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

OUTPUTS = ("start_logits", "end_logits")


@dataclass(frozen=True)
class QuestionWindows:
    """The eval questions as one tokenizer cuts them at one length: each window's batch-1 feed (its real tokens)
    and context offsets, and the question it belongs to."""

    split: object  # data.Split with examples
    feeds: list[dict[str, np.ndarray]]
    offsets: list[list]
    example_index: list[int]

    def by_question(self) -> list[list[int]]:
        """Per question (split order), the indices of its windows."""
        groups = defaultdict(list)
        for w, e in enumerate(self.example_index):
            groups[e].append(w)
        return [groups[e] for e in range(len(self.split))]


def question_windows(tokenizer, split, max_len: int, stride: int) -> QuestionWindows:
    """The split's questions as ``tokenizer`` cuts them into windows of ``max_len`` (``tasks.qa.split_windows``: the
    feeds the bench workload times, ``bench.workload.encode_questions``)."""
    from .tasks.qa import split_windows

    w = split_windows(split, tokenizer, max_len, stride)
    feeds = [{k: np.asarray([v], dtype=np.int64) for k, v in r.items()} for r in w.rows]
    return QuestionWindows(split, feeds, w.offsets, w.example_index)


def window_logits(runner, qw: QuestionWindows) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each window's (start, end) logits over its real tokens, one runner call per window (batch 1). A runner
    that pads (a TFLite bucket) gives more positions: they are no token of the window and are cut off."""
    out = []
    for feed in qw.feeds:
        result = runner(**feed)
        if not isinstance(result, dict) or set(OUTPUTS) - set(result):
            raise ValueError(f"a question-answering model must give {OUTPUTS}; got "
                             f"{sorted(result) if isinstance(result, dict) else type(result).__name__}")
        n = feed["input_ids"].shape[1]
        out.append(tuple(np.asarray(result[k], dtype=np.float32).reshape(-1)[:n] for k in OUTPUTS))
    return out


@dataclass(frozen=True)
class Answers:
    """One model's answers to the questions: per question its best span in characters of the context (None: no
    valid span), the answer text, the official F1 and exact match (0..1, max over the gold answers), and the margin
    of its best span's score over the best *other* span's (inf when there is no other: nothing to flip to; 0 when
    there is no answer)."""

    spans: list[tuple[int, int] | None]
    texts: dict[str, str]
    f1: np.ndarray
    em: np.ndarray
    margin: np.ndarray
    logits: np.ndarray  # every window's start then end logits, concatenated: the tolerances compare these
    windows: list[list[int]]  # per question, its windows' indices (the per-question 8-bit noise reads these)
    window_sizes: list[int]  # per window, its real tokens
    # per question, the (window, start token, end token) of its best span and of the best other span (None: none)
    decisive: list[tuple[tuple[int, int, int] | None, tuple[int, int, int] | None]] = ()

    def score(self, where: tuple[int, int, int]) -> float:
        """This model's score (start + end logit) of the span at (window, start token, end token)."""
        w, i, j = where
        first = int(np.sum(self.window_sizes[:w]))
        half = len(self.logits) // 2
        return float(self.logits[first + i]) + float(self.logits[half + first + j])


def answers_of(qw: QuestionWindows, logits: list[tuple[np.ndarray, np.ndarray]]) -> Answers:
    from .tasks import squad

    spans, texts, f1, em, margin, decisive = [], {}, [], [], [], []
    groups = qw.by_question()
    for e, ws in enumerate(groups):
        example = qw.split.examples[e]
        width = max(len(logits[w][0]) for w in ws)
        starts = np.full((len(ws), width), -1e4, dtype=np.float32)
        ends = np.full_like(starts, -1e4)
        for k, w in enumerate(ws):
            starts[k, :len(logits[w][0])], ends[k, :len(logits[w][1])] = logits[w]
        offsets = [qw.offsets[w] for w in ws]
        best = squad.best_span(starts, ends, offsets, example.context)
        if best is None:
            spans.append(None)
            f1.append(0.0)
            em.append(0.0)
            margin.append(0.0)
            decisive.append((None, None))
            continue
        span = (best["start"], best["end"])
        others = [(score, w, i, j) for score, w, i, j in squad.scored_candidates(starts, ends, offsets)
                  if (offsets[w][i][0], offsets[w][j][1]) != span]
        runner_up = max(others, key=lambda c: c[0]) if others else None
        decisive.append(((ws[best["window"]], best["start_token"], best["end_token"]),
                         None if runner_up is None else (ws[runner_up[1]], runner_up[2], runner_up[3])))
        spans.append(span)
        texts[example.id] = best["text"]
        f1.append(max(squad.f1(best["text"], g) for g in example.answer_texts))
        em.append(max(squad.exact_match(best["text"], g) for g in example.answer_texts))
        margin.append(best["score"] - runner_up[0] if runner_up else np.inf)
    flat = np.concatenate([np.concatenate([s for s, _ in logits]), np.concatenate([e for _, e in logits])])
    return Answers(spans, texts, np.asarray(f1), np.asarray(em), np.asarray(margin, dtype=np.float64), flat,
                   groups, [len(s) for s, _ in logits], decisive)


def question_noise(reference: Answers, yardstick: Answers) -> np.ndarray:
    """Per question, how far this model's own 8-bit noise moves its decision: the change of the margin between the
    reference's best span and its runner-up when the yardstick (torch dynamic INT8 of the reference) scores the
    same two spans, |margin_yardstick - margin_reference| (0 when there is no runner-up or no answer). Not the
    largest |Δlogit| over the question's tokens: one outlier token far from both spans would widen the band of every
    question of its window (measured on the qa run: that band exempted every changed span)."""
    out = np.zeros(len(reference.spans))
    for q, (best, runner_up) in enumerate(reference.decisive):
        if best is not None and runner_up is not None:
            moved = (yardstick.score(best) - yardstick.score(runner_up)) - (
                reference.score(best) - reference.score(runner_up))
            out[q] = abs(moved)
    return out


@dataclass(frozen=True)
class SpanEvidence:
    """What the span gates read (``validation_gates.Evidence.spans``): the artifact's, the reference's and the
    teacher's answers to the same questions, and per question the 8-bit noise (INT8 artifacts)."""

    answers: Answers
    reference: Answers
    teacher: Answers | None = None
    noise: np.ndarray | None = None  # per question (``question_noise``)

    def changed(self) -> np.ndarray:
        """Per question: True when the artifact's answer span differs from the reference's."""
        return changed_spans(self.answers, self.reference)


def changed_spans(answers: Answers, reference: Answers) -> np.ndarray:
    """Per question: True when ``answers`` picked another span than ``reference``."""
    return np.asarray([a != r for a, r in zip(answers.spans, reference.spans)])


class Models:
    """The torch models every artifact is compared with, run on the windows of the artifact's length (each length
    computed once): the reference, its quantisation yardsticks (``validation.yardstick_key``: INT8, or w4 with its
    blocks) and the teacher (its own tokenizer)."""

    def __init__(self, reference, tokenizer, split, max_len: int, stride: int, teacher=None, teacher_tokenizer=None):
        self.reference, self.tokenizer, self.split = reference, tokenizer, split
        self.max_len, self.stride = max_len, stride
        self.teacher, self.teacher_tokenizer = teacher, teacher_tokenizer
        self._cache: dict[tuple, Answers] = {}
        self._yardsticks: dict[tuple, object] = {}

    def windows(self, tokenizer, length: int) -> QuestionWindows:
        return question_windows(tokenizer, self.split, length, self.stride)

    def _answers(self, who: str, length: int, key: tuple = ("int8",)) -> Answers:
        if (who, length, key) not in self._cache:
            from .runtimes.eager import EagerRunner

            model, tokenizer = {"reference": lambda: (self.reference, self.tokenizer),
                                "teacher": lambda: (self.teacher, self.teacher_tokenizer),
                                "yardstick": lambda: (self.yardstick_model(key), self.tokenizer)}[who]()
            print(f"  {who} (torch) on the eval questions, windows of {length} ...", flush=True)
            qw = self.windows(tokenizer, length)
            self._cache[who, length, key] = answers_of(qw, window_logits(EagerRunner(model), qw))
        return self._cache[who, length, key]

    def yardstick_model(self, key: tuple = ("int8",)):
        from .validation import make_yardstick

        if key not in self._yardsticks:
            self._yardsticks[key] = make_yardstick(self.reference, key)
        return self._yardsticks[key]

    def reference_answers(self, length: int) -> Answers:
        return self._answers("reference", length)

    def yardstick_answers(self, length: int, key: tuple = ("int8",)) -> Answers:
        return self._answers("yardstick", length, key)

    def teacher_answers(self, length: int) -> Answers | None:
        if self.teacher is None:
            return None
        if self.teacher is self.reference:  # no distill or prune: the reference is the teacher
            return self._answers("reference", length)
        return self._answers("teacher", length)


def artifact_answers(path: Path, runner, models: Models, length: int) -> Answers:
    """The artifact's answers: windows cut by its own tokenizer at ``length``, one call per window."""
    from .runtimes.text import artifact_tokenizer

    qw = models.windows(artifact_tokenizer(Path(path)), length)
    return answers_of(qw, window_logits(runner, qw))


def figures(answers: Answers, reference: Answers) -> dict:
    """A row's measured figures (fractions): EM, F1, span agreement with the reference, unanswered questions."""
    f1, em = round(float(answers.f1.mean()), 6), round(float(answers.em.mean()), 6)
    agreement = round(float(1 - changed_spans(answers, reference).mean()), 6)
    # eval_* and agreement: the keys the report and the cards read for every task
    return {"squad_f1": f1, "squad_em": em, "eval_squad_f1": f1, "eval_squad_em": em,
            "span_agreement": agreement, "agreement": agreement,
            "unanswered": sum(s is None for s in answers.spans)}
