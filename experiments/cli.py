"""hmcnn ctc run / report: CTC sweeps and their BD-rate tables."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path


def _cmd_run(args) -> int:
    from experiments.runner import run
    from experiments.spec import load_experiment, preset_experiment

    if bool(args.experiment) == bool(args.preset):
        print("hmcnn ctc run: give either EXPERIMENT.yaml or --preset NAME", file=sys.stderr)
        return 2
    exp = load_experiment(args.experiment) if args.experiment else preset_experiment(args.preset)
    overrides = {k: v for k, v in (("frames", args.frames), ("test", args.test), ("sequence_dir", args.sequence_dir),
                                   ("preset", args.x265_preset)) if v is not None}
    if args.qps:
        overrides["qps"] = args.qps
    if args.configs:
        overrides["configs"] = args.configs
    exp = dataclasses.replace(exp, **overrides)
    exp.validate()
    print(f"experiment {exp.name}: anchor '{exp.anchor}' (x265, filter off) vs test '{exp.test}', "
          f"configs {exp.configs}, QPs {exp.qps}, frames {exp.frames or 'all'}, x265 preset {exp.preset}")
    summary = run(exp, Path(args.out), args.jobs, args.backend, args.address)
    print(f"{summary['jobs']} jobs: {summary['already_done']} already done, {summary['ran']} run, "
          f"{summary['failed']} failed; results in {Path(args.out) / 'results.sqlite'}")
    if args.report:
        _print_report(Path(args.out), args.method)
    return 1 if summary["failed"] else 0


def _print_report(out: Path, method: str) -> None:
    from experiments.report import markdown, report

    table = report(out, method)
    print()
    print(markdown(table, method))
    print(f"report: {out / 'report.html'}  table: {out / 'bdrate.csv'}, {out / 'bdrate.md'}")


def _cmd_report(args) -> int:
    _print_report(Path(args.dir), args.method)
    return 0


def add_commands(sub) -> None:
    ctc = sub.add_parser("ctc", help="common-test-condition sweeps and BD-rate reports")
    csub = ctc.add_subparsers(dest="ctc_command", required=True)
    r = csub.add_parser("run", help="run (or resume) a sweep: anchor vs test over sequences x configs x QPs")
    r.add_argument("experiment", nargs="?", help="experiment YAML (see experiments/examples/)")
    r.add_argument("--preset", help="a built-in experiment: quick, builtin, ctc")
    r.add_argument("--out", required=True, help="result folder (resumes if it already holds results)")
    r.add_argument("-j", "--jobs", type=int, default=1, help="parallel jobs (local process pool)")
    r.add_argument("--backend", choices=["local", "ray"], default="local")
    r.add_argument("--address", help="Ray cluster address (--backend ray)")
    r.add_argument("--frames", type=int, help="frames per sequence (default: the experiment's)")
    r.add_argument("--qps", type=int, nargs="+")
    r.add_argument("--configs", nargs="+")
    r.add_argument("--test", help="the test filter: smoothing, a model directory, ...")
    r.add_argument("--sequence-dir", help="folder holding the JCT-VC .yuv files")
    r.add_argument("--x265-preset", help="x265 preset (default: the experiment's)")
    r.add_argument("--report", action="store_true", help="write and print the report when done")
    r.add_argument("--method", default="pchip", choices=["pchip", "cubic"])
    r.set_defaults(func=_cmd_run)
    p = csub.add_parser("report", help="BD-rate tables (CSV, Markdown) and HTML report of a sweep")
    p.add_argument("dir")
    p.add_argument("--method", default="pchip", choices=["pchip", "cubic"])
    p.set_defaults(func=_cmd_report)
