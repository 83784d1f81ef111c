"""sr_mode's commands of `hmcnn`: sr-encode, sr-decode, sr-train."""
from __future__ import annotations

from pathlib import Path


def _cmd_sr_encode(args) -> int:
    from hm_bridge.color import load_image_rgb
    from sr_mode.codec import SRModels, sr_encode

    models = SRModels(args.models)
    data, d = sr_encode(load_image_rgb(args.image), args.qp, models, criterion=args.criterion, preset=args.preset)
    with open(args.output, "wb") as f:
        f.write(data)
    px = d.lr_size[0] * d.lr_size[1] * 4
    print(f"{args.output}: {d.total_bytes} bytes ({d.total_bytes * 8 / px:.4f} bpp), content stream "
          f"{d.content_bytes} B at {d.lr_size[0]}x{d.lr_size[1]}, QP {args.qp}, upsampler {d.method} "
          f"(by {args.criterion}: " + ", ".join(f"{m} {v:.0f}" for m, v in d.distortions.items()) + ")")
    return 0


def _cmd_sr_decode(args) -> int:
    from PIL import Image

    from sr_mode.codec import SRModels, sr_decode

    with open(args.input, "rb") as f:
        data = f.read()
    video, rgb, model = sr_decode(data, SRModels(args.models))
    Image.fromarray(rgb).save(args.output)
    print(f"{args.output}: {video.width}x{video.height}, QP {model.qp}, upsampler {model.method}")
    return 0


def _cmd_sr_train(args) -> int:
    import dataclasses

    from sr_mode.train import default_settings, train_sr_mode_models, train_sr_study_models

    given = {k: getattr(args, k) for k in ("steps", "batch", "patch", "lr", "seed", "eval_every", "preset")}
    s = dataclasses.replace(default_settings(), **{k: v for k, v in given.items() if v is not None})
    if args.quick:
        s = dataclasses.replace(s, steps=10, batch=4, patch=16, eval_every=10, max_images=6, preset="ultrafast")
    if args.study:
        for arch, r in train_sr_study_models(Path(args.out), s).items():
            print(f"{arch}: validation PSNR-Y {r.val_psnr_model:.3f} dB (bicubic {r.val_psnr_baseline:.3f})")
    else:
        for r in train_sr_mode_models(args.qps, Path(args.out), s, args.cache):
            print(f"QP {r.qp}: validation PSNR-Y {r.val_psnr_model:.3f} dB (bicubic {r.val_psnr_baseline:.3f}, "
                  f"{r.gain:+.3f})")
    return 0


def add_commands(sub) -> None:
    from sr_mode.codec import CRITERIA, SR_QPS

    se = sub.add_parser("sr-encode", help="super-resolution coding mode: encode an image")
    se.add_argument("image")
    se.add_argument("--qp", type=int, required=True)
    se.add_argument("-o", "--output", required=True)
    se.add_argument("--models", default="models/sr", help="per-QP SR networks (manifest.json)")
    se.add_argument("--criterion", default="sse_y", choices=CRITERIA, help="what the upsampler RDO minimises")
    se.add_argument("--preset", default="slow")
    se.set_defaults(func=_cmd_sr_encode)

    sd = sub.add_parser("sr-decode", help="super-resolution coding mode: decode to an image (PNG)")
    sd.add_argument("input")
    sd.add_argument("-o", "--output", required=True)
    sd.add_argument("--models", default="models/sr")
    sd.set_defaults(func=_cmd_sr_decode)

    r = sub.add_parser("sr-train", help="train the SR coding mode's per-QP networks (or, --study, SRCNN and the "
                                        "autoencoder)")
    r.add_argument("--qps", type=int, nargs="+", default=list(SR_QPS))
    r.add_argument("--out", default="models/sr")
    r.add_argument("--study", action="store_true", help="train SRCNN and the autoencoder on bicubic x2 pairs instead")
    # defaults: sr_mode.train.default_settings()
    r.add_argument("--steps", type=int, help="default 1500")
    r.add_argument("--batch", type=int, help="default 32")
    r.add_argument("--patch", type=int, help="half-size patch side (default 24)")
    r.add_argument("--lr", type=float, help="default 1e-3")
    r.add_argument("--seed", type=int, help="default 2016")
    r.add_argument("--eval-every", type=int, help="default 500")
    r.add_argument("--preset", help="x265 preset of the training pairs (default slow)")
    r.add_argument("--cache", default=None)
    r.add_argument("--quick", action="store_true")
    r.set_defaults(func=_cmd_sr_train)
