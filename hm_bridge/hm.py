"""HM, the JCT-VC reference software, as a codec backend: the user's own build, run as
processes (HM is on no registry; the project never builds it).

    hm = HMBuild.find()          # $HMCNN_HM_DIR, or hm_bridge.hm.HMBuild.find("/path/to/HM")
    r = hm_encode(video, config="ra", qp=32, hm=hm)              # the anchor
    r = hm_encode(video, config="ra", qp=32, hm=hm, loop_filter=hm_bridge.load_native_filter(lib))

HM runs with its own ``cfg/encoder_{intra,randomaccess,lowdelay,lowdelay_P}_main.cfg``,
plus ``cfg/per-sequence/<Seq>.cfg`` for a catalogue sequence, ``--SEIDecodedPictureHash=1``,
and RA's intra period by HM's current rule. A loop filter must be a native plug-in (an
object with ``__hmcnn_plugin__()`` returning ``"LIB.so[:OPTIONS]"``: a
NativeLibraryFilter, or a CNN filter of cnn_filter): it reaches HM's processes through the
HMCNN_FILTER environment variable, which the calls `hmcnn hm integrate` inserted read.
Every stream is decoded by HM's decoder (output == HM's reconstruction, picture hashes
OK) and by libde265 with the same filter (an external oracle). Rate, PSNR and MD5 are
computed here as for x265; HM's own log is parsed and cross-checked.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hm_bridge.bitstream import count_bytes, split_nals
from hm_bridge.codec import DecodeResult, EncodeResult, ReconMismatchError, decode, post_filter
from hm_bridge.configs import check_placement, check_qp
from hm_bridge.hm_integrate import hm_version
from hm_bridge.video import Video

HM_ENV = "HMCNN_HM_DIR"
FILTER_ENV = "HMCNN_FILTER"
CFG_FILES = {"ai": "encoder_intra_main.cfg", "ra": "encoder_randomaccess_main.cfg",
             "ldb": "encoder_lowdelay_main.cfg", "ldp": "encoder_lowdelay_P_main.cfg"}
#: HM's options that turn deblocking and SAO off (the "replace" placement)
HM_NO_DBF_SAO = ("--LoopFilterDisable=1", "--SAO=0")
#: PSNR of our measurement vs HM's log, per frame average (HM prints 4 decimals)
PSNR_TOLERANCE = 0.01


class HMError(RuntimeError):
    """HM failed, or its output is not what it should be."""


@dataclass(frozen=True)
class HMBuild:
    root: Path
    encoder: Path
    decoder: Path
    version: str
    integrated: bool  # the binaries carry hm-cnn-loop's in-loop calls

    @property
    def cfg(self) -> Path:
        return self.root / "cfg"

    @classmethod
    def find(cls, root=None) -> "HMBuild":
        """The HM build at ``root`` (or $HMCNN_HM_DIR): its bin/ binaries and cfg/.
        FileNotFoundError with the reason when something is missing."""
        root = root or os.environ.get(HM_ENV)
        if not root:
            raise FileNotFoundError(f"no HM build given: pass --hm DIR or set {HM_ENV} to your HM checkout "
                                    "(with its bin/ and cfg/); the project never builds HM")
        root = Path(root).resolve()
        version = hm_version(root)
        if version is None:
            raise FileNotFoundError(f"{root} is not an HM checkout (no source/Lib/TLibCommon/CommonDef.h)")
        encoder, decoder = _binary(root, "TAppEncoder"), _binary(root, "TAppDecoder")
        if not (root / "cfg" / CFG_FILES["ai"]).is_file():
            raise FileNotFoundError(f"{root / 'cfg'} lacks HM's encoder cfgs")
        return cls(root, encoder, decoder, f"HM-{version}", _carries_calls(encoder) and _carries_calls(decoder))


def _binary(root: Path, name: str) -> Path:
    found = sorted(p for p in (root / "bin").rglob(f"{name}*") if p.is_file() and os.access(p, os.X_OK))
    if not found:
        raise FileNotFoundError(f"no {name} under {root / 'bin'}: build HM first (cmake, then make {name})")
    return max(found, key=lambda p: p.stat().st_mtime)  # the newest build


def _carries_calls(binary: Path) -> bool:
    """Whether a binary was built from an integrated checkout (our glue's strings are in it)."""
    return FILTER_ENV.encode() in binary.read_bytes()


def plugin_spec(loop_filter) -> str | None:
    """The "LIB.so[:OPTIONS]" an out-of-process codec loads for ``loop_filter``."""
    if loop_filter is None:
        return None
    spec = getattr(loop_filter, "__hmcnn_plugin__", None)
    if spec is None:
        raise TypeError("HM runs as separate processes: its loop filter must be a native plug-in (a filter "
                        "library, or a CNN filter of cnn_filter), not a Python callable or an in-process object")
    return spec()


@dataclass(frozen=True)
class HMPicture:
    poc: int
    temporal_id: int
    slice_type: str  # I, P, B
    qp: int
    bits: int
    psnr: tuple[float, float, float]


_POC_LINE = re.compile(r"^POC\s+(\d+)\s+(?:LId:\s*\d+\s+)?TId:\s*(\d+)\s+\(\s*([IPB])-SLICE,\s*nQP\s+\d+\s+QP\s+(\d+)\s*\)"
                       r"\s+(\d+)\s+bits\s+\[Y\s+([\d.]+)\s+dB\s+U\s+([\d.]+)\s+dB\s+V\s+([\d.]+)\s+dB\]", re.M)
_SUMMARY = re.compile(r"SUMMARY -+\s*\n\s*Total Frames.*\n\s*(\d+)\s+a\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")


def parse_encoder_log(text: str) -> tuple[list[HMPicture], dict]:
    """HM's per-picture lines (display order) and its SUMMARY (frames, kbps, PSNRs)."""
    pics = [HMPicture(int(m[1]), int(m[2]), m[3], int(m[4]), int(m[5]), (float(m[6]), float(m[7]), float(m[8])))
            for m in _POC_LINE.finditer(text)]
    s = _SUMMARY.search(text)
    summary = {} if not s else {"frames": int(s[1]), "kbps": float(s[2]), "psnr_y": float(s[3]),
                                "psnr_u": float(s[4]), "psnr_v": float(s[5])}
    return sorted(pics, key=lambda p: p.poc), summary


def intra_period(fps: float) -> int:
    """HM's current rule (IntraPeriod -32): a multiple of 32 near one second."""
    return max(round(fps / 32), 1) * 32


def encoder_args(hm: HMBuild, config: str, qp: int, video: Video, sequence_cfg: str | None, placement: str,
                 files: dict) -> list[str]:
    if config not in CFG_FILES:
        raise ValueError(f"unknown config {config!r}; HM codes {', '.join(CFG_FILES)}")
    args = [str(hm.encoder), "-c", str(hm.cfg / CFG_FILES[config])]
    per_seq = hm.cfg / "per-sequence" / f"{sequence_cfg}.cfg" if sequence_cfg else None
    if per_seq is not None and per_seq.is_file():
        args += ["-c", str(per_seq)]
    args += ["-i", files["in"], "-b", files["bin"], "-o", files["rec"], "-q", str(qp), "--SEIDecodedPictureHash=1",
             "-wdt", str(video.width), "-hgt", str(video.height), "-fr", str(max(1, round(video.fps))),
             "-f", str(len(video)),
             "--InputBitDepth=8", "--InternalBitDepth=8", "--OutputBitDepth=8", "--InputChromaFormat=420",
             "--Level=6.2", "--FrameSkip=0", "--ConformanceWindowMode=1"]
    if config == "ra":
        args.append(f"--IntraPeriod={intra_period(video.fps)}")
    if placement == "replace":
        args += list(HM_NO_DBF_SAO)
    return args


def _run(args: list[str], env: dict, what: str) -> tuple[str, float]:
    t0 = time.perf_counter()
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-6:])
        raise HMError(f"{what} failed (exit status {r.returncode}): {tail}")
    return r.stdout + r.stderr, seconds


