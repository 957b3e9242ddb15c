"""Task metrics (``data.metric``: accuracy, f1, macro_f1, mcc): values, paired evidence, selection in ``fit``, the
useless-model gate, validate's drop gates, and a tiny pair-task pipeline choosing and reporting on F1 / MCC.

The pair task (``write_pair_task``) is built from SST-2 sentences, MRPC/QQP style: each row is two sentences and
the label says whether the second is a paraphrase-like copy of the first ("duplicate": the same sentence with about
a fifth of its words dropped and two neighbours swapped) or another SST-2 sentence ("not_duplicate"). About 30%
of the rows are duplicates (QQP has 37%), so accuracy rewards always answering "not_duplicate" and F1 of the
positive class ("duplicate", the second label name) does not.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SST2, TINY_TRAIN, make_tiny_bert, run_cli, write_config
from edgeport.config import TrainConfig, load_config
from edgeport.errors import ConfigError
from edgeport.stats import (check_metric, metric_drop, metric_title, metric_value, paired_drop, paired_metric_test)
from edgeport.training import recipe

PAIR_LABELS = ["not_duplicate", "duplicate"]


def write_pair_task(out: Path, n_train: int = 400, n_eval: int = 200, positive_share: float = 0.3,
                    seed: int = 0) -> Path:
    """An MRPC/QQP-style pair task from SST-2 sentences (see the module docstring); TSV with sentence1, sentence2,
    label (the label *names*)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    for split, source, n in (("train", "train", n_train), ("validation", "validation", n_eval)):
        lines = (SST2 / f"{source}.tsv").read_text(encoding="utf-8").splitlines()[1:]
        texts = [line.rsplit("\t", 1)[0] for line in lines if len(line.rsplit("\t", 1)[0].split()) >= 5]
        rows = ["sentence1\tsentence2\tlabel"]
        for _ in range(n):
            first = rng.choice(texts)
            if rng.random() < positive_share:
                words = [w for w in first.split() if rng.random() > 0.2] or first.split()
                if len(words) > 2:
                    i = rng.randrange(len(words) - 1)
                    words[i], words[i + 1] = words[i + 1], words[i]
                rows.append(f"{first}\t{' '.join(words)}\tduplicate")
            else:
                rows.append(f"{first}\t{rng.choice(texts)}\tnot_duplicate")
        (out / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------ values


def test_metric_values_match_hand_computed_ones():
    # 10 rows: 3 positives; predicted: 2 of them right, 1 false positive
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0]  # tp 2, fn 1, fp 1, tn 6
    assert metric_value("accuracy", y, p, 2) == 0.8
    assert metric_value("f1", y, p, 2) == pytest.approx(4 / 6, abs=1e-6)  # 2tp / (2tp + fp + fn)
    # (tp tn - fp fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (12 - 1) / sqrt(3 * 3 * 7 * 7)
    assert metric_value("mcc", y, p, 2) == pytest.approx(11 / 21, abs=1e-6)
    # class 0: tp 6, fp 1, fn 1 -> 12 / 14; class 1: 4 / 6
    assert metric_value("macro_f1", y, p, 2) == pytest.approx((12 / 14 + 4 / 6) / 2, abs=1e-6)
    # a constant predictor: MCC 0, F1 of always-negative 0, of always-positive 2p / (1 + p)
    assert metric_value("mcc", y, [0] * 10, 2) == 0.0
    assert metric_value("f1", y, [0] * 10, 2) == 0.0
    assert metric_value("f1", y, [1] * 10, 2) == pytest.approx(2 * 0.3 / 1.3, abs=1e-6)
    # three classes, Gorodkin's R_K: c = 5 right of s = 6; true counts t = (2, 2, 2), predicted p = (3, 1, 2)
    y3, p3 = [0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 2, 2]
    expected = (5 * 6 - (3 * 2 + 1 * 2 + 2 * 2)) / np.sqrt((36 - (9 + 1 + 4)) * (36 - (4 + 4 + 4)))
    assert metric_value("mcc", y3, p3, 3) == pytest.approx(expected, abs=1e-6)
    # F1 per class: 2*2/(2+3), 2*1/(2+1), 2*2/(2+2)
    assert metric_value("macro_f1", y3, p3, 3) == pytest.approx((0.8 + 2 / 3 + 1.0) / 3, abs=1e-6)


