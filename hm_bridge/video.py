"""Raw 4:2:0 video of 8 bits (uint8 samples) or 9..16 bits (uint16 samples): held as numpy
planes (``Video``) or read lazily from a file by frame (``YuvFile``), with HM-style PSNR.
Both are frame sources: ``width``, ``height``, ``fps``, ``bit_depth``, ``len()``,
``frame(i)`` -> (y, u, v) planes, and ``[a:b]`` for a range of frames; the codecs read
their input through that and nothing else, so a sequence never has to be in memory whole.
Files and I420 bytes of 9..16-bit video hold two bytes per sample, little-endian."""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass

import numpy as np

#: PSNR HM prints for a frame that matches exactly (HM: 999.99).
PSNR_IDENTICAL = 999.99


def frame_bytes(width: int, height: int, bit_depth: int = 8) -> int:
    """Size of one 4:2:0 frame in a raw file (9..16-bit samples take two bytes, little-endian)."""
    return width * height * 3 // 2 * (1 if bit_depth == 8 else 2)


def sample_type(bit_depth: int):
    """uint8 for 8-bit samples, little-endian uint16 for 9..16 bits."""
    return np.uint8 if bit_depth == 8 else np.dtype("<u2")


def peak(bit_depth: int) -> int:
    """The PSNR peak HM uses at a bit depth: 255 << (depth - 8) (1020 at 10 bits; TEncGOP)."""
    return 255 << (bit_depth - 8)


def convert_depth(samples: np.ndarray, from_depth: int, to_depth: int) -> np.ndarray:
    """Samples of one bit depth at another, as HM's TVideoIOYuv scales its input: up by a
    left shift; down rounded, clip((x + 2^(s-1)) >> s) for s = the depths' difference."""
    if from_depth == to_depth:
        return samples
    if to_depth > from_depth:
        return (samples.astype(np.uint16) << (to_depth - from_depth)).astype(sample_type(to_depth))
    shift = from_depth - to_depth
    x = (samples.astype(np.int32) + (1 << (shift - 1))) >> shift
    return np.clip(x, 0, (1 << to_depth) - 1).astype(sample_type(to_depth))


def to_8bit(samples: np.ndarray, bit_depth: int) -> np.ndarray:
    """High-bit-depth samples rounded to 8 bits as HM's Main profile input does
    (TVideoIOYuv's scalePlane): clip((x + 2^(d-9)) >> (d-8)) for d = ``bit_depth``."""
    return convert_depth(samples, bit_depth, 8)


def check_bit_depth(bit_depth: int) -> None:
    if not isinstance(bit_depth, (int, np.integer)) or not 8 <= bit_depth <= 16:
        raise ValueError(f"bit depth must be an integer in 8..16, got {bit_depth!r}")


def check_size(width: int, height: int) -> None:
    if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))):
        raise ValueError(f"width and height must be integers, got {width!r} x {height!r}")
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    if width % 2 or height % 2:
        raise ValueError(f"4:2:0 needs even width and height, got {width}x{height}")


@dataclass(frozen=True)
class PsnrReport:
    """PSNR of a video against a reference, as HM reports it.

    ``per_frame`` is (frames, 3) for Y, U, V. ``y``, ``u``, ``v`` average the per-frame
    PSNRs (HM's way); ``yuv`` weights them 6:1:1 (JCT-VC). ``mse_y`` etc. give PSNR of
    the frame-averaged MSE instead, for those who prefer it.
    """

    per_frame: np.ndarray
    mse_per_frame: np.ndarray
    peak: float = 255.0  # HM's: 255 << (bit depth - 8)

    @property
    def y(self) -> float:
        return float(self.per_frame[:, 0].mean())

    @property
    def u(self) -> float:
        return float(self.per_frame[:, 1].mean())

    @property
    def v(self) -> float:
        return float(self.per_frame[:, 2].mean())

    @property
    def yuv(self) -> float:
        return (6 * self.y + self.u + self.v) / 8

    def _psnr_of_mean(self, c: int) -> float:
        m = float(self.mse_per_frame[:, c].mean())
        return PSNR_IDENTICAL if m == 0 else 10 * math.log10(self.peak**2 / m)

    @property
    def mse_y(self) -> float:
        return self._psnr_of_mean(0)

    @property
    def mse_u(self) -> float:
        return self._psnr_of_mean(1)

    @property
    def mse_v(self) -> float:
        return self._psnr_of_mean(2)

    def __repr__(self) -> str:
        return f"PsnrReport(Y={self.y:.3f}, U={self.u:.3f}, V={self.v:.3f}, YUV={self.yuv:.3f} dB, frames={len(self.per_frame)})"


