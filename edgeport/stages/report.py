"""The report stage: ``report.md``, ``report.json`` and plots from the manifest; target budgets as gates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..pipeline import fingerprint as fp

if TYPE_CHECKING:
    from ..config import PipelineConfig, ReportConfig


@dataclass(frozen=True)
class ReportSettings:
    report: ReportConfig
    baseline: fp.File | None = fp.optional_input()  # report.baseline's bytes
    # The report and the model cards render the config recorded in the manifest (the chain and its settings),
    # so all of it is read here: any config change re-renders (a few seconds), never a stale card.
    recorded_config: dict
    libs: fp.Libraries


class ReportStage:
    name = "report"
    uses_data = False
    distributed = False
    key_metric = "gates_failed"

    def enabled(self, cfg: PipelineConfig) -> bool:
        return cfg.report.enabled

    # The report renders every earlier stage's entry from the manifest, so each enabled stage is an input: the
    # runner lists them (``runner.stage_inputs``; no ``inputs`` here, since importing the stage registry would
    # put every stage's code into this fingerprint). Not only the last one: bench does not read validate.
    reads_manifest = True

    def configure(self, cfg: PipelineConfig) -> ReportSettings:
        """The report's own settings, the baseline file, the recorded config and the plot library."""
        r = cfg.report
        report = r if r.baseline else r.model_copy(update={"max_regression": 0.1, "max_accuracy_drop": 1.0})
        return ReportSettings(report=report, baseline=fp.File(r.baseline) if r.baseline else None,
                              recorded_config=cfg.model_dump(mode="json", exclude={"tune"}),
                              libs=fp.libraries("plots") if r.plots else fp.Libraries(()))

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
            # as `edgeport report --baseline` does: estimates, sizes and parity exactly, latency within
            # max_regression, accuracy in points; a figure the baseline has and this run lacks fails (MISSING)
            rows = compare(report, load_report_json(Path(cfg.baseline)), cfg.max_regression, cfg.max_accuracy_drop)
            (ctx.out / "regression.md").write_text(comparison_markdown(rows, cfg.max_regression, cfg.max_accuracy_drop))
            (ctx.out / "regression.json").write_text(json.dumps([r.to_dict() for r in rows], indent=1) + "\n")
            regressed = len(failed(rows))
            failures += failure_messages(rows, cfg.baseline, cfg.max_regression, cfg.max_accuracy_drop)
        return {"gates_failed": len(failures), "gates_checked": len(report["gates"]), "regressed": regressed,
                "artifacts": len(report["artifacts"]), "plots": report["plots"],
                # validate's own failures already fail the run from its entry; repeat only the new ones
                "gate_failures": failures[len(report["validate_gate_failures"]):]}
