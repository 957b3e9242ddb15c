"""The token-classification task (named entities): config refusals, tagged data in the pipeline's Task, the
per-token plumbing validate and bench share (real tokens of each row, word rows, entity counts and their paired
test), and a tiny run through every stage it supports (teacher -> distill -> export -> quantize -> validate ->
bench -> report) on a CoNLL-2003 slice from ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO, SHARED_DATA, make_tiny_bert, minilm_dir, run_cli
from test_embedding import check_cards, check_pruned

CONLL = SHARED_DATA / "conll2003"


def conll_slice(out: Path, train: int = 300, validation: int = 80) -> Path:
    if not CONLL.is_dir():
        pytest.fail(f"CoNLL-2003 not found at {CONLL}; set EDGEPORT_DATA_DIR to the folder that holds conll2003/")
    out.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("validation", validation)):
        lines = (CONLL / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:n]
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def ner_data(local, **extra) -> dict:
    return {"task": "token-classification", "local": str(local), "text_column": "tokens",
            "label_column": "ner_tags", "max_seq_len": 32, "selection_min_rows": 40} | extra


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


# ------------------------------------------------------------------------------------------------ config


def test_shipped_config_is_a_token_task():
    from edgeport.config import load_config

    cfg = load_config(REPO / "edgeport" / "configs" / "ner.yaml")
    assert cfg.data.task == "token-classification" and cfg.data.metric == "entity_f1"
    assert cfg.distill.student.layers == [0, 2, 4] and cfg.prune.enabled and not cfg.prune.vocab


@pytest.mark.parametrize("section,values,key", [
    ("explain", {"enabled": True}, "explain.enabled"),
    ("quantize", {"qat": {"enabled": True}}, "quantize.qat.enabled"),
    ("quantize", {"fallback": {"enabled": True}}, "quantize.fallback.enabled"),
    ("distill", {"hidden_loss_weight": 1.0}, "distill.hidden_loss_weight"),
    ("distill", {"extra_texts": "more.txt"}, "distill.extra_texts"),
    ("distill", {"student": {"model": "some/student"}}, "distill.student.model"),
    ("validate", {"arm_parity": "on"}, "validate.arm_parity"),
])
def test_what_the_task_does_not_do_is_refused_at_config_load(tmp_path, section, values, key):
    from edgeport.config import ConfigError, load_config

    raw = {"data": ner_data(tmp_path), section: values}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "c.yaml")
    assert key in str(err.value) and "token-classification" in str(err.value)


@pytest.mark.parametrize("data,words", [
    ({"hub_id": "conll2003"}, "data.hub_id"),
    ({"metric": "accuracy"}, "entity_f1"),
    ({"text_pair_column": "other"}, "text_pair_column"),
])
def test_data_settings_the_task_cannot_read_are_refused(tmp_path, data, words):
    from edgeport.config import ConfigError, load_config

    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": ner_data(tmp_path, **data)}))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "c.yaml")
    assert words in str(err.value)


# ------------------------------------------------------------------------------------------------ data


def test_tagged_rows_become_a_task_with_iob2_tag_ids(tmp_path):
    """Words joined by single spaces are the texts; labels are tag ids in ner.tag_names order; the selection split
    keeps the training split's share of sentences without entities (stratified on that)."""
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task

    task = load_task(DataConfig(**ner_data(conll_slice(tmp_path / "d", 400, 30))), seed=0)
    assert task.label_names == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    for split in (task.train, task.select, task.eval):
        assert len(split.words) == len(split.texts) == len(split.labels)
        assert all(t == " ".join(w) and len(w) == len(ids) for t, w, ids in zip(split.texts, split.words,
                                                                                 split.labels))
    share = lambda s: np.mean([any(ids) for ids in s.labels])  # noqa: E731
    assert abs(share(task.select) - share(task.train)) < 0.1
    assert not set(task.select.texts) & set(task.train.texts)


