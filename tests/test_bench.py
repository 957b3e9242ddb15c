"""Latency: host measurement, the adb backend (commands + parser on recorded output), the estimate, the CLI,
peak memory in a fresh process. Artifacts are the ones a real pipeline run writes (tests/export_run.py)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tiny_bert
from export_run import EXPORT_SEQ, export_run

from edgeport.bench.adb import REMOTE_DIR, AdbBenchmark, DeviceError, parse_benchmark_output
from edgeport.bench.estimate import count_work, roofline
from edgeport.bench.host import measure_latency
from edgeport.cli import main
from edgeport.targets import get_target

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """runs/tiny of one real pipeline run (teacher -> ... -> report, head-pruned, ONNX + TFLite, fp32 + INT8)."""
    return export_run(tmp_path_factory.getbasetemp())["run_dir"]


def test_measure_latency_percentiles_and_minimum_runs():
    calls = []

    def runner(input_ids, attention_mask):
        calls.append(1)
        time.sleep(0.001)

    feed = {"input_ids": np.ones((1, 8), np.int32), "attention_mask": np.ones((1, 8), np.int32)}
    r = measure_latency(runner, feed, warmup=3, runs=20, min_seconds=0.05)
    assert r["kind"] == "host" and r["runs"] >= 20 and len(calls) == r["runs"] + 3
    assert 1.0 <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["mean_ms"] >= 1.0
    assert "peak_rss_mb" not in r  # this process's memory is not the artifact's: bench.memory measures that


def test_adb_commands():
    b = AdbBenchmark(Path("out/model.tflite"), Path("bin/android_aarch64_benchmark_model"), threads=4, seq_len=128,
                     serial="R58M123")
    cmds = b.commands()
    assert cmds[0] == ["adb", "-s", "R58M123", "shell", "mkdir", "-p", REMOTE_DIR]
    assert cmds[1][-2:] == ["bin/android_aarch64_benchmark_model", f"{REMOTE_DIR}/android_aarch64_benchmark_model"]
    assert cmds[2][-2:] == ["out/model.tflite", f"{REMOTE_DIR}/model.tflite"]
    run = cmds[-1]
    assert run[:5] == ["adb", "-s", "R58M123", "shell", f"{REMOTE_DIR}/android_aarch64_benchmark_model"]
    assert f"--graph={REMOTE_DIR}/model.tflite" in run and "--num_threads=4" in run and "--use_xnnpack=true" in run
    assert any(f.startswith("--input_layer_value_range=input_ids,0,") for f in run)
    assert AdbBenchmark(Path("m.tflite"), Path("b"), 1, 8).commands()[0][:2] == ["adb", "shell"]


def test_parse_recorded_benchmark_output():
    r = parse_benchmark_output((DATA / "benchmark_model_android.txt").read_text())
    # the timed run (second count= line), not the warm-up
    assert r["kind"] == "device" and r["runs"] == 497
    assert r["p50_ms"] == 3.978 and r["p95_ms"] == 4.301 and r["mean_ms"] == 4.021
    assert (r["p90_ms"], r["p90_from"]) == (4.301, "p95")  # the tool has no p90: p95 bounds it from above
    assert r["load_ms"] == 41.207 and r["peak_rss_mb"] == 31.25


def test_parse_old_benchmark_output_without_percentiles():
    r = parse_benchmark_output((DATA / "benchmark_model_old.txt").read_text())
    assert r["runs"] == 459 and r["mean_ms"] == 2.177 and "p50_ms" not in r
    assert (r["p90_ms"], r["p90_from"]) == (2.656, "max") and r["peak_rss_mb"] == 5.5
    with pytest.raises(DeviceError, match="no timing lines"):
        parse_benchmark_output("error: could not open graph\n")


def test_estimate_counts_bert_work(tiny_bert):
    work = count_work(tiny_bert, seq_len=16)
    # 2 layers: QKV+O 4*32*32, FFN 2*32*64 per token, attention 2*16*16*32, pooler 32*32 on [CLS] only
    per_layer = 16 * (4 * 32 * 32 + 2 * 32 * 64) + 2 * 16 * 16 * 32
    assert work["macs"] == 2 * per_layer + 32 * 32
    target = get_target("android-lowend")
    fp32, int8 = roofline(work, target, "fp32"), roofline(work, target, "int8")
    assert fp32["kind"] == int8["kind"] == "estimate" and int8["p90_ms"] <= fp32["p90_ms"]
    assert fp32["gops"] == pytest.approx(2 * work["macs"] / 1e9, rel=1e-3)
    assert fp32["p50_ms"] == pytest.approx(max(fp32["compute_ms"], fp32["memory_ms"]), abs=1e-3)
    assert "efficiency" in fp32 and "formula" in fp32


def test_bench_cli_host_and_estimate(run_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["bench", str(run_dir / "export" / "onnx-fp32"), "--target", "host", "--runs", "5", "--warmup", "1",
               "--min-seconds", "0", "--json", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "host" in text and "estimate" in text and "budget latency_p90_ms" in text
    assert "(in a fresh process; model +" in text and "warning" not in captured.err
    r = json.loads(out.read_text())
    assert r["host"]["kind"] == "host" and r["host"]["runs"] >= 5 and r["host"]["load_ms"] > 0
    assert r["host"]["memory_measured_in"] == "fresh process" and r["host"]["model_rss_mb"] > 0
    assert r["estimate"]["kind"] == "estimate"
    assert r["estimate"]["method"] == "counted from onnx-fp32/artifact.json (physical shapes of the exported model)"
    assert r["device"] is None and r["seq_len"] == EXPORT_SEQ  # the length the run exported for
    checks = {c["metric"]: c for c in r["budgets"]}
    assert checks["latency_p90_ms"]["kind"] == "host" and checks["latency_p90_ms"]["ok"]  # host profile = here
    assert checks["peak_memory_mb"] == checks["peak_memory_mb"] | {"kind": "host", "value": r["host"]["peak_rss_mb"]}


def test_device_profile_budget_uses_estimate_not_host(run_dir):
    from edgeport.bench import bench_artifact

    r = bench_artifact(run_dir / "export" / "tflite-fp32", get_target("android-flagship"), runs=3, warmup=0,
                       min_seconds=0)
    kinds = {c["metric"]: c["kind"] for c in r["budgets"]}
    assert kinds == {"model_size_mb": "file", "latency_p90_ms": "estimate", "peak_memory_mb": "estimate"}
    assert r["seq_len"] == EXPORT_SEQ and r["threads"] == 4  # TFLite's static length; the profile's threads


def _own_peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_peak_memory_is_measured_in_a_fresh_process(run_dir):
    """The figure is the artifact's, not this process's: a pytest process that has imported torch and
    transformers holds hundreds of MB; a fresh process running the tiny ONNX model needs ~75 MB (measured)."""
    import torch  # noqa: F401  (this process is big, as a pipeline process is)

    from edgeport.bench.memory import measure_peak_memory

    m = measure_peak_memory(run_dir / "export" / "onnx-fp32", threads=1, runs=2)
    own = _own_peak_rss_mb()
    print("fresh process", m, "this process ru_maxrss MB", own)
    assert m["memory_measured_in"] == "fresh process" and m["memory_seq_len"] == EXPORT_SEQ
    assert 20 < m["baseline_rss_mb"] < m["peak_rss_mb"] < 0.5 * own, (m, own)
    assert m["model_rss_mb"] == pytest.approx(m["peak_rss_mb"] - m["baseline_rss_mb"], abs=0.2)


def test_bench_cli_on_export_dirs_matches_the_report(run_dir, tmp_path, capsys):
    """`edgeport bench DIR --target X` on an artifact directory the pipeline wrote gives the estimate the run's
    report shows for the same (artifact, target), to the digit, and the same budget checks."""
    report = json.loads((run_dir / "report" / "report.json").read_text())
    rows = {(r["artifact"], r["target"]): r for r in report["latency"] if r["kind"] == "estimate" and r["input"] == "fixed"}
    real = {(r["artifact"], r["target"]): r for r in report["latency"] if r["kind"] == "estimate" and r["input"] == "workload"}
    checks = {(c["artifact"], c["target"], c["metric"]): c for c in report["budget_checks"]}
    compared = []
    for stage, name in (("export", "onnx-fp32"), ("export", "tflite-fp32"), ("quantize", "onnx-int8"),
                        ("quantize", "tflite-int8")):
        out = tmp_path / f"{name}.json"
        assert main(["bench", str(run_dir / stage / name), "--target", "android-lowend", "--no-host",
                     "--json", str(out)]) == 0
        assert "warning" not in capsys.readouterr().err
        bench = json.loads(out.read_text())
        row = rows[(name, "android-lowend")]
        for key in ("p50_ms", "p90_ms", "seq_len", "bound", "efficiency", "method"):
            assert bench["estimate"][key] == row[key], (name, key, bench["estimate"][key], row[key])
        for c in bench["budgets"]:
            recorded = {k: v for k, v in checks[(name, "android-lowend", c["metric"])].items()
                        if k not in ("artifact", "target", "format")}
            if c["metric"] == "latency_p90_ms":  # the run judged its workload; the CLI had one full-length row
                assert (c["input"], recorded["input"]) == ("fixed", "workload")
                assert recorded["value"] == round(real[(name, "android-lowend")]["p90_ms"], 3) <= c["value"]
                continue
            assert c == recorded, (name, c)
        compared.append((name, bench["estimate"]["p90_ms"], row["p90_ms"]))
    print("edgeport bench vs report (android-lowend p90 ms):", compared)


def test_exported_shapes_are_physical_after_head_pruning(run_dir):
    """The run pruned half the heads: artifact.json says 1 head per layer (the teacher had 2), the estimate counts
    that, and it equals the count from the prune stage's zero-padded directory once its kept heads are applied."""
    from edgeport.bench.estimate import artifact_shapes, dir_shapes

    facts = artifact_shapes(run_dir / "export" / "onnx-fp32")
    assert facts["heads_per_layer"] == [1] and facts["head_dim"] == 16
    padded = json.loads((run_dir / "prune" / "config.json").read_text())
    assert padded["num_attention_heads"] == 2 and len(padded["edgeport_kept_heads"][0]) == 1
    from_dir = dir_shapes(run_dir / "prune")
    assert from_dir["tensors"] == facts["tensors"]
    assert count_work(facts, 16)["macs"] == count_work(from_dir, 16)["macs"]


