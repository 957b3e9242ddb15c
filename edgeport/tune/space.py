"""Search spaces: what a trial samples, and the config values each sample becomes.

Training studies (``--stage teacher|distill``) name their parameters by the config key they set
(``teacher.train.lr``), so a trial's parameters *are* its overrides and ``best_params.yaml`` is a params file
as it stands. The student search samples ``student.depth`` and ``student.placement`` (which become
``distill.student.layers``) and the prune settings ``prune.heads_fraction``, ``prune.ffn_fraction`` and
``prune.vocab`` (``prune.enabled`` follows them), and, when ``tune.student.quantize_modes`` lists several,
``quantize.mode`` (which becomes ``quantize.<the target's format>``).
"""

from __future__ import annotations

from typing import Any, get_args

from ..config import PipelineConfig, QuantizeConfig, TuneRange
from ..errors import ConfigError

TRAIN_KEYS = ("lr", "warmup_ratio", "weight_decay", "batch_size", "epochs", "min_steps")
DISTILL_KEYS = ("temperature", "alpha")
# The row limit a searched min_steps sets (min_steps x batch_size): one pass over fresh rows on a large dataset.
# Without it min_steps would be no knob there, since a stage trains at least one epoch (train.min_epochs).
ROWS_KEY = {"teacher": "data.train_limit", "distill": "distill.train_limit"}


def _suggest_range(trial, name: str, r: TuneRange):
    if r.low == r.high:
        return trial.suggest_float(name, r.low, r.high)
    return trial.suggest_float(name, r.low, r.high, log=r.log, step=r.step)


def training_keys(cfg: PipelineConfig, stage: str) -> dict[str, str]:
    """space field -> the config key it sets, for the fields the study searches (not null)."""
    space = cfg.tune.space
    keys = {k: f"{stage}.train.{k}" for k in TRAIN_KEYS if getattr(space, k) is not None}
    if stage == "distill":
        keys |= {k: f"distill.{k}" for k in DISTILL_KEYS if getattr(space, k) is not None}
    return keys


def suggest_training(trial, cfg: PipelineConfig, stage: str) -> dict[str, Any]:
    """Sample one trial's training hyperparameters: {config key: value}."""
    space, out = cfg.tune.space, {}
    for field, key in training_keys(cfg, stage).items():
        value = getattr(space, field)
        if field == "batch_size":
            out[key] = trial.suggest_categorical(key, sorted(set(value)))
        elif field == "min_steps":
            out[key] = trial.suggest_int(key, int(value.low), int(value.high), step=int(value.step or 1),
                                         log=value.log)
        else:
            out[key] = _suggest_range(trial, key, value)
    return out


def derived_values(cfg: PipelineConfig, stage: str, values: dict[str, Any]) -> dict[str, Any]:
    """Config values that follow from a trial's sampled ones: a searched ``min_steps`` sets the stage's row limit
    to min_steps x batch_size (the trial's batch size when it is searched too)."""
    steps = values.get(f"{stage}.train.min_steps")
    if steps is None:
        return {}
    section = cfg.teacher.train if stage == "teacher" else cfg.distill.train
    batch = values.get(f"{stage}.train.batch_size", section.batch_size)
    return {ROWS_KEY[stage]: int(steps) * int(batch)}


