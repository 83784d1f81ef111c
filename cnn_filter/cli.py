"""cnn_filter's commands of `hmcnn`: train (per-QP loop-filter training)."""
from __future__ import annotations

from pathlib import Path


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _seconds(text: str) -> float:
    import argparse

    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a time limit must be a positive number of seconds, got {text!r}")
    return value


def _cmd_train(args) -> int:
    from cnn_filter.train import train_models
    from cnn_filter.training import TrainSettings

    s = TrainSettings(arch=args.arch, steps=args.steps, batch=args.batch, patch=args.patch, lr=args.lr,
                      warmup=args.warmup, seed=args.seed, device=args.device or default_device(),
                      eval_every=args.eval_every, warm_start=not args.no_warm_start, jobs=args.jobs,
                      preset=args.preset, pt2=not args.no_pt2, aoti=args.aoti, init_from=args.init,
                      time_limit=args.time_limit, qp_balanced=args.qp_balanced, max_images=args.max_images)
    if args.qp_balanced:
        from cnn_filter.models import arch_spec

        if not arch_spec(args.arch).kind.qp_input:
            import sys

            print(f"hmcnn train: error: --qp-balanced weighs the QPs of one QP-input model (e.g. yuv_resnet); "
                  f"{args.arch} is trained one model per QP", file=sys.stderr)
            return 2
    if args.quick:  # small enough for CI on a 2-core CPU
        s.steps, s.batch, s.patch, s.eval_every, s.max_images, s.preset = 20, 4, 32, 20, 6, "ultrafast"
    if args.pairs_only:
        from cnn_filter.train import make_training_pairs

        counts = make_training_pairs(args.qps, Path(args.out), s, args.cache, splits=args.images,
                                     replace_dbf_sao=args.replace_dbf_sao, workers=args.workers, inter=tuple(args.inter),
                                     inter_frames=args.inter_frames, inter_loop=args.inter_loop)
        print(f"training pairs of QP {', '.join(map(str, args.qps))} made and cached")
        for (config, qp), by_type in counts.items():
            print(f"  inter-coded, {config.upper()} QP {qp}: " + ", ".join(f"{n} {t}" for t, n in sorted(by_type.items())))
        return 0
    if args.inter:
        from cnn_filter.train import train_inter_models

        try:
            results = train_inter_models(args.qps, Path(args.out), s, args.cache, configs=tuple(args.inter),
                                         base_qps=tuple(args.inter_base_qps), frames=args.inter_frames,
                                         splits=args.images, workers=args.workers, loop=args.inter_loop)
        except ValueError as e:
            import sys

            print(f"hmcnn train: error: {e}", file=sys.stderr)
            return 2
    else:
        results = train_models(args.qps, Path(args.out), s, args.cache, splits=args.images,
                               replace_dbf_sao=args.replace_dbf_sao, workers=args.workers)
    print(f"\n{'QP':>7} {'val PSNR-Y unfiltered':>22} {'filtered':>9} {'gain dB':>8} {'time s':>7}")
    for r in results:
        qp = "all" if r.qp is None else str(r.qp)
        print(f"{qp:>7} {r.val_psnr_baseline:22.3f} {r.val_psnr_model:9.3f} {r.gain:+8.3f} {r.seconds:7.1f}")
    print(f"models, metadata and manifest in {args.out}")
    return 0


def _cmd_export(args) -> int:
    from cnn_filter.training import export_checkpoints

    for path in export_checkpoints(args.dir, args.out or args.dir, args.training_set):
        print(f"exported {path}")
    return 0


def _cmd_model_info(args) -> int:
    from cnn_filter.models import arch_spec, complexity, model_names

    print(f"{'model':>16} {'kind':>12} {'parameters':>11} {'kMAC/pixel':>11}")
    for name in model_names():
        params, kmac = complexity(name)
        print(f"{name:>16} {arch_spec(name).kind.name:>12} {params:>11,} {kmac:>11.1f}")
    print("kMAC/pixel: multiply-accumulates per output luma sample, counted on a 64x64 picture")
    if args.dir:
        from cnn_filter import zoo

        m = zoo.open_models(args.dir)
        print(f"\n{args.dir}: {m.arch} ({m.kind or 'loop'}{', integer' if m.integer else ''}), "
              + (f"one model for QP {min(m.qps)}..{max(m.qps)}" if m.qp_input else f"QPs {list(m.qps)}")
              + f", training set: {m.meta.get('training_set', '?')}")
    return 0


def _cmd_quantize(args) -> int:
    from cnn_filter.quantize import quantize_directory

    quantize_directory(args.models, args.out, args.calibration, args.activation_bits, args.weight_bits, args.qat_steps,
                       args.cache)
    print(f"integer models and manifest in {args.out} (use them with --filter {args.out})")
    return 0


def _cmd_filter_path(args) -> int:
    import sys

    from cnn_filter.loader import INT_PLUGIN_NAME, PLUGIN_NAME, plugin_path
    from cnn_filter.zoo import open_models

    if args.models:  # the plug-in that runs this model directory
        integer = open_models(args.models).integer
        kinds = [(integer, args.models)]
    elif args.integer:
        kinds = [(True, "models/vrcnn-int")]
    else:  # both, each with a shipped model
        kinds = [(False, "models/vrcnn"), (True, "models/vrcnn-int")]
    for integer, models in kinds:
        path = plugin_path(INT_PLUGIN_NAME if integer else PLUGIN_NAME)
        extra = "threads=2" if integer else "device=cpu"
        print(path)
        print(f"  {'integer models (.hmq), no libtorch' if integer else 'TorchScript models (libtorch)'}: "
              f"dlopen(\"{path}\"), then hmcnn_filter_open(\"models={models};{extra};rdo=1\")", file=sys.stderr)
        print(f"  HM (integrated): HMCNN_FILTER=\"{path}:models={models};{extra}\" TAppEncoder ...",
              file=sys.stderr)
    return 0


