"""The ``edgeport tune`` command."""

from __future__ import annotations


def cmd_tune(args) -> int:
    from .study import TuneRequest, run_tune

    run_tune(TuneRequest(config=args.config, stage=args.stage, overrides=args.override, trials=args.trials,
                         storage=args.storage, target=args.target, study_name=args.study_name,
                         params=args.params or []))
    return 0


def register(sub) -> None:
    p = sub.add_parser("tune", help="search a stage's hyperparameters, or a student for a device target (Optuna)",
                       description="Each trial runs the real pipeline in RUN_DIR/tune/<study>/trials/<n>; the "
                       "objective is the selection-split metric. Outputs: RUN_DIR/tune/<study>/ (summary, plots, "
                       "best_params.yaml for `edgeport run CONFIG --params FILE`). Resumable, and several "
                       "processes on one --storage URL work on one study.")
    p.add_argument("config", help="a pipeline YAML file or the name of a shipped config")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override for the config (and every trial), e.g. -o tune.trials=10 (repeatable)")
    p.add_argument("--params", metavar="FILE", action="append", help="params files merged into the config before "
                   "-o, as for `edgeport run` (e.g. the teacher study's best_params.yaml for a student search)")
    p.add_argument("--stage", required=True, choices=["teacher", "distill", "student"],
                   help="teacher/distill: training hyperparameters (tune.space); student: depth, layers, heads, "
                        "FFN and vocabulary pruning under --target's budgets (tune.student)")
    p.add_argument("--target", metavar="NAME", help="--stage student: the device profile (edgeport targets)")
    p.add_argument("--trials", type=int, metavar="N", help="finished trials the study runs to (default: tune.trials)")
    p.add_argument("--storage", metavar="URL", help="Optuna RDB URL (sqlite:///FILE, postgresql://...); default: "
                   "tune.storage, else sqlite:///RUN_DIR/tune/study.db")
    p.add_argument("--study-name", metavar="NAME", help="default: <run.name>-<stage>[-<target>]")
    p.set_defaults(fn=cmd_tune)
