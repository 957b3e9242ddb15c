"""The configuration reference page, generated from the config schema (``edgeport.config.PipelineConfig``).

An MkDocs hook (``hooks:`` in mkdocs.yml): every build renders ``reference/configuration.md`` from the pydantic
models themselves (key, type with its bounds, default, the field's ``description`` and the section's docstring),
so the page cannot drift from the code; no copy of it is committed. ``python tools/config_reference.py`` prints it.

Each section and nested section gets a heading named by its dotted path (``distill.student``,
``validate.tolerances.<artifact>``) and a table of its plain keys; tests/test_docs.py checks that every field of
PipelineConfig appears under its path.
"""

from __future__ import annotations

import inspect
import json
import types
import typing

import annotated_types as at
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

PAGE = "reference/configuration.md"

INTRO = """# Configuration reference

A run is configured by one YAML file with one section per stage. Start from a shipped config (`edgeport configs`
lists them, `edgeport cp default my.yaml` copies one), or override single keys on the command line:
`edgeport run default -o distill.temperature=3 -o export.formats=[onnx]` (the value is read as YAML). A key left
out of the file takes the default below; the shipped configs set many of their own (`edgeport/configs/*.yaml`).
Every problem is reported at once, naming the key as written: an unknown key is an error (with a "did you mean"),
never silently ignored.

This page is generated from the schema (`edgeport/config/`, pydantic models) each time the site is built
(`tools/config_reference.py`), so it lists exactly the keys the code accepts. Bounds are shown with the type:
`int ≥ 1` rejects 0.
"""


def _is_section(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _args(tp) -> tuple:
    return typing.get_args(tp)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if tp is type(None):
        return "null"
    if origin is typing.Literal:
        return " or ".join(json.dumps(a) for a in _args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in _args(tp))
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in _args(tp))}]"
    if tp is typing.Any:
        return "any"
    if _is_section(tp):
        return f"section ({tp.__name__})"
    return getattr(tp, "__name__", str(tp))


def _bounds(field) -> str:
    signs = {at.Ge: ("≥", "ge"), at.Gt: (">", "gt"), at.Le: ("≤", "le"), at.Lt: ("<", "lt")}
    found = [f"{sign} {getattr(m, attr)}" for m in field.metadata for cls, (sign, attr) in signs.items()
             if isinstance(m, cls)]
    return f" ({', '.join(found)})" if found else ""


def _value(value) -> str:
    """A default as it would be written in the YAML file (flow style: `[onnx, tflite]`, `null`, `2.0e-05`)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("...").strip()


def _default(field) -> object:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def _cell(text: str, table: bool = True) -> str:
    """Text for a table cell (or a paragraph): one line; in a table "|" would split the cell; outside code spans
    "<word>" would vanish as an HTML tag and "*" could start emphasis."""
    text = " ".join(text.split())
    parts = (text.replace("|", "\\|") if table else text).split("`")
    for i in range(0, len(parts), 2):  # the even parts lie outside `code`
        parts[i] = parts[i].replace("<", "&lt;").replace("*", "\\*")
    return "`".join(parts)


def _sentences(*texts: str) -> str:
    return " ".join(t if t.endswith((".", ":")) else t + "." for t in texts if t)


def _sections_in(tp) -> tuple[type[BaseModel] | None, bool, bool]:
    """(the Section class inside an annotation, whether it is a dict of them, whether null is allowed)."""
    if _is_section(tp):
        return tp, False, False
    origin = typing.get_origin(tp)
    if origin is dict and _is_section(_args(tp)[1]):
        return _args(tp)[1], True, False
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in _args(tp) if a is not type(None)]
        if len(inner) == 1 and _is_section(inner[0]):
            return inner[0], False, len(inner) < len(_args(tp))
    return None, False, False


def _doc(cls: type[BaseModel]) -> str:
    own = cls.__dict__.get("__doc__")  # the class's own docstring, not an inherited one
    return " ".join(inspect.cleandoc(own).split()) if own else ""


def _render(path: str, cls: type[BaseModel], values: BaseModel | None, level: int, note: str, out: list[str]):
    anchor = path.replace(".", "-").replace("<", "").replace(">", "")
    out += [f"{'#' * min(level, 6)} `{path}` {{ #{anchor} }}", ""]
    intro = _sentences(note, _doc(cls))
    if intro:
        out += [_cell(intro, table=False), ""]
    rows, nested = [], []
    for name, field in cls.model_fields.items():
        value = getattr(values, name) if values is not None else _default(field)
        sub, is_dict, nullable = _sections_in(field.annotation)
        if sub is not None:
            nested.append((name, field, sub, is_dict, nullable, value))
            continue
        default = "required" if value is PydanticUndefined else _cell(f"`{_value(value)}`")
        rows.append(f"| `{name}` | {_cell(_type_name(field.annotation) + _bounds(field))} | {default} | "
                    f"{_cell(field.description or '')} |")
    if rows:
        out += ["| key | type | default | description |", "|---|---|---|---|", *rows, ""]
    for name, field, sub, is_dict, nullable, value in nested:
        words = [field.description or ""]
        if is_dict:
            words.append(f"A mapping: any number of names, each with the keys below (default: `{_value(value)}`).")
            value = None
        elif nullable and value is None:
            words.append("Default: `null` (not set); when set, the keys below.")
        elif nullable:
            words.append("May be set to `null`.")
        _render(f"{path}.{name}" + (".<name>" if is_dict else ""), sub, value, level + 1, _sentences(*words), out)


def render() -> str:
    from edgeport.config import PipelineConfig  # lazy: the hook module loads before the site needs the page

    root = PipelineConfig()
    out = [INTRO]
    for name, field in PipelineConfig.model_fields.items():
        _render(name, field.annotation, getattr(root, name), 2, field.description or "", out)
    return "\n".join(out)


def on_files(files, config):
    """MkDocs hook: add the generated page to the site's files (nav names it)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, PAGE, content=render()))
    return files


if __name__ == "__main__":
    print(render())