def student_layers(depth: int, placement: str, n_teacher: int) -> list[int]:
    """Which of the ``n_teacher`` layers a ``depth``-layer student copies."""
    depth = max(1, min(depth, n_teacher))
    if placement == "bottom":
        return list(range(depth))
    if placement == "stride":
        step = max(1, n_teacher // depth)
        return [i * step for i in range(depth)]
    if placement == "spread":
        if depth == 1:
            return [n_teacher - 1]
        return sorted({round(i * (n_teacher - 1) / (depth - 1)) for i in range(depth)})
    raise ValueError(f"unknown placement {placement!r}")


def student_depths(cfg: PipelineConfig, n_teacher: int) -> tuple[int, int]:
    s = cfg.tune.student
    high = s.max_layers if s.max_layers is not None else max(1, n_teacher - 1)
    if high > n_teacher or s.min_layers > high:
        raise ConfigError([f"tune.student: layers {s.min_layers}..{high} do not fit the teacher's {n_teacher} "
                           f"layers; set tune.student.min_layers/max_layers within 1..{n_teacher}"])
    return s.min_layers, high


def suggest_student(trial, cfg: PipelineConfig, n_teacher: int) -> dict[str, Any]:
    """Sample one student: {parameter: value} (``student.*`` are not config keys; ``student_overrides`` maps)."""
    s, out = cfg.tune.student, {}
    low, high = student_depths(cfg, n_teacher)
    out["student.depth"] = trial.suggest_int("student.depth", low, high)
    out["student.placement"] = trial.suggest_categorical("student.placement", list(dict.fromkeys(s.placements)))
    for name in ("heads_fraction", "ffn_fraction"):
        r = getattr(s, name)
        out[f"prune.{name}"] = _suggest_range(trial, f"prune.{name}", r) if r is not None else getattr(cfg.prune, name)
    out["prune.vocab"] = trial.suggest_categorical("prune.vocab", list(dict.fromkeys(s.vocab)))
    if s.quantize_modes is not None:  # listed: the mode is part of the student (one mode: fixed, not sampled)
        modes = list(dict.fromkeys(s.quantize_modes))
        out["quantize.mode"] = trial.suggest_categorical("quantize.mode", modes) if len(modes) > 1 else modes[0]
    return out


def student_overrides(params: dict[str, Any], n_teacher: int, fmt: str) -> dict[str, Any]:
    """A student sample -> the config values it sets (what ``best_params.yaml`` holds); ``fmt``: the target's
    format, whose ``quantize.<fmt>`` a sampled ``quantize.mode`` sets."""
    heads, ffn = float(params["prune.heads_fraction"]), float(params["prune.ffn_fraction"])
    vocab = bool(params["prune.vocab"])
    layers = student_layers(int(params["student.depth"]), params["student.placement"], n_teacher)
    out = {"distill.student.layers": layers, "prune.enabled": heads > 0 or ffn > 0 or vocab,
           "prune.heads_fraction": heads, "prune.ffn_fraction": ffn, "prune.vocab": vocab}
    if "quantize.mode" in params:
        out[f"quantize.{fmt}"] = params["quantize.mode"]
    return out


def quantize_choices(fmt: str) -> tuple[str, ...]:
    """The modes ``quantize.<fmt>`` accepts: its field's Literal in the schema, so the search offers exactly what
    a run accepts (no list of its own to drift)."""
    field = QuantizeConfig.model_fields.get(fmt)
    return get_args(field.annotation) if field is not None else ()


def student_modes(cfg: PipelineConfig, fmt: str) -> list[str]:
    """The quantize modes a student search for a ``fmt`` target tries, after refusing, before any trial runs, a
    listed mode the format lacks or one the quantize stage's preflight refuses (each with its reason). ``cfg``:
    the trials' base config (``tune.overrides`` applied). Not listed: the config's ``quantize.<fmt>`` only."""
    listed = cfg.tune.student.quantize_modes
    if listed is None:
        return [getattr(cfg.quantize, fmt)]
    allowed = quantize_choices(fmt)
    problems = [f"tune.student.quantize_modes: {m!r} is not a quantize mode of {fmt} (the target's format); "
                f"allowed: {', '.join(allowed)}" for m in listed if m not in allowed]
    if not cfg.quantize.enabled:
        problems.append("tune.student.quantize_modes: quantize.enabled is false, so trials bench the fp32 "
                        "artifact; set quantize.enabled: true or drop tune.student.quantize_modes")
    problems += [p for m in dict.fromkeys(listed) if m in allowed for p in _preflight_problems(cfg, fmt, m)]
    if problems:
        raise ConfigError(problems)
    return list(dict.fromkeys(listed))


def _preflight_problems(cfg: PipelineConfig, fmt: str, mode: str) -> list[str]:
    """The quantize stage's own preflight on a trial's settings (its format only, this mode): the exporter's
    ``refused`` table and the calibration rule judge a search exactly as they judge a run."""
    from ..stages.quantize import QuantizeStage

    trial = cfg.model_copy(update={"quantize": cfg.quantize.model_copy(update={fmt: mode}),
                                   "export": cfg.export.model_copy(update={"formats": [fmt]})})
    stage = QuantizeStage()
    try:
        stage.preflight(stage.configure(trial))
    except ConfigError as exc:
        return [f"tune.student.quantize_modes: {mode} for a {fmt} target is refused by the quantize preflight: {p}"
                for p in exc.problems]
    return []


STUDY_PARAMS = {
    "teacher": {f"teacher.train.{k}" for k in TRAIN_KEYS},
    "distill": {f"distill.train.{k}" for k in TRAIN_KEYS} | {f"distill.{k}" for k in DISTILL_KEYS},
    "student": {"student.depth", "student.placement", "prune.heads_fraction", "prune.ffn_fraction", "prune.vocab",
                "quantize.mode"},
}


def enqueued_for(cfg: PipelineConfig, stage: str, known: list[str],
                 choices: dict[str, list] | None = None) -> list[dict[str, Any]]:
    """The ``tune.enqueue`` entries of this study. One config serves every study, so an entry that names another
    study's parameters (``teacher.train.lr`` in a student search) is left for that study; an entry naming a
    parameter of no study, mixing studies, naming one this study does not search (its range is null), or giving
    a parameter of ``choices`` a value outside them (Optuna would fail that trial) is a ConfigError."""
    problems, mine, choices = [], [], choices or {}
    for i, entry in enumerate(cfg.tune.enqueue):
        owners = [s for s, names in STUDY_PARAMS.items() if set(entry) <= names]
        if not entry or not owners:
            problems.append(f"tune.enqueue[{i}]: {', '.join(entry) or 'an empty entry'} is not one study's "
                            f"parameters; teacher: teacher.train.*, distill: distill.train.*, distill.temperature, "
                            f"distill.alpha; student: {', '.join(sorted(STUDY_PARAMS['student']))}")
        elif stage in owners:
            bad = [k for k in entry if k not in known]
            wrong = [f"{k}: {v!r} (choices: {', '.join(map(str, choices[k]))})" for k, v in entry.items()
                     if k in choices and v not in choices[k]]
            if bad:
                problems.append(f"tune.enqueue[{i}]: {', '.join(bad)} not searched by this study (its range in "
                                f"tune is null); it samples: {', '.join(known)}")
            elif wrong:
                problems.append(f"tune.enqueue[{i}]: {'; '.join(wrong)}")
            else:
                mine.append(dict(entry))
    if problems:
        raise ConfigError(problems)
    return mine
