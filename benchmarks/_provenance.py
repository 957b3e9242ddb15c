"""Where a benchmark result came from: the commit, a digest of what was measured, and when.

Every file a script under ``benchmarks/`` writes into ``benchmarks/results/`` carries it
(``tests/test_benchmark_results.py`` fails for one that does not), so a figure can always be traced to the code
that produced it, and a stale one is visible as such:

* JSON: a top-level ``"provenance": {"commit", "config_digest", "date", "digest_of"}`` (a result that is a list
  is wrapped as ``{"provenance": ..., "results": [...]}``);
* Markdown: one line ``Provenance: commit `SHA`, config digest `HEX`, measured DATE.`` at the end;
* PNG: the same three fields as PNG text chunks (``edgeport:commit`` ...), read back with Pillow.

``commit`` is ``git rev-parse HEAD`` with ``-dirty`` appended when the checkout has uncommitted changes outside
``benchmarks/results/`` (results written by an earlier script are outputs, not code: without that exception the
second script of a session would always be "dirty"). ``config_digest`` is the sha256 of the canonical JSON of
what the script was asked to measure: its arguments and, where it measures a pipeline run, that run's resolved
config (``digest_of`` says which). ``date`` is ISO-8601 UTC, to the second.

Imported by the scripts as ``from _provenance import ...`` (``python benchmarks/x.py`` puts ``benchmarks/`` on
``sys.path``); nothing here imports edgeport, torch or numpy.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FIELDS = ("commit", "config_digest", "date")
COMMIT_RE = re.compile(r"^[0-9a-f]{40}(-dirty)?$")
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
ARGS_ONLY = "the script's arguments (the configs it runs are generated from them at this commit)"
MD_RE = re.compile(r"^Provenance: commit `(?P<commit>[^`]+)`, config digest `(?P<config_digest>[^`]+)`, "
                   r"measured (?P<date>\S+?)\.?$", re.MULTILINE)
PNG_PREFIX = "edgeport:"


def git_commit(repo: Path = REPO) -> str:
    """HEAD's sha, ``-dirty`` when anything outside benchmarks/results/ is uncommitted; ``unknown`` outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        sha = git("rev-parse", "HEAD")
        changes = git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if changes else "")


def config_digest(measured: dict) -> str:
    """sha256 of ``measured`` as canonical JSON (sorted keys; paths and other objects as strings)."""
    text = json.dumps(measured, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(measured: dict, digest_of: str, repo: Path = REPO) -> dict:
    """The provenance record of a result measured now from ``measured`` (the arguments and configs it ran with);
    ``digest_of`` names in words what the digest covers."""
    return {"commit": git_commit(repo), "config_digest": config_digest(measured),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "digest_of": digest_of}


def run_config(run_dir: Path) -> dict:
    """The resolved config a pipeline run recorded in its manifest ({} when it has none)."""
    manifest = Path(run_dir) / "manifest.json"
    if not manifest.is_file():
        return {}
    return json.loads(manifest.read_text()).get("config") or {}


def args_dict(args) -> dict:
    """An argparse namespace as a plain mapping, for ``measured``."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


# --------------------------------------------------------------------------------------------- writing


def with_provenance(result, prov: dict) -> dict:
    """``result`` with ``provenance`` as its first key (a list result becomes ``{"provenance", "results"}``)."""
    body = result if isinstance(result, dict) else {"results": result}
    return {"provenance": prov} | {k: v for k, v in body.items() if k != "provenance"}


def write_json(path: Path, result, prov: dict) -> None:
    Path(path).write_text(json.dumps(with_provenance(result, prov), indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")


def markdown_line(prov: dict) -> str:
    return (f"Provenance: commit `{prov['commit']}`, config digest `{prov['config_digest']}`, "
            f"measured {prov['date']}.")


def write_markdown(path: Path, text: str, prov: dict) -> None:
    Path(path).write_text(text.rstrip("\n") + "\n\n" + markdown_line(prov) + "\n", encoding="utf-8")


def write_png(src: Path, dest: Path, prov: dict) -> None:
    """Copy a PNG, adding the provenance fields as PNG text chunks."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key in FIELDS:
        info.add_text(PNG_PREFIX + key, str(prov[key]))
    with Image.open(src) as image:
        image.save(dest, format="PNG", pnginfo=info)


# --------------------------------------------------------------------------------------------- reading


def read_provenance(path: Path) -> dict | None:
    """The provenance fields a result file carries (None when it has none or its type is not json/md/png)."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        found = data.get("provenance") if isinstance(data, dict) else None
        return found if isinstance(found, dict) else None
    if path.suffix == ".md":
        match = MD_RE.search(path.read_text(encoding="utf-8"))
        return match.groupdict() if match else None
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            text = getattr(image, "text", {}) or {}
        found = {k[len(PNG_PREFIX):]: v for k, v in text.items() if k.startswith(PNG_PREFIX)}
        return found or None
    return None


def problems(path: Path) -> list[str]:
    """What is wrong with a result file's provenance ([] when it is complete and well-formed)."""
    prov = read_provenance(path)
    if prov is None:
        return [f"{path.name}: no provenance (write it with benchmarks/_provenance.py: write_json, "
                f"write_markdown or write_png)"]
    out = [f"{path.name}: provenance lacks '{k}'" for k in FIELDS if not prov.get(k)]
    if prov.get("commit") and not COMMIT_RE.match(prov["commit"]):
        out.append(f"{path.name}: commit {prov['commit']!r} is not a 40-hex git sha (optionally -dirty)")
    if prov.get("config_digest") and not DIGEST_RE.match(prov["config_digest"]):
        out.append(f"{path.name}: config_digest {prov['config_digest']!r} is not a sha256 hex digest")
    if prov.get("date"):
        try:
            datetime.fromisoformat(prov["date"])
        except ValueError:
            out.append(f"{path.name}: date {prov['date']!r} is not ISO-8601")
    return out
