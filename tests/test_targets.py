"""Device profiles: shipped ones load with sourced figures; bad ones fail with every problem, file and key."""

from __future__ import annotations

import pytest
import yaml

from edgeport.cli import main
from edgeport.errors import ConfigError
from edgeport.targets import CHECKOUT_DIR, all_targets, get_target

REQUIRED = {"host", "android-flagship", "android-lowend", "raspberry-pi-4", "x86-laptop"}


def test_shipped_profiles_load_with_sources():
    targets = all_targets()
    assert REQUIRED <= set(targets)
    for t in targets.values():
        for key, fig in t.hardware:
            if key != "soc":
                assert fig.value > 0 and len(fig.source) > 10, (t.name, key)
        assert t.budgets.latency_p90_ms > 0 and t.threads >= 1
    assert targets["host"].kind == "host"
    assert all(targets[n].kind == "device" for n in REQUIRED - {"host"})


def test_unknown_target_lists_known_ones(capsys):
    with pytest.raises(Exception) as exc:
        get_target("pixel-99")
    assert "android-flagship" in str(exc.value) and "pixel-99" in str(exc.value)
    assert main(["bench", "nothing.tflite", "--target", "pixel-99"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'pixel-99'" in err and "raspberry-pi-4" in err and "Traceback" not in err


def test_targets_cli_lists_profiles(capsys):
    assert main(["targets", "-v"]) == 0
    out = capsys.readouterr().out
    for name in REQUIRED:
        assert name in out
    assert "derived:" in out and "source" not in out.splitlines()[0]


def test_bad_profile_reports_every_problem(tmp_path, monkeypatch):
    good = yaml.safe_load((CHECKOUT_DIR / "raspberry-pi-4.yaml").read_text())
    bad = dict(good, name="mine", threads=0, colour="red")
    bad["hardware"] = dict(good["hardware"], cores={"value": 4})  # no source
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(bad))
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(tmp_path))
    with pytest.raises(ConfigError) as exc:
        all_targets()
    text = str(exc.value)
    assert "mine.yaml" in text
    for key in ("threads", "colour: unknown key", "hardware.cores.source"):
        assert key in text, text


def test_user_profile_dir_and_file_path(tmp_path, monkeypatch):
    good = yaml.safe_load((CHECKOUT_DIR / "raspberry-pi-4.yaml").read_text())
    (tmp_path / "my-board.yaml").write_text(yaml.safe_dump(dict(good, name="my-board", threads=2)))
    assert get_target(str(tmp_path / "my-board.yaml")).threads == 2
    monkeypatch.setenv("EDGEPORT_TARGETS_DIR", str(tmp_path))
    assert get_target("my-board").threads == 2 and "host" in all_targets()


def test_config_rejects_unknown_bench_target():
    from edgeport.config import PipelineConfig

    with pytest.raises(Exception, match="bench.targets: unknown target 'nope'"):
        PipelineConfig.model_validate({"bench": {"targets": ["host", "nope"]}})
    # the old spelling names its new home instead of "extra inputs are not permitted"
    with pytest.raises(Exception, match="moved to the bench section"):
        PipelineConfig.model_validate({"validate": {"targets": ["host"]}})
