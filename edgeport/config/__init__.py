"""Typed pipeline config: one YAML file, one section per stage, validated all at once.

Every problem (unknown key, wrong type, impossible value, conflicting options) is collected into a single
``ConfigError`` naming the key as the user wrote it (``distill.train.lr``) and what to change.

One module per concern, each small: ``base`` (Section), ``data``, ``train``, ``models`` (pretrain, teacher,
distill, prune), ``artifacts`` (quantize, export, validate, bench, report), ``explain``, ``tune``, ``pipeline``
(the whole config and its cross-section checks) and ``loading`` (files, overrides, messages). Code inside
edgeport imports the module it needs (``from ..config.train import TrainConfig``), so a stage's code fingerprint
(``pipeline/code.py``) covers only the sections it is built from; this package re-exports everything for users.
"""

from ..errors import ConfigError
from .artifacts import (BenchConfig, ExportConfig, FallbackConfig, QatConfig, QuantizeConfig, ReportConfig,
                        ToleranceConfig, ValidateConfig)
from .base import Section
from .data import DataConfig, DataSpec, data_root
from .explain import ExplainConfig
from .loading import SHIPPED_DIR, load_config, resolve_config_path, shipped_configs
from .models import AugmentConfig, DistillConfig, PretrainConfig, PruneConfig, StudentConfig, TeacherConfig
from .pipeline import PipelineConfig, RunConfig
from .train import QatTrainConfig, RecoveryTrainConfig, TrainConfig
from .tune import TuneConfig, TuneRange, TuneSpace, TuneStudentSpace

__all__ = ["AugmentConfig", "BenchConfig", "ConfigError", "DataConfig", "DataSpec", "DistillConfig", "ExplainConfig",
           "ExportConfig", "FallbackConfig", "PipelineConfig", "PretrainConfig", "PruneConfig", "QatConfig",
           "QatTrainConfig", "QuantizeConfig", "RecoveryTrainConfig", "ReportConfig", "RunConfig", "SHIPPED_DIR", "Section",
           "StudentConfig", "TeacherConfig", "ToleranceConfig", "TrainConfig", "TuneConfig", "TuneRange",
           "TuneSpace", "TuneStudentSpace", "ValidateConfig", "data_root", "load_config", "resolve_config_path",
           "shipped_configs"]
