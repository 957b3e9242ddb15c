"""The stage registry, in pipeline order. A stage is added here and nowhere else."""

from .distill import DistillStage
from .teacher import TeacherStage

STAGES = [TeacherStage(), DistillStage()]


def stage_names() -> list[str]:
    return [s.name for s in STAGES]
