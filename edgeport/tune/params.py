"""Parameter files: a mapping of config keys (dotted ``distill.student.layers: [0, 2]`` or nested sections) that
``edgeport run CONFIG --params FILE`` merges into the config, and that ``edgeport tune`` writes
(``best_params.yaml``). Values keep their YAML types (no round trip through ``-o`` strings).

Precedence: the config file < the params file < ``-o`` overrides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError


def flatten(mapping: dict, prefix: str = "") -> dict[str, Any]:
    """Nested sections -> dotted keys (``{distill: {alpha: 0.3}}`` -> ``{"distill.alpha": 0.3}``); dotted keys stay.
    A mapping value under a key that is a dict-valued field (``validate.tolerances``) is flattened too, which
    sets the same leaves."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= flatten(value, dotted + ".")
        else:
            out[dotted] = value
    return out


def set_dotted(raw: dict, key: str, value: Any) -> str | None:
    """Set ``raw[a][b][c] = value`` for ``key`` ``a.b.c``, creating sections; a problem message, or None."""
    parts = [p for p in key.strip().split(".")]
    if not key.strip() or any(not p for p in parts):
        return f"'{key}' is not a dotted config key (e.g. distill.temperature)"
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return f"'{key}': '{part}' is not a section"
    node[parts[-1]] = value
    return None


def read_params(path: str | Path) -> dict[str, Any]:
    """A params file as flat dotted keys; a ConfigError naming the file when it is not a mapping."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read the params file ({exc.strerror})"], source=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"YAML syntax error at {where}{getattr(exc, 'problem', None) or exc}; fix the YAML there"],
                          source=str(path)) from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(["a params file is a mapping of config keys to values, e.g. 'teacher.train.lr: 3.0e-5'"],
                          source=str(path))
    return flatten(raw)


def read_param_files(paths) -> dict[str, Any]:
    """Several params files merged in order (a later file's key wins)."""
    merged: dict[str, Any] = {}
    for path in paths or []:
        merged |= read_params(path)
    return merged


def load_config_with(name_or_path: str, params: dict[str, Any] | None = None, overrides: list[str] | None = None,
                     *, after: dict[str, Any] | None = None, source: str | None = None):
    """``load_config`` with ``params`` (dotted key -> value) merged before the ``-o`` overrides and ``after``
    merged last (``edgeport tune``: each trial's sampled values and where it runs). Every problem in one
    ConfigError, keys named as written."""
    from ..config import loading as c

    path = c.resolve_config_path(name_or_path)
    raw = c._read_yaml(path)
    problems = [p for k, v in (params or {}).items() if (p := set_dotted(raw, k, v))]
    problems += c._apply_overrides(raw, overrides or [])
    problems += [p for k, v in (after or {}).items() if (p := set_dotted(raw, k, v))]
    cfg, more = c._validate(raw)
    problems += more
    if problems:
        raise ConfigError(problems, source=source or str(path))
    if cfg.run.name is None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"name": path.stem})})
    return cfg


def write_params(path: Path, params: dict[str, Any], header: str) -> None:
    """A params file: ``# header`` lines, then flat dotted keys (what ``--params`` reads back)."""
    text = "".join(f"# {line}\n" for line in header.splitlines())
    for key, value in params.items():  # one `dotted.key: value` line each, lists inline
        shown = yaml.safe_dump(_plain(value), default_flow_style=True).strip()
        text += f"{key}: {shown.removesuffix('...').strip()}\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _plain(value):
    """numpy scalars and tuples -> plain YAML types."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
