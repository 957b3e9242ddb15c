"""Explain stage (optional, after validate): do the compressed models decide for the teacher's reasons?

On ``explain.rows`` sampled evaluation rows, the teacher, the student(s) and the artifacts (default: the enabled
model stages and every INT8 artifact) are explained word by word (``edgeport/explain/``): word ablation through
each runtime for all of them, Integrated Gradients for the torch models. Each is compared with the teacher by the
same method: Spearman rank correlation and top-k word overlap per row, mean and spread over the rows, and the rows
where the label agrees but the reasons diverge most. Writes ``results.json`` (every row, every score),
``results.md``, ``explain.html`` (tokens shaded, models side by side) and ``agreement.png``; the report shows
the agreement table and links the page.

It takes validate as an input when validate runs, so the chain stays linear and the report (which depends on the
last stage before it) re-runs when either changes; the accuracy per artifact in its table is validate's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..explain.tables import agreement_markdown, divergent_markdown
from ..pipeline import fingerprint as fp
from ..timing import Stopwatch

if TYPE_CHECKING:
    from ..config import DataSpec, ExplainConfig

MODEL_STAGES = ("distill", "prune")


def explain_subjects(cfg) -> list[str]:
    """What the explain stage compares with the teacher: ``explain.models``, or the enabled model stages and
    every INT8 artifact."""
    if cfg.explain.models is not None:
        return [m for m in cfg.explain.models if m != "teacher"]
    stages = [s for s in ("distill", "prune") if getattr(cfg, s).enabled]
    arts = [f"{f}-int8" for f in cfg.export.formats] if cfg.export.enabled and cfg.quantize.enabled else []
    return stages + arts


@dataclass(frozen=True)
class ExplainSettings:
    explain: ExplainConfig  # seed resolved (explain.seed or run.seed), models resolved (explain_subjects)
    data: DataSpec
    seed: int  # run.seed: the selection split's carving (the row sample uses explain.seed)
    threads: int | None
    libs: fp.Libraries


class ExplainStage:
    name = "explain"
    uses_data = True
    distributed = False
    key_metric = "min_spearman"

    def enabled(self, cfg) -> bool:
        return cfg.explain.enabled

    def inputs(self, cfg) -> dict[str, str]:
        subjects = explain_subjects(cfg)
        inputs = {"teacher": "teacher"} | {s: s for s in MODEL_STAGES if s in subjects}
        if any(s.endswith("-fp32") for s in subjects):
            inputs["export"] = "export"
        if any(s.endswith("-int8") for s in subjects):
            inputs["quantize"] = "quantize"
        if cfg.validate.enabled and cfg.export.enabled:
            inputs["validate"] = "validate"
        return inputs

    def preflight(self, cfg: ExplainSettings) -> None:
        """Integrated Gradients needs Captum: a missing extra fails before any stage of the run writes."""
        import importlib.util

        from ..errors import MissingExtraError

        if cfg.explain.ig and importlib.util.find_spec("captum") is None:
            raise MissingExtraError("captum", "explain")

    def configure(self, cfg) -> ExplainSettings:
        e, subjects = cfg.explain, explain_subjects(cfg)
        formats = {s.rpartition("-")[0] for s in subjects if s not in MODEL_STAGES}
        resolved = e.model_copy(update={"seed": cfg.run.seed if e.seed is None else e.seed, "models": subjects})
        return ExplainSettings(explain=resolved, data=cfg.data.spec(), seed=cfg.run.seed, threads=cfg.run.threads,
                               libs=fp.libraries("model", "explain", "plots",
                                                 *(f"runtime.{f}" for f in sorted(formats))))

    def run(self, ctx) -> dict:
        import torch

        from ..errors import MissingExtraError
        from ..explain.html import study_page
        from ..explain.plot import agreement_plot
        from ..explain.study import run_study

        e = ctx.cfg.explain
        task = ctx.task()
        split = task.eval
        seed = e.seed
        indices = sample_rows(len(split), e.rows, seed)
        threads = torch.get_num_threads()
        subjects = [self._torch_subject(ctx, "teacher")]
        accuracy = self._accuracies(ctx)
        try:
            for name in e.models:
                subjects.append(self._torch_subject(ctx, name) if name in MODEL_STAGES
                                else self._artifact_subject(ctx, name, threads))
            print(f"  explaining {len(indices)} of {len(split)} eval rows (seed {seed}) with "
                  f"{', '.join(s.name for s in subjects)}", flush=True)
            clock = Stopwatch().start()
            study = run_study(subjects, split.texts, split.pairs, split.labels, indices, task.label_names,
                              top_k_words=e.top_k, ig_steps=e.ig_steps, ig=e.ig, divergent=e.divergent,
                              echo=lambda m: print(m, flush=True))
        finally:
            torch.set_num_threads(threads)  # the TorchScript runner sets the process-wide pool
        seconds = round(clock.seconds, 1)
        for row in study["agreement"]:
            row["accuracy"] = accuracy.get(row["model"])
        study |= {"eval_split": getattr(split, "name", "eval"), "eval_rows": len(split), "seed": seed,
                  "seconds": seconds}
        (ctx.out / "results.json").write_text(json.dumps(study, indent=1) + "\n")
        (ctx.out / "explain.html").write_text(study_page(study, f"edgeport explain: {ctx.run_dir.name}"),
                                              encoding="utf-8")
        files = ["explain/results.json", "explain/results.md", "explain/explain.html"]
        try:
            if agreement_plot(study["agreement"], e.top_k, ctx.out / "agreement.png"):
                files.append("explain/agreement.png")
        except MissingExtraError as exc:  # matplotlib missing: the page and the table still stand
            print(f"  agreement.png not written: {exc}", flush=True)
        md = results_markdown(study)
        (ctx.out / "results.md").write_text(md)
        print("\n" + md, flush=True)
        compared = [a["spearman_mean"] for a in study["agreement"]
                    if a["method"] == "ablation" and a["spearman_mean"] is not None]
        return {"rows": len(indices), "eval_split": study["eval_split"], "seed": seed, "top_k": e.top_k,
                "ig_steps": study["ig_steps"], "min_spearman": min(compared) if compared else None,
                "agreement": study["agreement"],
                "divergent": [{k: d[k] for k in ("row", "text", "pair", "gold", "teacher_label", "model",
                                                 "model_label", "spearman", "top_k", "teacher_top", "model_top")}
                              for d in study["divergent"]],
                "timings": study["timings"], "seconds": seconds, "files": files}

    # ------------------------------------------------------------------------------------------ subjects

    @staticmethod
    def _torch_subject(ctx, name: str):
        from ..explain.study import Loaded, Subject

        directory = ctx.inputs[name]

        def load():
            from ..models import load_classifier, load_tokenizer
            from ..runtimes.eager import EagerRunner

            model = load_classifier(directory)
            return Loaded(EagerRunner(model, directory), load_tokenizer(directory), ctx.cfg.data.max_seq_len, model)

        return Subject(name, "torch", "fp32", load)

    @staticmethod
    def _artifact_subject(ctx, name: str, threads: int):
        from ..errors import ArtifactError
        from ..explain.study import Loaded, Subject

        role = "export" if name.endswith("-fp32") else "quantize"
        arts = {a["name"]: a for a in ctx.input_metrics(role).get("artifacts", [])}
        if name not in arts:
            raise ArtifactError(f"explain.models names '{name}', but the {role} stage made "
                                f"{', '.join(arts) or 'no artifacts'}")
        art = arts[name]
        path = ctx.run_dir / art["path"]

        def load():
            from .. import runtimes
            from ..runtimes.text import artifact_max_len, artifact_tokenizer

            runner = runtimes.load(path, threads=threads)
            return Loaded(runner, artifact_tokenizer(path), min(artifact_max_len(path), ctx.cfg.data.max_seq_len))

        return Subject(name, art["format"], art["precision"], load)

    @staticmethod
    def _accuracies(ctx) -> dict:
        """Eval accuracy per model from the stages that measured it (validate for artifacts)."""
        acc = {}
        for name in ("teacher", *MODEL_STAGES):
            if name in ctx.inputs:
                acc[name] = ctx.input_metrics(name).get("eval_accuracy")
        if "validate" in ctx.inputs:
            for art in ctx.input_metrics("validate").get("artifacts", []):
                acc[art.get("name")] = art.get("accuracy")
        return acc


def sample_rows(n: int, rows: int, seed: int) -> list[int]:
    """A seeded sample of ``rows`` row indices out of ``n`` (all of them when ``rows >= n``), in split order."""
    import random

    if rows >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), rows))


def results_markdown(study: dict) -> str:
    k = study["top_k"]
    lines = ["# Explain: attributions vs the teacher\n",
             f"{len(study['rows'])} rows of `{study['eval_split']}` (seed {study['seed']}). Word ablation for every "
             f"model (one black-box method); Integrated Gradients ({study['ig_steps']} steps) for the torch models. "
             f"The class explained is the teacher's prediction. ρ = Spearman of word scores vs the teacher's, "
             f"top-{k} = share of the {k} words with the largest |score| that both pick, with the same sign. "
             f"Top words: + towards the class, − away from it.\n",
             agreement_markdown(study["agreement"], k), "", divergent_markdown(study["divergent"])]
    return "\n".join(lines) + "\n"
