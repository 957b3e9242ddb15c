"""``report.html``: ``report.md`` as one self-contained HTML page (every image embedded as a data URI).

The page is rendered from the very Markdown the report writes (markdown-it-py, CommonMark with tables; raw HTML
in the Markdown is escaped), so the two never disagree. Each image the Markdown shows (the report's plots, the
explain stage's agreement plot) is read from disk and embedded as ``data:image/png;base64,...``; the page makes no
request of its own, so it can be mailed, attached to a CI run or opened offline. Links (e.g. to the explain
stage's page) stay links, relative to the report's folder.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path

from ..errors import require

STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2em auto; max-width: 1280px;
       padding: 0 1.5em; color: #1f2328; }
h1 { border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 12.5px; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(even) td { background: #fbfcfd; }
code { background: #f2f4f7; padding: 1px 4px; border-radius: 4px; font-size: 90%; }
img { max-width: 100%; height: auto; border: 1px solid #d0d7de; margin: .5em 0; }
"""


def to_html(markdown_text: str, base: Path, title: str) -> str:
    """A complete HTML page; images are resolved against ``base`` and embedded."""
    markdown_it = require("markdown_it", "report")
    md = markdown_it.MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(markdown_text)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                child.attrSet("src", _data_uri(Path(base), child.attrGet("src") or ""))
    body = md.renderer.render(tokens, md.options, {})
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def write_html(out: Path, report: dict | None = None) -> Path:
    """``out/report.html`` from ``out/report.md`` (written by ``build_report`` just before)."""
    out = Path(out)
    title = f"edgeport report: {report['run']}" if report else "edgeport report"
    path = out / "report.html"
    path.write_text(to_html((out / "report.md").read_text(encoding="utf-8"), out, title), encoding="utf-8")
    return path


def _data_uri(base: Path, src: str) -> str:
    """The image as a data URI; a remote or missing image becomes an empty one (the page never fetches)."""
    if src.startswith("data:"):
        return src
    path = (base / src).resolve()
    if "://" in src or not path.is_file():
        return "data:,"
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
