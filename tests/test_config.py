from pathlib import Path

import pytest

from edgeport.config import PipelineConfig, load_config, shipped_configs
from edgeport.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.yaml"
    p.write_text(text)
    return p


def test_shipped_configs_validate():
    assert "default" in shipped_configs()
    for name in shipped_configs():
        cfg = load_config(name)
        assert cfg.run.name == name


def test_all_problems_reported_at_once_with_user_keys(tmp_path):
    p = write(tmp_path, """
distill:
  temprature: 3
  train: {lr: -1}
data:
  max_seq_len: abc
teacher:
  finetune: sometimes
""")
    with pytest.raises(ConfigError) as err:
        load_config(str(p))
    problems = err.value.problems
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    assert "distill.temprature: unknown key (did you mean 'temperature'?)" in text
    assert "distill.train.lr" in text and "greater than 0" in text
    assert "data.max_seq_len" in text
    assert "teacher.finetune" in text and "'auto'" in text


def test_overrides_parse_yaml_values(tmp_path):
    p = write(tmp_path, "distill: {temperature: 2.0}\n")
    cfg = load_config(str(p), ["distill.temperature=4", "distill.student.layers=[0, 3]", "run.name=x"])
    assert cfg.distill.temperature == 4.0
    assert cfg.distill.student.layers == [0, 3]
    assert cfg.run.name == "x"


def test_bare_on_and_off_mean_the_switch_words_not_booleans(tmp_path):
    # YAML 1.1 reads on/off as True/False; the tri-state switches take the word the user wrote
    p = write(tmp_path, "report: {budget_gate: off}\n")
    cfg = load_config(str(p), ["validate.arm_parity=on", "bench.emulated=off"])
    assert (cfg.validate.arm_parity, cfg.bench.emulated, cfg.report.budget_gate) == ("on", "off", "off")


def test_bad_override_and_bad_value_collected_together(tmp_path):
    p = write(tmp_path, "{}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(p), ["nonsense", "distill.alpha=2"])
    assert len(err.value.problems) == 2
    assert "section.key=value" in err.value.problems[0]
    assert "distill.alpha" in err.value.problems[1]


def test_cross_field_conflicts(tmp_path):
    p = write(tmp_path, """
teacher: {model: "builtin:minilm-l6", finetune: never}
data: {text_column: a, text_pair_column: a}
""")
    with pytest.raises(ConfigError) as err:
        load_config(str(p))
    text = str(err.value)
    assert "finetune=never" in text and "text_pair_column must differ" in text


def test_student_layers_checked(tmp_path):
    p = write(tmp_path, "distill: {student: {layers: [2, 0]}}\n")
    with pytest.raises(ConfigError, match="distinct and increasing"):
        load_config(str(p))


def test_yaml_syntax_error_names_line(tmp_path):
    p = write(tmp_path, "data:\n  local: [unclosed\n")
    with pytest.raises(ConfigError, match=r"YAML syntax error at line \d+"):
        load_config(str(p))


def test_unknown_config_name_suggests():
    with pytest.raises(ConfigError, match="did you mean 'default'"):
        load_config("defualt")


def test_config_defaults_are_complete():
    cfg = PipelineConfig()
    assert cfg.teacher.model == "builtin:minilm-l6"
    assert cfg.distill.student.layers == [0, 2, 4]
