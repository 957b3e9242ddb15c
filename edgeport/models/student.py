"""Student construction: fewer layers copied from chosen teacher layers (DistilBERT-style), optionally narrower."""

from __future__ import annotations

import copy

from ..config.models import StudentConfig
from ..errors import ConfigError
from . import arch


def build_student(teacher, cfg: StudentConfig, make=None):
    """A classifier of the teacher's architecture with ``len(cfg.layers)`` layers.

    Same width as the teacher: every weight is copied, the encoder layers from the chosen teacher layers and the
    rest (embeddings, DeBERTa's relative embeddings and encoder LayerNorm, pooler, pre-classifier, classifier) by
    name, so the student starts from the teacher's knowledge. Any width setting that differs from the teacher's
    (``hidden_size``, ``intermediate_size``, ``num_attention_heads``, in the architecture's own config keys):
    random init, the layer list only fixes the depth. ``make(config)`` builds the empty student (default: a
    sequence classifier; ``tasks.embedding_model.new_embedder`` for sentence embeddings).
    """
    from transformers import AutoModelForSequenceClassification

    config, changed = student_config(teacher.config, cfg)
    student = (make or AutoModelForSequenceClassification.from_config)(config)
    if not changed:
        _copy_from_teacher(teacher, student, cfg.layers)
    return student


def student_config(teacher_config, cfg: StudentConfig):
    """The student's transformers config and which width settings differ from the teacher's; needs only the
    teacher's config, so a bad student spec fails before the teacher is trained (the distill stage's preflight)."""
    a, keys = arch.arch_for(teacher_config), arch.width_keys(teacher_config)
    n_teacher = getattr(teacher_config, a.layers_key)
    bad = [i for i in cfg.layers if not 0 <= i < n_teacher]
    if bad:
        raise ConfigError([f"distill.student.layers: {bad} out of range; the teacher has layers 0..{n_teacher - 1}"])
    config = copy.deepcopy(teacher_config)
    setattr(config, a.layers_key, len(cfg.layers))
    narrow = {k: v for k, v in dict(hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                                    num_attention_heads=cfg.num_attention_heads).items() if v is not None}
    changed = {k: v for k, v in narrow.items() if getattr(config, keys[k]) != v}
    hidden = getattr(config, a.hidden_key)
    for key, value in changed.items():
        setattr(config, keys[key], value)
    if "hidden_size" in changed:  # sizes tied to the width (DeBERTa's pooler_hidden_size) follow it
        for key in a.follows_hidden:
            if getattr(config, key, None) == hidden:
                setattr(config, key, changed["hidden_size"])
    width, heads = getattr(config, a.hidden_key), getattr(config, a.heads_key)
    if width % heads:
        raise ConfigError([f"distill.student: hidden_size {width} is not divisible by "
                           f"num_attention_heads {heads}; set both so it divides"])
    return config, changed


def _copy_from_teacher(teacher, student, layers: list[int]) -> None:
    """The teacher's state dict with encoder layer ``layers[j]`` renamed to ``j``; everything outside the layers
    keeps its name. Strict: a weight the student has and the teacher does not is an error, not a random init."""
    prefix = arch.layers_prefix(teacher) + "."  # same architecture, same names: only the layer indices move
    teacher_state = teacher.state_dict()
    state = {name: t for name, t in teacher_state.items() if not name.startswith(prefix)}
    for dst, src in enumerate(layers):
        head = f"{prefix}{src}."
        state |= {f"{prefix}{dst}.{name[len(head):]}": t for name, t in teacher_state.items() if name.startswith(head)}
    student.load_state_dict(state, strict=True)  # load_state_dict copies under no_grad itself
