"""The CI regression gate: each kind of figure judged by its own rule against a baseline report.json.

Estimates, file sizes and parity (agreement, max/mean |dlogit| vs fp32) are deterministic: any worsening beyond
float round-off fails, whatever the latency headroom. Host/device timings get the headroom (``max_regression``);
accuracy is judged in points. The reports compared are what ``build_report`` collects from a run as the stages
leave it (``test_report.fake_run``), changed one figure at a time.
"""

from __future__ import annotations

import copy
import json

import pytest

from edgeport.cli import main
from edgeport.report import build_report
from edgeport.report.gates import FIGURE_RULES, ROUND_OFF, compare, comparison_markdown, failed, failure_messages

HEADROOM = 0.25  # the workflow's --max-regression


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    from test_report import fake_run

    base = tmp_path_factory.mktemp("gate")
    return build_report(fake_run(base / "run"), base / "out", plots=False)


def judged(current: dict, baseline: dict, points: float | None = 1.0) -> dict[str, str]:
    """figure -> status of every compared figure."""
    return {r.figure: r.status for r in compare(current, baseline, HEADROOM, points)}


def latency_row(report: dict, kind: str, target: str, workload: bool = False) -> dict:
    return next(r for r in report["latency"] if r["kind"] == kind and r["target"] == target
                and (r.get("input") == "workload") == workload)


def test_the_report_against_itself_passes_with_every_kind_compared(report):
    rows = compare(report, report, HEADROOM, 1.0)
    assert failed(rows) == [] and {r.status for r in rows} == {"ok"}
    assert {r.kind for r in rows} == set(FIGURE_RULES)  # every kind is present in a real report and compared


def test_an_estimate_is_compared_exactly_not_with_the_headroom(report):
    row = latency_row(report, "estimate", "android-lowend", workload=True)
    baseline = copy.deepcopy(report)
    latency_row(baseline, "estimate", "android-lowend", workload=True)["p90_ms"] = row["p90_ms"] / 1.001
    key = f"p90_ms {row['artifact']} @ android-lowend [estimate, workload]"
    assert judged(report, baseline)[key] == "REGRESSED"  # 0.1% slower, far inside the 25% headroom: fails
    latency_row(baseline, "estimate", "android-lowend", workload=True)["p90_ms"] = row["p90_ms"] * (1 + ROUND_OFF / 10)
    assert judged(report, baseline)[key] == "ok"  # float round-off
    latency_row(baseline, "estimate", "android-lowend", workload=True)["p90_ms"] = row["p90_ms"] * 1.001
    assert judged(report, baseline)[key] == "improved"


def test_a_file_one_byte_larger_fails(report):
    art = report["artifacts"][0]
    baseline = copy.deepcopy(report)
    baseline["artifacts"][0]["size_bytes"] = art["size_bytes"] - 1
    rows = compare(report, baseline, HEADROOM, 1.0)
    assert [r.figure for r in failed(rows)] == [f"size_bytes {art['name']}"]
    msg = failure_messages(rows, "base.json", HEADROOM, 1.0)[0]
    assert "exact: size is deterministic" in msg and f"{art['size_bytes'] - 1} -> {art['size_bytes']}" in msg
    baseline["artifacts"][0]["size_bytes"] = art["size_bytes"] + 1
    assert judged(report, baseline)[f"size_bytes {art['name']}"] == "improved"


@pytest.mark.parametrize("field, moved", [("agreement", +1 / 872), ("max_abs_diff", -0.001),
                                          ("mean_abs_diff", -0.001)])
def test_parity_worsening_beyond_round_off_fails(report, field, moved):
    """One label flip more (agreement), or |dlogit| 0.1% larger, than the baseline: the computation changed."""
    art = report["artifacts"][1]
    key = f"{field} {art['name']}"
    baseline = copy.deepcopy(report)
    baseline["artifacts"][1][field] = art[field] * (1 + moved) if field != "agreement" else art[field] + moved
    assert judged(report, baseline)[key] == "REGRESSED"
    baseline["artifacts"][1][field] = art[field] * (1 - moved * ROUND_OFF)  # within round-off either way
    assert judged(report, baseline)[key] == "ok"