def test_metric_values_match_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        for _ in range(60):
            n = int(rng.integers(1, 80))
            y, p = rng.integers(0, k, n), rng.integers(0, k, n)
            if rng.random() < 0.3:
                p[:] = p[0]  # constant predictions: MCC's zero denominator
            assert metric_value("accuracy", y, p, k) == pytest.approx(sk.accuracy_score(y, p), abs=1e-6)
            assert metric_value("mcc", y, p, k) == pytest.approx(sk.matthews_corrcoef(y, p), abs=1e-6)
            assert metric_value("macro_f1", y, p, k) == pytest.approx(
                sk.f1_score(y, p, average="macro", labels=list(range(k)), zero_division=0), abs=1e-6)
            if k == 2:
                assert metric_value("f1", y, p, k) == pytest.approx(
                    sk.f1_score(y, p, pos_label=1, zero_division=0), abs=1e-6)


def test_f1_is_binary_and_names_its_positive_class():
    with pytest.raises(ConfigError, match="use macro_f1"):
        check_metric("f1", 3, ["a", "b", "c"])
    check_metric("f1", 2)
    check_metric("macro_f1", 3)
    assert metric_title("f1", PAIR_LABELS) == "F1 of 'duplicate'"
    assert metric_title("mcc") == "MCC"


# ------------------------------------------------------------------------------------ paired evidence


def test_randomisation_p_for_accuracy_agrees_with_exact_mcnemar():
    """For accuracy the randomisation test is a Monte-Carlo McNemar test: same p within its sampling error."""
    n = 277
    y = np.ones(n, int)
    ref, cand = np.ones(n, int), np.ones(n, int)
    cand[:16] = 0  # 16 rows lost
    ref[16:26] = 0  # 10 gained
    exact = paired_drop(ref == y, cand == y)["p_worse"]  # 0.163
    t = paired_metric_test("accuracy", y, ref, cand, 2, seed=0)
    assert t["diff"] == pytest.approx(6 / 277, abs=1e-6)
    assert abs(t["p_worse"] - exact) < 0.03, (t["p_worse"], exact)
    assert paired_metric_test("accuracy", y, ref, cand, 2, seed=0) == t  # seeded: the same numbers
    same = paired_metric_test("f1", y, ref, ref, 2)
    assert same["diff"] == 0 and same["p_worse"] == 1.0 and same["ci95"] == [0.0, 0.0]


def _population(rng, n, pos=0.3, err_a=0.12, err_b=0.2):
    y = (rng.random(n) < pos).astype(int)
    a = np.where(rng.random(n) < err_a, 1 - y, y)
    b = np.where(rng.random(n) < err_b, 1 - y, y)
    return y, a, b


@pytest.mark.parametrize("metric", ["f1", "mcc"])
def test_bootstrap_interval_covers_the_true_difference(metric):
    """Coverage of the paired bootstrap 95% interval of an F1 / MCC difference on samples of 300 rows."""
    rng = np.random.default_rng(1)
    y, a, b = _population(rng, 400_000)
    truth = metric_value(metric, y, a, 2) - metric_value(metric, y, b, 2)
    covered = 0
    for i in range(200):
        idx = rng.integers(0, len(y), 300)
        lo, hi = paired_metric_test(metric, y[idx], a[idx], b[idx], 2, seed=i, resamples=1000)["ci95"]
        covered += lo <= truth <= hi
    assert 0.88 <= covered / 200 <= 0.99, covered


def test_randomisation_test_holds_its_level_when_the_two_models_are_exchangeable():
    rng = np.random.default_rng(2)
    rejections = 0
    for i in range(300):
        y, a, b = _population(rng, 200, err_a=0.15, err_b=0.15)
        rejections += paired_metric_test("f1", y, a, b, 2, seed=i, resamples=500)["p_worse"] < 0.05
    assert rejections / 300 <= 0.09, rejections


def test_metric_drop_is_in_points_with_accuracy_beside_it():
    rng = np.random.default_rng(3)
    y, a, b = _population(rng, 872, err_a=0.1, err_b=0.2)
    d = metric_drop("f1", y, a, b, 2, seed=0)
    assert d["drop_points"] == pytest.approx(100 * (metric_value("f1", y, a, 2) - metric_value("f1", y, b, 2)),
                                             abs=1e-3)
    lo, hi = d["ci95_points"]
    assert 0 < lo < d["drop_points"] < hi and d["p_worse"] < 0.01
    assert d["accuracy"] == pytest.approx((b == y).mean(), abs=1e-6) and d["n"] == 872


