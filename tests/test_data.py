import json
from pathlib import Path

import pytest

from edgeport.config import DataConfig
from edgeport.data import encode, load_task
from edgeport.errors import DataError


def make(tmp_path: Path, train: str, validation: str, ext="tsv", dev: bool = True) -> Path:
    """A dataset dir; ``dev`` also writes the validation rows as ``dev.<ext>``, used as the selection split
    (these files are too small to carve one from train)."""
    d = tmp_path / "ds"
    d.mkdir(exist_ok=True)
    (d / f"train.{ext}").write_text(train, encoding="utf-8")
    (d / f"validation.{ext}").write_text(validation, encoding="utf-8")
    if dev:
        (d / f"dev.{ext}").write_text(validation, encoding="utf-8")
    return d


def cfg(d: Path, **kw) -> DataConfig:
    if any(d.glob("dev.*")):
        kw.setdefault("selection_split", "dev")
    return DataConfig(local=str(d), **kw)


def test_tsv_no_quoting_and_labels(tmp_path):
    d = make(tmp_path, 'sentence\tlabel\nsays "hi\t1\nbad\t0\n', "sentence\tlabel\nok\t1\n")
    task = load_task(cfg(d, label_names=["neg", "pos"]))
    assert sorted(task.train.texts) == ['bad', 'says "hi']
    assert task.label_names == ["neg", "pos"]
    assert task.eval.labels == [1]


def test_sentence_pairs_multiclass_string_labels_csv(tmp_path):
    rows = "premise,hypothesis,label\n\"a, b\",c,entailment\nd,e,neutral\nf,g,contradiction\n"
    train = "premise,hypothesis,label\nd,x,entailment\nd,y,neutral\nf,z,contradiction\n"
    d = make(tmp_path, train, rows, ext="csv")
    task = load_task(cfg(d, text_column="premise", text_pair_column="hypothesis"))
    assert task.label_names == ["contradiction", "entailment", "neutral"]
    assert task.num_labels == 3
    assert task.eval.texts[0] == "a, b" and task.eval.pairs[0] == "c"


def test_jsonl_and_encode_pairs(tmp_path):
    from tests.conftest import minilm_dir
    from transformers import AutoTokenizer

    lines = [json.dumps({"q": "is it good", "a": f"yes it is {i}", "y": i % 2}) for i in range(4)]
    d = make(tmp_path, "\n".join(lines[:2]), "\n".join(lines[2:]), ext="jsonl")
    task = load_task(cfg(d, text_column="q", text_pair_column="a", label_column="y"))
    rows = encode(task.eval, AutoTokenizer.from_pretrained(str(minilm_dir())), max_len=16)
    assert set(rows[0]["token_type_ids"]) == {0, 1}
    assert task.label_names == ["0", "1"]


def test_train_shuffle_is_seeded_and_head_limits(tmp_path):
    body = "sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(50))
    d = make(tmp_path, body, body, dev=False)
    a, b = load_task(cfg(d), seed=1), load_task(cfg(d), seed=1)
    assert a.train.texts == b.train.texts
    assert a.train.texts != load_task(cfg(d), seed=2).train.texts
    assert a.train.head(10).texts == a.train.texts[:10]
    assert len(load_task(cfg(d, eval_limit=7)).eval) == 7


@pytest.mark.parametrize("train, message", [
    ("sentence\tlabel\n\t1\nb\t0\n", r"train.tsv:2: empty text in column 'sentence'"),
    ("sentence\tlabel\na\t7\nb\t0\n", r"train.tsv:2: label '7' is not one of the labels"),
    ("text\tlabel\na\t1\nb\t0\n", r"missing column\(s\) 'sentence'.*Set data.text_column"),
    ("sentence\tlabel\na\t1\t3\nb\t0\n", r"train.tsv:2: 3 fields but the header has 2"),
    ("sentence\tlabel\na\t1\nb\t1\n", r"every training row has the same label"),
    ("sentence\tlabel\n", r"split 'train' has no rows"),
    ("", r"train.tsv: the file is empty"),
])
def test_bad_rows_name_file_line_and_fix(tmp_path, train, message):
    d = make(tmp_path, train, "sentence\tlabel\nok\t1\n")
    with pytest.raises(DataError, match=message):
        load_task(cfg(d, label_names=["neg", "pos"]))


def test_undecodable_bytes_name_the_line(tmp_path):
    d = make(tmp_path, "x", "sentence\tlabel\nok\t1\n")
    (d / "train.tsv").write_bytes(b"sentence\tlabel\nfine\t1\nbad \xff\xfe\t0\n")
    with pytest.raises(DataError, match=r"train.tsv:3: bytes that are not UTF-8.*re-save the file as UTF-8"):
        load_task(cfg(d, label_names=["neg", "pos"]))


def test_missing_dir_names_env_var(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEPORT_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="EDGEPORT_DATA_DIR"):
        load_task(DataConfig(local="nope-not-here", hub_id=None))


