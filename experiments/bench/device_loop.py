"""The filter in the loop on a device, verified: every stream coded with the filter on
``--device`` (x265 + libde265 in process, ai / ra / ldp) decodes MD5-equal; the integer
model coded on the device decodes on the CPU integer runner and the reverse. Prints one
table (and writes it as JSON with --json). On a CUDA machine: ``--device cuda``; here
``--device cpu`` runs the same code (the float rows then compare CPU with CPU).

    python -m experiments.bench.device_loop --device cuda [--frames 9] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import hm_bridge as hb
from hm_bridge.clips import load_builtin

REPO = Path(__file__).resolve().parents[2]


def _row(what: str, config: str, enc, dec, clip, qp: int) -> dict:
    t0 = time.perf_counter()
    r = hb.encode(clip, config=config, qp=qp, preset="medium", loop_filter=enc, verify=False)
    enc_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = hb.decode(r.bitstream, loop_filter=dec, output=None)
    return {"what": what, "config": config, "md5_match": d.md5s == r.recon_md5s, "hash_ok": d.hash_ok,
            "side_info_bytes": r.side_info_bytes, "psnr_y": round(r.psnr.y, 3), "enc_s": round(enc_s, 2),
            "dec_s": round(time.perf_counter() - t0, 2)}


def main(argv=None) -> int:
    from cnn_filter.loader import load_exact_integer_filter, load_filter, load_integer_filter

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--qp", type=int, default=37)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    clip = load_builtin("carphone", args.frames)
    models = REPO / "models"
    rows = []
    for config in ("ai", "ra", "ldp"):
        for name, half in (("vrcnn", False), ("vrcnn", True), ("yuv_resnet", False)):
            if half and not args.device.startswith("cuda"):
                continue  # fp16 inference needs CUDA
            f = load_filter(models / name, device=args.device, half=half)
            rows.append(_row(f"{name} {'fp16' if half else 'fp32'} on {args.device}, both sides", config, f, f, clip,
                             args.qp))
        exact = load_exact_integer_filter(models / "vrcnn-int", args.device)
        cpu = load_integer_filter(models / "vrcnn-int", threads=2)
        rows.append(_row(f"vrcnn-int: encode exact on {args.device}, decode integer runner (CPU)", config, exact, cpu,
                         clip, args.qp))
        rows.append(_row(f"vrcnn-int: encode integer runner (CPU), decode exact on {args.device}", config, cpu, exact,
                         clip, args.qp))
    print(f"carphone {args.frames} frames, QP {args.qp}, x265 medium; device {args.device}")
    print(f"{'what':70} {'cfg':4} {'MD5':5} {'hash':5} {'SEI B':>6} {'Y dB':>7} {'enc s':>6} {'dec s':>6}")
    for r in rows:
        print(f"{r['what']:70} {r['config']:4} {'ok' if r['md5_match'] else 'FAIL':5} {'ok' if r['hash_ok'] else 'FAIL':5} "
              f"{r['side_info_bytes']:6d} {r['psnr_y']:7.3f} {r['enc_s']:6.2f} {r['dec_s']:6.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r["md5_match"] and r["hash_ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
