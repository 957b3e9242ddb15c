"""``edgeport export``: an already fine-tuned sequence classifier -> validated artifacts, as a pipeline run.

No training. The command builds a pipeline config in which the teacher is the given model taken as it is
(``teacher.finetune: never``: the teacher stage only loads and measures it), distill and prune are off, and export,
quantize (``--int8``), validate, bench and report run exactly as in ``edgeport run``: the same stages, gates,
verdicts and "what to ship". OUT is that run's directory: the artifacts (``export/``, ``quantize/``), the report
(``report/report.md``) and ``edgeport-export.yaml``, the resolved config, which ``edgeport run
OUT/edgeport-export.yaml`` runs again. Being a pipeline run, the same command a second time executes nothing
(every stage is up to date), and a changed option re-runs only the stages it reaches.

OUT must be new, empty, or a directory an earlier ``edgeport export`` made (it holds ``edgeport-export.yaml``):
anything else is refused before a byte is written, so no file of the user's is overwritten.

This module is the CLI/API layer (``edgeport.api.export`` calls ``prepare``); no stage imports it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import get_args

from .errors import ConfigError, EdgeportError, ModelError

CONFIG_FILE = "edgeport-export.yaml"  # the resolved config, and the mark of a directory edgeport export made
DEFAULT_FORMATS = ("tflite", "onnx", "executorch")
SOURCE = "edgeport export"  # how config problems are headed


@dataclass(frozen=True)
class ExportRequest:
    """What ``edgeport export`` was asked; ``data`` (accuracy gates) or ``texts`` (parity only), not both."""

    model: str  # a Hugging Face sequence-classification model directory or a hub id
    out: Path  # the run directory
    formats: tuple[str, ...] = DEFAULT_FORMATS
    int8: bool = False
    data: str | None = None  # a dataset directory, or a folder name under $EDGEPORT_DATA_DIR (as data.local)
    texts: str | None = None  # a UTF-8 file, one input per line, no labels
    targets: tuple[str, ...] | None = None  # device profiles; None: bench.targets' default
    max_seq_len: int | None = None
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    eval_split: str | None = None
    overrides: tuple[str, ...] = ()  # -o KEY=VALUE on the generated config
    accept_inconclusive: bool = False

    def columns(self) -> dict[str, str]:
        """The data-section keys the column/split options set (only those given)."""
        given = {"text_column": self.text_column, "text_pair_column": self.text_pair_column,
                 "label_column": self.label_column, "eval_split": self.eval_split}
        return {k: v for k, v in given.items() if v is not None}

    def command(self) -> str:
        """The command line that makes this request (written at the top of the config)."""
        parts = ["edgeport export", self.model, str(self.out), "--formats", ",".join(self.formats)]
        parts += ["--int8"] if self.int8 else []
        parts += ["--data", self.data] if self.data else ["--texts", self.texts] if self.texts else []
        parts += ["--targets", ",".join(self.targets)] if self.targets is not None else []
        parts += ["--max-seq-len", str(self.max_seq_len)] if self.max_seq_len else []
        parts += [f"--{k.replace('_', '-')} {v}" for k, v in self.columns().items()]
        parts += [f"-o {o}" for o in self.overrides]
        parts += ["--accept-inconclusive"] if self.accept_inconclusive else []
        return " ".join(parts)


def known_formats() -> tuple[str, ...]:
    """The formats ``export.formats`` accepts (its Literal), so the command and the config never disagree."""
    from .config.artifacts import ExportConfig

    (literal,) = get_args(ExportConfig.model_fields["formats"].annotation)
    return get_args(literal)


def prepare(req: ExportRequest):
    """Check the request, the model and OUT, build and validate the config, write it into OUT; the
    ``PipelineConfig`` to execute. Nothing is written before every check has passed."""
    req = replace(req, out=req.out.expanduser().resolve())  # the written config runs from any directory
    check_request(req)
    check_out(req.out)
    spec, config = read_classifier(req.model)
    cfg = build_config(req, spec, label_names(config))
    check_model(spec, config, cfg)
    check_inputs(cfg)
    write_config(req, cfg)
    return cfg


def check_request(req: ExportRequest) -> None:
    known = known_formats()
    problems = [f"--formats: unknown format '{f}'; known: {', '.join(known)}" for f in req.formats if f not in known]
    if not req.formats:
        problems.append(f"--formats is empty; list one or more of {', '.join(known)}, e.g. --formats tflite,onnx")
    if req.data and req.texts:
        problems.append("give --data or --texts, not both: --data DATASET validates accuracy on its labelled eval "
                        "split, --texts FILE only compares each artifact with the fp32 model")
    elif not req.data and not req.texts:
        problems.append("give --data DATASET (a labelled dataset: accuracy gates) or --texts FILE (one input per "
                        "line, no labels: parity with the fp32 model only); validate needs rows to judge")
    if req.texts and req.columns():
        problems.append(f"{', '.join('--' + k.replace('_', '-') for k in req.columns())} name(s) a column or split "
                        f"of a --data dataset; --texts reads one input per line")
    if problems:
        raise ConfigError(problems, source=SOURCE)


def check_out(out: Path) -> None:
    """OUT is new, empty, or an earlier ``edgeport export`` run (its config file is there); never anything else."""
    if out.exists() and not out.is_dir():
        raise EdgeportError(f"OUT {out} is a file; give a directory for the run (new or empty, or one an earlier "
                            f"edgeport export made)")
    if not out.is_dir() or (out / CONFIG_FILE).is_file():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    what = ("an edgeport run that edgeport export did not make" if (out / "manifest.json").is_file()
            else "files edgeport export did not write")
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise EdgeportError(f"OUT {out} holds {what} ({shown}); edgeport export writes only into a new or empty "
                        f"directory or one it made before (it holds {CONFIG_FILE}): choose another OUT")


def read_classifier(model: str):
    """(model dir or hub id, its transformers config) of a sequence classifier edgeport can export; a ModelError
    naming what is missing otherwise. Reads config.json only, not the weights."""
    from .models.loading import check_architecture, check_model_dir, read_model_config, resolve_model_dir

    spec = resolve_model_dir(model)
    if isinstance(spec, Path):
        check_model_dir(spec, allow_pickle=True)  # config.json, weights, tokenizer; the pickle rule: check_model
        spec = spec.resolve()  # the written config runs from any directory
    config = read_model_config(spec)
    check_architecture(config, spec)
    archs = list(config.architectures or [])
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        raise ModelError(f"{model} is not a sequence-classification model (config.json architectures: "
                         f"{archs or 'none'}); edgeport export takes an already fine-tuned classifier such as "
                         f"BertForSequenceClassification. To fine-tune a classification head on it first, use "
                         f"edgeport run with teacher.model: {model}")
    return spec, config


def label_names(config) -> list[str]:
    """The classes in output order, from config.json's id2label (LABEL_0, ... when it names none)."""
    return [str(config.id2label[i]) for i in range(config.num_labels)]


