"""Attributions (edgeport/explain/): known answers on hand-built models, IG completeness, the black-box path against
IG, the explain stage end to end on a real tiny run, and ``edgeport explain``."""

from __future__ import annotations

import json
import shutil
import types

import numpy as np
import pytest
import yaml
from export_run import export_run

from edgeport.cli import main
from edgeport.explain.agreement import compare, rankdata, spearman, top_k_overlap
from edgeport.explain.attribution import ablation, integrated_gradients, log_odds
from edgeport.runtimes.text import pad_token_id

torch = pytest.importorskip("torch")
pytest.importorskip("captum")


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from tests.conftest import minilm_dir

    return AutoTokenizer.from_pretrained(str(minilm_dir()))


class OneToken(torch.nn.Module):
    """Reads only the embeddings at the positions holding ``token_id``: logits = head(sum of those embeddings)."""

    def __init__(self, vocab: int, token_id: int, dim: int = 16):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.head, self.token_id = torch.nn.Embedding(vocab, dim), torch.nn.Linear(dim, 2), token_id
        with torch.no_grad():  # the token's embedding pushes hard towards class 1
            self.head.weight.copy_(torch.stack([-self.emb.weight[token_id], self.emb.weight[token_id]]))

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        keep = (input_ids == self.token_id).unsqueeze(-1).float()
        return types.SimpleNamespace(logits=self.head((self.emb(input_ids) * keep).sum(1)))


class BagOfEmbeddings(torch.nn.Module):
    """Linear in its input embeddings: logits = W · sum(masked embeddings) + b. Exact for IG and for ablation."""

    def __init__(self, vocab: int, dim: int = 8):
        super().__init__()
        torch.manual_seed(1)
        self.emb, self.head = torch.nn.Embedding(vocab, dim), torch.nn.Linear(dim, 2)

    def get_input_embeddings(self):
        return self.emb

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        e = self.emb(input_ids) * attention_mask.unsqueeze(-1).float()
        return types.SimpleNamespace(logits=self.head(e.sum(1)))


def eager(model):
    from edgeport.runtimes.eager import EagerRunner

    return EagerRunner(model)


TEXT = "the plot is unwatchable but the acting is great ."


def test_a_model_that_reads_one_token_is_attributed_to_that_token(tokenizer):
    great = tokenizer.convert_tokens_to_ids("great")
    model = OneToken(tokenizer.vocab_size, great)
    for attr in (integrated_gradients(model, tokenizer, TEXT, steps=16), ablation(eager(model), tokenizer, TEXT)):
        assert attr.words[int(np.argmax(attr.word_scores))] == "great", (attr.method, attr.word_scores)
        others = np.delete(attr.word_scores, attr.words.index("great"))
        assert np.abs(others).max() < 1e-6 < attr.word_scores[attr.words.index("great")], attr.method


def test_ig_is_complete_within_captums_delta(tokenizer, nonlinear_bert):
    """sum(attributions) = f(x) - f(baseline) up to exactly the delta Captum reports, and that delta is the
    integration error: large with 4 steps on this clearly nonlinear BERT, negligible with 64."""
    model = nonlinear_bert
    attr = integrated_gradients(model, tokenizer, TEXT, "a second sentence", steps=64)
    enc = tokenizer(TEXT, "a second sentence", return_tensors="pt")
    base = enc["input_ids"].clone()
    special = torch.tensor(tokenizer.get_special_tokens_mask(enc["input_ids"][0].tolist(),
                                                             already_has_special_tokens=True)).bool()
    base[0, ~special] = pad_token_id(tokenizer)
    with torch.no_grad():
        f = [float(log_odds(model(input_ids=i, attention_mask=enc["attention_mask"],
                                  token_type_ids=enc["token_type_ids"]).logits.numpy(), attr.target)[0])
             for i in (enc["input_ids"], base)]
    total = attr.token_scores.sum()
    assert abs(f[0] - f[1]) > 1.0  # the model's answer does depend on the words
    assert (attr.score, attr.baseline_score) == pytest.approx(f, abs=1e-5)
    assert total - (f[0] - f[1]) == pytest.approx(attr.delta, abs=1e-4)  # the recorded delta is the true gap
    assert attr.relative_delta < 0.01  # complete within 1% at 64 steps
    coarse = integrated_gradients(model, tokenizer, TEXT, "a second sentence", steps=4)
    assert coarse.token_scores.sum() - (f[0] - f[1]) == pytest.approx(coarse.delta, abs=1e-4)
    assert abs(coarse.delta) > 10 * abs(attr.delta) and coarse.relative_delta > 0.05
    # [CLS]/[SEP] equal their baseline (zero attribution), so the word scores hold all of it
    assert attr.word_scores.sum() == pytest.approx(total, abs=1e-6)
    assert attr.word_part.count(1) == 3 and attr.words[-3:] == ["a", "second", "sentence"]


