"""Model cards: one README.md per model and artifact directory of a real (tiny) run, every number equal to the
report's, and writing them re-runs nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from card_snippets import run_load_snippet
from export_run import export_run
from huggingface_hub import ModelCard
from tinyrun import cli

from edgeport.pipeline.manifest import Manifest, hash_tree, hash_tree_paths
from edgeport.verdict import Standing


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    return export_run(tmp_path_factory.getbasetemp())


def front_matter(card: Path) -> tuple[dict, str]:
    text = card.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, f"{card}: no YAML front matter"
    return yaml.safe_load(match.group(1)), match.group(2)


def index_metrics(meta: dict) -> dict[tuple[str, str], float]:
    """(metric type, dataset split) -> value, from the card's model-index."""
    (entry,) = meta["model-index"]
    return {(m["type"], r["dataset"]["split"]): m["value"] for r in entry["results"] for m in r["metrics"]}


def eval_results(card: Path) -> dict[tuple[str, str], float]:
    """The same, as huggingface_hub reads the card back."""
    return {(r.metric_type, r.dataset_split): r.metric_value for r in ModelCard.load(card).data.eval_results}


def test_every_model_and_artifact_dir_has_a_card(run):
    run_dir = run["run_dir"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    report = json.loads((run_dir / "report" / "report.json").read_text())
    split = report["eval_split"]["name"]
    models = {m["stage"]: m for m in report["models"]}
    hf_dirs = [s for s in ("pretrain", "teacher", "distill", "prune") if (run_dir / s / "config.json").is_file()]
    assert hf_dirs == ["teacher", "distill", "prune"]
    for stage in hf_dirs:
        meta, body = front_matter(run_dir / stage / "README.md")
        assert (meta["library_name"], meta["pipeline_tag"], meta["language"]) == ("transformers", "text-classification", ["en"])
        values = index_metrics(meta)
        assert values[("accuracy", split)] == models[stage]["eval_accuracy"]
        assert values[("accuracy", "selection")] == models[stage]["select_accuracy"]
        assert eval_results(run_dir / stage / "README.md") == values
        assert "AutoModelForSequenceClassification" in body and "## Limitations" in body
        _, printed = run_load_snippet(run_dir / stage / "README.md")  # the card's code runs and names a label
        assert printed.split()[0] in ("negative", "positive"), printed
    assert "**distill**" in (run_dir / "prune" / "README.md").read_text()  # the chain up to this model
    arts = {a["name"]: a for a in report["artifacts"]}
    listed = [a for s in ("export", "quantize") for a in manifest["stages"][s]["metrics"]["artifacts"]]
    assert len(listed) == 4
    loaders = {"onnx": "onnxruntime", "tflite": "ai_edge_litert", "torchscript": "torch.jit.load",
               "executorch": "executorch.runtime"}
    for art in listed:
        card = (run_dir / art["path"]).parent / "README.md"
        meta, body = front_matter(card)
        assert meta["library_name"] == {"onnx": "onnx", "tflite": "tflite"}[art["format"]]
        values = index_metrics(meta)
        assert values[("accuracy", split)] == arts[art["name"]]["accuracy"]
        assert values[("agreement", split)] == arts[art["name"]]["agreement"]
        assert eval_results(card) == values
        assert loaders[art["format"]] in body
        _, printed = run_load_snippet(card)
        assert printed.strip() in ("negative", "positive"), printed
        # every latency row of the report for this artifact, with its kind and input, and no other
        rows = [r for r in report["latency"] if r["artifact"] == art["name"]]
        table = [line for line in body.split("## Latency per target")[1].split("##")[0].splitlines()
                 if line.startswith("| ") and not line.startswith("| target")]
        assert len(table) == len(rows) > 0
        for r in rows:
            cells = (r["target"], r["kind"], r.get("input") or "fixed")
            assert any(line.startswith("| " + " | ".join(cells) + " |") for line in table), cells
        if art["precision"] == "int8":
            assert "int8" in meta["tags"] and "INT8:" in body
        # validate's typed verdict on this artifact: its state and every gate's message, word for word
        standing = Standing.from_dict(report["verdicts"][art["name"]])
        assert f"**Validate gates: {standing.shown}**" in body
        assert all(f"- {g.state.value.upper()} {g.name}: {g.message}" in body for g in standing.verdict.gates)


def test_cards_rerun_nothing(run):
    """The cards sit in upstream stage dirs, but no stage re-runs for them: a second run skips every stage."""
    run_dir = run["run_dir"]
    assert (run_dir / "teacher" / "README.md").is_file()
    manifest = Manifest.load(run_dir)
    for stage in manifest.stages:
        assert manifest.verify(stage) is None, stage
    proc = cli("run", run["config"], "--dry-run")
    assert proc.returncode == 0, proc.stderr
    plan = [line.split() for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert {p[1] for p in plan} <= {"skip", "disabled"}, proc.stdout


def test_hash_tree_leaves_out_model_cards_only(tmp_path):
    stage = tmp_path / "distill"
    (stage / "sub").mkdir(parents=True)
    for name in ("model.safetensors", "README.md", "sub/README.md", "sub/artifact.json"):
        (stage / name).write_text(name)
    assert sorted(hash_tree(stage, tmp_path)) == ["distill/model.safetensors", "distill/sub/artifact.json"]
    assert hash_tree_paths(stage, tmp_path) == ["distill/model.safetensors", "distill/sub/artifact.json"]
    # any other dropped-in file is still caught by verify
    m = Manifest(tmp_path)
    m.stages["distill"] = {"status": "done", "outputs": hash_tree(stage, tmp_path)}
    assert m.verify("distill") is None
    (stage / "pytorch_model.bin").write_text("x")
    assert "unexpected file distill/pytorch_model.bin" in m.verify("distill")


def test_executorch_artifact_card(run, tmp_path):
    """A .pte artifact gets the executorch library tag and an executorch.runtime snippet."""
    from edgeport.report.cards import artifact_card

    run_dir = run["run_dir"]
    report = json.loads((run_dir / "report" / "report.json").read_text())
    pte = tmp_path / "export" / "executorch-fp32"
    pte.mkdir(parents=True)
    (pte / "artifact.json").write_text(json.dumps({"format": "executorch", "precision": "fp32", "seq_len": 16,
                                                   "inputs": ["input_ids", "attention_mask"]}))
    manifest = Manifest.load(run_dir)
    manifest.run_dir = tmp_path
    card = artifact_card(manifest, report, {"name": "executorch-fp32", "format": "executorch", "precision": "fp32",
                                            "path": "export/executorch-fp32/model.pte", "stage": "export"})
    assert card.data.library_name == "executorch"
    assert "from executorch.runtime import Runtime" in card.text and 'load_program("model.pte")' in card.text
    assert 'method.execute([enc["input_ids"], enc["attention_mask"]])' in card.text
