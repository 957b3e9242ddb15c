"""A quiet, helpful console: offline runs fail fast, the end-of-run summary names what to ship and where the
report is, and third-party noise is filtered at its source (edgeport's own warnings are not)."""

from __future__ import annotations

import json
import logging
import socket
import time
import warnings

import pytest

from edgeport.config import DataConfig
from edgeport.errors import DataError
from edgeport.report.render import ship_choices, ship_line


def test_offline_hub_fails_fast_with_the_clear_message(monkeypatch):
    """No local copy, a hub id, no network: one short probe, then the cache only - not datasets' ~25 s of retries."""
    pytest.importorskip("datasets")
    import datasets.config
    import huggingface_hub.constants

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    # both libraries read the flag once at import: an earlier test in the session may have imported them offline
    for module in (datasets.config, huggingface_hub.constants):
        monkeypatch.setattr(module, "HF_HUB_OFFLINE", False)
    probes = []

    def no_network(address, timeout=None, *args, **kwargs):
        probes.append((address, timeout))
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    from edgeport.data import load_task

    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        load_task(DataConfig(local="nope-not-here", hub_id="edgeport-test/not-cached", hub_config="x"))
    assert time.perf_counter() - start < 5
    assert probes and probes[0][0][1] == 443 and probes[0][1] <= 3
    msg = str(err.value)
    assert "could not load dataset 'edgeport-test/not-cached' (x) split 'train' from the hub" in msg
    assert "unreachable" in msg and "Point data.local or EDGEPORT_DATA_DIR at a local copy" in msg
    assert not datasets.config.HF_HUB_OFFLINE and not huggingface_hub.constants.HF_HUB_OFFLINE  # restored


# ------------------------------------------------------------------------------------------ what to ship


def _art(name, fmt, precision, size, acc=0.87):
    return {"name": name, "format": fmt, "precision": precision, "path": f"x/{name}/model.{fmt}", "accuracy": acc,
            "size_bytes": size}


def _ship_report() -> dict:
    arts = [_art("tflite-int8", "tflite", "int8", 10e6), _art("tflite-fp32", "tflite", "fp32", 38e6),
            _art("onnx-int8", "onnx", "int8", 9e6), _art("tflite-big", "tflite", "int8", 11e6),
            _art("tflite-bad", "tflite", "int8", 5e6), _art("tflite-twin", "tflite", "int8", 12e6)]
    lat = {"tflite-int8": 3.0, "tflite-fp32": 7.0, "onnx-int8": 1.0, "tflite-big": 2.0, "tflite-bad": 0.5,
           "tflite-twin": 3.0}
    latency = [{"artifact": n, "target": "phone", "kind": "estimate", "input": "fixed", "p90_ms": ms}
               for n, ms in lat.items()]
    # a measurement beats an estimate: only these two have host figures, and the order is the measured one
    latency += [{"artifact": "tflite-int8", "target": "phone", "kind": "host", "input": "fixed", "p90_ms": 9.0},
                {"artifact": "tflite-twin", "target": "phone", "kind": "host", "input": "fixed", "p90_ms": 9.5},
                {"artifact": "tflite-twin", "target": "phone", "kind": "host", "input": "workload", "p90_ms": 4.0}]
    checks = [{"artifact": n, "target": "phone", "metric": "latency_p90_ms", "ok": n != "tflite-big", "kind": "estimate"}
              for n in lat]
    return {"artifacts": arts, "latency": latency, "budget_checks": checks, "targets": ["phone"],
            "profiles": {"phone": {"format": "tflite"}},
            "validate_gate_failures": ["tflite-bad: accuracy drop 3.1 points vs limit 1"],
            "verdicts": {a["name"]: _standing(a, "fail" if a["name"] == "tflite-bad" else "pass") for a in arts}}


def _standing(art: dict, state: str, problem: str | None = None) -> dict:
    """validate's verdict on the artifact as ``report.collect.verdict_rows`` serialises it."""
    from edgeport.verdict import ArtifactVerdict, Gate, Standing, State

    gate = Gate("drop_vs_fp32", State(state), message=f"accuracy drop ({state})")
    return Standing(ArtifactVerdict(art["name"], art["path"], "0" * 64, (gate,)), problem).to_dict()


def test_ship_rule():
    report = _ship_report()
    # tflite-big is over budget, tflite-bad fails a validate gate, onnx-int8 is not the phone's format; of the
    # rest, host evidence beats estimates and the workload figure (as budgets judge) beats the fixed one
    choice = ship_choices(report)["phone"]
    assert (choice["artifact"], choice["kind"], choice["input"], choice["p90_ms"]) == ("tflite-twin", "host", "workload", 4.0)
    assert choice["state"] == "PASS"
    report["latency"] = [r for r in report["latency"] if r["kind"] == "estimate"]
    assert ship_choices(report)["phone"]["artifact"] == "tflite-int8"  # 3.0 ms ties tflite-twin: smaller file
    for c in report["budget_checks"]:
        c["ok"] = False
    assert ship_choices(report) == {"phone": None}