def test_the_selection_split_keeps_the_share_of_sentences_with_entities(tmp_path):
    """Stratified by "has an entity": 50 of 1,000 sentences do, so a 200-sentence selection split holds exactly 10
    (a plain random draw lands elsewhere most of the time)."""
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task

    rows = [{"tokens": ["Rome" if i % 20 == 0 else "rome", f"w{i}"], "ner_tags": ["B-LOC" if i % 20 == 0 else "O",
                                                                                  "O"]} for i in range(1000)]
    write_jsonl(tmp_path / "d" / "train.jsonl", rows)
    write_jsonl(tmp_path / "d" / "validation.jsonl", rows[:5])
    for seed in range(3):
        task = load_task(DataConfig(**ner_data(tmp_path / "d", selection_min_rows=200)), seed=seed)
        assert len(task.select) == 200 and sum(any(ids) for ids in task.select.labels) == 10


def test_iob1_tags_are_converted_with_the_training_splits_scheme(tmp_path):
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task

    rows = [{"tokens": ["Anna", "met", "Bob", str(i)], "ner_tags": ["I-PER", "O", "I-PER", "O"]} for i in range(60)]
    rows += [{"tokens": ["in", "Rome", str(i)], "ner_tags": ["O", "I-LOC", "O"]} for i in range(60)]
    write_jsonl(tmp_path / "d" / "train.jsonl", rows)
    write_jsonl(tmp_path / "d" / "validation.jsonl", rows[:5])
    task = load_task(DataConfig(**ner_data(tmp_path / "d", selection_min_rows=10)), seed=0)
    names = task.label_names
    assert [names[i] for i in task.eval.labels[0]] == ["B-PER", "O", "B-PER", "O"]


def test_a_tag_the_training_split_lacks_is_a_data_error(tmp_path):
    from edgeport.config.data import DataConfig
    from edgeport.data import load_task
    from edgeport.errors import DataError

    rows = [{"tokens": ["Anna", str(i)], "ner_tags": ["B-PER", "O"]} for i in range(60)]
    write_jsonl(tmp_path / "d" / "train.jsonl", rows)
    write_jsonl(tmp_path / "d" / "validation.jsonl", [{"tokens": ["Rome"], "ner_tags": ["B-LOC"]}])
    with pytest.raises(DataError, match="B-LOC"):
        load_task(DataConfig(**ner_data(tmp_path / "d", selection_min_rows=10)), seed=0)


def test_training_rows_label_first_subtokens_and_count_dropped_words():
    """The rows the recipes train on: first sub-token labelled, -100 elsewhere; truncation counted, never silent."""
    from transformers import AutoTokenizer

    from edgeport.data import Split
    from edgeport.tasks.tokens import encode_tagged

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    words = ["Zyxwvuts", "visited", "Paris"] + ["again"] * 20
    split = Split("s", "s", [" ".join(words)], None, [[7, 0, 1] + [0] * 20], [words])
    rows, dropped = encode_tagged(split, tok, 12)
    labels = rows[0]["labels"]
    assert labels[0] == -100 and labels[1] == 7 and labels[2] == -100  # "Zyxwvuts" is several sub-tokens
    kept = {w for w in rows[0]["word_ids"] if w is not None}
    assert len(rows[0]["input_ids"]) == 12 and dropped == len(words) - len(kept) > 0


def test_the_useful_gate_fails_a_tagger_that_finds_no_entity():
    from edgeport.tasks.tokens import useful_gate

    metrics = {"select_counts": [0, 12, 40], "select_entity_f1": 0.0, "select_rows": 30}
    evidence, failure = useful_gate(metrics, "teacher")
    assert failure and "entity F1 0" in failure and evidence["gold_entities"] == 40
    assert useful_gate(metrics | {"select_counts": [1, 12, 40]}, "teacher")[1] is None


# ------------------------------------------------------------------------------------------------ tokenizers