def _environment(spec: str | None, hm: HMBuild) -> dict:
    env = {k: v for k, v in os.environ.items() if k != FILTER_ENV}
    if spec:
        if not hm.integrated:
            raise HMError(f"{hm.root} is not integrated: its binaries do not carry hm-cnn-loop's in-loop calls; run "
                          f"`hmcnn hm integrate --hm-src {hm.root}` and rebuild TAppEncoder and TAppDecoder")
        env[FILTER_ENV] = spec
    return env


def hm_decode(bitstream: bytes, hm: HMBuild, loop_filter=None, fps: float = 30.0,
              size: tuple[int, int] | None = None) -> DecodeResult:
    """HM's decoder on a stream (the filter, a native plug-in, in its loop). ``size``: the
    output's width and height when known (else read from the stream's SPS)."""
    with tempfile.TemporaryDirectory(prefix="hmcnn-hm-") as d:
        (Path(d) / "s.bin").write_bytes(bitstream)
        log, seconds = _run([str(hm.decoder), "-b", str(Path(d) / "s.bin"), "-o", str(Path(d) / "dec.yuv"), "-d", "8"],
                            _environment(plugin_spec(loop_filter), hm), "HM's decoder")
        hashed = len(re.findall(r"\[MD5:", log))
        mismatches = len(re.findall(r"\*\*\*ERROR\*\*\*|MD5 mismatch|\(NOT OK\)", log))
        raw = (Path(d) / "dec.yuv").read_bytes()
    width, height = size or _size_of(bitstream, raw)
    return DecodeResult(Video.from_i420(raw, width, height, fps), seconds, mismatches, hashed)


