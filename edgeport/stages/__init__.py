"""The stage registry, in pipeline order. A stage is added here and nowhere else."""

from .distill import DistillStage
from .export import ExportStage
from .prune import PruneStage
from .quantize import QuantizeStage
from .report import ReportStage
from .teacher import TeacherStage
from .validate import ValidateStage

# export writes fp32 artifacts; quantize makes INT8 from them (ONNX/TFLite quantise the exported file).
STAGES = [TeacherStage(), DistillStage(), PruneStage(), ExportStage(), QuantizeStage(), ValidateStage(),
          ReportStage()]