def test_data_dir_env_var_resolves_names(tmp_path, monkeypatch):
    make(tmp_path, "sentence\tlabel\na\t1\nb\t0\n", "sentence\tlabel\nok\t1\n")
    monkeypatch.setenv("EDGEPORT_DATA_DIR", str(tmp_path))
    assert len(load_task(DataConfig(local="ds", selection_split="dev")).train) == 2


def test_missing_split_file(tmp_path):
    d = make(tmp_path, "sentence\tlabel\na\t1\nb\t0\n", "sentence\tlabel\nok\t1\n")
    with pytest.raises(DataError, match="no file for split 'test'"):
        load_task(cfg(d, eval_split="test"))


# ------------------------------------------------------------------------------ the selection split


def _sst2_like(tmp_path, n=1000, positive_share=0.7) -> Path:
    rows = "".join(f"sentence number {i}\t{int(i % 100 < positive_share * 100)}\n" for i in range(n))
    return make(tmp_path, "sentence\tlabel\n" + rows, "sentence\tlabel\nheld out\t1\n", dev=False)


def test_selection_split_is_stratified_seeded_and_disjoint(tmp_path):
    d = _sst2_like(tmp_path)
    task = load_task(cfg(d, selection_fraction=0.1, selection_min_rows=10), seed=3)
    assert len(task.select) == 100 and len(task.train) == 900
    assert abs(sum(task.select.labels) / len(task.select) - 0.7) < 0.02  # stratified: same label shares
    assert not set(task.select.texts) & set(task.train.texts)
    assert not set(task.select.texts) & set(task.eval.texts)
    again = load_task(cfg(d, selection_fraction=0.1, selection_min_rows=10), seed=3)
    assert again.select.texts == task.select.texts
    other = load_task(cfg(d, selection_fraction=0.1, selection_min_rows=10), seed=4)
    assert other.select.texts != task.select.texts


def test_selection_split_size_bounds(tmp_path):
    d = _sst2_like(tmp_path, n=1000)
    assert len(load_task(cfg(d)).select) == 200  # 5% = 50 rows, raised to selection_min_rows
    assert len(load_task(cfg(d, selection_min_rows=10, selection_max_rows=120, selection_fraction=0.2)).select) == 120
    assert len(load_task(cfg(d, selection_min_rows=1, selection_fraction=0.01)).select) == 10


def test_selection_file_drops_duplicated_training_rows(tmp_path):
    d = make(tmp_path, "sentence\tlabel\na\t1\nb\t0\nc\t0\nd\t1\n", "sentence\tlabel\nok\t1\n", dev=False)
    (d / "dev.tsv").write_text("sentence\tlabel\nc\t0\n")
    task = load_task(cfg(d, selection_split="dev"))
    assert task.select.texts == ["c"] and sorted(task.train.texts) == ["a", "b", "d"]


def test_too_few_rows_for_a_selection_split(tmp_path):
    d = make(tmp_path, "sentence\tlabel\na\t1\nb\t0\n", "sentence\tlabel\nok\t1\n", dev=False)
    with pytest.raises(DataError, match="too few to hold out a selection split"):
        load_task(cfg(d))


def _treebank_like(tmp_path) -> Path:
    """SST-2's shape: every sentence comes with its phrases as rows of their own (and a shared one, "good")."""
    rows = []
    for i in range(300):
        words = f"film {i} is good and the cast {i} is {'great' if i % 3 else 'awful'}".split()
        label = int(i % 3 != 0)
        rows += [(" ".join(words), label), (" ".join(words[:4]), label), (" ".join(words[5:]), label)]
    rows.append(("good", 1))
    body = "".join(f"{t}\t{y}\n" for t, y in rows)
    return make(tmp_path, "sentence\tlabel\n" + body, "sentence\tlabel\nheld out\t1\n", dev=False)


def test_phrase_grouping_holds_out_whole_sentences_and_drops_their_phrases(tmp_path):
    d = _treebank_like(tmp_path)
    by_rows = load_task(cfg(d, selection_min_rows=50, selection_grouping="rows"), seed=1)
    spans = lambda texts: {" ".join(t.split()[i:j]) for t in texts  # noqa: E731
                           for i in range(len(t.split())) for j in range(i + 1, len(t.split()) + 1)}
    # The leak this option exists for: rows held out at random are phrases of sentences still in training.
    assert set(by_rows.select.texts) & spans(by_rows.train.texts)

    task = load_task(cfg(d, selection_min_rows=50, selection_grouping="phrases"), seed=1)
    assert len(task.select) == 50  # selection_min_rows, counted in whole sentences
    assert all(len(t.split()) == 10 for t in task.select.texts)  # whole sentences only
    assert not set(task.train.texts) & spans(task.select.texts)  # none of their phrases (nor "good") trains
    assert len(task.train) == 901 - 50 * 3 - 1
    assert load_task(cfg(d, selection_min_rows=50, selection_grouping="phrases"), seed=1).select.texts == \
        task.select.texts


def test_phrase_grouping_rejects_sentence_pairs(tmp_path):
    with pytest.raises(ValueError, match="single-text tasks"):
        DataConfig(local=str(tmp_path), text_pair_column="b", selection_grouping="phrases")
