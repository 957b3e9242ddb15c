"""Run the code a model card tells its reader to run: the first python block under "## How to load it", in the
card's own directory (where its model and tokenizer sit), as a user pasting it would."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


def run_load_snippet(card: Path) -> tuple[dict, str]:
    """(the snippet's variables after it ran, what it printed)."""
    section = card.read_text(encoding="utf-8").split("## How to load it", 1)[1]
    match = re.search(r"```python\n(.*?)\n```", section, re.S)
    assert match, f"{card}: no python block under 'How to load it'"
    names: dict = {"__name__": "__card__"}
    out = io.StringIO()
    with contextlib.chdir(card.parent), contextlib.redirect_stdout(out):
        exec(compile(match.group(1), str(card), "exec"), names)  # noqa: S102 (our own generated card)
    return names, out.getvalue()