def test_black_box_ablation_ranks_like_ig_on_a_linear_model(tokenizer):
    model = BagOfEmbeddings(tokenizer.vocab_size)
    ig = integrated_gradients(model, tokenizer, TEXT, steps=8)
    ab = ablation(eager(model), tokenizer, TEXT)
    assert ig.target == ab.target
    assert ["un", "##watch", "##able"] == ab.word_tokens()[ab.words.index("unwatchable")]  # one word, 3 pieces
    # the same ranking (repeated words, "the" and "is", tie in both)
    assert list(rankdata(ig.word_scores.round(5))) == list(rankdata(ab.word_scores.round(5)))
    assert len(set(ab.word_scores.round(5))) == len(set(ab.words))
    np.testing.assert_allclose(ig.word_scores, ab.word_scores, atol=1e-4)  # linear: both are exact
    assert compare(ig, ab, 3) == {"spearman": pytest.approx(1.0), "top_k": 1.0, "words": len(ab.words)}


def test_ablation_equals_captum_feature_ablation_through_the_runner(tokenizer):
    """The numpy occlusion is Captum's FeatureAblation on a forward function that calls the runner."""
    from captum.attr import FeatureAblation

    from edgeport.explain.words import encode_one

    model = OneToken(tokenizer.vocab_size, tokenizer.convert_tokens_to_ids("plot"))
    runner = eager(model)
    ours = ablation(runner, tokenizer, TEXT, target=1)
    enc = encode_one(tokenizer, TEXT)
    mask = np.array([enc.attention_mask])
    n = len(enc.words)  # special tokens get their own groups (after the words), never compared
    groups = torch.tensor([[w if w >= 0 else n + i for i, w in enumerate(enc.word_of_token)]])

    def forward(ids):  # the runner contract behind a torch forward function, as Captum calls it
        return torch.from_numpy(log_odds(runner(ids.numpy(), np.repeat(mask, len(ids), 0)), 1))

    theirs = FeatureAblation(forward).attribute(torch.tensor([enc.input_ids]), baselines=pad_token_id(tokenizer),
                                                feature_mask=groups)[0].numpy()
    per_word = [theirs[enc.positions(w)[0]] for w in range(n)]
    # float32 logits: our ablation runs the perturbed rows as one batch, Captum one call per row, and oneDNN may
    # pick other kernels per batch size (seen here: 3.8e-6 on a log-odds of 20.4, relative 1.9e-7)
    np.testing.assert_allclose(ours.word_scores, per_word, rtol=1e-5, atol=1e-6)


def test_rank_correlation_and_overlap():
    assert list(rankdata([3, 1, 3, 2])) == [3.5, 1, 3.5, 2]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 100], [1, 2, 3, 4, 5]) == pytest.approx(1.0)  # ranks, not values
    # ties and a non-linear relation: the value scipy.stats.spearmanr gives
    assert spearman([0.1, 2, 2, 10, -3], [3, 1, 5, 40, 2]) == pytest.approx(0.5642880936468347, abs=1e-9)
    assert np.isnan(spearman([1.0], [2.0])) and np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert top_k_overlap([5, 4, 3, 0], [5, 0, 4, 3], 2) == 0.5 and top_k_overlap([1, 2], [2, 1], 5) == 1.0
    # top-k by |score|; a shared word counts only when it pushes the same way in both
    assert top_k_overlap([5, -4, 1], [5, -4, 1], 2) == 1.0 and top_k_overlap([5, -4, 1], [5, 4, 1], 2) == 0.5
    assert top_k_overlap([-5, 1, 0], [-5, 0, 1], 1) == 1.0
    # words a model did not see (truncated) are left out of both sides
    a = types.SimpleNamespace(word_scores=np.array([3.0, 2, 1, 9]), covered=np.array([1, 1, 1, 0], bool))
    b = types.SimpleNamespace(word_scores=np.array([3.0, 2, 1, 0]), covered=np.array([1, 1, 1, 1], bool))
    assert compare(a, b, 1) == {"spearman": pytest.approx(1.0), "top_k": 1.0, "words": 3}