# One tokenizer per family the architectures ship (tests/family.py), trained here on CoNLL words: WordPiece (BERT),
# byte-level BPE as RoBERTa ships it (no prefix space), Unigram with a Metaspace pre-tokenizer (XLM-R's class with
# its SentencePiece normaliser, DeBERTa-v2's). The flag: it needs the prefix space added as it ships.
FAMILIES = [("wordpiece", "bert", False), ("bpe", "roberta", True), ("unigram", "xlm-roberta", False),
            ("unigram", "deberta-v2", False)]


def conll_sentences(split: str, n: int):
    from edgeport.data import Split
    from edgeport.tasks import ner

    words, _ = ner.read_tagged(conll_slice_file(split))
    words = words[:n]
    return Split(split, split, [" ".join(w) for w in words], None, [[0] * len(w) for w in words], words)


def conll_slice_file(split: str) -> Path:
    path = CONLL / f"{split}.jsonl"
    if not path.is_file():
        pytest.fail(f"CoNLL-2003 not found at {path}; set EDGEPORT_DATA_DIR to the folder that holds conll2003/")
    return path


@pytest.fixture(scope="module", params=FAMILIES, ids=[arch for _, arch, _ in FAMILIES])
def family_tokenizer(request, tmp_path_factory):
    """(arch, the directory of its tokenizer as a model directory holds it, whether it needs the prefix space)."""
    from family import train_tokenizer

    family, arch, needs_prefix_space = request.param
    texts = [" ".join(s) for s in conll_sentences("train", 3000).words]
    path = tmp_path_factory.mktemp(arch)
    train_tokenizer(family, arch, texts=texts, vocab_size=800).save_pretrained(path)
    return arch, path, needs_prefix_space


def test_every_familys_tokenizer_encodes_the_text_as_the_words(family_tokenizer, tmp_path):
    """The tokenizer the task ships (``task_tokenizer``, saved with the teacher and beside every artifact),
    reloaded as an artifact loads it, gives each CoNLL sentence's text the tokens the words were trained on, and
    reads every word at the sub-token its label sat on."""
    from transformers import AutoTokenizer

    from edgeport.tasks import ner
    from edgeport.tasks.tokens import check_same_tokens, task_tokenizer, word_rows

    arch, path, needs_prefix_space = family_tokenizer
    split = conll_sentences("validation", 300)
    assert ner.needs_prefix_space(AutoTokenizer.from_pretrained(str(path))) == needs_prefix_space
    tokenizer = task_tokenizer(path)
    assert not ner.needs_prefix_space(tokenizer)
    check_same_tokens(tokenizer, split, 64)
    tokenizer.save_pretrained(tmp_path / "shipped")
    shipped = AutoTokenizer.from_pretrained(str(tmp_path / "shipped"))  # as runtimes.text.artifact_tokenizer does
    spans, dropped = [ner.word_spans(w) for w in split.words], 0
    for words, (ids, word_ids) in zip(split.words, ner.text_word_ids(shipped, split.texts, spans, 64)):
        trained = ner.align(tokenizer, words, None, 64)
        assert ids == trained["input_ids"], (arch, words)
        assert word_ids == trained["word_ids"], (arch, words)
        dropped += trained["dropped_words"]
    rows = word_rows(shipped, split, 64, ["O"])  # what validate reads an artifact's outputs with
    assert rows.dropped_words == dropped and len(rows.first) == sum(len(w) for w in split.words) - dropped


def never_prepending_teacher(out: Path) -> Path:
    """A tiny DeBERTa-v2 whose SentencePiece tokenizer never prepends "▁": the text's words after the first get
    "▁", the same words fed one by one get none, so no tag could be read where it was learnt."""
    from tokenizers import pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from family import make_tiny, train_tokenizer

    texts = [" ".join(s) for s in conll_sentences("train", 2000).words]
    backend = train_tokenizer("unigram", "deberta-v2", texts=texts, vocab_size=600).backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="never")
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", cls_token="[CLS]",
                                  sep_token="[SEP]", unk_token="[UNK]", mask_token="[MASK]")
    return make_tiny("deberta-v2", out, tokenizer=tok)


