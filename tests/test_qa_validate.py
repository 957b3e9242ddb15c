"""Validate, bench and report for question-answering: the span gates decided on synthetic answers (each rule seen
passing and failing), then a tiny run through every stage: every artifact's EM/F1 equals the official scores of its
own runner's answers, the bench times every window, the cards carry SQuAD F1, and a gate made to fail fails the run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from card_snippets import run_load_snippet
from conftest import make_tiny_bert, run_cli


def answers(spans, f1=None, margin=None, em=None):
    from edgeport.validation_qa import Answers

    n = len(spans)
    f1 = np.ones(n) if f1 is None else np.asarray(f1, dtype=np.float64)
    return Answers(spans=list(spans), texts={}, f1=f1, em=f1.copy() if em is None else np.asarray(em),
                   margin=np.full(n, 10.0) if margin is None else np.asarray(margin, dtype=np.float64),
                   logits=np.zeros(4, dtype=np.float32), windows=[[i] for i in range(n)], window_sizes=[2] * n)


def judge(mine, ref, precision="int8", teacher=None, noise=None, max_abs=0.01, **vcfg):
    from edgeport.config import ValidateConfig
    from edgeport.validation_gates import Evidence, judge as decide
    from edgeport.validation_qa import SpanEvidence

    tol = {"max_abs": max_abs, "mean_abs": max_abs, "min_agreement": 0.99, "budget": {"tie_factor": 1.0}}
    ev = Evidence("x", "tflite", precision, np.zeros(4), np.zeros(4), None, tol, output="span_logits",
                  spans=SpanEvidence(mine, ref, teacher, None if noise is None else np.asarray(noise)))
    return {g.name: g for g in decide(ev, ValidateConfig(check_tolerances=False, **vcfg))}


SPANS = [(i, i + 3) for i in range(1000)]


def test_fp32_fails_on_one_changed_span_unless_the_two_best_spans_tie_within_float_noise():
    changed = [(0, 1)] + SPANS[1:100]
    gates = judge(answers(changed), answers(SPANS[:100]), precision="fp32")
    assert gates["fp32_parity"].state == "fail" and gates["fp32_parity"].value == 1
    tied = answers(SPANS[:100], margin=[0.03] + [10.0] * 99)  # within 4 x max_abs 0.01
    gate = judge(answers(changed), tied, precision="fp32")["fp32_parity"]
    assert gate.state == "pass" and gate.evidence["tied_changes"] == 1
    assert judge(answers(SPANS[:100]), answers(SPANS[:100]), precision="fp32")["fp32_parity"].state == "pass"


def test_int8_span_agreement_is_three_state_and_ignores_changes_within_the_questions_8bit_noise():
    def changed(n, k):
        return [(0, 1)] * k + SPANS[k:n]

    assert judge(answers(changed(100, 3)), answers(SPANS[:100]))["agreement_vs_fp32"].state == "inconclusive"
    assert judge(answers(changed(1000, 30)), answers(SPANS))["agreement_vs_fp32"].state == "fail"
    assert judge(answers(changed(1000, 5)), answers(SPANS))["agreement_vs_fp32"].state == "pass"
    # the same 30 changes, each on a question whose best two spans are closer than 4 x its own 8-bit noise
    ref = answers(SPANS, margin=[0.1] * 30 + [10.0] * 970)
    gate = judge(answers(changed(1000, 30)), ref, noise=np.full(1000, 0.05))["agreement_vs_fp32"]
    assert gate.state == "pass" and gate.evidence["tied_changes"] == 30


def test_f1_drops_against_fp32_and_the_teacher_are_decided_on_paired_questions():
    rng = np.random.default_rng(0)
    ref_f1 = rng.uniform(0.5, 1.0, 1000)
    worse = ref_f1 - 0.05  # 5 points lower on every question
    gates = judge(answers(SPANS, f1=worse), answers(SPANS, f1=ref_f1), teacher=answers(SPANS, f1=ref_f1))
    assert gates["drop_vs_fp32"].state == "fail" and gates["drop_vs_fp32"].value == pytest.approx(5.0)
    assert gates["drop_vs_teacher"].state == "fail"
    lo, hi = gates["drop_vs_teacher"].evidence["ci95_points"]
    assert lo <= 5.0 <= hi
    few = judge(answers(SPANS[:20], f1=worse[:20]), answers(SPANS[:20], f1=ref_f1[:20]),
                teacher=answers(SPANS[:20], f1=ref_f1[:20]), int8_max_accuracy_drop=4.0, max_drop_vs_teacher=4.0)
    assert few["drop_vs_fp32"].state in ("fail", "inconclusive")
    same = judge(answers(SPANS, f1=ref_f1), answers(SPANS, f1=ref_f1), teacher=answers(SPANS, f1=ref_f1))
    assert same["drop_vs_fp32"].state == same["drop_vs_teacher"].state == "pass"
    assert judge(answers(SPANS, f1=worse), answers(SPANS, f1=ref_f1), teacher=None).get("drop_vs_teacher") is None


def test_a_models_answers_are_the_official_best_spans_with_their_margin():
    from edgeport.tasks import squad
    from edgeport.validation_qa import QuestionWindows, answers_of

    context = "The bridge was built in 1850 by farmers."
    example = squad.Example("q1", "t", context, "When was the bridge built?", ("1850",), (context.index("1850"),))

    class Split:
        examples = [example]

        def __len__(self):
            return 1

    offsets = [None, (0, 3), (4, 10), (11, 14), (15, 20), (21, 23), (24, 28), None]
    start = np.asarray([9, 0, 0, 0, 0, 0, 5, 0], dtype=np.float32)  # CLS (off the context) scores highest
    end = np.asarray([9, 0, 0, 0, 0, 0, 4, 1], dtype=np.float32)
    qw = QuestionWindows(Split(), [{"input_ids": np.zeros((1, 8), dtype=np.int64)}], [offsets], [0])
    a = answers_of(qw, [(start, end)])
    assert a.spans == [(24, 28)] and a.texts == {"q1": "1850"} and a.f1[0] == a.em[0] == 1.0
    assert a.margin[0] == pytest.approx(9.0 - 4.0)  # the runner-up: "in 1850" (start at "in" 0 + end 4)
    assert a.decisive == [((0, 6, 6), (0, 1, 6))]  # (window, start, end) of the best span and of the runner-up
    # the 8-bit shift of that margin, as the yardstick scores the same two spans: CLS and the other tokens move
    # (far from both spans), the runner-up's start gains 1.5, and the end token both spans share loses 0.5 (which
    # moves both scores alike: no shift)
    noisy_start, noisy_end = start + np.asarray([7, 1.5, 0, 0, 3, 0, 0, 0]), end + np.asarray([0, 0, 0, 0, 0, 0, -0.5, 6])
    yard = answers_of(qw, [(noisy_start.astype(np.float32), noisy_end.astype(np.float32))])
    from edgeport.validation_qa import question_noise

    assert question_noise(a, yard) == pytest.approx([1.5])


def test_each_window_runs_alone_and_its_start_and_end_logits_are_cut_to_its_real_tokens():
    from edgeport.validation_qa import QuestionWindows, window_logits

    calls = []

    def runner(input_ids, attention_mask, token_type_ids=None):  # a TFLite-like runner: padded to a bucket of 6
        calls.append(input_ids.shape)
        n = input_ids.shape[1]
        pad = lambda x: np.concatenate([x, np.full(6 - n, -1e4)])[None]  # noqa: E731
        return {"end_logits": pad(np.arange(n) * -1.0), "start_logits": pad(np.arange(n) * 1.0)}

    feeds = [{"input_ids": np.zeros((1, n), dtype=np.int64), "attention_mask": np.ones((1, n), dtype=np.int64)}
             for n in (3, 5)]
    out = window_logits(runner, QuestionWindows(None, feeds, [[None] * 3, [None] * 5], [0, 0]))
    assert calls == [(1, 3), (1, 5)]  # batch 1, the window's own length
    assert [s.tolist() for s, _ in out] == [[0, 1, 2], [0, 1, 2, 3, 4]]
    assert [e.tolist() for _, e in out] == [[0, -1, -2], [0, -1, -2, -3, -4]]
    with pytest.raises(ValueError, match="start_logits"):
        window_logits(lambda **f: np.zeros((1, 3)), QuestionWindows(None, feeds[:1], [[None] * 3], [0]))


# ------------------------------------------------------------------------------------------------ a tiny run


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    """teacher -> distill -> prune -> ONNX and TFLite, fp32 and dynamic INT8 -> validate -> bench -> report."""
    from test_qa_distill import STAGES
    from test_qa_task import qa_config, squad_dir

    tmp = tmp_path_factory.mktemp("qa_validate")
    config = qa_config(tmp, make_tiny_bert(tmp / "bert"), squad_dir(tmp / "data"), **STAGES,
                       export={"enabled": True, "formats": ["onnx", "tflite"]}, quantize={"enabled": True},
                       validate={"enabled": True}, bench={"enabled": True, "targets": ["host", "android-lowend"]},
                       report={"enabled": True})
    proc = run_cli("run", config, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return config, tmp / "runs" / "qa"


def test_every_artifacts_em_and_f1_are_the_official_scores_of_its_own_answers(qa_run):
    from edgeport import runtimes
    from edgeport.config import load_config
    from edgeport.data import load_task
    from edgeport.runtimes.text import artifact_tokenizer
    from edgeport.tasks import qa

    config, run = qa_run
    cfg = load_config(config)
    eval_split = load_task(cfg.data, seed=cfg.run.seed).eval
    result = json.loads((run / "validate" / "results.json").read_text())
    assert result["metric"] == "squad_f1" and result["eval_rows"] == len(eval_split)
    assert sorted(r["name"] for r in result["artifacts"]) == ["onnx-fp32", "onnx-int8", "tflite-fp32", "tflite-int8"]
    for row in result["artifacts"]:
        path = run / row["path"]
        runner = runtimes.load(path)
        windows = qa.split_windows(eval_split, artifact_tokenizer(path), cfg.data.max_seq_len, cfg.data.stride())
        logits = []
        for r in windows.rows:
            out = runner(**{k: np.asarray([v]) for k, v in r.items()})
            logits.append((out["start_logits"][0, :len(r["input_ids"])], out["end_logits"][0, :len(r["input_ids"])]))
        scores = qa.scores(eval_split, qa.answers(eval_split, windows, logits))
        assert (row["squad_f1"], row["squad_em"]) == pytest.approx((scores["squad_f1"], scores["squad_em"])), row["name"]
        assert row["windows"] == len(windows.rows) == result["eval_windows"]
        names = {g["name"] for g in row["verdict"]["gates"]}
        expected = {"fp32_parity"} if row["precision"] == "fp32" else {"agreement_vs_fp32", "drop_vs_fp32"}
        assert expected | {"drop_vs_teacher", "max_abs_diff", "mean_abs_diff"} <= names, row["name"]


def test_the_bench_times_every_window_and_the_cards_carry_squad_f1(qa_run):
    _, run = qa_run
    rows = json.loads((run / "bench" / "results.json").read_text())
    windows = json.loads((run / "validate" / "results.json").read_text())["eval_windows"]
    host = [r for r in rows if r.get("host")]
    assert host and all(r["workload"]["host"]["rows"] == windows for r in host)
    assert "windows of" in host[0]["workload"]["split"]
    card = (run / "quantize" / "tflite-int8" / "README.md").read_text()
    assert "pipeline_tag: question-answering" in card and "| squad_f1 | dev |" in card
    assert "Validate gates: PASS" in card
    # the code each card gives runs where it sits: two scores per token from the file, a span from transformers
    for path in sorted(run.glob("*/*/README.md")):
        variables, _ = run_load_snippet(path)
        assert len(variables["start_logits"]) == len(variables["end_logits"]) > 1, path
    variables, printed = run_load_snippet(run / "prune" / "README.md")
    assert "AutoModelForQuestionAnswering" in (run / "prune" / "README.md").read_text() and "start" in variables


def test_a_gate_made_to_fail_fails_the_run_and_names_the_artifact(qa_run):
    config, run = qa_run
    proc = run_cli("run", config, "-o", "validate.tolerances={tflite-int8: {max_abs: 1.0e-9}}", "--until", "validate",
                   timeout=900)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads((run / "validate" / "results.json").read_text())
    states = {r["name"]: r["verdict"]["state"] for r in result["artifacts"]}
    assert states["tflite-int8"] == "fail" and states["onnx-int8"] == "pass"
    assert any(f.startswith("tflite-int8: max abs diff") for f in result["gate_failures"])
