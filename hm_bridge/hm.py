"""HM, the JCT-VC reference software, as a codec backend: the user's own build, run as
processes (HM is on no registry; the project never builds it).

    r = hm_bridge.encode(video, config="ra", qp=32, codec="hm")          # the anchor ($HMCNN_HM_DIR)
    r = hm_bridge.encode(video, config="ra", qp=32, codec="hm", hm_dir="/path/to/HM",
                         loop_filter=hm_bridge.load_native_filter(lib))

HM runs with its own ``cfg/encoder_{intra,randomaccess,lowdelay,lowdelay_P}_main.cfg``,
plus ``cfg/per-sequence/<Seq>.cfg`` for a catalogue sequence, ``--SEIDecodedPictureHash=1``,
and RA's intra period by HM's current rule. A loop filter must be a native plug-in (an
object with ``__hmcnn_plugin__()`` returning ``"LIB.so[:OPTIONS]"``: a
NativeLibraryFilter, or a CNN filter of cnn_filter): it reaches HM's processes through the
HMCNN_FILTER environment variable, which the calls `hmcnn hm integrate` inserted read.
The source is written to HM's input file frame by frame and the reconstruction read back
frame by frame: nothing here holds a whole sequence. Every stream is decoded by HM's
decoder (output == HM's reconstruction, picture hashes OK) and by libde265 with the same
filter (an external oracle). HM's own log is parsed and cross-checked against the
measurements (hm_bridge.results).
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hm_bridge import libde265
from hm_bridge.backend import Codec, DecodeStats, EncodeFacts, EncodeRequest
from hm_bridge.bitstream import access_units, count_bytes
from hm_bridge.hm_integrate import hm_version
from hm_bridge.results import CodedPicture
from hm_bridge.video import YuvFile, i420_bytes

HM_ENV = "HMCNN_HM_DIR"
FILTER_ENV = "HMCNN_FILTER"
CFG_FILES = {"ai": "encoder_intra_main.cfg", "ra": "encoder_randomaccess_main.cfg",
             "ldb": "encoder_lowdelay_main.cfg", "ldp": "encoder_lowdelay_P_main.cfg"}


def cfg_file(config: str, bit_depth: int = 8) -> str:
    """HM's encoder cfg of a config: Main, or Main10 (``encoder_*_main10.cfg``) above 8 bits."""
    name = CFG_FILES[config]
    return name.replace("_main.cfg", "_main10.cfg") if bit_depth > 8 else name
#: HM's options that turn deblocking and SAO off (the "replace" placement)
HM_NO_DBF_SAO = ("--LoopFilterDisable=1", "--SAO=0")


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
    """HM's per-picture lines, in coding order (as HM prints them), and its SUMMARY
    (frames, kbps, PSNRs)."""
    pics = [HMPicture(int(m[1]), int(m[2]), m[3], int(m[4]), int(m[5]), (float(m[6]), float(m[7]), float(m[8])))
            for m in _POC_LINE.finditer(text)]
    s = _SUMMARY.search(text)
    summary = {} if not s else {"frames": int(s[1]), "kbps": float(s[2]), "psnr_y": float(s[3]),
                                "psnr_u": float(s[4]), "psnr_v": float(s[5])}
    return pics, summary


def intra_period(fps: float) -> int:
    """HM's current rule (IntraPeriod -32): a multiple of 32 near one second."""
    return max(round(fps / 32), 1) * 32


