"""Every file under benchmarks/results carries its provenance (commit, config digest, date), and every benchmark
script writes it through benchmarks/_provenance.py."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
_spec = importlib.util.spec_from_file_location("_provenance", REPO / "benchmarks" / "_provenance.py")
prov = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prov)

# Scripts that write nothing into benchmarks/results (a helper and a CI setup script).
NO_RESULTS = {"_provenance.py", "_student.py", "tiny_pipeline.py"}  # helpers and a CI driver: no results of their own


def result_files() -> list[Path]:
    return sorted(p for p in RESULTS.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", result_files(), ids=lambda p: p.name)
def test_result_file_has_provenance(path):
    assert prov.problems(path) == []


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)


def test_result_commits_are_in_this_history():
    """A recorded commit must be one this checkout descends from: a typed-in or rebased-away sha is caught."""
    shallow = _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if _git("rev-parse", "HEAD").returncode != 0 or shallow:
        pytest.skip("not a full git checkout")
    for path in result_files():
        sha = (prov.read_provenance(path) or {}).get("commit", "").removesuffix("-dirty")
        assert prov.COMMIT_RE.match(sha), (path.name, sha)
        assert _git("merge-base", "--is-ancestor", sha, "HEAD").returncode == 0, (
            f"{path.name}: commit {sha} is not an ancestor of HEAD")


def test_every_benchmark_script_writes_provenance():
    scripts = sorted(p for p in (REPO / "benchmarks").glob("*.py") if p.name not in NO_RESULTS)
    assert scripts
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "from _provenance import" in text, f"{script.name} does not use benchmarks/_provenance.py"
        assert "json.dumps(" not in text or "write_json" in text, script.name


def test_round_trip_and_missing(tmp_path):
    record = prov.provenance({"args": {"rows": 3}, "path": Path("x")}, "the arguments")
    assert prov.COMMIT_RE.match(record["commit"]) and prov.DIGEST_RE.match(record["config_digest"])
    prov.write_json(tmp_path / "a.json", {"rows": 3}, record)
    prov.write_json(tmp_path / "b.json", [1, 2], record)
    prov.write_markdown(tmp_path / "c.md", "# table\n\n| a |\n", record)
    _png(tmp_path / "plain.png")
    prov.write_png(tmp_path / "plain.png", tmp_path / "d.png", record)
    for name in ("a.json", "b.json", "c.md", "d.png"):
        assert prov.problems(tmp_path / name) == [], name
        assert prov.read_provenance(tmp_path / name)["commit"] == record["commit"]
    assert json.loads((tmp_path / "b.json").read_text())["results"] == [1, 2]
    # files without it, or with a malformed one, are named
    (tmp_path / "e.json").write_text('{"rows": 3}')
    (tmp_path / "f.md").write_text("# table\n")
    (tmp_path / "g.json").write_text(json.dumps({"provenance": dict(record, commit="abc", date="")}))
    for name in ("e.json", "f.md", "plain.png", "g.json"):
        assert prov.problems(tmp_path / name), name
    assert any("40-hex" in p for p in prov.problems(tmp_path / "g.json"))
    assert any("lacks 'date'" in p for p in prov.problems(tmp_path / "g.json"))


def test_digest_is_canonical():
    assert prov.config_digest({"a": 1, "b": [1, 2]}) == prov.config_digest({"b": [1, 2], "a": 1})
    assert prov.config_digest({"a": 1}) != prov.config_digest({"a": 2})


def test_dirty_suffix_ignores_results(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "r.json").write_text("{}\n")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    clean = prov.git_commit(tmp_path)
    assert prov.COMMIT_RE.match(clean) and not clean.endswith("-dirty")
    (tmp_path / "benchmarks" / "results" / "r.json").write_text('{"new": 1}\n')
    (tmp_path / "benchmarks" / "results" / "s.md").write_text("new result\n")
    assert prov.git_commit(tmp_path) == clean  # results are outputs, not code
    (tmp_path / "code.py").write_text("x = 2\n")
    assert prov.git_commit(tmp_path) == clean + "-dirty"
    assert prov.git_commit(tmp_path / "missing") == "unknown"


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (4, 4), "white").save(path)
