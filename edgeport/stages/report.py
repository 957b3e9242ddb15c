"""The report stage: ``report.md``, ``report.json`` and plots from the manifest; target budgets as gates."""

from __future__ import annotations

from pathlib import Path

from ..config import PipelineConfig


class ReportStage:
    name = "report"
    sections = ("report", "validate")  # validate.targets decides which budgets apply
    uses_data = False
    distributed = False
    key_metric = "gates_failed"

    def enabled(self, cfg: PipelineConfig) -> bool:
        return cfg.report.enabled

    def inputs(self, cfg: PipelineConfig) -> dict[str, str]:
        # The report reads every stage's entry from the manifest; it depends on the last stage that runs before
        # it, judged by each stage's own enabled() (validate.enabled alone is not enough: it needs export too).
        from . import STAGES

        earlier = [s for s in STAGES if s.name != self.name]
        return next(({"upstream": s.name} for s in reversed(earlier) if s.enabled(cfg)), {})

    def run(self, ctx) -> dict:
        from ..report import build_report, compare, comparison_markdown, load_report_json

        cfg = ctx.cfg.report
        report = build_report(ctx.run_dir, ctx.out, budget_gate=cfg.budget_gate, plots=cfg.plots)
        failures = list(report["gate_failures"])
        regressed = 0
        if cfg.baseline:
            rows = compare(report, load_report_json(Path(cfg.baseline)), cfg.max_regression)
            (ctx.out / "regression.md").write_text(comparison_markdown(rows, cfg.max_regression))
            bad = [r for r in rows if r["status"] == "REGRESSED"]
            regressed = len(bad)
            failures += [f"regression vs {cfg.baseline}: {r['figure']} {r['baseline']:.4g} -> {r['current']:.4g} "
                         f"({r['change_pct']:+.1f}%, limit {100 * cfg.max_regression:g}%)" for r in bad]
        return {"gates_failed": len(failures), "gates_checked": len(report["gates"]), "regressed": regressed,
                "artifacts": len(report["artifacts"]), "plots": report["plots"],
                # validate's own failures already fail the run from its entry; repeat only the new ones
                "gate_failures": failures[len(report["validate_gate_failures"]):]}
