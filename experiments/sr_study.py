"""hmcnn sr-study: x2 super-resolution by SRCNN vs a convolutional autoencoder, with
bicubic as the baseline, on Set5 and Kodak: PSNR and SSIM of the luma (BT.601), a 2
pixel border shaved as is customary for x2. Writes OUT/study.csv, OUT/study.md and
OUT/side_by_side.png (high / low / autoencoder / SRCNN, each panel its own model's output).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from cnn_filter import zoo
from experiments.metrics import ssim_plane
from hm_bridge.color import load_image_rgb, rgb_to_video
from hm_bridge.paths import data_root
from hm_bridge.video import plane_psnr
from sr_mode.codec import super_resolve
from sr_mode.resample import downsample2, to_uint8, upsample2
from sr_mode.train import STUDY_ARCHS

SHAVE = 2
METHODS = ("bicubic",) + STUDY_ARCHS


def load_models(models_dir: Path) -> dict:
    return {arch: zoo.open_models(Path(models_dir) / f"{arch}.pt").load(0) for arch in STUDY_ARCHS}


def outputs(y_hr: np.ndarray, models: dict) -> tuple[np.ndarray, dict]:
    lr = downsample2(y_hr)
    out = {"bicubic": to_uint8(upsample2(lr, "bicubic"))}
    for arch, m in models.items():
        out[arch] = to_uint8(super_resolve(m, "sr_refine", lr))
    return lr, out


def evaluate(sets: dict[str, Path], models: dict) -> list[dict]:
    rows = []
    for set_name, folder in sets.items():
        for path in sorted(folder.glob("*.png")):
            y = rgb_to_video(load_image_rgb(path), multiple=4).y[0]
            _, out = outputs(y, models)
            s = (slice(SHAVE, -SHAVE), slice(SHAVE, -SHAVE))
            for method, o in out.items():
                rows.append({"set": set_name, "image": path.name, "method": method,
                             "psnr_y": plane_psnr(y[s], o[s]), "ssim_y": ssim_plane(y[s], o[s])})
    return rows


def table(rows: list[dict]) -> list[dict]:
    out = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        for m in METHODS:
            sel = [r for r in rows if r["set"] == set_name and r["method"] == m]
            out.append({"set": set_name, "method": m, "images": len(sel),
                        "psnr_y": float(np.mean([r["psnr_y"] for r in sel])),
                        "ssim_y": float(np.mean([r["ssim_y"] for r in sel]))})
    return out


def side_by_side(image: Path, models: dict, path: Path, crop: int = 160) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = rgb_to_video(load_image_rgb(image), multiple=4).y[0]
    lr, out = outputs(y, models)
    h, w = y.shape
    c = min(crop, h, w) // 2 * 2
    y0, x0 = (h - c) // 2 // 2 * 2, (w - c) // 2 // 2 * 2
    low = np.repeat(np.repeat(lr, 2, 0), 2, 1)  # the half-size input, shown at full size
    panels = [("high (original)", y), ("low (x1/2, shown enlarged)", low),
              ("autoencoder", out["sr_autoencoder"]), ("CNN (SRCNN)", out["srcnn"])]
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.8), dpi=100)
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img[y0:y0 + c, x0:x0 + c], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        extra = "" if img is y else f"\n{plane_psnr(y, img):.2f} dB (whole image)"
        ax.set_title(title + extra, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{image.name}, luma, x2", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path)
    plt.close(fig)


def run(models_dir: Path, out: Path) -> list[dict]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = data_root()
    sets = {name: root / name for name in ("set5", "kodak") if (root / name).is_dir()}
    if not sets:
        raise FileNotFoundError(f"neither {root / 'set5'} nor {root / 'kodak'} exists")
    models = load_models(models_dir)
    rows = evaluate(sets, models)
    with open(out / "per_image.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["set", "image", "method", "psnr_y", "ssim_y"])
        w.writeheader()
        w.writerows(rows)
    summary = table(rows)
    with open(out / "study.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["set", "method", "images", "psnr_y", "ssim_y"])
        w.writeheader()
        w.writerows(summary)
    md = ["| set | method | images | PSNR-Y (dB) | SSIM-Y |", "|---|---|---:|---:|---:|"]
    md += [f"| {r['set']} | {r['method']} | {r['images']} | {r['psnr_y']:.3f} | {r['ssim_y']:.4f} |" for r in summary]
    (out / "study.md").write_text("x2 SR, luma, border of 2 shaved\n\n" + "\n".join(md) + "\n")
    first = next(iter(sets.values()))
    pick = first / "butterfly.png" if (first / "butterfly.png").exists() else sorted(first.glob("*.png"))[0]
    side_by_side(pick, models, out / "side_by_side.png")
    return summary