def test_study_agreement_table_and_divergent_rows(tokenizer):
    """Known answers: a copy of the teacher agrees on labels and reasons (ρ 1); another model with the same strong
    bias agrees on every label for other reasons, so every divergent row is its, lowest ρ first."""
    from edgeport.explain.study import Loaded, Subject, run_study

    def biased(seed):
        model = BagOfEmbeddings(tokenizer.vocab_size)
        torch.manual_seed(seed)
        with torch.no_grad():
            model.emb.weight.normal_()
            model.head.bias.copy_(torch.tensor([0.0, 50.0]))  # always class 1
        return model

    teacher, other = biased(1), biased(2)
    flipped = biased(1)
    with torch.no_grad():
        flipped.head.bias.copy_(torch.tensor([50.0, 0.0]))  # always class 0
    texts = ["a gorgeous , witty , seductive movie .", "the plot is unwatchable but the acting is great .",
             "it 's a charming and often affecting journey .", "one of the greatest family-oriented films",
             "an ugly , pointless , stupid movie"]

    def subject(name, model, ig):
        return Subject(name, "torch", "fp32", lambda: Loaded(eager(model), tokenizer, 64, model if ig else None))

    subjects = [subject("teacher", teacher, True), subject("copy", teacher, False), subject("other", other, True),
                subject("flipped", flipped, False)]
    study = run_study(subjects, texts, None, [1, 0, 1, 1, 0], [0, 1, 2, 3, 4],
                      ["negative", "positive"], top_k_words=2, ig_steps=8, divergent=3, echo=lambda *_: None)
    table = {a["model"]: a for a in study["agreement"]}
    assert table["teacher"]["spearman_mean"] == pytest.approx(1.0)  # linear: IG and ablation agree exactly
    assert table["copy"]["spearman_mean"] == pytest.approx(1.0) and table["copy"]["spearman_std"] == pytest.approx(0)
    assert table["copy"]["top_k_mean"] == 1.0 and table["copy"]["label_agreement"] == 1.0
    assert "ig_spearman_mean" not in table["copy"]  # a black box: ablation only
    assert table["other"]["label_agreement"] == 1.0 and table["other"]["spearman_mean"] < 0.9
    assert table["other"]["ig_spearman_mean"] == pytest.approx(table["other"]["spearman_mean"], abs=1e-3)
    assert len(study["divergent"]) == 3 and {d["model"] for d in study["divergent"]} == {"other"}
    rho = [d["spearman"] for d in study["divergent"]]
    assert rho == sorted(rho) and rho[0] == min(r["compare"]["other"]["ablation"]["spearman"] for r in study["rows"])
    assert all(d["teacher_label"] == d["model_label"] == "positive" for d in study["divergent"])
    assert all(r["target"] == "positive" for r in study["rows"])
    # a model that flips every row is still asked about the teacher's class: its log-odds for it are negative
    assert table["flipped"]["label_agreement"] == 0.0
    assert all(r["models"]["flipped"]["label"] == "negative" and r["models"]["flipped"]["score"] < -40
               for r in study["rows"])


def test_explain_runs_between_validate_and_report():
    from edgeport.config import load_config
    from edgeport.pipeline import fingerprint as fp
    from edgeport.pipeline.runner import stage_inputs
    from edgeport.stages import STAGES
    from edgeport.stages.report import ReportStage

    cfg = load_config("default", ["explain.enabled=true"])
    names = [s.name for s in STAGES]
    assert names.index("validate") < names.index("explain") < names.index("report")
    explain = STAGES[names.index("explain")]
    # validate is an input, so the chain stays linear: the report (after explain) re-runs when validate does
    assert explain.inputs(cfg) == {"teacher": "teacher", "distill": "distill", "prune": "prune",
                                   "quantize": "quantize", "validate": "validate"}
    assert list(stage_inputs(ReportStage(), cfg))[-2:] == ["bench", "explain"]
    reads = fp.settings_parts(explain.configure(cfg))
    assert reads["config.explain.models"] == ["distill", "prune", "torchscript-int8", "onnx-int8", "tflite-int8",
                                             "executorch-int8"]
    assert reads["config.explain.seed"] == 42
    assert {"lib.captum", "lib.torch", "lib.ai-edge-litert", "data"} <= set(reads)
    assert "explain" not in stage_inputs(ReportStage(), load_config("default"))  # off by default


