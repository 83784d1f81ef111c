"""`hmcnn hm check --hm DIR`: what the user's HM build can do, proven on a few frames.

* Anchor (any build): in ai/ra/ldb/ldp, Main and Main10, HM's decoder output == HM's
  reconstruction and libde265 decodes the stream to the same pictures.
* In-loop (a build carrying our calls, `hmcnn hm integrate`): the same with the C example
  filter and with the VRCNN plug-in (and in RA at 10 bits); decoding without the filter
  drifts (the picture hashes fail); and our patched libde265 with the same filter decodes
  the HM stream bit-exactly (the side-info format and the filters are codec-independent).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import hm_bridge as hb
from hm_bridge.hm import HMBuild
from hm_bridge.paths import REPO

CONFIGS = ("ai", "ra", "ldb", "ldp")


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


def build_example_filter(out_dir: Path) -> Path:
    """The plain-C band-offset example, compiled against the ABI header alone."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) to build the example filter")
    lib = Path(out_dir) / "libband_offset.so"
    subprocess.run([cc, "-std=c11", "-O2", "-shared", "-fPIC", "-I", str(REPO / "cpp" / "include"),
                    str(REPO / "cpp" / "examples" / "band_offset_filter.c"), "-o", str(lib)], check=True)
    return lib


def _in_loop(video, config, qp, hm, name, f, bit_depth: int = 8) -> list[Check]:
    what = f"{config}{' Main10' if bit_depth == 10 else ''} {name}"
    try:
        r = hb.encode(video, config=config, qp=qp, codec="hm", hm_dir=hm, loop_filter=f,
                      bit_depth=bit_depth)  # verified by HM's decoder and libde265
    except Exception as e:  # a failed check, reported with HM's or the filter's own words
        return [Check(f"{what}: in loop", False, f"{type(e).__name__}: {e}")]
    plain = hb.decode(r.bitstream)
    return [Check(f"{what}: HM encoder recon == HM decoder == libde265 with the filter", bool(r.md5_match),
                  f"{r.side_info_bytes} B of side info, PSNR-Y {r.psnr.y:.3f} dB"),
            Check(f"{what}: decoded without the filter the hashes fail (drift)", not plain.hash_ok,
                  f"{plain.hash_mismatches} of {plain.hashed_pictures} pictures")]


def run(hm_dir=None, frames: int = 5, qp: int = 37, models=None) -> tuple[HMBuild, list[Check]]:
    from hm_bridge.clips import load_builtin

    hm = HMBuild.find(hm_dir)
    video = load_builtin("carphone", frames)
    checks = []
    for config in CONFIGS:
        for depth in (8, 10):  # Main, and Main10 (8-bit content at 10-bit internal depth)
            what = f"{config}{' Main10' if depth == 10 else ''} anchor"
            try:
                r = hb.encode(video, config=config, qp=qp, codec="hm", hm_dir=hm, bit_depth=depth)
                checks.append(Check(f"{what}: HM encoder recon == HM decoder == libde265", bool(r.md5_match),
                                    f"{r.rate_bytes} B, PSNR-Y {r.psnr.y:.3f} dB"))
            except Exception as e:
                checks.append(Check(what, False, f"{type(e).__name__}: {e}"))
    if not hm.integrated:
        checks.append(Check("in-loop calls", False, f"{hm.encoder.name} does not carry them: run `hmcnn hm "
                                                    f"integrate --hm-src {hm.root}` and rebuild"))
        return hm, checks
    with tempfile.TemporaryDirectory() as d:
        filters = {"band-offset example": hb.load_native_filter(build_example_filter(Path(d)))}
        try:
            from cnn_filter import load_filter

            filters["VRCNN plug-in"] = load_filter(models or REPO / "models" / "vrcnn", device="cpu")
        except (ImportError, FileNotFoundError, ValueError) as e:
            checks.append(Check("VRCNN plug-in", False, str(e)))
        for config in CONFIGS:
            for name, f in filters.items():
                checks += _in_loop(video, config, qp, hm, name, f)
        for name, f in filters.items():  # the loop at 10 bits: one config is enough to show it
            checks += _in_loop(video, "ra", qp, hm, name, f, bit_depth=10)
    return hm, checks