def _size_of(bitstream: bytes, raw: bytes) -> tuple[int, int]:
    """The output size, as libde265 reads it from the SPS (HM writes raw frames only)."""
    d = decode(bitstream, fps=30.0, loop_filter=None) if raw else None
    if d is None:
        raise HMError("HM's decoder wrote no picture")
    return d.video.width, d.video.height


def hm_encode(video: Video, *, config: str = "ra", qp: int = 32, hm: HMBuild | None = None, loop_filter=None,
              placement: str = "loop", sequence_cfg: str | None = None, frames: int | None = None,
              verify: bool = True, oracle=None) -> EncodeResult:
    """Encodes ``video`` with HM (the same EncodeResult as hm_bridge.encode).

    ``loop_filter``: None or a native plug-in (see the module doc). ``placement``: "loop",
    "replace" (LoopFilterDisable=1, SAO=0, the filter in their place) or "post".
    ``sequence_cfg``: the name of HM's cfg/per-sequence/<name>.cfg to add, if it exists.
    ``oracle``: an in-process filter object for libde265's cross-check (default:
    ``loop_filter`` itself, when it can run in process)."""
    check_qp(qp)
    check_placement(placement)
    hm = hm or HMBuild.find()
    if frames is not None:
        video = video[:frames]
    in_loop = None if placement == "post" else loop_filter
    spec = plugin_spec(in_loop)
    with tempfile.TemporaryDirectory(prefix="hmcnn-hm-") as d:
        files = {k: str(Path(d) / f) for k, f in (("in", "in.yuv"), ("bin", "s.bin"), ("rec", "rec.yuv"))}
        video.to_yuv(files["in"])
        args = encoder_args(hm, config, qp, video, sequence_cfg, placement, files)
        log, seconds = _run(args, _environment(spec, hm), "HM's encoder")
        bitstream = Path(files["bin"]).read_bytes()
        recon = Video.from_yuv(files["rec"], video.width, video.height, fps=video.fps)
    pictures, summary = parse_encoder_log(log)
    if len(pictures) != len(video):
        raise HMError(f"HM's log lists {len(pictures)} pictures, {len(video)} were coded")
    result = _result(video, recon, bitstream, pictures, config, qp, hm, args, seconds, placement)
    if placement == "post" and loop_filter is not None:
        result.recon = post_filter(recon, loop_filter, result.slice_qps, result.frame_types)
        result.psnr = video.psnr(result.recon)
    check_log(result, pictures, summary, placement == "post" and loop_filter is not None)
    if verify:
        _verify(result, hm, in_loop, loop_filter if placement == "post" else None,
                oracle if oracle is not None else loop_filter)
    return result


