from .loop import FitResult, evaluate, fit, predict_logits

__all__ = ["FitResult", "evaluate", "fit", "predict_logits"]
