"""hmcnn sr-eval: the SR coding mode against plain HEVC on an image set (Kodak), the
three ways of the seed paper, at every QP:

  1. ``hevc``: the full-size picture coded with HEVC intra;
  2. ``bicubic``: bicubic half-size -> HEVC intra -> bicubic upsampling;
  3. ``sr``: the proposed mode (content + model stream in one container).

bpp = every byte of every stream x 8 / pixels (for 3 the whole container file; for 1
and 2 the HEVC stream without its picture-hash SEI, which decoding does not need).
PSNR-Y against the source's BT.601 luma; PSNR-RGB against the source RGB (4:2:0
chroma upsampled by repetition for every way). Writes OUT/results.csv, OUT/summary.csv,
OUT/rd.png and prints the table and BD-rates of 3 vs 1.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm import tqdm

import hm_bridge as hb
from hm_bridge.bitstream import strip_hash_sei
from hm_bridge.color import crop_to_multiple, load_image_rgb, rgb_to_video, video_frame_to_rgb
from hm_bridge.video import plane_psnr
from sr_mode.codec import SRModels, sr_decode, sr_encode
from sr_mode.resample import half_size, to_uint8, upsample2

WAYS = ("hevc", "bicubic", "sr")
LOW_RATE_BPP = 0.1


def evaluate_image(path: Path, qp: int, models: SRModels, preset: str = "slow") -> list[dict]:
    rgb = crop_to_multiple(load_image_rgb(path), 4)
    full = rgb_to_video(rgb, multiple=4)
    pixels = full.width * full.height
    rows = []

    def add(way, nbytes, video):
        rows.append({"image": path.name, "qp": qp, "way": way, "bytes": nbytes, "bpp": nbytes * 8 / pixels,
                     "psnr_y": plane_psnr(full.y[0], video.y[0]), "psnr_rgb": plane_psnr(rgb, video_frame_to_rgb(video))})

    same = hb.encode(full, config="ai", qp=qp, preset=preset, recon="memory")
    add("hevc", len(strip_hash_sei(same.bitstream)), same.recon)

    half = hb.encode(half_size(full), config="ai", qp=qp, preset=preset, recon="memory")
    up = hb.Video(*(to_uint8(upsample2(p[0], "bicubic"))[None] for p in (half.recon.y, half.recon.u, half.recon.v)))
    add("bicubic", len(strip_hash_sei(half.bitstream)), up)

    data, details = sr_encode(rgb, qp, models, preset=preset)
    video, _, model_stream = sr_decode(data, models)
    add("sr", len(data), video)
    rows[-1]["method"] = model_stream.method
    return rows


def summarize(rows: list[dict], qps: list[int]) -> dict:
    """way -> (mean bpp per QP, mean PSNR-Y per QP, mean PSNR-RGB per QP)."""
    out = {}
    for way in WAYS:
        bpp = [np.mean([r["bpp"] for r in rows if r["way"] == way and r["qp"] == q]) for q in qps]
        py = [np.mean([r["psnr_y"] for r in rows if r["way"] == way and r["qp"] == q]) for q in qps]
        prgb = [np.mean([r["psnr_rgb"] for r in rows if r["way"] == way and r["qp"] == q]) for q in qps]
        out[way] = (np.array(bpp), np.array(py), np.array(prgb))
    return out


def bd_rates(summary: dict) -> dict:
    """BD-rate (pchip, PSNR-Y) of the SR mode vs same-size HEVC: overlapping range and bpp < 0.1."""
    from experiments.bdrate import bd_rate

    out = {}
    rb, pb, _ = summary["hevc"]
    rs, ps, _ = summary["sr"]
    for label, keep_b, keep_s in (("overlap", np.ones_like(rb, bool), np.ones_like(rs, bool)),
                                  (f"bpp<{LOW_RATE_BPP}", rb < LOW_RATE_BPP, rs < LOW_RATE_BPP)):
        try:
            out[label] = bd_rate(rb[keep_b], pb[keep_b], rs[keep_s], ps[keep_s], "pchip")
        except ValueError as e:
            out[label] = f"n/a ({e})"
    return out


def plot(summary: dict, qps: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=100)
    labels = {"hevc": "(1) HEVC same size", "bicubic": "(2) bicubic down/up + HEVC", "sr": "(3) SR coding mode"}
    for way, style in zip(WAYS, ("o-", "^-", "s-")):
        bpp, py, _ = summary[way]
        ax.plot(bpp, py, style, label=labels[way])
        for b, p, q in zip(bpp, py, qps):
            ax.annotate(str(q), (b, p), fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.axvline(LOW_RATE_BPP, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("bpp (log)")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title("Kodak, mean over images (labels: QP)", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(images: Path, qps: list[int], out: Path, models_dir: Path, preset: str = "slow",
        limit: int | None = None) -> tuple[list[dict], dict, dict]:
    images, out = Path(images), Path(out)
    paths = sorted(p for p in images.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no images in {images}")
    models = SRModels(models_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in tqdm(paths, desc="sr-eval", unit="image"):
        for qp in qps:
            rows += evaluate_image(path, qp, models, preset)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["image", "qp", "way", "bytes", "bpp", "psnr_y", "psnr_rgb", "method"])
        w.writeheader()
        w.writerows(rows)
    summary = summarize(rows, qps)
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["way", "qp", "mean_bpp", "mean_psnr_y", "mean_psnr_rgb"])
        for way, (bpp, py, prgb) in summary.items():
            for q, b, p, c in zip(qps, bpp, py, prgb):
                w.writerow([way, q, f"{b:.5f}", f"{p:.3f}", f"{c:.3f}"])
    plot(summary, qps, out / "rd.png")
    return rows, summary, bd_rates(summary)