def encoder_args(hm: HMBuild, config: str, qp: int, video, sequence_cfg: str | None, placement: str,
                 files: dict) -> list[str]:
    if config not in CFG_FILES:
        raise ValueError(f"unknown config {config!r}; HM codes {', '.join(CFG_FILES)}")
    depth = video.bit_depth  # the coding depth: the source is handed over at it
    HMCodec.check_bit_depth(depth)
    cfg = hm.cfg / cfg_file(config, depth)
    if not cfg.is_file():
        raise HMError(f"{hm.root} has no {cfg.relative_to(hm.root)}: this HM cannot code {config} at {depth} bits")
    args = [str(hm.encoder), "-c", str(cfg)]
    per_seq = hm.cfg / "per-sequence" / f"{sequence_cfg}.cfg" if sequence_cfg else None
    if per_seq is not None and per_seq.is_file():
        args += ["-c", str(per_seq)]
    args += ["-i", files["in"], "-b", files["bin"], "-o", files["rec"], "-q", str(qp), "--SEIDecodedPictureHash=1",
             "-wdt", str(video.width), "-hgt", str(video.height), "-fr", str(max(1, round(video.fps))),
             "-f", str(len(video)),
             f"--InputBitDepth={depth}", f"--InternalBitDepth={depth}", f"--OutputBitDepth={depth}",
             "--InputChromaFormat=420",
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


class HMCodec(Codec):
    """The user's HM build (``root``, an HMBuild, or $HMCNN_HM_DIR)."""

    name = "hm"
    configs = tuple(CFG_FILES)
    bit_depths = (8, 10)  # Main and Main10 (encoder_*_main10.cfg)
    #: none: HM's cfg files say it all (x265's preset, threads, cascade are refused)
    option_defaults = {}

    @classmethod
    def segment_starts(cls, config, frames, fps, options):
        # HM counts POCs from the sequence's start (AI: one IDR, then I pictures with their
        # POC; RA: CRA with leading pictures, open GOP): a segment coded alone starts at
        # POC 0 with an IDR, a different stream (and in RA, other references)
        return [0], ("HM's pictures carry POCs counted from the sequence's first picture (RA: open GOPs "
                     "whose leading pictures reference the previous period): a segment coded alone would not be "
                     "the same stream")

    def __init__(self, root=None):
        self.build = root if isinstance(root, HMBuild) else HMBuild.find(root)

    def version(self) -> str:
        return self.build.version

    def encode_pictures(self, source, request: EncodeRequest, loop_filter, facts: EncodeFacts):
        hm, n = self.build, len(source)
        with tempfile.TemporaryDirectory(prefix="hmcnn-hm-") as d:
            files = {k: str(Path(d) / f) for k, f in (("in", "in.yuv"), ("bin", "s.bin"), ("rec", "rec.yuv"))}
            with open(files["in"], "wb") as f:
                for i in range(n):
                    f.write(i420_bytes(source.frame(i)).tobytes())
            args = encoder_args(hm, request.config, request.qp, source, request.sequence, request.placement, files)
            log, _ = _run(args, _environment(plugin_spec(loop_filter), hm), "HM's encoder")
            pictures, summary = parse_encoder_log(log)
            if len(pictures) != n or sorted(p.poc for p in pictures) != list(range(n)):
                raise HMError(f"HM's log lists {len(pictures)} pictures, {n} were coded")
            if summary and summary["frames"] != n:
                raise HMError(f"HM's summary counts {summary['frames']} frames, its log lists {n}")
            units = access_units(Path(files["bin"]).read_bytes())
            if len(units) != n:
                raise HMError(f"HM's stream holds {len(units)} access units, {n} pictures were coded")
            facts.encoder, facts.encoder_options = hm.version, [str(a) for a in args[1:]]
            facts.qp_cascade = f"{hm.version} cfg"
            facts.intra_period = intra_period(source.fps) if request.config == "ra" else None
            facts.reported_psnr_y = {p.poc: p.psnr[0] for p in pictures}
            recon = YuvFile(files["rec"], source.width, source.height, fps=source.fps, bit_depth=source.bit_depth,
                            depth=source.bit_depth)
            for unit, p in zip(units, pictures):  # both in coding order
                if p.bits > count_bytes(unit).rate * 8:
                    raise HMError(f"HM's log counts {p.bits} bits for POC {p.poc}, its access unit holds fewer")
                yield CodedPicture(p.poc, p.slice_type, p.qp, unit, recon.frame(p.poc))

    def decode_pictures(self, bitstream, loop_filter, stats: DecodeStats, size=None, threads=None):
        """HM's decoder on a stream (the filter, a native plug-in, in its loop)."""
        if threads is not None:
            raise ValueError("HM's decoder cannot honour threads")
        hm = self.build
        stats.decoder = f"{hm.version} TAppDecoder"
        width, height, depth = libde265.stream_format(bitstream)  # HM writes raw frames only
        if size is not None and tuple(size) != (width, height):
            raise HMError(f"the stream's pictures are {width}x{height}, {size[0]}x{size[1]} were expected")
        stats.bit_depth = depth
        with tempfile.TemporaryDirectory(prefix="hmcnn-hm-") as d:
            (Path(d) / "s.bin").write_bytes(bitstream)
            log, _ = _run([str(hm.decoder), "-b", str(Path(d) / "s.bin"), "-o", str(Path(d) / "dec.yuv"), "-d",
                           str(depth)], _environment(plugin_spec(loop_filter), hm), "HM's decoder")
            stats.hashed_pictures = len(re.findall(r"\[MD5:", log))
            stats.hash_mismatches = len(re.findall(r"\*\*\*ERROR\*\*\*|MD5 mismatch|\(NOT OK\)", log))
            out = Path(d) / "dec.yuv"
            if not out.is_file() or out.stat().st_size == 0:
                raise HMError("HM's decoder wrote no picture")
            decoded = YuvFile(out, width, height, bit_depth=depth, depth=depth)
            for i in range(len(decoded)):
                yield decoded.frame(i)

    def verifying_decoders(self, loop_filter, options: dict) -> list:
        """HM's decoder == HM's reconstruction (and its hashes OK); libde265 agrees, with
        the plug-in's in-process twin (anchors: without a filter)."""
        hm_decoder = [lambda b, stats, size: self.decode_pictures(b, loop_filter, stats, size)]
        if loop_filter is not None and not hasattr(loop_filter, "__hmcnn_filter__"):
            return hm_decoder  # the plug-in cannot run in process: HM's own check stands alone
        return hm_decoder + [lambda b, stats, size: libde265.decode_pictures(b, loop_filter, stats)]


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
