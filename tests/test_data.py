import json
from pathlib import Path

import pytest

from edgeport.config import DataConfig
from edgeport.data import encode, load_task
from edgeport.errors import DataError


def make(tmp_path: Path, train: str, validation: str, ext="tsv") -> Path:
    d = tmp_path / "ds"
    d.mkdir(exist_ok=True)
    (d / f"train.{ext}").write_text(train, encoding="utf-8")
    (d / f"validation.{ext}").write_text(validation, encoding="utf-8")
    return d


def cfg(d: Path, **kw) -> DataConfig:
    return DataConfig(local=str(d), **kw)


def test_tsv_no_quoting_and_labels(tmp_path):
    d = make(tmp_path, 'sentence\tlabel\nsays "hi\t1\nbad\t0\n', "sentence\tlabel\nok\t1\n")
    task = load_task(cfg(d, label_names=["neg", "pos"]))
    assert sorted(task.train.texts) == ['bad', 'says "hi']
    assert task.label_names == ["neg", "pos"]
    assert task.eval.labels == [1]


def test_sentence_pairs_multiclass_string_labels_csv(tmp_path):
    rows = "premise,hypothesis,label\n\"a, b\",c,entailment\nd,e,neutral\nf,g,contradiction\n"
    d = make(tmp_path, rows, rows, ext="csv")
    task = load_task(cfg(d, text_column="premise", text_pair_column="hypothesis"))
    assert task.label_names == ["contradiction", "entailment", "neutral"]
    assert task.num_labels == 3
    assert task.eval.texts[0] == "a, b" and task.eval.pairs[0] == "c"


def test_jsonl_and_encode_pairs(tmp_path):
    from tests.conftest import minilm_dir
    from transformers import AutoTokenizer

    lines = [json.dumps({"q": "is it good", "a": "yes it is", "y": i % 2}) for i in range(4)]
    d = make(tmp_path, "\n".join(lines), "\n".join(lines), ext="jsonl")
    task = load_task(cfg(d, text_column="q", text_pair_column="a", label_column="y"))
    rows = encode(task.eval, AutoTokenizer.from_pretrained(str(minilm_dir())), max_len=16)
    assert set(rows[0]["token_type_ids"]) == {0, 1}
    assert task.label_names == ["0", "1"]


def test_train_shuffle_is_seeded_and_head_limits(tmp_path):
    body = "sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(50))
    d = make(tmp_path, body, body)
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
    assert len(load_task(DataConfig(local="ds")).train) == 2


def test_missing_split_file(tmp_path):
    d = make(tmp_path, "sentence\tlabel\na\t1\nb\t0\n", "sentence\tlabel\nok\t1\n")
    with pytest.raises(DataError, match="no file for split 'test'"):
        load_task(cfg(d, eval_split="test"))
