"""Student construction: fewer layers copied from chosen teacher layers (DistilBERT-style), optionally narrower."""

from __future__ import annotations

import copy

from ..config import StudentConfig
from ..errors import ConfigError


def build_student(teacher, cfg: StudentConfig):
    """A BERT classifier with ``len(cfg.layers)`` layers.

    Same width as the teacher: embeddings, the chosen encoder layers, pooler and classifier are copied, so the
    student starts from the teacher's knowledge. Any width setting that differs from the teacher's
    (``hidden_size``, ``intermediate_size``, ``num_attention_heads``): random init, the layer list only fixes the
    depth.
    """
    from transformers import AutoModelForSequenceClassification

    config, changed = student_config(teacher.config, cfg)
    student = AutoModelForSequenceClassification.from_config(config)
    if not changed:
        _copy_from_teacher(teacher, student, cfg.layers)
    return student


def student_config(teacher_config, cfg: StudentConfig):
    """The student's transformers config and which width settings differ from the teacher's; needs only the
    teacher's config, so a bad student spec fails before the teacher is trained (the distill stage's preflight)."""
    n_teacher = teacher_config.num_hidden_layers
    bad = [i for i in cfg.layers if not 0 <= i < n_teacher]
    if bad:
        raise ConfigError([f"distill.student.layers: {bad} out of range; the teacher has layers 0..{n_teacher - 1}"])
    config = copy.deepcopy(teacher_config)
    config.num_hidden_layers = len(cfg.layers)
    narrow = {k: v for k, v in dict(hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
                                    num_attention_heads=cfg.num_attention_heads).items() if v is not None}
    changed = {k: v for k, v in narrow.items() if getattr(config, k) != v}
    for key, value in changed.items():
        setattr(config, key, value)
    if config.hidden_size % config.num_attention_heads:
        raise ConfigError([f"distill.student: hidden_size {config.hidden_size} is not divisible by "
                           f"num_attention_heads {config.num_attention_heads}; set both so it divides"])
    return config, changed


def _copy_from_teacher(teacher, student, layers: list[int]) -> None:
    # load_state_dict copies under no_grad itself
    t, s = teacher.bert, student.bert
    s.embeddings.load_state_dict(t.embeddings.state_dict())
    for dst, src in zip(s.encoder.layer, layers):
        dst.load_state_dict(t.encoder.layer[src].state_dict())
    if t.pooler is not None and s.pooler is not None:
        s.pooler.load_state_dict(t.pooler.state_dict())
    student.classifier.load_state_dict(teacher.classifier.state_dict())