def _strip_shapes(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    meta = json.loads((dest / "artifact.json").read_text())
    del meta["model_shapes"]
    (dest / "artifact.json").write_text(json.dumps(meta))
    return dest


def test_bench_says_and_warns_when_it_cannot_count_shapes(run_dir, tmp_path, capsys):
    old = _strip_shapes(run_dir / "export" / "onnx-fp32", tmp_path / "old-onnx-fp32")
    out = tmp_path / "bench.json"
    assert main(["bench", str(old), "--target", "android-lowend", "--no-host", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "no model_shapes" in err and "coarse" in err
    assert json.loads(out.read_text())["estimate"]["method"].startswith("coarse")
    # --model-dir counts from a Hugging Face directory instead (the run's model stage), with no warning
    assert main(["bench", str(old), "--target", "android-lowend", "--no-host", "--json", str(out),
                 "--model-dir", str(run_dir / "prune")]) == 0
    assert "warning" not in capsys.readouterr().err
    assert "edgeport_kept_heads applied" in json.loads(out.read_text())["estimate"]["method"]


def _bert_shapes_and_macs(tmp_path, heads_kept: list[list[int]] | None, seq: int):
    """A tiny BERT (hidden 64, 2 layers, 4 heads of 16) exported to TorchScript the way the export stage writes
    artifacts (exporter + write_sidecar with the model as traced); returns (artifact dir, expected MACs)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from edgeport.exporters import EXPORTERS, make_sample, write_sidecar
    from edgeport.models import load_classifier
    from edgeport.pruning import prune_heads, save_pruned

    name = "pruned" if heads_kept else "full"
    src = make_tiny_bert(tmp_path / f"src-{name}", hidden=64, layers=2, heads=4, intermediate=64,
                         classifier_labels=["n", "p"])
    tok = AutoTokenizer.from_pretrained(str(src))
    if heads_kept:  # as the prune stage saves it: zero-padded, edgeport_kept_heads in config.json
        model = AutoModelForSequenceClassification.from_pretrained(str(src)).eval()
        prune_heads(model, heads_kept)
        save_pruned(model, tok, tmp_path / "pruned-model")
        src = tmp_path / "pruned-model"
    model = load_classifier(src).eval()  # what the export stage loads: heads sliced out again
    out = tmp_path / f"torchscript-{name}"
    out.mkdir()
    with torch.no_grad():
        path = EXPORTERS["torchscript"].export(model, make_sample(seq, vocab=tok.vocab_size), out)
    write_sidecar(out, fmt="torchscript", precision="fp32", model_file=path.name, label_names=["n", "p"],
                  seq_len=None, max_seq_len=seq, tokenizer=tok, model=model, export_seq_len=seq)
    d_attn = 16 * (len(heads_kept[0]) if heads_kept else 4)
    per_layer = seq * (3 * 64 * d_attn + d_attn * 64 + 2 * 64 * 64) + 2 * seq * seq * d_attn
    return out, src, 2 * per_layer + 64 * 64 + 64 * 2  # + pooler and classifier on [CLS]


def test_head_pruning_lowers_the_estimate(tmp_path):
    from edgeport.bench import bench_artifact

    seq, target = 16, get_target("android-lowend")
    full, _, full_macs = _bert_shapes_and_macs(tmp_path, None, seq)
    pruned, pruned_src, pruned_macs = _bert_shapes_and_macs(tmp_path, [[0, 3], [1, 2]], seq)
    a = bench_artifact(full, target, measure_host=False)["estimate"]
    b = bench_artifact(pruned, target, measure_host=False)["estimate"]
    print("estimate p90 ms: full", a["p90_ms"], "head-pruned", b["p90_ms"])
    assert "artifact.json" in a["method"] and "artifact.json" in b["method"]
    assert a["gops"] == pytest.approx(2 * full_macs / 1e9, rel=1e-3)
    assert b["gops"] == pytest.approx(2 * pruned_macs / 1e9, rel=1e-3) and b["gops"] < a["gops"]
    assert b["p90_ms"] < a["p90_ms"] and b["mbytes"] < a["mbytes"]
    # the zero-padded HF directory counts the same once its kept heads are applied
    assert count_work(pruned_src, seq)["macs"] == pruned_macs


def test_latency_feed_is_a_tokenizer_row(tmp_path):
    """[CLS] + word pieces + [SEP] with the artifact tokenizer's own ids, not BERT's 101/102."""
    from transformers import BertTokenizerFast

    from edgeport.bench.host import FEED_TEXT, tokenizer_feed

    words = sorted(set(FEED_TEXT.split()))
    tokens = ["[UNK]", "[PAD]", "[MASK]", *words, "[SEP]", "[CLS]"]
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(tokens)}, unk_token="[UNK]", pad_token="[PAD]",
                            mask_token="[MASK]", sep_token="[SEP]", cls_token="[CLS]")
    art = tmp_path / "art"
    tok.save_pretrained(art)
    (art / "model.onnx").write_bytes(b"x")  # the feed needs only the tokenizer beside the model file
    feed = tokenizer_feed(art, 12)
    ids = feed["input_ids"][0].tolist()
    assert len(ids) == 12 and ids[0] == tok.cls_token_id == len(words) + 4 and ids[-1] == tok.sep_token_id
    assert tok.convert_ids_to_tokens(ids[1:-1]) == FEED_TEXT.split()[:10]
    assert feed["attention_mask"].all() and not feed["token_type_ids"].any()


def test_latency_feed_stays_inside_the_vocabulary():
    from edgeport.bench.host import latency_feed

    for vocab in (150, 1200, 30522):
        feed = latency_feed(64, vocab)
        ids = feed["input_ids"]
        assert ids.shape == (1, 64) and ids.min() >= 0 and ids.max() < vocab
        assert feed["attention_mask"].all() and not feed["token_type_ids"].any()


def test_bench_cli_rejects_bad_numbers_and_model_dir(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "model.onnx"), "--runs", "0", "--threads", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--runs must be at least 1" in err and "--threads must be at least 1" in err
    assert main(["bench", str(tmp_path / "model.onnx"), "--model-dir", str(tmp_path)]) == 2
    assert "--model-dir" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ workload latency


def test_workload_estimate_is_the_per_length_roofline_weighted_by_the_rows():
    """Static formats compute each row at its smallest bucket, dynamic ones at its true length; the workload
    figure is the per-row estimate summarised over rows (the per-length estimates weighted by their share)."""
    import numpy as np

    from edgeport.bench.estimate import count_work, roofline
    from edgeport.bench.workload import effective_length, estimate_workload

    from test_report import minilm_shapes

    target, shapes = get_target("android-lowend"), minilm_shapes()
    work_at = lambda n: count_work(shapes, n)  # noqa: E731
    lengths = [5, 12, 17, 30, 33, 60, 64, 100]
    assert [effective_length(n, [16, 32, 64, 128]) for n in lengths] == [16, 16, 32, 32, 64, 64, 64, 128]
    assert effective_length(200, [16, 128]) == 128 and effective_length(7, None) == 7
    bucketed = estimate_workload(work_at, target, "int8", lengths, [16, 32, 64, 128])
    at = {n: roofline(count_work(shapes, n), target, "int8")["p50_ms"] for n in (16, 32, 64, 128)}
    expected = np.mean([at[16], at[16], at[32], at[32], at[64], at[64], at[64], at[128]])
    assert bucketed["mean_ms"] == pytest.approx(expected, rel=1e-3)
    assert bucketed["length_shares"] == {"16": 0.25, "32": 0.25, "64": 0.375, "128": 0.125}
    single = estimate_workload(work_at, target, "int8", lengths, [128])
    dynamic = estimate_workload(work_at, target, "int8", lengths, None)
    assert single["p50_ms"] == single["p90_ms"] == at[128]  # every row padded to the one static length
    assert dynamic["mean_ms"] < bucketed["mean_ms"] < single["mean_ms"]


def test_measured_workload_runs_every_row_and_budgets_judge_it():
    """Each row goes through the runner once per pass at its own length; the budget check uses the workload
    figure of the strongest kind and says so."""
    import time

    import numpy as np

    from edgeport.bench.api import check_budgets
    from edgeport.bench.workload import measure_workload

    seen = []

    def runner(input_ids, attention_mask, token_type_ids=None):
        seen.append(input_ids.shape[1])
        time.sleep(input_ids.shape[1] * 2e-5)  # 20 us per token: longer rows take longer
        return np.zeros((1, 2), dtype=np.float32)

    lengths = [4, 8, 16, 32, 64, 128]
    feeds = [{"input_ids": np.ones((1, n), np.int64), "attention_mask": np.ones((1, n), np.int64)} for n in lengths]
    real = measure_workload(runner, feeds, passes=2, warmup=0)
    assert seen == lengths * 2 and real["rows"] == 6 and real["passes"] == 2
    assert real["tokens_mean"] == np.mean(lengths) and real["p90_ms"] > real["p50_ms"] >= 0.3
    target = get_target("host")
    result = {"size_bytes": 1e6, "estimated_memory_mb": 5.0, "host": {"p50_ms": 9.0, "p90_ms": 9.5, "input": "fixed"},
              "estimate": {"p90_ms": 3.0}, "workload": {"host": real, "estimate": {"p90_ms": 1.0}}}
    latency = next(c for c in check_budgets(result, target) if c["metric"] == "latency_p90_ms")
    assert (latency["kind"], latency["input"], latency["value"]) == ("host", "workload", round(real["p90_ms"], 3))
    result["workload"] = None
    latency = next(c for c in check_budgets(result, target) if c["metric"] == "latency_p90_ms")
    assert (latency["input"], latency["value"]) == ("fixed", 9.5)


def test_bench_cli_texts(run_dir, tmp_path, capsys):
    """`edgeport bench DIR --texts FILE` times those inputs as a workload; a bad file is a clear error (exit 2)."""
    texts = tmp_path / "texts.txt"
    texts.write_text("a fine film\n\nthe plot is thin and the jokes are old\nbad\n", encoding="utf-8")
    out = tmp_path / "r.json"
    assert main(["bench", str(run_dir / "quantize" / "onnx-int8"), "--texts", str(texts), "--runs", "2",
                 "--min-seconds", "0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["workload"]["host"]["rows"] == 3 == result["workload"]["estimate"]["rows"]
    assert "workload (3 rows" in capsys.readouterr().out
    for bad, message in ((tmp_path / "missing.txt", "no such file"), (tmp_path / "blank.txt", "no inputs")):
        if bad.name == "blank.txt":
            bad.write_text("\n  \n", encoding="utf-8")
        assert main(["bench", str(run_dir / "quantize" / "onnx-int8"), "--texts", str(bad)]) == 2
        assert message in capsys.readouterr().err
