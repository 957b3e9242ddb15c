"""Latency: host measurement, the adb backend (commands + parser on recorded output), the estimate, the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from edgeport.bench.adb import REMOTE_DIR, AdbBenchmark, DeviceError, parse_benchmark_output
from edgeport.bench.estimate import count_work, roofline
from edgeport.bench.host import measure_latency
from edgeport.cli import main
from edgeport.targets import get_target

DATA = Path(__file__).parent / "data"


def test_measure_latency_percentiles_and_minimum_runs():
    calls = []

    def runner(input_ids, attention_mask):
        calls.append(1)
        time.sleep(0.001)

    feed = {"input_ids": np.ones((1, 8), np.int32), "attention_mask": np.ones((1, 8), np.int32)}
    r = measure_latency(runner, feed, warmup=3, runs=20, min_seconds=0.05)
    assert r["kind"] == "host" and r["runs"] >= 20 and len(calls) == r["runs"] + 3
    assert 1.0 <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["mean_ms"] >= 1.0 and r["peak_rss_mb"] > 10


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


@pytest.fixture(scope="module")
def torchscript_artifact(tmp_path_factory, tiny_bert):
    import torch
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(tiny_bert, num_labels=2).eval()

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    out = tmp_path_factory.mktemp("ts-fp32")
    ids = torch.ones(1, 16, dtype=torch.long)
    torch.jit.trace(Logits(model), (ids, ids, ids * 0), strict=False).save(str(out / "model.pt"))
    (out / "artifact.json").write_text(json.dumps({"format": "torchscript", "precision": "fp32",
                                                   "model_file": "model.pt", "seq_len": None}))
    model.save_pretrained(out)  # config.json + safetensors beside it: the estimate counts from them
    return out


def test_bench_cli_host_and_estimate(torchscript_artifact, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["bench", str(torchscript_artifact), "--target", "host", "--runs", "5", "--warmup", "1",
               "--min-seconds", "0", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "host" in text and "estimate" in text and "budget latency_p90_ms" in text
    r = json.loads(out.read_text())
    assert r["host"]["kind"] == "host" and r["host"]["runs"] >= 5 and r["host"]["load_ms"] > 0
    assert r["estimate"]["kind"] == "estimate" and r["estimate"]["method"].startswith("counted from")
    assert r["device"] is None
    lat = {c["metric"]: c for c in r["budgets"]}["latency_p90_ms"]
    assert lat["kind"] == "host" and lat["ok"]  # the host profile is this machine: its measurement counts


def test_device_profile_budget_uses_estimate_not_host(torchscript_artifact):
    from edgeport.bench import bench_artifact

    r = bench_artifact(torchscript_artifact, get_target("android-flagship"), runs=3, warmup=0, min_seconds=0)
    kinds = {c["metric"]: c["kind"] for c in r["budgets"]}
    assert kinds == {"model_size_mb": "file", "latency_p90_ms": "estimate", "peak_memory_mb": "estimate"}
    assert r["seq_len"] == 128 and r["threads"] == 4


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
