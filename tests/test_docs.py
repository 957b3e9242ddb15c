"""The documentation: the configuration reference lists every key of the schema, the README stays short and keeps the
test command CI runs, and the headless-Chromium render check (tools/headless.py) tells a clean page from a broken one.
``mkdocs build --strict`` itself (broken links, anchors, includes) runs in ``.ci/run``."""

from __future__ import annotations

import importlib.util
import re
import shutil
import types
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from edgeport.config import PipelineConfig

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tools_{name}", REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section_in(tp) -> tuple[type[BaseModel] | None, str]:
    """The config section an annotation holds (directly, optional, or as dict values) and the path suffix."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp, ""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is dict:
        inner, _ = _section_in(args[1])
        return inner, ".<name>"
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for a in args:
            inner, suffix = _section_in(a)
            if inner is not None:
                return inner, suffix
    return None, ""


def _schema(model: type[BaseModel], path: str = ""):
    """Every (dotted key, field) of the schema, and every section path, walked here independently of the page."""
    keys, sections = {}, set()
    for name, field in model.model_fields.items():
        sub, suffix = _section_in(field.annotation)
        dotted = f"{path}.{name}" if path else name
        if sub is None:
            keys[dotted] = field
        else:
            sections.add(dotted + suffix)
            more_keys, more_sections = _schema(sub, dotted + suffix)
            keys |= more_keys
            sections |= more_sections
    return keys, sections


def _documented(page: str) -> tuple[dict[str, str], set[str]]:
    """(dotted key -> its table row, section paths) as the rendered page shows them."""
    rows, sections, current = {}, set(), None
    for line in page.splitlines():
        heading = re.match(r"^#{2,6} `([^`]+)`", line)
        if heading:
            current = heading.group(1)
            sections.add(current)
        row = re.match(r"^\| `([A-Za-z_0-9]+)` \|", line)
        if row and current:
            rows[f"{current}.{row.group(1)}"] = line
    return rows, sections


def _plain(text: str) -> str:
    return " ".join(text.replace("\\|", "|").replace("\\*", "*").replace("&lt;", "<").split())


def test_the_configuration_reference_lists_every_key_with_its_description():
    page = _tool("config_reference").render()
    keys, sections = _schema(PipelineConfig)
    rows, shown = _documented(page)
    assert len(keys) > 150  # the walk itself found the schema
    assert set(rows) == set(keys), (sorted(set(keys) - set(rows)), sorted(set(rows) - set(keys)))
    assert sections <= shown, sorted(sections - shown)
    for dotted, field in keys.items():
        if field.description:
            assert " ".join(field.description.split()) in _plain(rows[dotted]), dotted


def test_the_configuration_reference_shows_the_defaults_of_each_path():
    # teacher.train and distill.train share TrainConfig but not its defaults: each section shows its own.
    rows, _ = _documented(_tool("config_reference").render())
    assert "| `0.0001` |" in rows["teacher.train.lr"]
    assert "| `5.0e-05` |" in rows["pretrain.train.lr"]
    assert "| `450` |" in rows["prune.train.min_steps"]
    assert "| required |" in rows["tune.space.min_steps.low"]


def test_the_readme_is_short_and_keeps_the_test_command_ci_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme) <= 6000, f"README.md has {len(readme)} characters; move detail into docs/"
    block = re.search(r"## Run the tests\s+```bash\n(.+?)\n```", readme, re.S)
    assert block, "README.md lost its test command block"
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert block.group(1).strip() in ci_lines


def test_the_readmes_relative_links_lead_to_files():
    # mkdocs --strict checks the site's links; the READMEs lie outside it.
    for readme in (REPO / "README.md", REPO / "android-demo" / "README.md"):
        targets = re.findall(r"\]\(([^)\s]+)\)", readme.read_text(encoding="utf-8"))
        local = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
        assert local, readme
        missing = [t for t in local if not (readme.parent / t).exists()]
        assert not missing, f"{readme.relative_to(REPO)} links to missing files: {missing}"


needs_chromium = pytest.mark.skipif(
    not any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")),
    reason="needs Chromium (Debian's chromium; .ci/run installs it)")


@needs_chromium
def test_the_render_check_passes_a_clean_page_and_fails_broken_ones(tmp_path):
    headless = _tool("headless")
    clean = "<!DOCTYPE html><html><body><h1>report</h1><p>all good</p></body></html>"
    pages = {"clean": clean,
             "exception": clean.replace("</body>", "<script>notDefined()</script></body>"),
             "console": clean.replace("</body>", "<script>console.error('bad')</script></body>"),
             "image": clean.replace("</body>", "<img src='missing.png'></body>"),
             "empty": "<!DOCTYPE html><html><body></body></html>"}
    for name, html in pages.items():
        (tmp_path / f"{name}.html").write_text(html)
    browser = headless.Browser()
    try:
        found = {name: headless.problems(browser, tmp_path / f"{name}.html") for name in pages}
        missing = headless.problems(browser, tmp_path / "absent.html")
    finally:
        browser.close()
    assert found["clean"] == []
    assert any("ReferenceError: notDefined" in p for p in found["exception"])
    assert any(p.startswith("console.error: bad") for p in found["console"])
    assert any("image did not decode" in p for p in found["image"])
    assert found["empty"] == ["the page shows no text"]
    assert missing and missing[0].startswith("did not load")
