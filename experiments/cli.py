"""hmcnn ctc run / report: CTC sweeps and their BD-rate tables."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from experiments.store import STORE_NAME


def _cmd_run(args) -> int:
    from experiments.sweep import run
    from experiments.spec import BUILT_IN_EXPERIMENTS, built_in_experiment, load_experiment

    if args.preset is not None:  # the old spelling: "preset" means x265's preset everywhere else
        print(f"hmcnn ctc run: note: --preset {args.preset} is spelled `hmcnn ctc run {args.preset}` now "
              "(--preset is x265's preset in every other command; here that is --x265-preset)", file=sys.stderr)
        if args.experiment:
            print("hmcnn ctc run: give one experiment, not two", file=sys.stderr)
            return 2
        args.experiment = args.preset
    if not args.experiment:
        print(f"hmcnn ctc run: name an experiment: EXPERIMENT.yaml or one of {', '.join(BUILT_IN_EXPERIMENTS)}",
              file=sys.stderr)
        return 2
    exp = built_in_experiment(args.experiment) if args.experiment in BUILT_IN_EXPERIMENTS \
        else load_experiment(args.experiment)
    overrides = {k: v for k, v in (("frames", args.frames), ("test", args.test), ("sequence_dir", args.sequence_dir),
                                   ("preset", args.x265_preset), ("qp_cascade", args.qp_cascade),
                                   ("placement", args.placement), ("codec", args.codec), ("hm_dir", args.hm),
                                   ("bit_depth", args.bit_depth))
                 if v is not None}
    if args.qps:
        overrides["qps"] = args.qps
    if args.configs:
        overrides["configs"] = args.configs
    exp = dataclasses.replace(exp, **overrides)
    exp.validate()
    print(f"experiment {exp.name}: anchor '{exp.anchor}' ({exp.codec}, filter off) vs test '{exp.test}' "
          f"({exp.placement}), configs {exp.configs}, QPs {exp.qps}, frames {exp.frames or 'all'}, "
          f"x265 preset {exp.preset}, QP cascade {exp.qp_cascade}, {exp.bit_depth}-bit coding")
    summary = run(exp, Path(args.out), args.jobs, args.backend, args.address, cpus_per_job=args.cpus_per_job,
                  gpus_per_job=args.gpus_per_job, segments=args.segments)
    print(f"{summary['jobs']} jobs: {summary['already_done']} already done, {summary['ran']} run, "
          f"{summary['failed']} failed, {summary['elsewhere']} run by another coordinator on this folder; "
          f"results in {Path(args.out) / STORE_NAME}")
    if args.report:
        _print_report(Path(args.out), args.method)
    return 1 if summary["failed"] else 0


def _segments_arg(text: str):
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--segments takes 'auto' or a positive integer, not {text!r}")
    return n


def _print_report(out: Path, method: str) -> None:
    from experiments.report import report

    report(out, method)
    print()
    print((out / "bdrate.md").read_text())
    print(f"report: {out / 'report.html'}  tables: {out / 'bdrate.csv'}, {out / 'bdrate_jvet.csv'}, "
          f"{out / 'bdrate.md'}")


def _cmd_status(args) -> int:
    from experiments.store import Store

    path = Path(args.dir) / STORE_NAME
    if not path.is_file():
        print(f"hmcnn ctc status: no sweep in {args.dir} (no {STORE_NAME})", file=sys.stderr)
        return 2
    store = Store(path)
    try:
        s = store.status()
        names = {k: f"{seq} {cfg} QP {qp} {arm}" for k, seq, cfg, qp, arm in
                 store.db.execute("SELECT key, sequence, config, qp, arm FROM jobs")}
        last = store.meta("last_run_seconds")
    finally:
        store.close()
    print(f"{args.dir}: {s['planned']} jobs planned: {len(s['done'])} done, {len(s['running'])} running, "
          f"{len(s['failed'])} failed, {len(s['waiting'])} not started"
          + (f" (last run {last:.0f} s)" if last else ""))
    for key, owner, left in s["running"]:
        print(f"  running  {key} by {owner} (lease {left:.0f} s left)")
    for key, error in s["failed"]:
        print(f"  failed   {names.get(key, key)}: {error}")
    return 1 if s["failed"] else 0


def _cmd_report(args) -> int:
    _print_report(Path(args.dir), args.method)
    return 0


def _cmd_sr_eval(args) -> int:
    from experiments.sr_eval import WAYS, run

    if args.images is None:
        from hm_bridge.paths import data_root

        args.images = str(data_root() / "kodak")
    rows, summary, bd = run(Path(args.images), args.qps, Path(args.out), Path(args.models), args.preset, args.limit)
    print(f"\n{'QP':>3} " + " ".join(f"{w + ' bpp':>12} {w + ' dB':>10}" for w in WAYS))
    for i, q in enumerate(args.qps):
        print(f"{q:3d} " + " ".join(f"{summary[w][0][i]:12.4f} {summary[w][1][i]:10.3f}" for w in WAYS))
    for label, v in bd.items():
        print(f"BD-rate (PSNR-Y, pchip) of the SR mode vs same-size HEVC, {label}: "
              + (f"{v:+.2f}%" if isinstance(v, float) else v))
    print(f"results: {Path(args.out) / 'results.csv'}, plot: {Path(args.out) / 'rd.png'}")
    return 0


def _cmd_sr_study(args) -> int:
    from experiments.sr_study import run

    for r in run(Path(args.models), Path(args.out)):
        print(f"{r['set']:6} {r['method']:15} PSNR-Y {r['psnr_y']:7.3f} dB  SSIM-Y {r['ssim_y']:.4f}  ({r['images']} images)")
    print(f"table: {Path(args.out) / 'study.md'}, figure: {Path(args.out) / 'side_by_side.png'}")
    return 0


def _cmd_hm_integrate(args) -> int:
    from hm_bridge.hm_integrate import GENERATIONS, generation, hm_version, integrate, inserted_lines

    done = integrate(args.hm_src)
    for line in done or ["already integrated: nothing to do"]:
        print(line)
    name = generation(args.hm_src)[0]
    rebuild = ("(re-run cmake first: new files), e.g.\n"
               "  cmake -S HM -B HM/build && cmake --build HM/build --target TAppEncoder TAppDecoder\n"
               if name == GENERATIONS[0][0] else
               "with its makefiles, e.g.\n  make -C HM/build/linux release\n"
               "  (a g++ newer than HM's stops on its -Werror: your build may need -Wno-error)\n")
    print(f"HM {hm_version(args.hm_src)}, {name} build: {inserted_lines(args.hm_src)} lines of HM's own files carry "
          f"our calls. Rebuild TAppEncoder and TAppDecoder {rebuild}"
          "then set HMCNN_FILTER=LIB.so[:OPTIONS] for HM's processes (`hmcnn filter-path` prints the VRCNN plug-in).")
    return 0


def _cmd_hm_check(args) -> int:
    from experiments.hm_check import run

    hm, checks = run(args.hm, args.frames, args.qp, args.models)
    print(f"{hm.version} at {hm.root}: encoder {hm.encoder.name}, in-loop calls "
          f"{'present' if hm.integrated else 'absent'}")
    for c in checks:
        print(f"  [{'ok' if c.ok else 'FAIL'}] {c.what}" + (f" ({c.detail})" if c.detail else ""))
    return 0 if all(c.ok for c in checks) else 1


def _cmd_compare(args) -> int:
    from experiments.compare import compare, write
    from experiments.report import markdown

    table, header = compare(args.reference, args.compared, args.method)
    print(markdown(table, args.method, header, title="compared vs reference"))
    if args.out:
        write(table, header, args.out, args.method)
    return 0


def add_commands(sub) -> None:
    from experiments.bdrate import METHODS
    from hm_bridge.codec import CODECS
    from hm_bridge.cascade import CASCADES
    from hm_bridge.configs import PLACEMENTS
    from sr_mode.codec import SR_QPS

    ctc = sub.add_parser("ctc", help="common-test-condition sweeps and BD-rate reports")
    csub = ctc.add_subparsers(dest="ctc_command", required=True)
    r = csub.add_parser("run", help="run (or resume) a sweep: anchor vs test over sequences x configs x QPs")
    r.add_argument("experiment", nargs="?", help="a built-in experiment (quick, builtin, kodak, ctc) or an experiment "
                                                 "YAML (see experiments/examples/)")
    r.add_argument("--preset", help=argparse.SUPPRESS)  # the old spelling of the built-in experiment
    r.add_argument("--out", required=True, help="result folder (resumes if it already holds results)")
    r.add_argument("-j", "--jobs", type=int, default=1, help="parallel jobs (local process pool)")
    r.add_argument("--backend", choices=["local", "ray"], default="local")
    r.add_argument("--address", help="Ray cluster address (--backend ray)")
    r.add_argument("--cpus-per-job", type=int, default=None,
                   help="each job's threads (Ray: the CPUs it asks for; default 1; local: CPUs / -j)")
    r.add_argument("--gpus-per-job", type=float, default=0.0,
                   help="Ray: the GPU share each job asks for (0.5: two jobs share a GPU); its CNN runs there")
    r.add_argument("--segments", type=_segments_arg, default=None, metavar="auto|N",
                   help="code each sequence as N segments (auto: one per ~32 pictures / RA intra period) where the "
                        "codec allows a cut (x265 AI, RA), in parallel, joined into the whole encode's stream")
    r.add_argument("--frames", type=int, help="frames per sequence (default: the experiment's)")
    r.add_argument("--bit-depth", type=int, choices=[8, 10],
                   help="coding bit depth: 8 (Main, default) or 10 (Main10; 8-bit sources shifted up)")
    r.add_argument("--qps", type=int, nargs="+")
    r.add_argument("--configs", nargs="+")
    r.add_argument("--test", help="the test filter: smoothing, a model directory, ...")
    r.add_argument("--sequence-dir", help="folder holding the JCT-VC .yuv files")
    r.add_argument("--x265-preset", help="x265 preset (default: the experiment's)")
    r.add_argument("--codec", choices=CODECS, help="x265 (in process, default) or hm (your HM build)")
    r.add_argument("--hm", metavar="DIR", help="your HM checkout with its bin/ and cfg/ (default: $HMCNN_HM_DIR)")
    r.add_argument("--qp-cascade", choices=CASCADES, help="HM's per-picture QPs: hm16.20 (default) or l1100")
    r.add_argument("--placement", choices=PLACEMENTS,
                   help="where the test filter runs: loop (default), post (on decoded output) or replace "
                        "(in the loop, deblocking and SAO off)")
    r.add_argument("--report", action="store_true", help="write and print the report when done")
    r.add_argument("--method", default=METHODS[0], choices=METHODS)
    r.set_defaults(func=_cmd_run)
    st = csub.add_parser("status", help="what a sweep's folder holds: done, running (by which coordinator), "
                                        "failed, not started")
    st.add_argument("dir")
    st.set_defaults(func=_cmd_status)
    p = csub.add_parser("report", help="BD-rate tables (CSV, Markdown) and HTML report of a sweep")
    p.add_argument("dir")
    p.add_argument("--method", default=METHODS[0], choices=METHODS)
    p.set_defaults(func=_cmd_report)

    cmp = csub.add_parser("compare", help="BD-rate of one sweep's arm against another's (x265 vs HM anchor, "
                                         "loop vs post-filter, two models)")
    cmp.add_argument("reference", help="RUN[:anchor|test] (default arm: test), the reference")
    cmp.add_argument("compared", help="RUN[:anchor|test], measured against the reference")
    cmp.add_argument("--method", default=METHODS[0], choices=METHODS)
    cmp.add_argument("--out", help="also write compare.csv and compare.md here")
    cmp.set_defaults(func=_cmd_compare)

    e = sub.add_parser("sr-eval", help="SR coding mode vs HEVC vs bicubic down/up on an image set (Kodak)")
    e.add_argument("--images", default=None, help="image folder (default: the shared Kodak set)")
    e.add_argument("--qps", type=int, nargs="+", default=list(SR_QPS))
    e.add_argument("--out", required=True)
    e.add_argument("--models", default="models/sr")
    e.add_argument("--preset", default="slow")
    e.add_argument("--limit", type=int, default=None, help="only the first N images")
    e.set_defaults(func=_cmd_sr_eval)
    hm = sub.add_parser("hm", help="your HM build: insert our in-loop calls, check what it can do")
    hsub = hm.add_subparsers(dest="hm_command", required=True)
    i = hsub.add_parser("integrate", help="insert the in-loop filter calls into your HM checkout (never builds it)")
    i.add_argument("--hm-src", required=True, help="the HM checkout's root (with source/ and cfg/)")
    i.set_defaults(func=_cmd_hm_integrate)
    c = hsub.add_parser("check", help="prove recon == decoder output and the cross-decoder match on a few frames")
    c.add_argument("--hm", default=None, help="the HM checkout with bin/ and cfg/ (default: $HMCNN_HM_DIR)")
    c.add_argument("--frames", type=int, default=5)
    c.add_argument("--qp", type=int, default=37)
    c.add_argument("--models", default=None, help="the VRCNN models for the plug-in check (default: models/vrcnn)")
    c.set_defaults(func=_cmd_hm_check)

    st = sub.add_parser("sr-study", help="SRCNN vs autoencoder vs bicubic (x2) on Set5 and Kodak")
    st.add_argument("--models", default="models/sr_study")
    st.add_argument("--out", required=True)
    st.set_defaults(func=_cmd_sr_study)