def plane_psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR of one 8-bit plane (or RGB picture) against a reference (999.99 if equal)."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return PSNR_IDENTICAL if mse == 0 else 10 * math.log10(255.0**2 / mse)


def frame_mse(reference, test) -> tuple[float, float, float]:
    """MSE of Y, U and V of one frame's planes against a reference frame's (exact: the
    integer sum of squared differences over the sample count)."""
    wide = np.int32 if reference[0].dtype == np.uint8 else np.int64  # 16-bit differences squared leave int32
    return tuple(float(np.sum((a.astype(wide) - b.astype(wide)) ** 2, dtype=np.int64)) / a.size
                 for a, b in zip(reference, test))


def i420_bytes(planes) -> np.ndarray:
    """One frame's (y, u, v) planes as contiguous I420 samples (``.tobytes()``: the raw
    file's bytes)."""
    return np.concatenate([np.ascontiguousarray(p).reshape(-1) for p in planes])


def split_i420(data: np.ndarray, width: int, height: int):
    """One frame of I420 samples (uint8, or uint16 for 9..16 bits) as (y, u, v) views."""
    ls, cs = width * height, width * height // 4
    return (data[:ls].reshape(height, width), data[ls:ls + cs].reshape(height // 2, width // 2),
            data[ls + cs:ls + 2 * cs].reshape(height // 2, width // 2))


def _psnr_from_mse(mse: np.ndarray, top: float = 255.0) -> np.ndarray:
    with np.errstate(divide="ignore"):
        p = 10 * np.log10(float(top) ** 2 / mse)
    return np.where(mse == 0, PSNR_IDENTICAL, p)


class Video:
    """Frames of 4:2:0 video: ``y`` (n, h, w), ``u`` and ``v`` (n, h/2, w/2), uint8 for 8
    bits, uint16 for ``bit_depth`` 9..16 (uint16 planes need it said: never truncated)."""

    def __init__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, fps: float = 30.0, bit_depth: int | None = None):
        if bit_depth is None:
            if any(np.asarray(p).dtype == np.uint16 for p in (y, u, v)):
                raise ValueError("uint16 planes: give their bit_depth (9..16)")
            bit_depth = 8
        check_bit_depth(bit_depth)
        y, u, v = (np.ascontiguousarray(p, dtype=sample_type(bit_depth)) for p in (y, u, v))
        if bit_depth < 16 and bit_depth > 8 and max(int(p.max(initial=0)) for p in (y, u, v)) >> bit_depth:
            raise ValueError(f"samples above {(1 << bit_depth) - 1} in {bit_depth}-bit video")
        if y.ndim != 3 or u.ndim != 3 or v.ndim != 3:
            raise ValueError("planes must be 3-D arrays (frames, height, width)")
        n, h, w = y.shape
        check_size(w, h)
        if n == 0:
            raise ValueError("a video needs at least one frame")
        if u.shape != (n, h // 2, w // 2) or v.shape != (n, h // 2, w // 2):
            raise ValueError(f"chroma planes must be {(n, h // 2, w // 2)}, got {u.shape} and {v.shape}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.y, self.u, self.v, self.fps, self.bit_depth = y, u, v, float(fps), int(bit_depth)

    # --- shape -------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.y.shape[2]

    @property
    def height(self) -> int:
        return self.y.shape[1]

    def __len__(self) -> int:
        return self.y.shape[0]

    def __getitem__(self, index) -> "Video":
        """Frames by slice or index list, as a new Video."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1)
        if isinstance(index, slice):  # views of checked planes: nothing to check again
            return self._unchecked(self.y[index], self.u[index], self.v[index])
        return Video(self.y[index], self.u[index], self.v[index], self.fps, self.bit_depth)

    def _unchecked(self, y, u, v, bit_depth: int | None = None) -> "Video":
        """A Video of planes known to be valid (a slice of this one's, or samples converted
        to a depth by convert_depth), built without rescanning every sample."""
        if len(y) == 0:
            raise ValueError("a video needs at least one frame")
        out = object.__new__(Video)
        out.y, out.u, out.v = (np.ascontiguousarray(p) for p in (y, u, v))
        out.fps = self.fps
        out.bit_depth = self.bit_depth if bit_depth is None else int(bit_depth)
        return out

    def __repr__(self) -> str:
        depth = f", {self.bit_depth}-bit" if self.bit_depth != 8 else ""
        return f"Video({self.width}x{self.height}, {len(self)} frames, {self.fps:g} fps{depth})"

    def frame(self, i: int):
        """Frame ``i`` as (y, u, v) views."""
        return self.y[i], self.u[i], self.v[i]

    def load(self) -> "Video":
        return self

    def at_depth(self, bit_depth: int) -> "Video":
        """The same pictures at another bit depth (HM's scaling: ``convert_depth``)."""
        check_bit_depth(bit_depth)
        if bit_depth == self.bit_depth:
            return self
        return self._unchecked(*(convert_depth(p, self.bit_depth, bit_depth) for p in (self.y, self.u, self.v)),
                               bit_depth=bit_depth)

    # --- raw I420 ------------------------------------------------------------------
    def to_i420(self) -> np.ndarray:
        """All frames as one contiguous I420 sample array (``.tobytes()``: a raw file's bytes)."""
        n = len(self)
        return np.concatenate(
            [self.y.reshape(n, -1), self.u.reshape(n, -1), self.v.reshape(n, -1)], axis=1
        ).reshape(-1)

    @classmethod
    def from_i420(cls, data, width: int, height: int, fps: float = 30.0, bit_depth: int = 8) -> "Video":
        """Frames from I420 bytes (or an array of samples), ``bit_depth`` 9..16: two bytes
        per sample, little-endian."""
        check_size(width, height)
        check_bit_depth(bit_depth)
        kind = sample_type(bit_depth)
        if isinstance(data, np.ndarray):
            buf = data.reshape(-1)
            if buf.dtype != kind:
                buf = buf.view(kind) if buf.dtype == np.uint8 else buf.astype(kind)
        else:
            buf = np.frombuffer(data, dtype=kind)
        size = width * height * 3 // 2  # samples per frame
        if buf.size == 0:
            raise ValueError("no video data (0 bytes)")
        if buf.size % size:
            raise ValueError(
                f"{buf.size * buf.itemsize} bytes is not a whole number of {width}x{height} {bit_depth}-bit 4:2:0 "
                f"frames ({frame_bytes(width, height, bit_depth)} bytes each): wrong width/height or bit depth?"
            )
        f = buf.reshape(-1, size)
        n, ls, cs = f.shape[0], width * height, width * height // 4
        return cls(
            f[:, :ls].reshape(n, height, width),
            f[:, ls : ls + cs].reshape(n, height // 2, width // 2),
            f[:, ls + cs :].reshape(n, height // 2, width // 2),
            fps,
            bit_depth,
        )

    @classmethod
    def from_yuv(cls, path, width: int, height: int, frames: int | None = None, fps: float = 30.0,
                 start: int = 0, bit_depth: int = 8, depth: int = 8) -> "Video":
        """Reads raw 4:2:0 (I420) frames ``start .. start+frames`` from ``path`` into memory
        (``YuvFile`` reads them lazily instead): a file of ``bit_depth`` (9..16: two bytes
        per sample, little-endian), pictures of ``depth`` (default 8: a 10-bit file is
        rounded as HM's Main profile does; ``convert_depth``)."""
        return YuvFile(path, width, height, frames=frames, fps=fps, start=start, bit_depth=bit_depth,
                       depth=depth).load()

    def to_yuv(self, path) -> None:
        self.to_i420().tofile(os.fspath(path))

    def md5(self) -> str:
        """MD5 of the raw I420 bytes (what `md5sum file.yuv` prints)."""
        return hashlib.md5(self.to_i420().tobytes()).hexdigest()

    # --- quality ---------------------------------------------------------------------
    def psnr(self, other: "Video") -> PsnrReport:
        """PSNR of ``other`` against this video, per frame and averaged as HM does."""
        if (other.width, other.height, len(other)) != (self.width, self.height, len(self)):
            raise ValueError(
                f"cannot compare {self.width}x{self.height}x{len(self)} with "
                f"{other.width}x{other.height}x{len(other)}"
            )
        if other.bit_depth != self.bit_depth:
            raise ValueError(f"cannot compare {other.bit_depth}-bit video with {self.bit_depth}-bit video")
        mse = np.stack(
            [
                ((a.astype(np.int64) - b.astype(np.int64)) ** 2).reshape(len(self), -1).mean(axis=1)
                for a, b in ((self.y, other.y), (self.u, other.u), (self.v, other.v))
            ],
            axis=1,
        )
        top = peak(self.bit_depth)
        return PsnrReport(per_frame=_psnr_from_mse(mse, top), mse_per_frame=mse, peak=top)


class YuvFile:
    """Frames ``start .. start+frames`` of a raw 4:2:0 file, read one at a time when asked
    for (``frame(i)``), never held: a frame source of any length in constant memory.
    The file holds samples of ``file_depth`` (9..16: two bytes, little-endian); its
    pictures come out at ``bit_depth`` (``depth=``, default 8: a 10-bit file is rounded
    as HM's Main profile does; an 8-bit file at 10 bits is shifted up as HM does)."""

    def __init__(self, path, width: int, height: int, frames: int | None = None, fps: float = 30.0,
                 start: int = 0, bit_depth: int = 8, depth: int = 8):
        check_size(width, height)
        check_bit_depth(bit_depth)
        check_bit_depth(depth)
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such YUV file: {path}")
        size = frame_bytes(width, height, bit_depth)
        total = os.path.getsize(path)
        if total == 0:
            raise ValueError(f"{path} is empty")
        if total % size:
            raise ValueError(
                f"{path}: {total} bytes is not a whole number of {width}x{height} {bit_depth}-bit 4:2:0 "
                f"frames ({size} bytes each): wrong width/height or bit depth?"
            )
        available = total // size
        if not isinstance(start, (int, np.integer)) or start < 0 or start >= available:
            raise ValueError(f"{path} has {available} frames; cannot start at frame {start}")
        count = available - start if frames is None else frames
        if not isinstance(count, (int, np.integer)) or count <= 0 or start + count > available:
            raise ValueError(f"{path} has {available} frames; asked for {count} from frame {start}")
        self.path, self.width, self.height, self.fps = path, int(width), int(height), float(fps)
        self.start, self.count, self._size = int(start), int(count), size
        self.file_depth, self.bit_depth = int(bit_depth), int(depth)

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        depth = f"{self.file_depth}-bit" + (f" as {self.bit_depth}-bit" if self.bit_depth != self.file_depth else "")
        return (f"YuvFile({self.path!r}, {self.width}x{self.height}, frames {self.start}..{self.start + self.count - 1}"
                f", {self.fps:g} fps, {depth})")

    def __getitem__(self, index: slice) -> "YuvFile":
        """A contiguous range of the frames, still lazy."""
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("a YuvFile is indexed by a contiguous slice of frames; use frame(i) for one frame")
        a, b, _ = index.indices(self.count)
        if b <= a:
            raise ValueError(f"empty frame range {index} of {self!r}")
        return YuvFile(self.path, self.width, self.height, b - a, self.fps, self.start + a, self.file_depth,
                       self.bit_depth)

    def at_depth(self, bit_depth: int) -> "YuvFile":
        """The same frames, their pictures at another bit depth."""
        return YuvFile(self.path, self.width, self.height, self.count, self.fps, self.start, self.file_depth,
                       bit_depth)

    def _read(self, first: int, count: int) -> np.ndarray:
        offset = (self.start + first) * self._size
        kind = sample_type(self.file_depth)
        samples = np.fromfile(self.path, dtype=kind, count=count * self._size // np.dtype(kind).itemsize,
                              offset=offset)
        return convert_depth(samples, self.file_depth, self.bit_depth)

    def frame(self, i: int):
        """Frame ``i`` as (y, u, v), read from the file now."""
        if not 0 <= i < self.count:
            raise IndexError(f"frame {i} of {self.count}")
        return split_i420(self._read(i, 1), self.width, self.height)

    def load(self) -> Video:
        """Every frame in memory."""
        return Video.from_i420(self._read(0, self.count), self.width, self.height, self.fps, self.bit_depth)
