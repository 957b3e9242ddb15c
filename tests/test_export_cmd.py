"""``edgeport export MODEL OUT`` (an already fine-tuned classifier through export, INT8, validate, bench and report
as a pipeline run in OUT, no training) and ``edgeport.benchmark`` (``api.bench``).

The model is a tiny random-weight BERT classifier built on the fly (2 layers, hidden 32, the MiniLM tokenizer);
the data a slice of SST-2 (240 training rows, 48 validation rows) or 30 of its validation sentences as unlabelled
texts. A random model answers one class for almost every row, so the dataset run passes
``-o teacher.train.useful_gate=false`` (the gate itself is exercised below: without it the run stops, exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import make_tiny_bert, run_cli
from tinyrun import make_data, tree_digest

import edgeport
from edgeport.cli import main
from edgeport.errors import ConfigError, EdgeportError
from edgeport.export_run import CONFIG_FILE
from edgeport.verdict import State

# quick timing, one thread: the tests check mechanics, not speed
FAST = ["-o", "run.threads=1", "-o", "bench.min_seconds=0", "-o", "bench.runs=5", "-o", "bench.warmup=1",
        "-o", "bench.workload_passes=1"]
TARGETS = "host,android-lowend"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("export-cmd")
    texts = base / "texts.txt"
    rows = (make_data(base / "sst2-slice", train_rows=240, eval_rows=48) / "validation.tsv").read_text().splitlines()
    texts.write_text("\n".join(r.rsplit("\t", 1)[0] for r in rows[1:31]) + "\n", encoding="utf-8")
    return {"base": base, "model": make_tiny_bert(base / "clf", classifier_labels=["negative", "positive"]),
            "data": base / "sst2-slice", "texts": texts}


def export_args(inputs: dict, out: Path, gate: bool = False) -> list:
    return ["export", inputs["model"], out, "--formats", "onnx,tflite", "--int8", "--data", inputs["data"],
            "--targets", TARGETS, "--max-seq-len", "32", *FAST,
            *([] if gate else ["-o", "teacher.train.useful_gate=false"])]


@pytest.fixture(scope="module")
def data_run(inputs) -> dict:
    out = inputs["base"] / "out-data"
    proc = run_cli(*export_args(inputs, out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"out": out, "proc": proc}


def test_export_on_a_dataset_runs_the_pipeline_without_training(inputs, data_run):
    out, stdout = data_run["out"], data_run["proc"].stdout
    # the summary of `edgeport run`: stages, verdicts, what to ship, where the report and the config are
    for line in (f"run: {out}", "validate verdicts (eval split", "to ship, per target", "report: ",
                 f"config: {out / CONFIG_FILE}"):
        assert line in stdout, line
    run = edgeport.load_run(out)
    assert {n: s.status for n, s in run.stages.items()} == {n: "done" for n in (
        "teacher", "export", "quantize", "validate", "bench", "report")}  # no distill, no prune
    teacher = run.stages["teacher"].metrics
    assert teacher["finetuned"] is False and "train_rows" not in teacher  # taken as it is, measured only
    assert set(run.artifacts) == {"onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"}
    for art in run.artifacts.values():
        assert art.verdict is State.PASS and art.path.is_file()
        assert (art.accuracy.split, art.accuracy.rows) == ("validation", 48)
        assert set(art.latency) == set(TARGETS.split(","))
    report = (out / "report" / "report.md").read_text()
    assert "evaluation split `validation` (48 rows" in report and "taken as it is (not trained here" in report
    card = (out / "quantize" / "tflite-int8" / "README.md").read_text()
    assert "not trained on here (the model was taken as it is)" in card and "trained and evaluated" not in card
    # the resolved config in OUT: the model as the teacher, never fine-tuned, absolute paths, runnable as is
    cfg = yaml.safe_load((out / CONFIG_FILE).read_text())
    assert (cfg["teacher"]["model"], cfg["teacher"]["finetune"]) == (str(inputs["model"].resolve()), "never")
    assert (cfg["distill"]["enabled"], cfg["prune"]["enabled"], cfg["quantize"]["enabled"]) == (False, False, True)
    assert cfg["data"]["label_names"] == ["negative", "positive"]  # from the model's config.json id2label
    assert (cfg["run"]["runs_dir"], cfg["run"]["name"]) == (str(out.parent), out.name)
    assert (out / CONFIG_FILE).read_text().startswith("# edgeport export run")


def test_the_same_command_again_executes_nothing(inputs, data_run):
    out = data_run["out"]
    before = tree_digest(out)
    config_inode = (out / CONFIG_FILE).stat().st_ino
    again = run_cli(*export_args(inputs, out))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "==>" not in again.stdout  # no stage announced itself
    statuses = [ln.split()[1] for ln in again.stdout.split(f"run: {out}")[1].splitlines()[2:12] if ln.strip()]
    assert statuses and set(statuses) <= {"skip", "disabled"}, statuses
    assert tree_digest(out) == before and (out / CONFIG_FILE).stat().st_ino == config_inode  # nothing rewritten
    plan = run_cli("run", out / CONFIG_FILE, "--dry-run")  # the written config is the same run
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert {ln.split()[1] for ln in plan.stdout.splitlines()[1:] if ln.strip()} == {"skip", "disabled"}, plan.stdout


def test_a_model_that_solves_nothing_stops_the_run_with_a_message_for_a_model_taken_as_is(inputs, tmp_path):
    proc = run_cli(*export_args(inputs, tmp_path / "out", gate=True))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "taken as it is" in proc.stderr and "train longer" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_texts_give_parity_only_and_no_accuracy_anywhere(inputs):
    out = inputs["base"] / "out-texts"
    run = edgeport.export(inputs["model"], out, formats=["onnx", "tflite"], int8=True, texts=inputs["texts"],
                          targets=["host"], max_seq_len=32, overrides=[o for o in FAST if o != "-o"]
                          + ["bench.memory=false"])
    assert run.passed and set(run.artifacts) == {"onnx-fp32", "tflite-fp32", "onnx-int8", "tflite-int8"}
    validate = json.loads((out / "validate" / "results.json").read_text())
    assert validate["parity_only"] is True and validate["eval_rows"] == 30
    assert validate["reference"]["accuracy"] is None
    for art in run.artifacts.values():
        assert art.accuracy is None and art.verdict is State.PASS
    for row in validate["artifacts"]:
        gates = {g["name"] for g in row["verdict"]["gates"]}
        assert row["accuracy"] is None and "drop_vs_fp32" not in gates and "drop_vs_teacher" not in gates
        assert gates >= ({"agreement_vs_fp32"} if row["precision"] == "int8" else {"fp32_parity"})
    teacher = run.stages["teacher"].metrics
    assert teacher["labelled"] is False and not any("accuracy" in k for k in teacher)
    bench = json.loads((out / "bench" / "results.json").read_text())
    assert all("accuracy" not in row["workload"]["host"] for row in bench if row["host"])
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["parity_only"] == {"texts": str(inputs["texts"].resolve()), "rows": 30}
    assert all(a["accuracy"] is None for a in report["artifacts"])
    md = (out / "report" / "report.md").read_text()
    assert "**Parity only**" in md and "no accuracy (parity only)" in md and "Accuracy is on" not in md
    for card in (out / "quantize" / "tflite-int8" / "README.md", out / "teacher" / "README.md"):
        text = card.read_text()
        front = yaml.safe_load(text.split("---")[1])
        assert "accuracy" not in (front.get("metrics") or []), card
        assert "accuracy" not in str(front.get("model-index")), card
        assert "Parity only" in text and "Accuracy is measured" not in text, card


def test_texts_refuse_what_would_train_choose_or_calibrate_on_them(inputs, tmp_path):
    common = dict(formats=["tflite"], int8=True, texts=inputs["texts"], targets=[], max_seq_len=32)
    with pytest.raises(ConfigError, match="distill.enabled: data.texts has no labels"):
        edgeport.export(inputs["model"], tmp_path / "a", overrides=["distill.enabled=true"], **common)
    assert not (tmp_path / "a").exists()  # refused before anything was written
    with pytest.raises(ConfigError, match="quantize.tflite: mode full_integer calibrates on training rows"):
        edgeport.export(inputs["model"], tmp_path / "b", overrides=["quantize.tflite=full_integer"], **common)


BAD = {  # name -> (argv after the model and OUT, the model to pass, substrings of the message)
    "no-config-json": ([], "empty-dir", ("no config.json", "Hugging Face model directory")),
    "no-weights": ([], "config-only", ("no weights", "model.safetensors")),
    "not-a-classifier": ([], "encoder", ("not a sequence-classification model", "BertModel", "edgeport run")),
    "unknown-format": (["--formats", "tflite,onnxx"], "clf", ("unknown format 'onnxx'", "known: torchscript")),
    "both-sources": (["--texts", "TEXTS"], "clf", ("give --data or --texts, not both",)),
    "no-source": (["--no-data"], "clf", ("give --data DATASET", "--texts FILE")),
    "unknown-target": (["--targets", "host,phone"], "clf", ("unknown target 'phone'", "known targets")),
    "empty-texts": (["--no-data", "--texts", "BLANK"], "clf", ("no inputs", "one input per line")),
    "missing-dataset": (["--no-data", "--data", "no-such-dataset"], "clf", ("'no-such-dataset' not found",)),
    "too-long": (["--max-seq-len", "4096"], "clf", ("--max-seq-len 4096", "512 positions")),
}


@pytest.fixture(scope="module")
def bad_models(inputs) -> dict:
    base = inputs["base"] / "bad-models"
    (base / "empty-dir").mkdir(parents=True)
    config_only = base / "config-only"
    config_only.mkdir()
    (config_only / "config.json").write_text((inputs["model"] / "config.json").read_text())
    return {"empty-dir": base / "empty-dir", "config-only": config_only, "clf": inputs["model"],
            "encoder": make_tiny_bert(base / "encoder")}


@pytest.mark.parametrize("name", BAD)
def test_bad_input_exits_2_naming_the_problem_and_writes_nothing(name, inputs, bad_models, tmp_path, capsys):
    extra, model, expect = BAD[name]
    blank = tmp_path / "blank.txt"
    blank.write_text("\n \n")
    extra = [{"TEXTS": str(inputs["texts"]), "BLANK": str(blank)}.get(a, a) for a in extra]
    source = [] if "--no-data" in extra else ["--data", str(inputs["data"])]
    argv = ["export", str(bad_models[model]), str(tmp_path / "out"), "--formats", "onnx", *source,
            *[a for a in extra if a != "--no-data"]]
    if "--formats" in extra:
        del argv[3:5]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("edgeport: error:") and "Traceback" not in err
    for text in expect:
        assert text in err, (text, err)
    assert not (tmp_path / "out").exists()


def test_out_holding_anything_but_an_export_run_is_refused_untouched(inputs, data_run, tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    pipeline_run = tmp_path / "a-run"
    pipeline_run.mkdir()
    (pipeline_run / "manifest.json").write_text("{}")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, expect in ((foreign, "files edgeport export did not write (notes.txt)"),
                        (pipeline_run, "an edgeport run that edgeport export did not make"), (a_file, "is a file")):
        before = tree_digest(tmp_path)
        assert main(["export", str(inputs["model"]), str(out), "--data", str(inputs["data"])]) == 2
        err = capsys.readouterr().err
        assert expect in err and "edgeport export" in err, err
        assert tree_digest(tmp_path) == before


def test_an_export_running_in_out_keeps_its_config(inputs, data_run, capsys):
    from edgeport.pipeline.lock import RunLock

    out = data_run["out"]
    before = (out / CONFIG_FILE).read_bytes()
    with RunLock(out):  # as a running export holds it
        assert main(["export", str(inputs["model"]), str(out), "--formats", "onnx", "--data", str(inputs["data"])]) == 2
    assert "is in use by edgeport pid" in capsys.readouterr().err
    assert (out / CONFIG_FILE).read_bytes() == before


def test_benchmark_returns_typed_results_from_bench_artifact(data_run, tmp_path):
    from edgeport.api import BenchResult, bench

    assert edgeport.benchmark is bench  # api.bench; edgeport.bench is the latency subpackage
    art = edgeport.load_run(data_run["out"]).artifacts["tflite-int8"]
    here = edgeport.benchmark(art, "host", texts=["a fine film", "dull , flat and far too long"], runs=3,
                              min_seconds=0, warmup=1, memory=False)
    assert isinstance(here, BenchResult) and (here.target, here.format, here.precision) == ("host", "tflite", "int8")
    assert here.kind == "host" and here.size_bytes == art.path.stat().st_size and here.seq_len == 32
    fixed, work = here.latency("fixed"), here.latency("workload")
    assert fixed.p50_ms > 0 and fixed.p90_ms >= fixed.p50_ms and fixed.rows is None
    assert work.kind == "host" and work.rows == 2 and work.p90_ms > 0
    assert here.latency("fixed", kind="estimate").p50_ms > 0  # the estimate is always there, never mixed in
    assert {c.metric for c in here.budgets} == {"model_size_mb", "latency_p90_ms", "peak_memory_mb"}
    lat = next(c for c in here.budgets if c.metric == "latency_p90_ms")
    assert (lat.kind, lat.input, lat.value) == ("host", "workload", round(work.p90_ms, 3))
    assert here.within_budgets is all(c.ok for c in here.budgets)
    # a device profile from a path: estimated, nothing measured here; the same figures as the bench stage's
    phone = edgeport.benchmark(str(art.path.parent), "android-lowend", measure_host=False)
    assert phone.kind == "estimate" and {lat.kind for lat in phone.latencies} == {"estimate"}
    stage_row = next(r for r in json.loads((data_run["out"] / "bench" / "results.json").read_text())
                     if r["artifact_name"] == "tflite-int8" and r["target"] == "android-lowend")
    assert phone.latency().p50_ms == stage_row["estimate"]["p50_ms"]
    with pytest.raises(EdgeportError, match="unknown target 'no-such-phone'"):
        edgeport.benchmark(art, "no-such-phone")
    with pytest.raises(EdgeportError, match="does not exist"):
        edgeport.benchmark(tmp_path / "missing.onnx")