def _result(video, recon, bitstream, pictures, config, qp, hm, args, seconds, placement) -> EncodeResult:
    counted = count_bytes(bitstream)
    headers = sum(n.size for n in split_nals(bitstream) if n.type in (32, 33, 34))
    return EncodeResult(
        bitstream=bitstream, recon=recon, psnr=video.psnr(recon),
        bits_per_frame=np.array([p.bits for p in pictures], dtype=np.int64),
        frame_types=[p.slice_type for p in pictures], frame_qps=[float(p.qp) for p in pictures],
        header_bytes=headers, rate_bytes=counted.rate, side_info_bytes=counted.side_info_sei, seconds=seconds,
        config=config, qp=qp, fps=video.fps, x265_version="", x265_options=[], decode=None,
        slice_qps=[p.qp for p in pictures], placement=placement, qp_cascade=f"{hm.version} cfg",
        intra_period=intra_period(video.fps) if config == "ra" else None, encoder=hm.version,
        encoder_options=[str(a) for a in args[1:]])


def check_log(result: EncodeResult, pictures: list[HMPicture], summary: dict, post_filtered: bool) -> None:
    """HM's own numbers against ours: per-picture PSNR-Y (not after a post-filter, which HM
    never saw) and the bits it counts (slices only: never more than our bytes)."""
    if not post_filtered:
        ours = result.psnr.per_frame[:, 0]
        theirs = np.array([p.psnr[0] for p in pictures])
        worst = float(np.max(np.abs(np.where(ours >= 999, 99.99, ours) - theirs)))
        if worst > PSNR_TOLERANCE and not (theirs >= 99.9).all():
            raise HMError(f"HM's log and our measurement of PSNR-Y differ by {worst:.4f} dB")
    if summary and summary["frames"] != len(pictures):
        raise HMError(f"HM's summary counts {summary['frames']} frames, its log lists {len(pictures)}")
    if int(result.bits_per_frame.sum()) > result.rate_bytes * 8:
        raise HMError("HM's log counts more bits than the stream holds")


def _verify(result: EncodeResult, hm: HMBuild, in_loop, post, oracle) -> None:
    """HM's decoder == HM's reconstruction (and its hashes OK); libde265 agrees."""
    result.decode = hm_decode(result.bitstream, hm, in_loop, result.fps, (result.recon.width, result.recon.height))
    if post is not None:
        result.decode.video = post_filter(result.decode.video, post, result.slice_qps, result.frame_types)
    if result.decode.video.md5() != result.recon.md5() or not result.decode.hash_ok:
        raise ReconMismatchError(f"HM's decoder output != HM's reconstruction ({result.decode.hash_mismatches} "
                                 f"picture-hash mismatches) for config={result.config} qp={result.qp}")
    in_process = oracle if (in_loop is not None and hasattr(oracle, "__hmcnn_filter__")) else None
    if in_loop is not None and in_process is None:
        return  # no in-process twin of the plug-in to decode with: HM's own check stands alone
    other = decode(result.bitstream, loop_filter=in_process, fps=result.fps).video
    if post is not None:
        other = post_filter(other, post, result.slice_qps, result.frame_types)
    if other.md5() != result.recon.md5():
        raise ReconMismatchError("libde265 decodes HM's stream to other pictures than HM's decoder")


def hm_available() -> str | None:
    """Why HM tests cannot run here, or None."""
    try:
        HMBuild.find()
    except FileNotFoundError as e:
        return str(e)
    return None


def which_tools() -> dict:
    """Paths of the HM tools found (for `hmcnn doctor`)."""
    try:
        hm = HMBuild.find()
    except FileNotFoundError as e:
        return {"error": str(e)}
    return {"root": str(hm.root), "version": hm.version, "encoder": str(hm.encoder), "decoder": str(hm.decoder),
            "integrated": hm.integrated}