def test_a_tokenizer_that_encodes_the_text_otherwise_is_refused_at_preflight(tmp_path):
    """Refused before any stage runs (exit 2, the run directory untouched), naming the tokens and the fix."""
    teacher = never_prepending_teacher(tmp_path / "teacher")
    cfg = {"run": {"name": "never", "runs_dir": str(tmp_path / "runs"), "seed": 0},
           "data": ner_data(conll_slice(tmp_path / "data", 200, 40)), "teacher": {"model": str(teacher)},
           "prune": {"enabled": False}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", tmp_path / "c.yaml", "--until", "teacher", timeout=300)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "differently from their text" in proc.stderr and "prepend_scheme" in proc.stderr
    assert "Traceback" not in proc.stderr
    manifest = tmp_path / "runs" / "never" / "manifest.json"
    assert not manifest.is_file() or not json.loads(manifest.read_text()).get("stages")
    assert not (tmp_path / "runs" / "never" / "teacher").exists()


# ------------------------------------------------------------------------------------------------ per-token plumbing


def test_run_rows_keeps_each_rows_real_tokens_of_a_bucketed_output():
    """A TFLite bucket pads a row to its length: run_rows trims a per-token output back to the row's tokens (and
    leaves a classifier's [1, labels] alone)."""
    from edgeport.bench.workload import run_rows

    def runner(input_ids, attention_mask, token_type_ids=None):
        out = np.zeros((1, 16, 3), dtype=np.float32)  # the bucket's length, whatever the row's
        out[0, :input_ids.shape[1]] = 1
        return out

    feeds = [{"input_ids": np.ones((1, n), dtype=np.int64), "attention_mask": np.ones((1, n), dtype=np.int64)}
             for n in (5, 9)]
    out = run_rows(runner, feeds)
    assert out.shape == (14, 3) and (out == 1).all()
    classifier = run_rows(lambda **f: np.ones((1, 2), dtype=np.float32), feeds)
    assert classifier.shape == (2, 2)


def test_word_rows_read_each_words_first_subtoken_from_the_flattened_outputs():
    from transformers import AutoTokenizer

    from edgeport.data import Split
    from edgeport.tasks.tokens import word_rows

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    names = ["O", "B-PER", "I-PER"]
    words = [["Zyxwvuts", "Qwerty", "spoke"], ["Hello"]]
    split = Split("s", "s", [" ".join(w) for w in words], None, [[1, 2, 0], [0]], words)
    rows = word_rows(tok, split, 32, names)
    assert rows.num_words == (3, 1) and rows.dropped_words == 0 and len(rows.first) == 4
    logits = np.zeros((rows.tokens, 3))
    logits[:, 0] = 1
    logits[rows.first[0], 1] = 5  # B-PER on the first word's first sub-token
    logits[rows.first[0] + 1, 2] = 9  # a later sub-token of that word: never read
    logits[rows.first[1], 2] = 5  # I-PER on the second word
    assert rows.tags(logits) == [["B-PER", "I-PER", "O"], ["O"]]
    assert rows.f1(logits) == 1.0


def test_word_rows_count_the_words_truncation_dropped():
    """Words past the truncation length have no token: tagged O and counted, never silently lost."""
    from transformers import AutoTokenizer

    from edgeport.data import Split
    from edgeport.tasks.tokens import word_rows

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    words = ["Rome"] + ["again"] * 20
    split = Split("s", "s", [" ".join(words)], None, [[1] + [0] * 20], words=[words])
    rows = word_rows(tok, split, 8, ["O", "B-LOC", "I-LOC"])
    assert rows.tokens == 8 and rows.dropped_words == len(words) - 6  # [CLS] + 6 words + [SEP]
    assert rows.tags(np.zeros((8, 3))) == [["O"] * len(words)]


def test_entity_counts_give_seqevals_strict_micro_f1():
    from edgeport.stats import _micro_f1
    from edgeport.tasks.ner import entity_scores
    from edgeport.tasks.tokens import entity_counts

    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"], ["O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "O"], ["B-LOC"]]  # 1 right; a stray I- starts nothing
    counts = entity_counts(gold, pred)
    assert counts.sum(0).tolist() == [1, 3, 3]
    assert abs(float(_micro_f1(counts.sum(0))) - entity_scores(gold, pred)["f1"]) < 1e-12


