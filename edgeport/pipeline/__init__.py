from .manifest import Manifest
from .runner import GateError, RunSummary, execute, make_plan, run_dir_for
from .stage import Stage, StageContext, model_stage

__all__ = ["GateError", "Manifest", "RunSummary", "Stage", "StageContext", "execute", "make_plan", "model_stage",
           "run_dir_for"]