# ------------------------------------------------------------------------------------ the useless-model gate


def test_useless_gate_on_f1_and_mcc_compares_with_the_constant_baseline():
    names = ["neg", "pos"]
    train = [0] * 90 + [1] * 10
    y = [1] * 10 + [0] * 90  # 10% positives on the selection rows
    always_pos, always_neg = [1] * 100, [0] * 100
    msg = recipe.useless_model_failure("distill", None, y, train, names, metric="f1", select_preds=always_pos)
    assert "F1 of 'pos'" in msg and "always answering 'pos'" in msg and "bootstrap" in msg
    assert recipe.useless_model_failure("distill", None, y, train, names, metric="mcc", select_preds=always_neg)
    # finds 8 of the 10 positives with 12 false alarms: accuracy 86% is below the 90% majority rate, so the
    # accuracy gate calls it useless; F1 0.53 vs always-positive 0.18 and MCC 0.50 vs 0 say it is not
    preds = [1] * 8 + [0] * 2 + [1] * 12 + [0] * 78
    acc = metric_value("accuracy", y, preds, 2)
    assert acc == 0.86 and recipe.useless_model_failure("distill", acc, y, train, names) is not None
    for metric in ("f1", "mcc", "macro_f1"):
        t = recipe.useful_test(y, train, names, metric=metric, select_preds=preds)
        assert t["passed"] and t["p"] < 0.01, t
    f1 = recipe.useful_test(y, train, names, metric="f1", select_preds=preds)
    assert f1["baseline"] == "pos" and f1["baseline_value"] == pytest.approx(2 * 0.1 / 1.1, abs=1e-6)
    assert recipe.useful_test(y, train, names, metric="mcc", select_preds=preds)["baseline_value"] == 0.0


# ------------------------------------------------------------------------------------ selection in fit