def test_entity_f1_drop_fails_a_clear_loss_and_passes_equal_systems():
    from edgeport.stats import entity_f1_drop

    rng = np.random.default_rng(0)
    gold = rng.integers(1, 4, size=300)
    ref = np.stack([gold, gold, gold], 1)  # perfect
    worse = np.stack([gold // 2, gold, gold], 1)  # finds about half the entities
    drop = entity_f1_drop(ref, worse, seed=0, resamples=500)
    assert drop["drop_points"] > 20 and drop["p_worse"] < 0.01 and drop["ci95_points"][0] > 0
    same = entity_f1_drop(ref, ref, seed=0, resamples=500)
    assert same["drop_points"] == 0 and same["p_worse"] == 1.0


def test_entity_f1_drop_p_matches_the_exact_permutation_test():
    """On 8 sentences every one of the 256 swaps can be enumerated: the sampled p must match that exact p."""
    import itertools

    from edgeport.stats import _micro_f1, entity_f1_drop

    a = np.array([[2, 2, 3], [1, 1, 1], [0, 1, 1], [3, 3, 3], [1, 2, 2], [2, 2, 2], [0, 0, 1], [1, 1, 2]])
    b = np.array([[1, 3, 3], [1, 2, 1], [0, 0, 1], [2, 2, 3], [2, 3, 2], [1, 1, 2], [1, 1, 1], [1, 3, 2]])
    stat = lambda x, y: float(_micro_f1(x.sum(0)) - _micro_f1(y.sum(0)))  # noqa: E731
    observed, hits = stat(a, b), 0
    for swap in itertools.product([0, 1], repeat=len(a)):
        s = np.array(swap)[:, None]
        hits += stat(np.where(s, b, a), np.where(s, a, b)) >= observed - 1e-12
    got = entity_f1_drop(a, b, seed=0, resamples=20000)
    assert abs(got["p_worse"] - hits / 256) < 0.015


def test_predict_answers_entities_with_character_spans_from_a_bucketed_output():
    """``edgeport predict``'s answer for a token classifier: words split as running text, each tagged at its first
    sub-token (padding of a TFLite bucket ignored), strict IOB2 entities with spans in the text."""
    from transformers import AutoTokenizer

    from edgeport.runtimes.text import ANSWERS, answer_kind
    from edgeport.tasks import ner

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    names = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    text = "Peter Blackburn went to  Paris."
    words, spans = ner.text_words(tok, text)
    (ids, word_ids), = ner.text_word_ids(tok, [text], [spans], 32)
    want = {"Peter": "B-PER", "Blackburn": "I-PER", "Paris": "B-LOC"}
    out = np.zeros((1, 16, len(names)), dtype=np.float32)  # a bucket of 16: longer than the row
    out[0, :, 0] = 1
    for i, w in enumerate(word_ids):
        if w is not None and i == word_ids.index(w) and words[w] in want:
            out[0, i, names.index(want[words[w]])] = 5
    meta = {"task": "token-classification", "output": "logits", "label_names": names}
    assert answer_kind(meta) == "tags" and answer_kind({"output": "embedding"}) == "embedding"
    answer, = ANSWERS["tags"]([out], meta, {"texts": [text], "tokenizer": tok, "max_len": 32})
    assert [(e["type"], e["start"], e["end"], e["text"]) for e in answer["entities"]] == [
        ("PER", 0, 15, "Peter Blackburn"), ("LOC", 25, 30, "Paris")]
    assert answer["dropped_words"] == 0 and len(answer["tags"]) == len(words)


# ------------------------------------------------------------------------------------------------ end to end


def test_tiny_token_run_through_every_stage(tmp_path):
    """teacher (fine-tuned) -> distill -> export (onnx, tflite) -> INT8 -> validate -> bench -> report on 300
    CoNLL training sentences with a random hidden-32 BERT: the mechanics, not the quality (useful gates off);
    then ``edgeport predict`` lists entities with spans."""
    teacher = make_tiny_bert(tmp_path / "teacher")
    cfg = {"run": {"name": "ner", "runs_dir": str(tmp_path / "runs"), "seed": 0, "threads": 1},
           "data": ner_data(conll_slice(tmp_path / "data")),
           "teacher": {"model": str(teacher), "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16,
                                                         "useful_gate": False}},
           "distill": {"student": {"layers": [1]},
                       "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}},
           # half the heads and FFN neurons, the vocabulary to the training text's tokens, recovery on the task's loss
           "prune": {"enabled": True, "heads_fraction": 0.5, "ffn_fraction": 0.5, "vocab": True,
                     "vocab_max_drop": None, "latency_seconds": 0,
                     "train": {"epochs": 1, "lr": 1e-3, "batch_size": 16, "useful_gate": False}},
           "export": {"formats": ["onnx", "tflite"], "seq_buckets": [16, 32]},
           "bench": {"targets": ["host"], "min_seconds": 0.05, "runs": 3, "workload_rows": 20,
                     "workload_passes": 1, "memory": False}}
    (tmp_path / "ner.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_cli("run", tmp_path / "ner.yaml", timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = tmp_path / "runs" / "ner"
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    for stage in ("teacher", "distill"):
        m = stages[stage]["metrics"]
        assert m["select_metric"] == "entity_f1" and 0 <= m["eval_entity_f1"] <= 1
        assert "eval_dropped_words" in m and "select_dropped_words" in m and "per_type" not in m
    assert set(stages["teacher"]["metrics"]["eval_per_type"]) <= {"LOC", "MISC", "ORG", "PER"}
    check_pruned(run, stages["prune"]["metrics"], "entity_f1", "token-classification")
    results = json.loads((run / "validate" / "results.json").read_text())
    names = {a["name"] for a in results["artifacts"]}
    assert names == {"onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"}
    assert results["metric"] == "entity_f1" and "eval_entity_f1" in results["reference"]
    for art in results["artifacts"]:
        gates = {g["name"]: g for g in art["verdict"]["gates"]}
        assert {"max_abs_diff", "drop_vs_teacher"} <= set(gates) and "cosine_vs_fp32" not in gates
        assert ("fp32_parity" if art["precision"] == "fp32" else "agreement_vs_fp32") in gates
        assert "eval words" in gates.get("fp32_parity", gates.get("agreement_vs_fp32"))["message"]
        assert 0 <= art["entity_f1"] <= 1 and art["words"] > 0
        meta = json.loads((run / Path(art["path"]).parent / "artifact.json").read_text())
        assert meta["task"] == "token-classification" and meta["labels_on"] == "first_subtoken"
        assert meta["label_names"][0] == "O" and len(meta["label_names"]) == 9
    fp32 = next(a for a in results["artifacts"] if a["name"] == "onnx-fp32")
    assert fp32["verdict"]["state"] == "pass" and fp32["word_agreement"] == 1.0
    assert "entity F1" in (run / "validate" / "results.md").read_text()
    assert (run / "report" / "report.html").is_file()
    check_cards(run, "token-classification", "token classifier", tags_of_the_label_set)
    tflite = run / "quantize" / "tflite-int8"
    proc = run_cli("predict", tflite, "Peter Blackburn went to Paris")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip(), "predict printed nothing"


def tags_of_the_label_set(variables: dict, printed: str) -> None:
    """A card's snippet printed one CoNLL tag per sub-token of its sentence."""
    import ast

    tags = ast.literal_eval(printed.strip().splitlines()[-1])
    assert len(tags) > 3 and set(tags) <= {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC",
                                           "I-MISC"}, tags
