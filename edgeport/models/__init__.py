from .loading import BUILTIN_TEACHERS, load_classifier, load_tokenizer, resolve_model_dir, save_model
from .student import build_student

__all__ = ["BUILTIN_TEACHERS", "build_student", "load_classifier", "load_tokenizer", "resolve_model_dir", "save_model"]