def add_commands(sub) -> None:
    t = sub.add_parser("train", help="train one loop-filter model per QP on pairs made by our codec")
    t.add_argument("--qps", type=int, nargs="+", default=[22, 27, 32, 37])
    t.add_argument("--out", default="models/vrcnn")
    t.add_argument("--arch", default="vrcnn", help="a registered model (cnn_filter.models)")
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--patch", type=int, default=48)
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    t.add_argument("--warmup", type=int, default=0, help="steps of linear warm-up before the cosine decay")
    t.add_argument("--seed", type=int, default=2017)
    t.add_argument("--eval-every", type=int, default=500)
    t.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    t.add_argument("--preset", default="slow", help="x265 preset used to make the training pairs")
    t.add_argument("--cache", default=None, help="where codec pairs are cached (default OUT/pairs)")
    t.add_argument("--no-warm-start", action="store_true", help="train each QP from scratch")
    t.add_argument("--jobs", type=int, default=1, help="QPs trained side by side, each from scratch (e.g. on a GPU)")
    t.add_argument("--workers", type=int, default=1, help="processes coding the training pairs")
    t.add_argument("--images", choices=["trainval", "all"], default="trainval",
                   help="BSDS500 splits to train on: train+val, or all three (Kodak is never used)")
    t.add_argument("--replace-dbf-sao", action="store_true",
                   help="pairs coded with deblocking and SAO off (a filter that takes their place)")
    t.add_argument("--init", default=None, metavar="DIR",
                   help="continue from the models in DIR (each QP from its nearest-QP model), e.g. models/vrcnn")
    t.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="per model: the learning rate decays by the clock as well as by the steps, and training "
                        "stops when the time is up (e.g. on a lent GPU of fixed minutes); the log says the steps run")
    t.add_argument("--qp-balanced", action="store_true",
                   help="a QP-input model: weight each QP's loss by 1 / its unfiltered MSE, so every QP counts "
                        "alike in dB (plain MSE is ruled by the highest QPs)")
    t.add_argument("--no-pt2", action="store_true", help="skip the torch.export .pt2 export")
    t.add_argument("--aoti", action="store_true", help="also compile AOTInductor packages")
    t.add_argument("--quick", action="store_true", help="a tiny run (CI smoke test)")
    t.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="train on the first N training pictures only (validation: the first N / 4, at least 2)")
    t.add_argument("--pairs-only", action="store_true",
                   help="only make (and cache) the codec pairs, e.g. on a CPU machine before a GPU session")
    t.add_argument("--inter", nargs="+", choices=["ra", "ldp"], default=[],
                   help="with --pairs-only: also inter-coded pairs, each training picture as a camera-motion clip "
                        "coded in these configs (labelled slice type, temporal layer, QP); without it: train models "
                        "for the P and B pictures on those pairs (--qps: their QPs, each trained on the pictures "
                        "whose QP is nearest), from and beside the models of --init, which serve the I pictures")
    t.add_argument("--inter-base-qps", type=int, nargs="+", default=[22, 27, 32, 37],
                   help="with --inter: the base QPs the clips are coded at (HM's cascade raises P/B pictures' QPs)")
    t.add_argument("--inter-frames", type=int, default=9, help="pictures per camera-motion clip")
    t.add_argument("--inter-loop", default=None, metavar="DIR",
                   help="with --inter: code the clips with the models in DIR in the loop; each pair's input is the "
                        "picture as the hook receives it (its references filtered, as when the models are deployed)")
    t.set_defaults(func=_cmd_train)

    mi = sub.add_parser("model", help="the model registry: parameters and kMAC/pixel of every architecture")
    msub = mi.add_subparsers(dest="model_command", required=True)
    info = msub.add_parser("info", help="parameters and kMAC/pixel of every registered model (and of DIR's models)")
    info.add_argument("dir", nargs="?", help="a model directory to describe too")
    info.set_defaults(func=_cmd_model_info)

    fp = sub.add_parser("filter-path", help="where the CNN filter plug-ins are (for HM or your own codec)")
    fp.add_argument("models", nargs="?", default=None,
                    help="a model directory: print the plug-in that runs it (default: both plug-ins)")
    fp.add_argument("--integer", action="store_true", help="the integer runner's plug-in (no libtorch)")
    fp.set_defaults(func=_cmd_filter_path)

    from cnn_filter.quantize import ACTIVATION_BITS, WEIGHT_BITS

    q = sub.add_parser("quantize", help="integer (fixed-point) models of a trained directory, for the integer runner")
    q.add_argument("--models", default="models/vrcnn", help="the trained (TorchScript) model directory")
    q.add_argument("--out", default="models/vrcnn-int")
    q.add_argument("--calibration", type=int, default=16, help="training pictures used to calibrate the scales")
    q.add_argument("--activation-bits", type=int, default=ACTIVATION_BITS)
    q.add_argument("--weight-bits", type=int, default=WEIGHT_BITS)
    q.add_argument("--qat-steps", type=int, default=0, help="quantization-aware fine-tuning steps (0: PTQ only)")
    q.add_argument("--cache", default=None, help="where the calibration pairs are cached")
    q.set_defaults(func=_cmd_quantize)

    x = sub.add_parser("export", help="export the checkpoints of an interrupted `hmcnn train` as a model directory")
    x.add_argument("dir", help="the --out of the training (holding checkpoints/)")
    x.add_argument("--out", default=None, help="where the models go (default: DIR)")
    x.add_argument("--training-set", default="", help="a description of the data, for the metadata")
    x.set_defaults(func=_cmd_export)
