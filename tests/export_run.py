"""One real tiny pipeline run through export, quantize, validate and report, shared by test_bench.py and
test_report.py (run once per test session, on first use).

teacher (2-layer hidden-32 BERT, 2 heads) -> distill (1 layer) -> prune (half the heads: 1 of 2 per layer) ->
export ONNX + TFLite -> quantize (dynamic INT8) -> validate -> report. The TFLite export length (16) is shorter
than data.max_seq_len (32), so validation compares TFLite with the reference at 16 tokens. Latency timing is cut
to a few runs; no gate fails the run (budgets, INT8 limits and the learned-something gate say nothing about a random tiny model). About a minute here.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from tinyrun import base_config, cli, make_data, make_tiny_bert

TARGETS = ["host", "android-lowend"]
EXPORT_SEQ = 16
_RUN: dict = {}


def export_run(root: Path) -> dict:
    """{"run_dir", "config", "proc"} of the shared run (made under ``root`` the first time)."""
    if "run_dir" not in _RUN:
        base = root / "export-run"
        base.mkdir(parents=True, exist_ok=True)
        teacher = make_tiny_bert(base / "teacher-src", classifier_labels=["negative", "positive"])
        data = make_data(base / "data", train_rows=240, eval_rows=48)
        cfg = base_config(teacher, data, base / "runs", "tiny")
        train = dict(cfg["distill"]["train"])
        cfg |= {
            "prune": {"enabled": True, "heads_fraction": 0.5, "score_batches": 1, "latency_seconds": 0,
                      "train": train},
            "export": {"enabled": True, "formats": ["onnx", "tflite"], "seq_len": EXPORT_SEQ},
            "quantize": {"enabled": True},
            "validate": {"enabled": True, "int8_max_accuracy_drop": 100.0, "check_tolerances": False,
                         "arm_parity": "auto"},  # test_arm.py reads its ARM runs (where qemu is installed)
            # emulated: test_arm_counting.py reads the instruction counts on android-lowend's CPU model (auto:
            # where a plugin-capable qemu-aarch64 and gcc are installed; .ci/run installs them)
            "bench": {"targets": TARGETS, "warmup": 1, "runs": 5, "min_seconds": 0, "workload_passes": 1,
                      "emulated": "auto", "emulated_calls": 2, "emulated_rows": 4},
            "report": {"enabled": True, "plots": False, "budget_gate": "off"},
        }
        path = base / "cfg.yaml"
        path.write_text(yaml.safe_dump(cfg))
        proc = cli("run", path, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        _RUN.update(run_dir=base / "runs" / "tiny", config=path, proc=proc, base=base)
    return _RUN


def executorch_artifacts(root: Path) -> dict[str, Path]:
    """{"fp32", "int8"}: the shared run's pruned model as ExecuTorch programs (XNNPACK; INT8: dynamic PT2E), the
    export and quantize stages' way, made once per session beside the run (the run itself exports ONNX and TFLite
    only: lowering costs ~40 s here, paid only by the tests that run .pte files under ARM emulation)."""
    if "executorch" not in _RUN:
        from edgeport.exporters import EXPORTERS, QuantizeRequest, make_sample, write_sidecar
        from edgeport.models import load_tokenizer
        from edgeport.tasks.models import MODELS

        run_dir = export_run(root)["run_dir"]
        kind = MODELS["sequence-classification"]
        model, tok = kind.load(run_dir / "prune").eval(), load_tokenizer(run_dir / "prune")
        exporter, out = EXPORTERS["executorch"], _RUN["base"] / "executorch"
        sample = make_sample(EXPORT_SEQ, batch=2, vocab=tok.vocab_size)
        paths = {}
        for precision in ("fp32", "int8"):
            art = out / f"executorch-{precision}"
            art.mkdir(parents=True, exist_ok=True)
            paths[precision] = (exporter.export(model, sample, art) if precision == "fp32" else exporter.quantize(
                QuantizeRequest(model=model, fp32_path=paths["fp32"], sample=sample, out_dir=art, mode="dynamic",
                                calibration=[])))
            write_sidecar(art, fmt="executorch", precision=precision, model_file=paths[precision].name,
                          label_names=kind.label_names(model), seq_len=None, max_seq_len=EXPORT_SEQ, tokenizer=tok,
                          model=model, export_seq_len=EXPORT_SEQ)
        _RUN["executorch"] = paths
    return _RUN["executorch"]
