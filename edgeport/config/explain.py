"""The ``explain`` section: attributions of every model compared with the teacher's."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import Section


class ExplainConfig(Section):
    enabled: bool = Field(False, description="after validate: attributions of the teacher, the student(s) and the "
                          "artifacts on sampled eval rows, compared with the teacher's (needs edgeport[explain])")
    rows: int = Field(200, ge=1, le=100_000, description="evaluation rows explained (a seeded sample; all rows when "
                      "the split is smaller)")
    seed: int | None = Field(None, description="seed of the row sample; default: run.seed")
    top_k: int = Field(3, ge=1, le=100, description="top-k word overlap: the k words with the largest |score| "
                       "(a shared word counts when both push the same way)")
    ig: bool = Field(True, description="Integrated Gradients on the torch models (teacher, student, pruned) besides "
                     "the black-box word ablation every model gets")
    ig_steps: int = Field(32, ge=2, le=1024, description="Integrated Gradients steps (Gauss-Legendre); more steps, "
                          "smaller convergence delta")
    models: list[str] | None = Field(None, description="what to compare with the teacher: model stages (distill, "
                                     "prune) and artifact names (onnx-int8, tflite-fp32, ...); default: the enabled "
                                     "model stages and every INT8 artifact")
    divergent: int = Field(5, ge=0, le=1000, description="rows listed where the label agrees but the reasons diverge "
                           "most (lowest Spearman), overall and per model")

    @model_validator(mode="after")
    def _models(self):
        if self.models is not None and len(set(self.models)) != len(self.models):
            raise ValueError("explain.models has duplicates")
        return self
