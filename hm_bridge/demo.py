"""`hmcnn demo`: encode + decode a built-in clip in every config, without and with an
in-loop filter, and print rate / PSNR / MD5 match / the drift without the filter."""
from __future__ import annotations

from tqdm import tqdm

from hm_bridge.clips import load_builtin
from hm_bridge.codec import decode, encode
from hm_bridge.configs import CONFIGS, UNSUPPORTED


def run(resolve_filter, clip: str = "carphone", frames: int = 17, qp: int = 32, preset: str = "slow",
        filter_spec: str = "smoothing:always", configs=tuple(CONFIGS)) -> list[dict]:
    """``resolve_filter(text)`` turns "none" and ``filter_spec`` into filters (the CLI hands
    in the project's resolver)."""
    video = load_builtin(clip, frames)
    rows = []
    jobs = [(c, f) for c in configs for f in ("none", filter_spec)]
    for config, spec in tqdm(jobs, desc="demo encodes", unit="encode"):
        result = encode(video, config=config, qp=qp, preset=preset, loop_filter=resolve_filter(spec),
                        recon="memory" if spec != "none" else None)
        row = {
            "config": config, "filter": spec, "kbps": result.kbps, "psnr_y": result.psnr.y,
            "psnr_u": result.psnr.u, "psnr_v": result.psnr.v, "side_info_bytes": result.side_info_bytes,
            "enc_s": result.seconds, "dec_s": result.decode.seconds, "md5_match": result.md5_match,
            "hash_ok": result.decode.hash_ok, "drift": None,
        }
        if spec != "none":
            # the same stream decoded WITHOUT the filter: it drifts, because the filter is in the loop
            plain = decode(result.bitstream, fps=video.fps)
            per_frame = result.recon.psnr(plain.video).per_frame[:, 0]
            row["drift"] = (int((per_frame < 999).sum()), float(per_frame.min()))
        rows.append(row)
    print(f"\nclip {clip} ({video.width}x{video.height}, {len(video)} frames), QP {qp}, x265 preset {preset}")
    print("anchor = x265 with the filter off; rate from bitstream bytes (picture-hash SEI excluded)\n")
    head = f"{'config':6} {'filter':10} {'kbps':>9} {'Y dB':>7} {'U dB':>7} {'V dB':>7} {'SEI B':>6} {'enc s':>6} {'dec s':>6}  recon==dec  decoded without the filter"
    print(head)
    print("-" * len(head))
    for r in rows:
        drift = "" if r["drift"] is None else f"{r['drift'][0]} frames differ, worst {r['drift'][1]:.2f} dB"
        print(f"{r['config']:6} {r['filter']:10} {r['kbps']:9.2f} {r['psnr_y']:7.3f} {r['psnr_u']:7.3f} "
              f"{r['psnr_v']:7.3f} {r['side_info_bytes']:6d} {r['enc_s']:6.2f} {r['dec_s']:6.2f}  "
              f"{'MD5 match' if r['md5_match'] else 'MISMATCH':10}  {drift}")
    for name, why in UNSUPPORTED.items():
        print(f"{name}: not available: {why}")
    return rows
