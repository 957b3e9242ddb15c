"""The report stage: ``report.md``, ``report.json`` and plots from the manifest; target budgets as gates."""

from __future__ import annotations

from pathlib import Path

from ..config import PipelineConfig
from ..pipeline import fingerprint as fp


class ReportStage:
    name = "report"
    uses_data = False
    distributed = False
    key_metric = "gates_failed"

    def enabled(self, cfg: PipelineConfig) -> bool:
        return cfg.report.enabled

    def inputs(self, cfg: PipelineConfig) -> dict[str, str]:
        # The report renders every earlier stage's entry from the manifest, so each one that runs is an input
        # (judged by its own enabled(): validate.enabled alone is not enough, it needs export too). Not only the
        # last one: bench does not read validate, so a chain through the last stage would miss validate's changes.
        from . import STAGES

        return {s.name: s.name for s in STAGES if s.name != self.name and s.enabled(cfg)}

    def reads(self, cfg: PipelineConfig) -> dict[str, object]:
        """The report renders what the manifest holds: the bench stage judged the budgets of bench.targets (its
        fingerprint covers them and the profiles); only the report's own settings and the plot library here."""
        r = cfg.report
        reads = fp.fields(cfg, "report", without=() if r.baseline else ("max_regression", "max_accuracy_drop"))
        if r.baseline:
            reads["baseline"] = fp.File(r.baseline)
        if r.plots:
            reads |= fp.libraries("plots")
        return reads

    def run(self, ctx) -> dict:
        from ..report import build_report, compare, comparison_markdown, failed, failure_messages, load_report_json

        cfg = ctx.cfg.report
        report = build_report(ctx.run_dir, ctx.out, budget_gate=cfg.budget_gate, plots=cfg.plots,
                              accept_inconclusive=cfg.accept_inconclusive)
        from ..report.cards import write_docs

        write_docs(ctx.run_dir, ctx.out, report)  # report.html beside report.md; a model card in every model dir
        failures = list(report["gate_failures"])
        regressed = 0
        if cfg.baseline:
            # accuracy in points (report.max_accuracy_drop), as `edgeport report --max-accuracy-drop` does; a
            # figure the baseline has and this run lacks fails (MISSING)
            rows = compare(report, load_report_json(Path(cfg.baseline)), cfg.max_regression, cfg.max_accuracy_drop)
            (ctx.out / "regression.md").write_text(comparison_markdown(rows, cfg.max_regression, cfg.max_accuracy_drop))
            regressed = len(failed(rows))
            failures += failure_messages(rows, cfg.baseline, cfg.max_regression, cfg.max_accuracy_drop)
        return {"gates_failed": len(failures), "gates_checked": len(report["gates"]), "regressed": regressed,
                "artifacts": len(report["artifacts"]), "plots": report["plots"],
                # validate's own failures already fail the run from its entry; repeat only the new ones
                "gate_failures": failures[len(report["validate_gate_failures"]):]}
