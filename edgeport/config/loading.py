"""Reading a config: a shipped name or a YAML file, ``-o a.b=value`` overrides, every problem in one ConfigError
naming the key as the user wrote it and what to change (with a "did you mean" for typos)."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .pipeline import PipelineConfig

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def resolve_config_path(name_or_path: str) -> Path:
    """A config is a file path or the name of a shipped config (``edgeport configs`` lists them)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_configs()
    if name_or_path in shipped:
        return shipped[name_or_path]
    hint = difflib.get_close_matches(name_or_path, list(shipped), n=1)
    raise ConfigError(
        [f"no config file '{name_or_path}' and no shipped config of that name"
         + (f" (did you mean '{hint[0]}'?)" if hint else "")
         + f"; shipped configs: {', '.join(shipped)}"],
        source="config",
    )


def load_config(name_or_path: str, overrides: list[str] | None = None) -> PipelineConfig:
    path = resolve_config_path(name_or_path)
    raw = _read_yaml(path)
    problems = _apply_overrides(raw, overrides or [])
    cfg, more = _validate(raw)
    problems += more
    if problems:
        raise ConfigError(problems, source=str(path))
    if cfg.run.name is None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"name": path.stem})})
    return cfg


def config_from_mapping(raw: dict, overrides: list[str] | None = None, *, source: str) -> PipelineConfig:
    """A config built in code (``edgeport export``) with ``-o`` overrides on top, validated and reported like a
    file: every problem in one ConfigError under ``source``."""
    import copy

    raw = copy.deepcopy(raw)
    problems = _apply_overrides(raw, overrides or [])
    cfg, more = _validate(raw)
    problems += more
    if problems:
        raise ConfigError(problems, source=source)
    return cfg


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(["the file is not UTF-8 text; save it as UTF-8"], source=str(path))
    except OSError as exc:
        raise ConfigError([f"cannot read the file ({exc.strerror}); check its permissions"], source=str(path))
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"YAML syntax error at {where}{problem}; fix the YAML there"], source=str(path))
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError([f"the top level must be a mapping of sections (run:, data:, ...), got {type(raw).__name__}"],
                          source=str(path))
    return raw


def _apply_overrides(raw: dict, overrides: list[str]) -> list[str]:
    """Apply ``-o a.b.c=value`` overrides in place; the value is parsed as YAML (``3``, ``true``, ``[0, 2]``)."""
    problems = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            problems.append(f"override '{item}' must look like section.key=value, e.g. distill.epochs=2")
            continue
        parts = key.strip().split(".")
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"override '{item}': '{part}' is not a section")
                break
        else:
            try:
                node[parts[-1]] = yaml.safe_load(value)
            except yaml.YAMLError:
                node[parts[-1]] = value
    return problems


def _validate(raw: dict) -> tuple[PipelineConfig | None, list[str]]:
    try:
        return PipelineConfig.model_validate(raw), []
    except ValidationError as exc:
        return None, [_describe(err) for err in exc.errors()]


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, _, leaf = loc.rpartition(".")
        known = _known_keys(parent)
        hint = difflib.get_close_matches(leaf, known, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        where = f"section '{parent}'" if parent else "the top level"
        return f"{loc}: unknown key{suggestion}; {where} accepts: {', '.join(known)}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = err.get("input")
    shown = "" if kind.startswith("value_error") or isinstance(got, dict) else f" (got {got!r})"
    return f"{loc or 'config'}: {msg}{shown}"


def _known_keys(dotted: str) -> list[str]:
    model: type[BaseModel] = PipelineConfig
    for part in [p for p in dotted.split(".") if p]:
        field = model.model_fields.get(part)
        ann = getattr(field, "annotation", None)
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)
