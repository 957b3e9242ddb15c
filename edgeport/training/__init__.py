from .kd import kd_loss
from .loop import FitResult, evaluate, fit, predict_logits

__all__ = ["FitResult", "evaluate", "fit", "kd_loss", "predict_logits"]