def test_host_timing_gets_the_headroom(report):
    row = latency_row(report, "host", "host")
    key = f"p90_ms {row['artifact']} @ host [host]"
    baseline = copy.deepcopy(report)
    latency_row(baseline, "host", "host")["p90_ms"] = row["p90_ms"] / 1.2  # 20% slower now: noise
    assert judged(report, baseline)[key] == "ok"
    latency_row(baseline, "host", "host")["p90_ms"] = row["p90_ms"] / 1.3  # 30% slower: beyond 25%
    rows = compare(report, baseline, HEADROOM, 1.0)
    assert [r.figure for r in failed(rows)] == [key]
    assert failure_messages(rows, "b", HEADROOM, 1.0)[0].endswith("(+30%, limit 25%)")


def test_accuracy_is_judged_in_points(report):
    art = report["artifacts"][2]
    key = f"accuracy {art['name']}"
    baseline = copy.deepcopy(report)
    baseline["artifacts"][2]["accuracy"] = art["accuracy"] + 0.009  # 0.9 points lower now
    assert judged(report, baseline)[key] == "ok"
    baseline["artifacts"][2]["accuracy"] = art["accuracy"] + 0.011
    rows = compare(report, baseline, HEADROOM, 1.0)
    assert [r.figure for r in failed(rows)] == [key]
    assert failure_messages(rows, "b", HEADROOM, 1.0)[0].endswith("(-1.10 points, limit 1 points)")


def test_a_baseline_from_before_sizes_and_parity_were_compared(report):
    """An older report.json: artifact rows without size or parity figures. Nothing crashes, the figures it has are
    judged, the others are shown as new; a figure it has and this run lacks still fails."""
    old = copy.deepcopy(report)
    for art in old["artifacts"]:
        for field in ("size_bytes", "agreement", "max_abs_diff", "mean_abs_diff"):
            art.pop(field)
    rows = compare(report, old, HEADROOM, 1.0)
    assert failed(rows) == []
    assert {r.kind for r in rows if r.status == "new"} == {"size", "parity"}
    assert {r.kind for r in rows if r.status == "ok"} == {"accuracy", "estimate", "timing"}
    md = comparison_markdown(rows, HEADROOM, 1.0)
    assert "passed" in md and "12 figure(s) of this run are not in the baseline (kinds: parity, size)" in md
    # this run lost an artifact's size: MISSING fails
    current = copy.deepcopy(report)
    current["artifacts"][0]["size_bytes"] = None
    assert [(r.figure, r.status) for r in failed(compare(current, report, HEADROOM, 1.0))] == [
        (f"size_bytes {report['artifacts'][0]['name']}", "MISSING")]


def test_cli_exit_status_and_files(tmp_path, capsys):
    from test_report import fake_run

    run = fake_run(tmp_path / "run")
    assert main(["report", str(run), "--no-plots"]) == 0
    current = json.loads((run / "report-cli" / "report.json").read_text())
    bigger = copy.deepcopy(current)
    bigger["artifacts"][0]["size_bytes"] -= 1  # the baseline's file was a byte smaller
    base = tmp_path / "base.json"
    base.write_text(json.dumps(bigger))
    capsys.readouterr()
    assert main(["report", str(run), "--no-plots", "--baseline", str(base), "--max-regression", "900%"]) == 1
    out = capsys.readouterr().out
    name = current["artifacts"][0]["name"]
    assert "FAILED" in out and f"| size_bytes {name} | size |" in out
    rows = json.loads((run / "report-cli" / "regression.json").read_text())
    assert [r["figure"] for r in rows if r["status"] == "REGRESSED"] == [f"size_bytes {name}"]