def build_config(req: ExportRequest, spec, names: list[str]):
    """The pipeline config of the request: the model as the teacher, taken as is; no distill, no prune."""
    from .config.loading import config_from_mapping

    out = req.out
    data = {"label_names": names, **({"max_seq_len": req.max_seq_len} if req.max_seq_len else {})}
    if req.texts:
        data |= {"local": None, "hub_id": None, "texts": str(Path(req.texts).expanduser().resolve())}
    else:
        local = Path(req.data).expanduser()
        data |= {"local": str(local.resolve()) if local.is_dir() else req.data, "hub_id": None} | req.columns()
    raw = {
        "run": {"name": out.name, "runs_dir": str(out.parent)},
        "data": data,
        "teacher": {"model": str(spec), "finetune": "never"},
        "distill": {"enabled": False},
        "prune": {"enabled": False},
        "export": {"formats": list(req.formats)},
        "quantize": {"enabled": req.int8},
        "report": {"accept_inconclusive": req.accept_inconclusive},
    }
    if req.targets is not None:
        raw["bench"] = {"targets": list(req.targets)}
    return config_from_mapping(raw, list(req.overrides), source=SOURCE)


def check_model(spec, config, cfg) -> None:
    """What the generated config asks of the model: no pickle unless allowed, the sequence length within its
    positions."""
    from .models.arch import usable_positions
    from .models.loading import check_model_dir

    if isinstance(spec, Path):
        check_model_dir(spec, cfg.teacher.allow_pickle)
    limit = usable_positions(config)
    if limit and cfg.data.max_seq_len > limit:
        raise ModelError(f"--max-seq-len {cfg.data.max_seq_len} (data.max_seq_len) exceeds what {spec} can take "
                         f"({limit} positions); pass --max-seq-len {limit} or less")


def check_inputs(cfg) -> None:
    """The texts file holds inputs; the dataset directory and its split files exist (their rows are read by the
    run's preflight)."""
    from .data import read_texts, resolve_local_dir, split_file

    if cfg.data.texts is not None:
        read_texts(Path(cfg.data.texts), "--texts")
        return
    directory = resolve_local_dir(cfg.data)
    if directory is not None:
        for split in (cfg.data.train_split, cfg.data.eval_split):
            split_file(directory, split)


def write_config(req: ExportRequest, cfg) -> Path:
    """OUT/edgeport-export.yaml: the resolved config, headed by the command that made it, written atomically under
    the run's lock: an export still running in OUT keeps its config (this command then stops with LockError)."""
    import yaml

    from .pipeline.lock import RunLock

    out = req.out
    path = out / CONFIG_FILE
    header = (f"# edgeport export run: the resolved pipeline config of\n#   {req.command()}\n"
              f"# (re-written by that command). Run it again with the same command, or with:\n"
              f"#   edgeport run {path}\n")
    text = header + yaml.safe_dump(cfg.model_dump(mode="json", exclude={"tune"}), sort_keys=False)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path  # the same command again: nothing to write
        tmp = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path