def test_only_a_passing_verdict_ships_unless_inconclusive_is_accepted():
    """What to ship reads the typed verdict: INCONCLUSIVE ships only when the user accepts it, a verdict that no
    longer stands for the bytes on disk (STALE) or a missing one never does (old behaviour: anything without a
    failure message ships)."""
    report = _ship_report()
    arts = {a["name"]: a for a in report["artifacts"]}
    report["verdicts"]["tflite-twin"] = _standing(arts["tflite-twin"], "inconclusive")
    assert ship_choices(report)["phone"]["artifact"] == "tflite-int8"  # the twin is held back
    accepted = ship_choices(report, accept_inconclusive=True)["phone"]
    assert (accepted["artifact"], accepted["state"]) == ("tflite-twin", "INCONCLUSIVE")
    assert "validate INCONCLUSIVE, accepted" in ship_line(accepted)
    report["accept_inconclusive"] = True  # as `edgeport report --accept-inconclusive` records it
    assert ship_choices(report)["phone"]["artifact"] == "tflite-twin"
    report["verdicts"]["tflite-int8"] = _standing(arts["tflite-int8"], "pass", problem="bytes changed")
    del report["verdicts"]["tflite-twin"]  # validate never judged it
    report["accept_inconclusive"] = False
    assert ship_choices(report)["phone"]["artifact"] == "tflite-fp32"  # the only tflite one left with a standing PASS
    del report["verdicts"]  # a report of a run validate never judged: nothing ships
    assert ship_choices(report) == {"phone": None}


def test_summary_names_what_to_ship_and_the_report(tmp_path, capsys):
    from edgeport.api import Run
    from edgeport.cli import _print_summary

    out = tmp_path / "run" / "report"
    out.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps(_ship_report()))
    (out / "report.html").write_text("<html></html>")
    rows = [{"stage": "report", "status": "ran", "seconds": 1.0, "metric": "gates_failed=0"}]
    _print_summary(Run(tmp_path / "run", {}, {}, executed=tuple(rows)))
    text = capsys.readouterr().out
    assert f"phone  {tmp_path / 'run' / 'x/tflite-twin/model.tflite'} (tflite int8" in text
    assert f"report: {out / 'report.md'}" in text and str(out / "report.html") in text
    _print_summary(Run(tmp_path / "run", {}, {}, executed=(dict(rows[0], status="disabled"),)))
    assert "to ship" not in capsys.readouterr().out  # a report from an earlier configuration is not read


# ------------------------------------------------------------------------------------------ third-party noise


def test_third_party_noise_is_filtered_at_its_source():
    from edgeport.cli import _quiet_third_party_logs

    _quiet_third_party_logs()
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("transformers.modeling_utils")
    handler = Keep()
    log.addHandler(handler)
    # the filter alone is judged: an earlier test in this process may have quieted transformers' loggers by level
    # (transformers.logging.set_verbosity_error), which would drop every record before the filter sees it
    levels = {name: logging.getLogger(name).level for name in ("transformers", "transformers.modeling_utils")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        log.warning("`loss_type=None` was set in the config but it is unrecognized. Using the default loss: "
                    "`ForCausalLMLoss`.")
        log.warning("\x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m from: x\nKey | Status\n"
                    "classifier.bias | MISSING\nclassifier.weight | MISSING\n\nNotes:\n- MISSING: newly initialized")
        log.warning("\x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m from: x\nKey | Status\n"
                    "bert.encoder.layer.0.attention.self.query.weight | MISSING\n")
    finally:
        log.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    # the expected new head is not news; a missing encoder weight is
    assert len(records) == 1 and "attention.self.query.weight" in records[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        _quiet_third_party_logs()  # re-installs its filters over the "default" above, like main() does
        warnings.warn("torch.ao.quantization is deprecated and will be removed in 2.10. For migrations of users: "
                      "1. Eager mode quantization", DeprecationWarning)
        warnings.warn("torch.quantize_per_tensor, torch.quantize_per_channel and other quantized tensor creation "
                      "functions that produce tensors with dtype torch.quint8 ... are deprecated", UserWarning)
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
        warnings.warn("edgeport: something the user must read", UserWarning)
    assert [str(w.message) for w in caught] == ["edgeport: something the user must read"]
