"""hmcnn: the command line of hm-cnn-loop.

The top of the import graph: it asks each package for its subcommands, and hands the
codec layer's commands the filter resolver of the layer above it (cnn_filter), so that
no package ever imports one above itself.

    hm_bridge.cli     encode, decode, demo
    cnn_filter.cli    train
    sr_mode.cli       sr-encode, sr-decode, sr-train
    experiments.cli   ctc run / report, sr-eval, sr-study
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: what a command may raise for bad input; anything else is a bug and keeps its traceback
USER_ERRORS = (ValueError, FileNotFoundError, NotImplementedError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    import cnn_filter.cli
    import experiments.cli
    import hm_bridge.cli
    import sr_mode.cli
    from cnn_filter.filters import resolve_filter

    p = argparse.ArgumentParser(prog="hmcnn", description="CNN in-loop filtering inside x265/libde265")
    sub = p.add_subparsers(dest="command", required=True)
    hm_bridge.cli.add_commands(sub, resolve_filter)
    cnn_filter.cli.add_commands(sub)
    sr_mode.cli.add_commands(sub)
    experiments.cli.add_commands(sub)
    d = sub.add_parser("doctor", help="what is installed and found, before a sweep (exit 1 if something required "
                                      "is missing)")
    d.add_argument("--models", default=str(Path(__file__).resolve().parent.parent / "models" / "vrcnn"),
                   help="the model folder the sweeps use by default (required)")
    d.set_defaults(func=_cmd_doctor)
    return p


def _cmd_doctor(args) -> int:
    from hmcnn.doctor import report

    return report(Path(args.models))


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"hmcnn {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
