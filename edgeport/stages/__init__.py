"""The stage registry, in pipeline order. A stage is added here and nowhere else."""

from .bench import BenchStage
from .distill import DistillStage
from .explain import ExplainStage
from .export import ExportStage
from .pretrain import PretrainStage
from .prune import PruneStage
from .quantize import QuantizeStage
from .report import ReportStage
from .teacher import TeacherStage
from .validate import ValidateStage

# pretrain (optional, off by default) continues MLM pre-training of the teacher's encoder; teacher fine-tunes it.
# export writes fp32 artifacts; quantize makes INT8 from them (ONNX/TFLite quantise the exported file).
# bench measures and estimates the latency of every artifact on every target (validate judges accuracy only).
# explain (optional, off by default) compares attributions of every model with the teacher's; the report shows them.
STAGES = [PretrainStage(), TeacherStage(), DistillStage(), PruneStage(), ExportStage(), QuantizeStage(),
          ValidateStage(), BenchStage(), ExplainStage(), ReportStage()]