def test_fit_keeps_the_checkpoint_with_the_best_selection_metric(tmp_path, monkeypatch):
    """Three scripted selection evaluations: accuracy is best at the third, F1 and MCC at the second. ``fit``
    must keep (and restore the weights of) the evaluation the configured metric ranks first."""
    import edgeport.training.loop as loop
    from edgeport.models import load_classifier, load_tokenizer

    model_dir = make_tiny_bert(tmp_path / "m", classifier_labels=["neg", "pos"])
    tok = load_tokenizer(model_dir)
    enc = tok([f"a film number {i}" for i in range(58)], truncation=True, max_length=16)
    rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": int(i < 3)}
            for i in range(58)]
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    select = [r | {"labels": label} for r, label in zip(rows[48:], y)]
    script = [[0] * 10,  # acc .7, F1 0, MCC 0
              [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],  # acc .7, F1 .667, MCC .535
              [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]]  # acc .8, F1 .5, MCC .509
    expected = {"accuracy": 3, "f1": 2, "mcc": 2}
    for metric, best_step in expected.items():
        states = []

        def scripted(model, loader, acc=None):
            states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            return script[len(states) - 1], y

        monkeypatch.setattr(loop, "selection_predictions", scripted)
        model = load_classifier(model_dir, label_names=["neg", "pos"])
        tcfg = TrainConfig(epochs=1, batch_size=16, eval_every=1, lr=1e-2, precision="fp32")
        result = recipe.finetune(model, rows[:48], select, tcfg, recipe.collate_for(tok), 0, metric=metric)
        assert result.steps == 3 and len(result.history) == 3
        assert result.best_step == best_step, (metric, result.history)
        assert result.select_predictions == script[best_step - 1]
        m = result.metrics()
        assert m["select_metric"] == metric
        if metric != "accuracy":
            assert m[f"select_{metric}"] == max(h[f"select_{metric}"] for h in result.history)
            assert m["select_accuracy"] == result.history[best_step - 1]["select_accuracy"]
        kept = states[best_step - 1]
        assert all(torch.equal(v, kept[k]) for k, v in model.state_dict().items()), "weights of another step"
        if best_step != 3:  # the weights did move after the kept step: restoring them is what is tested
            assert not all(torch.equal(v, states[-1][k]) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------------------ config


def test_metric_config_is_checked(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  metric: F1\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(p))
    assert "data.metric" in str(err.value) and "'f1'" in str(err.value)
    p.write_text("data:\n  metric: f1\n  label_names: [a, b, c]\n")
    with pytest.raises(ConfigError, match="use macro_f1"):
        load_config(str(p))
    p.write_text("data:\n  metric: mcc\n")
    assert load_config(str(p)).data.metric == "mcc"


# ------------------------------------------------------------------------------------ the pipeline


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    """The tiny pipeline on the pair task, choosing on F1: teacher, distill, TorchScript export + INT8, validate,
    report. At lr 1e-2 for 100 steps the tiny teacher starts answering "duplicate" after ~55 steps, so its
    selection F1 moves (measured here: accuracy peaks at step 65, F1 at step 70) - the choice is not vacuous."""
    base = tmp_path_factory.mktemp("pairs")
    data = write_pair_task(base / "pairs")
    teacher = make_tiny_bert(base / "teacher")
    train = dict(TINY_TRAIN, epochs=5, lr=1e-2, eval_every=5, precision="fp32")
    cfg = write_config(base / "pairs.yaml", teacher, data, base / "runs", run={"threads": 1},
                       data={"text_column": "sentence1", "text_pair_column": "sentence2",
                             "label_names": PAIR_LABELS, "metric": "f1"},
                       teacher={"train": train}, distill={"train": train},
                       export={"formats": ["torchscript"]}, bench={"enabled": False},
                       report={"plots": False, "budget_gate": "off"})
    proc = run_cli("run", cfg)
    return {"proc": proc, "run": base / "runs" / "tiny", "cfg": cfg}


def test_pair_task_chooses_and_reports_on_f1(pair_run):
    proc, run = pair_run["proc"], pair_run["run"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    for name in ("teacher", "distill"):
        m = stages[name]["metrics"]
        assert m["select_metric"] == "f1" and m["metric"] == "f1" and m["positive_label"] == "duplicate"
        values = [h["select_f1"] for h in m["history"]]
        assert len(values) >= 3 and all("select_accuracy" in h for h in m["history"])
        best = max(values)
        assert m["select_f1"] == best  # the kept checkpoint has the best selection F1 ...
        assert m["best_step"] == m["history"][values.index(best)]["step"]  # ... the first evaluation reaching it
        assert m["select_accuracy"] == m["history"][values.index(best)]["select_accuracy"]
        assert 0 <= m["eval_f1"] <= 1 and "eval_accuracy" in m and m["select_baseline_f1"] > 0
        assert m["useful_gate"]["metric"] == "f1" and m["useful_gate"]["baseline"] == "duplicate"
    teacher = stages["teacher"]["metrics"]
    f1s, accs = [h["select_f1"] for h in teacher["history"]], [h["select_accuracy"] for h in teacher["history"]]
    assert len(set(f1s)) > 2 and max(f1s) > 0, teacher["history"]  # the teacher learned something: F1 moved
    # accuracy would have kept another checkpoint (1 thread, seeded: measured, deterministic here)
    assert teacher["history"][accs.index(max(accs))]["step"] != teacher["best_step"], teacher["history"]
    v = json.loads((run / "validate" / "results.json").read_text())
    assert v["metric"] == "f1" and "eval_f1" in v["reference"] and "eval_f1" in v["teacher"]
    for art in v["artifacts"]:
        gates = {g["name"]: g for g in art["verdict"]["gates"]}
        drop = gates.get("drop_vs_fp32") or gates["drop_vs_teacher"]  # INT8 rows have both, fp32 the teacher's
        assert drop["evidence"]["metric"] == "f1"
        assert "b" in drop["evidence"]["accuracy_evidence"]  # McNemar on accuracy, beside it, not gated
        assert "eval_f1" in art
    report = (run / "report" / "report.md").read_text()
    assert "Task metric (`data.metric: f1`): **F1 of 'duplicate'**" in report
    assert "chosen (checkpoint, early stop) by F1 of 'duplicate' on the selection split" in report
    assert "selection F1 of 'duplicate' % (rows)" in report and "F1 of 'duplicate' %" in report
    assert "evaluation split `validation`" in report
    md = (run / "validate" / "results.md").read_text()
    assert "Task metric (data.metric): F1 of 'duplicate'" in md and "bootstrap 95% CI" in md


def test_changing_the_metric_is_named_in_the_dry_run(pair_run):
    proc = run_cli("run", pair_run["cfg"], "--dry-run", "-o", "data.metric=mcc")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "config.data.metric" in proc.stdout