@pytest.fixture(scope="module")
def nonlinear_bert(tokenizer):
    """A random 2-layer BERT with large initial weights (initializer_range 0.3): its log-odds move by more than 1
    between input and baseline, along a curved path (a default-init random BERT is almost constant)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, initializer_range=0.3, num_labels=2)
    return BertForSequenceClassification(config).eval()


# ------------------------------------------------------------------------------------------ stage and CLI


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    """The shared tiny run (prune, ONNX + TFLite at 16 tokens, INT8, validate, report) copied, then explained."""
    from tinyrun import cli

    run = export_run(tmp_path_factory.getbasetemp())
    base = tmp_path_factory.mktemp("explain")
    runs = base / "runs"
    shutil.copytree(run["run_dir"].parent, runs)
    cfg = yaml.safe_load(run["config"].read_text())
    cfg["run"]["runs_dir"] = str(runs)
    path = base / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = cli("run", path, "-o", "explain.enabled=true", "-o", "explain.rows=8", "-o", "explain.ig_steps=8")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    again = cli("run", path, "-o", "explain.enabled=true", "-o", "explain.rows=8", "-o", "explain.ig_steps=8")
    return {"run_dir": runs / "tiny", "proc": proc, "again": again, "config": path}


def test_explain_stage_runs_after_validate_and_joins_the_report(explained):
    run_dir, proc = explained["run_dir"], explained["proc"]
    ran = [ln.split()[0] for ln in proc.stdout.split("\nrun:")[-1].splitlines() if " ran " in ln]
    assert ran == ["explain", "report"]  # nothing upstream re-ran
    results = json.loads((run_dir / "explain" / "results.json").read_text())
    assert len(results["rows"]) == 8 and results["reference"] == "teacher"
    rows = {a["model"]: a for a in results["agreement"] if a["method"] == "ablation"}
    assert list(rows) == ["distill", "prune", "onnx-int8", "tflite-int8"]
    for name, a in rows.items():
        assert a["rows"] == 8 and 0 <= a["label_agreement"] <= 1 and a["accuracy"] is not None
        assert a["spearman_mean"] is None or -1 <= a["spearman_mean"] <= 1
        assert ("ig_spearman_mean" in a) == (name in ("distill", "prune"))  # IG for torch models only
    teacher = results["agreement"][0]
    assert teacher["model"] == "teacher" and teacher["method"].startswith("ig vs ablation")
    row = results["rows"][0]
    assert set(row["models"]) == {"teacher", "distill", "prune", "onnx-int8", "tflite-int8"}
    for m in row["models"].values():
        assert len(m["ablation"]) == len(row["words"]) == len(m["covered"])
    # TFLite is static at 16 tokens (max_seq_len 32): long rows have words it never saw
    assert any(not all(r["models"]["tflite-int8"]["covered"]) for r in results["rows"]) or \
        all(all(r["models"]["teacher"]["covered"]) for r in results["rows"])
    page = (run_dir / "explain" / "explain.html").read_text()
    assert page.count("<section") >= 8 and "tflite-int8" in page and "rgba(" in page
    assert (run_dir / "explain" / "agreement.png").stat().st_size > 1000
    metrics = json.loads((run_dir / "manifest.json").read_text())["stages"]["explain"]["metrics"]
    assert metrics["files"] == ["explain/results.json", "explain/results.md", "explain/explain.html",
                                "explain/agreement.png"]
    assert all(d["model_label"] == d["teacher_label"] for d in metrics["divergent"])
    report = (run_dir / "report" / "report.md").read_text()
    assert "## Attributions" in report and "(../explain/explain.html)" in report
    assert "(../explain/agreement.png)" in report and "| tflite-int8 | ablation | 8 |" in report
    again = explained["again"]
    assert again.returncode == 0 and " ran " not in again.stdout.split("\nrun:")[-1]


def test_explain_cli_on_an_artifact_and_a_model_dir(explained, tmp_path, capsys):
    run_dir = explained["run_dir"]
    html = tmp_path / "one.html"
    assert main(["explain", str(run_dir / "quantize" / "onnx-int8"), "a <b>great</b> film", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "word ablation" in out and "prediction:" in out and "<b>great</b>" in out
    page = html.read_text()
    assert "&lt;b&gt;great&lt;/b&gt;" in page and "<b>great</b>" not in page  # escaped
    assert main(["explain", str(run_dir / "prune"), "a great film", "--method", "both", "--target", "negative"]) == 0
    out = capsys.readouterr().out
    assert "integrated gradients: 32 steps" in out and "explaining: negative" in out


@pytest.mark.parametrize("args, message", [
    (["no/such/dir", "text"], "no such model or artifact"),
    (["{onnx}", "text", "--method", "ig"], "has no gradients"),
    (["{onnx}", "text", "--target", "neutral"], "not a class of this model"),
    (["{onnx}", "   "], "the text is empty"),
])
def test_explain_cli_bad_input_exits_2(explained, capsys, args, message):
    onnx = str(explained["run_dir"] / "quantize" / "onnx-int8")
    assert main(["explain", *[a.replace("{onnx}", onnx) for a in args]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_explain_model_is_a_config_error():
    from edgeport.config import load_config
    from edgeport.errors import ConfigError

    with pytest.raises(ConfigError, match="explain.models: unknown model 'student'"):
        load_config("default", ["explain.enabled=true", "explain.models=[student]"])
    with pytest.raises(ConfigError, match="'tflite-int8' is not made by this config"):
        load_config("default", ["explain.enabled=true", "explain.models=[tflite-int8]", "quantize.enabled=false"])
